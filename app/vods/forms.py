"""VOD manager forms. The rules (title length, visibility values) live in vods.services."""
from flask_wtf import FlaskForm
from wtforms import StringField


class RenameForm(FlaskForm):
    title = StringField("Title", description="1 to 140 characters.")
