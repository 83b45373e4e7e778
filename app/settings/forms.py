"""Account settings forms."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length


class EmailForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Current password", validators=[InputRequired()])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[InputRequired()])
    new_password = PasswordField("New password", validators=[InputRequired()],
                                 description="At least 10 characters, not a common password.")
    confirm = PasswordField("Confirm new password", validators=[
        InputRequired(), EqualTo("new_password", message="The passwords don't match.")])


class SignOutOthersForm(FlaskForm):
    """Only a CSRF token: the "sign out everywhere else" button."""


class ResendVerificationForm(FlaskForm):
    """Only a CSRF token: the "send the verification mail again" button."""


class DeleteAccountForm(FlaskForm):
    current_password = PasswordField("Your password", validators=[
        InputRequired(message="Enter your password to confirm."), Length(max=256)])


class ExportForm(FlaskForm):
    """Ask for a copy of my data: a button, with its CSRF token."""
