"""A mature channel in a browser (issue 17 part 10), on a phone and a laptop, light and dark: the
interstitial stands in for the player with the channel's labels, Continue brings the player, and a
labelled video's poster is blurred until then."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageDraw

from app import create_app
from app.extensions import db
from app.storage.backends import get_storage
from tests.browser.conftest import open_page, serve
from tests.conftest import base_config
from tests.factories import make_user
from tests.vods.factory import make_vod

pytestmark = pytest.mark.browser


def striped_poster() -> bytes:
    """A picture whose detail shows whether it is blurred."""
    image = Image.new("RGB", (640, 360), (250, 204, 21))
    draw = ImageDraw.Draw(image)
    for x in range(0, 640, 40):
        draw.rectangle([x, 0, x + 19, 360], fill=(30, 64, 175))
    draw.text((250, 160), "POSTER", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def site(sqlite_url, tmp_path_factory):
    """Its own live app: the VOD's objects go under this module's temporary media folder."""
    media = tmp_path_factory.mktemp("mature-media")
    app = create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(media)})
    for base_url, served in serve(app):
        with served.app_context():
            owner = make_user("nightshift")
            owner.channel.title = "Poker night with the regulars"
            owner.channel.mature = True
            owner.channel.content_labels = ["gambling", "profanity"]
            db.session.commit()
            vod = make_vod(owner, title="Last week's final table", public=True)
            vod.mature, vod.content_labels = True, ["gambling"]
            db.session.commit()
            get_storage().put_bytes(vod.thumbnail_key, striped_poster())
        yield base_url


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_interstitial_then_the_player(browser, site, screenshot_dir, width, scheme):
    context, page, problems = open_page(browser, site, width, scheme)
    page.goto("/c/nightshift/videos")
    card = page.locator(".vod-card .thumb")
    assert "thumb-blur" in (card.get_attribute("class") or "")
    assert page.evaluate("getComputedStyle(document.querySelector('.vod-card .thumb-img')).filter").startswith("blur(")
    page.screenshot(path=screenshot_dir / f"mature-videos-blurred-{width}-{scheme}.png", full_page=False)

    page.goto("/c/nightshift")
    gate = page.locator("#mature-gate")
    assert gate.get_by_role("heading", name="This stream is intended for mature audiences").is_visible()
    assert gate.get_by_text("Gambling", exact=True).is_visible()
    assert gate.get_by_text("Profanity or Vulgarity").is_visible()
    assert page.locator("[data-player]").count() == 0
    assert gate.get_by_role("link", name="Go back").is_visible()
    # The interstitial fits the screen: nothing sideways, its buttons reachable.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=screenshot_dir / f"mature-interstitial-{width}-{scheme}.png", full_page=False)

    gate.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/c/nightshift$"))
    player = page.locator("[data-player]")
    player.wait_for(state="visible")
    assert page.locator("#mature-gate").count() == 0
    assert page.locator("#content-notice").get_by_text("Gambling").is_visible()
    page.screenshot(path=screenshot_dir / f"mature-player-{width}-{scheme}.png", full_page=False)

    page.goto("/c/nightshift/videos")
    assert "thumb-blur" not in (page.locator(".vod-card .thumb").get_attribute("class") or "")
    assert not problems, problems
    context.close()
