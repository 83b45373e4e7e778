"""Dashboard forms."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField
from wtforms.validators import Length

from ..mature.forms import labels_field
from ..models.channel import LATENCY_LOW, LATENCY_NORMAL
from ..uploads import describe, picture_field


class ChannelInfoForm(FlaskForm):
    title = StringField("Stream title", validators=[Length(max=140)],
                        description="Shown in the directory and on your channel page.")
    category = SelectField("Category", coerce=int, validate_choice=False)
    tags = StringField("Tags", validators=[Length(max=400)],
                       description="Up to 10, separated by commas: speedrun, chill, english")
    mature = BooleanField("Mature content (18+)",
                          description="Viewers confirm they are adults before watching; "
                                      "signed-in members under 18 can't watch.")
    content_labels = labels_field("Shown to viewers before they watch; your videos start with the same labels.")
    record = BooleanField("Record my broadcasts", description="Recordings stay private until you publish them.")
    # validate_choice off: channels.update_info owns the rule and gives the reason.
    latency_mode = RadioField("Latency", choices=[
        (LATENCY_LOW, "Low latency — about 2 seconds behind, best for talking with chat"),
        (LATENCY_NORMAL, "Normal latency — a few seconds more delay, steadier on slow connections"),
    ], default=LATENCY_LOW, validate_choice=False,
        description="Applies from the next time you go live.")
    # A text box, not IntegerField or type=number: a browser sends an unparsable number input
    # as blank, which here means "site default"; dashboard.services.update_channel_info owns
    # the rule and says what is wrong in words a creator can act on.
    vod_retention_days = StringField("Keep recordings for (days)",
                                     render_kw={"inputmode": "numeric", "size": 6})

    def set_retention_default(self, site_days: int) -> None:
        """Say what a blank field means on this site (VOD_RETENTION_DAYS)."""
        default = "forever" if site_days == 0 else f"{site_days} day{'' if site_days == 1 else 's'}"
        self.vod_retention_days.description = (
            f"Leave blank for the site default ({default}); 0 keeps them forever. "
            "Older recordings are deleted for good, published ones too.")

    def set_category_choices(self, categories) -> None:
        self.category.choices = [(0, "No category")] + [(c.id, c.name) for c in categories]


class ThumbnailForm(FlaskForm):
    picture = picture_field("Custom thumbnail")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        describe(self.picture, "We crop it to 16:9 (1280×720) and remove its metadata.")
