"""Mature-content forms: Continue on the interstitial, a VOD's labels, the viewer's filter."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from .labels import CONTENT_LABELS


class ContinueForm(FlaskForm):
    """Continue on the interstitial; `next` is the watch page to go back to."""

    next = HiddenField()


def labels_field(description: str) -> SelectMultipleField:
    # validate_choice off: app.mature.services owns the rule (known labels only) and says why.
    return SelectMultipleField("Content labels", choices=[(label.key, label.name) for label in CONTENT_LABELS],
                               validate_choice=False, widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput(), description=description)


class VodContentForm(FlaskForm):
    mature = BooleanField("Mature content (18+)",
                          description="Viewers confirm they are adults before watching.")
    content_labels = labels_field("Shown to viewers before they watch.")


class ContentFilterForm(FlaskForm):
    hide_labelled = BooleanField(
        "Hide channels with content labels",
        description="Channels marked mature or labelled (gambling, violence, sexual themes…) are left "
                    "out of the directory and search. You can still open them from a link.")
