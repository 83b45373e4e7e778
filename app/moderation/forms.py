"""Forms on the chat settings page: chat modes, blocked terms and moderators."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..chat import automod, links, terms
from . import services

SLOW_PRESETS = (0, 3, 5, 10, 30, 60, 120)
CUSTOM = "custom"
LINK_CHOICES = [
    ("allow", "Allow links"),
    ("block", "Block all links"),
    ("allowlist", "Only links to the sites listed below"),
]
AUTOMOD_CHOICES = [
    ("off", "Off"),
    ("low", "Low"),
    ("high", "High"),
]
# One line each under the automod choices, in the order of AUTOMOD_CHOICES.
AUTOMOD_HELP = {
    "off": "No automatic checks: only your blocked terms, link and mode rules apply.",
    "low": "Holds clearly abusive messages, and long shouting or spam, for a moderator to review.",
    "high": "Stricter: also holds borderline insults, shorter shouting and repetition for review.",
}


def _slow_label(seconds: int) -> str:
    if seconds == 0:
        return "Off"
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


class ChatModesForm(FlaskForm):
    slow_mode = SelectField(
        "Wait between messages", validate_choice=False,
        choices=[(str(s), _slow_label(s)) for s in SLOW_PRESETS] + [(CUSTOM, "Custom…")],
        description="How long each viewer waits between messages. Owner, moderators and admins are never slowed.")
    slow_custom = IntegerField(
        "Custom wait (seconds)", validators=[Optional(), NumberRange(
            1, services.MAX_SLOW, f"A custom wait is between 1 and {services.MAX_SLOW} seconds (10 minutes).")],
        description=f"Used when slow mode is “Custom…”: 1 to {services.MAX_SLOW} seconds.")
    followers_only = BooleanField("Followers-only chat",
                                  description="Only people who follow your channel can chat.")
    followers_min_minutes = IntegerField(
        "Minimum time following (minutes)", validators=[Optional(), NumberRange(
            0, services.MAX_FOLLOW_MINUTES,
            f"Minimum follow time is between 0 and {services.MAX_FOLLOW_MINUTES} minutes (90 days).")],
        description="0 lets new followers chat straight away.")
    emote_only = BooleanField("Emote-only chat", description="Messages may contain emoji only.")
    # validate_choice off: the validators below give clearer reasons than "Not a valid choice".
    link_policy = RadioField("Links in chat", choices=LINK_CHOICES, default="allow", validate_choice=False)
    allowed_domains = TextAreaField(
        "Allowed sites", validators=[Length(max=5000)],
        description="One domain per line, such as example.com. Its subdomains are allowed too. "
                    "Used when links are limited to these sites.")
    automod_level = RadioField("Automod", choices=AUTOMOD_CHOICES, default="low", validate_choice=False)

    def validate_slow_mode(self, field):
        if field.data == CUSTOM:
            if not "".join(self.slow_custom.raw_data or ()).strip():
                raise ValidationError("Type the custom wait in seconds, or pick a preset.")
            return
        try:
            seconds = int(field.data)
        except (TypeError, ValueError):
            raise ValidationError("Pick a slow mode from the list.") from None
        if not 0 <= seconds <= services.MAX_SLOW:
            raise ValidationError(f"Slow mode is between 0 and {services.MAX_SLOW} seconds (10 minutes).")

    def validate_link_policy(self, field):
        if field.data not in links.LINK_POLICIES:
            raise ValidationError("Choose allow, block or allowlist for links.")

    def validate_automod_level(self, field):
        if field.data not in automod.AUTOMOD_LEVELS:
            raise ValidationError("Choose off, low or high for automod.")

    def validate_allowed_domains(self, field):
        domains = self.domain_lines()
        for line in domains:
            try:
                links.validate_domain(line)
            except ValueError as error:
                raise ValidationError(str(error)) from None
        if len(domains) > services.MAX_DOMAINS:
            raise ValidationError(f"List at most {services.MAX_DOMAINS} domains.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.slow_mode.data != CUSTOM and self.slow_custom.errors:
            # A leftover custom wait does not matter while a preset is chosen.
            self.slow_custom.errors = []
            valid = not self.errors
        return valid

    def domain_lines(self) -> list[str]:
        text = (self.allowed_domains.data or "").replace(",", "\n")
        return [line.strip() for line in text.splitlines() if line.strip()]

    def slow_seconds(self) -> int:
        return self.slow_custom.data if self.slow_mode.data == CUSTOM else int(self.slow_mode.data)

    @classmethod
    def for_settings(cls, settings) -> "ChatModesForm":
        slow = settings.slow_seconds or 0
        preset = slow in SLOW_PRESETS
        return cls(formdata=None, slow_mode=str(slow) if preset else CUSTOM,
                   slow_custom=None if preset else slow,
                   followers_only=settings.followers_only,
                   followers_min_minutes=settings.followers_min_minutes or 0,
                   emote_only=settings.emote_only, link_policy=settings.link_policy,
                   allowed_domains="\n".join(settings.allowed_domains or []),
                   automod_level=settings.automod_level)


class BlockedTermForm(FlaskForm):
    term = StringField("Word or phrase", validators=[
        InputRequired("Type a word or phrase to block."),
        Length(max=terms.MAX_TERM_LENGTH,
               message=f"Blocked terms can be at most {terms.MAX_TERM_LENGTH} characters.")])


class ModeratorForm(FlaskForm):
    username = StringField("Username", validators=[
        InputRequired("Type the username of the person to make a moderator."), Length(max=64)])
