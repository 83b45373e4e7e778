"""Forms of the trust-and-safety pages; choices come from the instance's rules at request time."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FloatField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional

from ..models.safety import SANCTION_KINDS
from . import rules
from .actions import KIND_NAMES, MAX_DAYS, MAX_STATEMENT
from .reports import MAX_DETAILS


class ReportForm(FlaskForm):
    reason = RadioField("Why are you reporting this?", validators=[InputRequired(message="Choose a reason.")])
    details = TextAreaField("Anything staff should know", validators=[Length(max=MAX_DETAILS)])
    range_start = FloatField("From (seconds)", validators=[Optional(), NumberRange(min=0)])
    range_end = FloatField("To (seconds)", validators=[Optional(), NumberRange(min=0)])
    contact_email = EmailField("Your e-mail address", validators=[Optional(), Email(), Length(max=254)])
    good_faith = BooleanField("I believe in good faith that the information in this notice is accurate "
                              "and complete.")

    def __init__(self, *args, signed_in: bool, **kwargs):
        super().__init__(*args, **kwargs)
        shown = rules.reasons() if signed_in else [rules.CHILD_SAFETY, rules.ILLEGAL]
        self.reason.choices = [(reason.key, reason.label) for reason in shown
                               if reason is not rules.COPYRIGHT]


def _rule_choices() -> list[tuple[str, str]]:
    return [(reason.key, reason.text) for reason in rules.reasons()]


class ActionForm(FlaskForm):
    kind = SelectField("Action", validators=[InputRequired()])
    rule = SelectField("Rule broken", validators=[InputRequired(message="Choose the rule.")])
    statement = TextAreaField("Statement of reasons (the person reads this)",
                              validators=[InputRequired(message="Write the statement of reasons."),
                                          Length(max=MAX_STATEMENT)],
                              description="What they did, why it breaks the rule, and what follows.")
    days = IntegerField("Days (suspensions; empty for no end)", validators=[Optional(), NumberRange(1, MAX_DAYS)])

    def __init__(self, *args, kinds=SANCTION_KINDS, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(kind, KIND_NAMES[kind]) for kind in kinds]
        self.rule.choices = _rule_choices()


class DismissForm(FlaskForm):
    note = TextAreaField("Why no action (staff only)", validators=[Length(max=500)])


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[InputRequired(message="Write something."), Length(max=MAX_DETAILS)])


class AppealForm(FlaskForm):
    text = TextAreaField("Why the decision is wrong",
                         validators=[InputRequired(message="Explain why the decision is wrong."),
                                     Length(max=MAX_STATEMENT)])


class DecideForm(FlaskForm):
    decision = TextAreaField("Your decision, as the person will read it",
                             validators=[InputRequired(message="Explain the decision."), Length(max=MAX_STATEMENT)])
    outcome = RadioField("Decision", choices=[("uphold", "Uphold the appeal: reverse the action"),
                                              ("reject", "Reject the appeal: the action stands")],
                         validators=[InputRequired(message="Choose uphold or reject.")])


class TakedownForm(FlaskForm):
    """Every §512(c)(3) element; left optional here so the service names each missing one."""

    material_url = StringField("Address of the video on this site", validators=[Length(max=500)],
                               description="The video's page, like https://this-site/c/channel/videos/12.")
    work = TextAreaField("The copyrighted work", validators=[Length(max=4000)],
                         description="What you own: a title, a link to it, a registration number.")
    signature = StringField("Your full legal name (your electronic signature)", validators=[Length(max=200)])
    address = TextAreaField("Postal address", validators=[Length(max=1000)])
    phone = StringField("Telephone", validators=[Length(max=64)])
    email = EmailField("E-mail", validators=[Optional(), Email(), Length(max=254)])
    good_faith = BooleanField("I have a good faith belief that use of the material in the manner complained of "
                              "is not authorized by the copyright owner, its agent, or the law.")
    accurate = BooleanField("The information in this notice is accurate, and under penalty of perjury, I am the "
                            "owner, or authorized to act on behalf of the owner, of an exclusive right that is "
                            "allegedly infringed.")


class CounterNoticeForm(FlaskForm):
    """Every §512(g)(3) element, checked by the service."""

    material = TextAreaField("The video that was disabled and where it appeared", validators=[Length(max=2000)])
    name = StringField("Your full legal name", validators=[Length(max=200)])
    address = TextAreaField("Postal address", validators=[Length(max=1000)])
    phone = StringField("Telephone", validators=[Length(max=64)])
    mistake = BooleanField("I swear, under penalty of perjury, that I have a good faith belief that the material "
                           "was removed or disabled as a result of mistake or misidentification of the material "
                           "to be removed or disabled.")
    jurisdiction = BooleanField("I consent to the jurisdiction of the Federal District Court for the judicial "
                                "district in which my address is located (or, if my address is outside the United "
                                "States, any judicial district in which the service provider may be found), and I "
                                "will accept service of process from the person who provided the notice or their "
                                "agent.")
    signature = StringField("Your electronic signature (type your full name)", validators=[Length(max=200)])


class ClaimantForm(FlaskForm):
    action = RadioField("What do you want to do?", choices=[
        ("retract", "Withdraw my notice — the video comes back and the strike is removed"),
        ("lawsuit", "Report a lawsuit — I filed an action seeking a court order against the uploader")],
        validators=[InputRequired(message="Choose one.")])
