"""Profile editor forms. The rules live in profiles.services; these only carry the input."""
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField

from ..uploads import describe, picture_field
from .images import KINDS
from .markdown import MAX_BIO_CHARS
from .services import ACCENTS, BACKGROUNDS, DISPLAY_NAME_MAX, IMAGE_BACKGROUND

PICTURE_HELP = {
    "avatar": "Square works best. Shown round, from 34 px in chat up to 112 px here.",
    "banner": "Wide pictures work best: we crop to 3:1 (1500×500).",
    "background": "Shown behind your whole profile, dimmed so text stays readable.",
}


class ProfileDetailsForm(FlaskForm):
    display_name = StringField("Display name", description=f"Up to {DISPLAY_NAME_MAX} characters. "
                               "Your @username stays the same.",
                               render_kw={"maxlength": DISPLAY_NAME_MAX})
    bio = TextAreaField("Bio", description="*italic*, **bold**, [links](https://example.com), "
                        "lists and line breaks. No HTML or images.",
                        render_kw={"rows": 7, "maxlength": MAX_BIO_CHARS})


class PictureForm(FlaskForm):
    picture = picture_field("Picture")

    def __init__(self, kind: str, *args, **kwargs):
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind = kind
        self.picture.label.text = f"{KINDS[kind].label} picture"
        describe(self.picture, PICTURE_HELP[kind])


class FeaturedChannelForm(FlaskForm):
    featured_channel = StringField("Featured channel", description="A channel name, like the one in its "
                                   "address (/c/name). Leave empty to feature your own channel.")


class ThemeForm(FlaskForm):
    # validate_choice off: services.set_theme owns the rule and gives the reason.
    accent = RadioField("Accent colour", choices=list(ACCENTS.items()), validate_choice=False)
    background = RadioField("Background", choices=list(BACKGROUNDS.items()), validate_choice=False)

    def offer_image(self, has_image: bool) -> None:
        if has_image:
            self.background.choices = list(BACKGROUNDS.items()) + [(IMAGE_BACKGROUND, "Your picture")]


class TopFriendForm(FlaskForm):
    username = StringField("Add someone", render_kw={"autocomplete": "off", "placeholder": "Search by name"})
