"""A rich creator profile and its editor, in a real browser, on a phone and a desktop, dark and light."""
import io
import math
import re

import pytest
from PIL import Image, ImageDraw, ImageFilter
from werkzeug.middleware.shared_data import SharedDataMiddleware

from app.channels import thumbnails
from app.extensions import db
from app.profiles import images, services
from app.storage.backends import get_storage
from tests.browser.conftest import log_in, open_page, serve
from tests.conftest import base_config
from tests.factories import make_category, make_live, make_user

pytestmark = pytest.mark.browser

BIO = """Speedrunner, synth nerd and **professional button masher**.
Streaming *retro platformers* most nights from a very small flat.

- Tuesdays: blind runs, chat picks the game
- Fridays: modular synth jams
- Sundays: slow, cosy any% practice

Say hi on [my site](https://example.com) <script>alert("nope")</script>"""

FRIENDS = [
    ("mika", "Mika ✦ pixel art", (236, 72, 153), (99, 102, 241)),
    ("ollie", "Ollie Plays", (14, 165, 233), (16, 185, 129)),
    ("juno", "Juno", (245, 158, 11), (239, 68, 68)),
    ("sam_builds", "Sam Builds Things", None, None),
    ("rae", "Rae in the Rain", (59, 130, 246), (139, 92, 246)),
    ("theo", "Theo", None, None),
    ("nadia", "Nadia — lo-fi beats", (20, 184, 166), (234, 179, 8)),
    ("kit", "kit.exe", (168, 85, 247), (244, 63, 94)),
]


def gradient(size, c1, c2, *, blobs=0, seed=1) -> bytes:
    """A soft two-colour picture with a few glowing shapes, like a real banner or avatar."""
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for x in range(w):
        t = x / max(w - 1, 1)
        draw.line([(x, 0), (x, h)], fill=tuple(int(a + (b - a) * t) for a, b in zip(c1, c2)))
    if blobs:
        glow = Image.new("RGB", size)
        gd = ImageDraw.Draw(glow)
        for i in range(blobs):
            cx = int(w * (0.15 + 0.7 * ((i * 0.37 + seed * 0.11) % 1)))
            cy = int(h * (0.3 + 0.4 * math.sin(i + seed)))
            r = int(min(w, h) * (0.18 + 0.1 * (i % 3)))
            gd.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255))
        glow = glow.filter(ImageFilter.GaussianBlur(min(w, h) // 8))
        image = Image.blend(image, Image.composite(glow, image, glow.convert("L")), 0.35)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def media_server(sqlite_url, tmp_path_factory):
    from app import create_app

    app = create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(tmp_path_factory.mktemp("media"))})
    # nginx serves /media/ in production; the dev server stands in for it here.
    app.wsgi_app = SharedDataMiddleware(app.wsgi_app, {"/media": str(get_storage(app.config).root)})
    yield from serve(app)


def build_rich_profile(app):
    with app.app_context():
        music = make_category("Retro Games")
        alice = make_user("alice")
        services.update_details(alice, "Alice Nova", BIO)
        images.set_picture(alice, "avatar", gradient((600, 600), (124, 58, 237), (236, 72, 153), blobs=3, seed=2))
        images.set_picture(alice, "banner", gradient((1800, 600), (30, 27, 75), (124, 58, 237), blobs=6, seed=5))
        alice.channel.title = "Any% practice, then chat picks the next game"
        alice.channel.category_id = music.id
        db.session.commit()
        thumbnails.set_custom_thumbnail(alice.channel, gradient((1280, 720), (15, 23, 42), (190, 24, 93), blobs=4))
        make_live(alice)
        services.set_theme(alice, "violet", "aurora")
        for i, (name, display, c1, c2) in enumerate(FRIENDS):
            friend = make_user(name)
            services.update_details(friend, display, "")
            if c1:
                images.set_picture(friend, "avatar", gradient((300, 300), c1, c2, blobs=2, seed=i))
            if i in (1, 4):
                make_live(friend)
            services.add_top_friend(alice, name)
        make_user("alfie")
        make_user("alberto")


def shoot(page, path):
    # From the top, so the sticky header sits at the top of a full-page picture; caret="initial"
    # because Playwright hides the caret with an inline style, which the CSP refuses and logs.
    # Scroll through once so lazy pictures below the fold load before the full-page picture.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    for _ in range(40):  # wait_for_function would need 'unsafe-eval', which the CSP refuses
        if page.evaluate("[...document.images].every(i => i.complete)"):
            break
        page.wait_for_timeout(100)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=True, caret="initial")


def settled(page, text: str) -> None:
    """Wait for the Top 8 editor to show `text` and for htmx to finish settling the swap: htmx
    wires up the new search field only then, and typing before it would send no search."""
    page.get_by_text(text).wait_for()
    page.locator("#top8-editor:not(.htmx-settling)").wait_for()


def no_overflow(page):
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


@pytest.fixture(scope="module")
def rich(media_server):
    base_url, app = media_server
    build_rich_profile(app)
    return base_url, app


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_rich_profile_and_editor(browser, rich, screenshot_dir, width, scheme):
    base_url, app = rich
    # Reduced motion: the featured channel is "live" here without a stream behind it, so its muted
    # live preview must not start (it would fetch a playlist that is not there).
    context, page, problems = open_page(browser, base_url, width, scheme, reduced_motion="reduce")

    page.goto("/u/alice")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Alice Nova", exact=True).is_visible()
    assert page.locator(".top8-grid li").count() == 8
    assert page.locator(".top8-grid .badge-live").count() == 2
    assert page.locator(".bio-body strong", has_text="professional button masher").is_visible()
    assert page.locator(".bio-body script").count() == 0
    assert page.locator("#profile-featured", has_text="Watch live").is_visible()
    preview = page.locator("#profile-featured video[data-live-preview]")
    assert preview.get_attribute("data-hls-url").endswith("/master.m3u8") and preview.is_hidden()
    # Every picture loaded: avatar, banner, live frame and friends' avatars.
    broken = page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)")
    assert broken == []
    shoot(page, screenshot_dir / f"profile-{width}-{scheme}.png")
    assert no_overflow(page)

    log_in(page, "alice")
    page.goto("/settings/profile")
    page.wait_for_load_state("networkidle")

    # The preview follows the bio as it is typed, sanitised.
    page.get_by_role("textbox", name="Bio").fill("Now with **bold** news <b>and no html</b>")
    page.locator("#bio-preview strong", has_text="bold").wait_for()
    assert page.locator("#bio-preview b").count() == 0
    shoot(page, screenshot_dir / f"profile-editor-{width}-{scheme}.png")
    assert no_overflow(page)

    # Top 8 is full: remove one, search, add someone new, and they land last.
    kit = page.locator(".top8-edit-list li", has_text="kit.exe")
    kit.get_by_role("button", name="Remove").click()
    settled(page, "7 of 8")
    page.get_by_label("Add someone").fill("alf")
    page.locator("#top8-results").get_by_role("button", name=re.compile("alfie")).click()
    settled(page, "8 of 8")
    assert page.locator(".top8-edit-list li").last.inner_text().find("alfie") >= 0
    shoot(page, screenshot_dir / f"profile-editor-top8-{width}-{scheme}.png")

    # Put things back for the next run of this test.
    last = page.locator(".top8-edit-list li").last
    last.get_by_role("button", name="Remove").click()
    settled(page, "7 of 8")
    page.get_by_label("Add someone").fill("kit")
    page.locator("#top8-results").get_by_role("button", name=re.compile("kit")).click()
    settled(page, "8 of 8")
    context.close()
    assert not problems, problems
