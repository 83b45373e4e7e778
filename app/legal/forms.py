"""The form site admins publish a new version of a legal page with."""
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from .services import MAX_BODY_CHARS, MAX_SUMMARY_CHARS


class PublishForm(FlaskForm):
    body = TextAreaField("Text (Markdown)", validators=[InputRequired(message="The text is empty."),
                                                        Length(max=MAX_BODY_CHARS)],
                         description="Placeholders filled from the settings: {site_name}, {operator}, "
                                     "{contact_email}, {vod_retention}, {login_retention}, {dmca_agent}, "
                                     "{export_link_lifetime}, {export_interval}, {erasure_grace}, {rules}.")
    summary = StringField("What changed", validators=[
        InputRequired(message="Say in a sentence what changed: members are shown it."),
        Length(max=MAX_SUMMARY_CHARS)])
    effective_at = DateField("Takes effect on", validators=[InputRequired(message="Give the date it takes effect.")],
                          description="Today means at once; a later date is announced until then.")
