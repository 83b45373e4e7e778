"""Channel info rules: every field changes together or none does."""
import pytest

from app.channels import services as channels
from app.extensions import db
from app.models.channel import LATENCY_LOW, LATENCY_NORMAL
from tests.factories import make_category, make_user


def test_new_channels_start_on_low_latency(app):
    channel = make_user("alice").channel
    db.session.expire_all()
    assert channel.latency_mode == LATENCY_LOW


def test_update_info_sets_latency_mode(app):
    channel = make_user("alice").channel
    channels.update_info(channel, "Title", None, "", latency_mode=LATENCY_NORMAL)
    db.session.expire_all()
    assert channel.latency_mode == LATENCY_NORMAL
    channels.update_info(channel, "Title", None, "")  # not given: left as it is
    db.session.expire_all()
    assert channel.latency_mode == LATENCY_NORMAL


@pytest.mark.parametrize("mode", ["", "fast", "LOW", "high"])
def test_update_info_refuses_unknown_latency_and_changes_nothing(app, mode):
    channel = make_user("alice").channel
    music = make_category("Music")
    channels.update_info(channel, "Before", None, "keep")
    with pytest.raises(channels.ChannelError) as caught:
        channels.update_info(channel, "After", music.id, "new", mature=True, record=False, latency_mode=mode)
    assert caught.value.field == "latency_mode"
    assert caught.value.message == "Pick low or normal latency."
    db.session.expire_all()
    assert (channel.title, channel.category_id, channel.tags) == ("Before", None, ["keep"])
    assert channel.mature is False and channel.record is True and channel.latency_mode == LATENCY_LOW


def test_set_latency_mode(app):
    channel = make_user("alice").channel
    channels.set_latency_mode(channel, LATENCY_NORMAL)
    db.session.expire_all()
    assert channel.latency_mode == LATENCY_NORMAL
    with pytest.raises(channels.ChannelError):
        channels.set_latency_mode(channel, "fast")
    db.session.expire_all()
    assert channel.latency_mode == LATENCY_NORMAL
