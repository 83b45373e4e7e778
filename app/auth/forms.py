"""Signup and login forms; the rules themselves live in services."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional, ValidationError

from . import services


class SignupForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=25)],
                           description="3–25 letters, digits or underscores that don't look like another "
                                       "member's name or a staff title. Your channel lives at /c/<username>.")
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired()],
                             description=f"At least {services.MIN_PASSWORD_LENGTH} characters, not a common password.")
    confirm = PasswordField("Confirm password", validators=[
        InputRequired(), EqualTo("password", message="The passwords don't match.")])
    # Neutral (app.auth.age): nothing here says which age the site takes.
    birth_date = DateField("Date of birth", validators=[Optional()],
                           description="Checked once and not kept; never shown.")

    def validate_username(self, field):
        if problem := services.username_problem(field.data.strip()):
            raise ValidationError(problem)

    def validate_password(self, field):
        if problem := services.password_problem(field.data, self.username.data or "", self.email.data or ""):
            raise ValidationError(problem)


class LoginForm(FlaskForm):
    login = StringField("Username or email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=256)])
    remember = BooleanField("Keep me logged in")


class ConfirmForm(FlaskForm):
    """A form with only a CSRF token, for one-button actions such as logging out."""
