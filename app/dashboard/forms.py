"""Dashboard forms."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from ..channels.thumbnails import MAX_UPLOAD_BYTES


class ChannelInfoForm(FlaskForm):
    title = StringField("Stream title", validators=[Length(max=140)],
                        description="Shown in the directory and on your channel page.")
    category = SelectField("Category", coerce=int, validate_choice=False)
    tags = StringField("Tags", validators=[Length(max=400)],
                       description="Up to 10, separated by commas: speedrun, chill, english")
    mature = BooleanField("Mature content (18+)", description="Viewers confirm their age before watching.")
    record = BooleanField("Record my broadcasts", description="Recordings stay private until you publish them.")

    def set_category_choices(self, categories) -> None:
        self.category.choices = [(0, "No category")] + [(c.id, c.name) for c in categories]


class ThumbnailForm(FlaskForm):
    picture = FileField("Custom thumbnail", validators=[
        FileRequired("Choose a picture to upload."),
        FileSize(max_size=MAX_UPLOAD_BYTES, message="That file is larger than 2 MB. Pick a smaller picture."),
    ], render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"},
        description="JPEG, PNG, WebP or GIF, up to 2 MB. We crop it to 16:9 (1280×720) and remove its metadata.")
