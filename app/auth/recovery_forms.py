"""Forms of the password reset pages; the rules themselves live in services."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import Email, EqualTo, InputRequired, Length, ValidationError

from . import services


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[
        InputRequired(message="Enter the email address of your account."), Length(max=254),
        Email(message="That doesn't look like an email address.", check_deliverability=False)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[InputRequired()],
        description=f"At least {services.MIN_PASSWORD_LENGTH} characters, not a common password.")
    confirm = PasswordField("Confirm new password", validators=[
        InputRequired(), EqualTo("password", message="The passwords don't match.")])

    def validate_password(self, field):
        if len(field.data) > services.MAX_PASSWORD_LENGTH:
            raise ValidationError(f"Use at most {services.MAX_PASSWORD_LENGTH} characters.")
