"""Picture forms in a real browser on a phone: a file over the limit is refused before it is sent,
and whatever the server refuses (413 past the body limit, 429 past the upload rate) is said in
the form instead of nothing (htmx does not swap 4xx answers; site.js shows them)."""
import io

import pytest
from PIL import Image
from werkzeug.middleware.shared_data import SharedDataMiddleware

from app.pictures import MIB
from app.storage.backends import get_storage
from tests.browser.conftest import log_in, open_page, serve
from tests.conftest import base_config
from tests.factories import make_user

pytestmark = pytest.mark.browser

PHONE = 390


@pytest.fixture(scope="module")
def site(sqlite_url, tmp_path_factory):
    from app import create_app

    app = create_app({**base_config(sqlite_url), "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
                      "PICTURE_MAX_MB": 1, "MAX_CONTENT_LENGTH": 2 * MIB, "UPLOAD_RATE_LIMIT": "2 per minute"})
    app.wsgi_app = SharedDataMiddleware(app.wsgi_app, {"/media": str(get_storage(app.config).root)})
    for base_url, served in serve(app):
        with served.app_context():
            make_user("picturefan")
        yield base_url


def picture_file(size=(900, 600)) -> dict:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, "JPEG", quality=90)
    return {"name": "holiday.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def big_file(nbytes: int) -> dict:
    return {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8" + b"x" * nbytes}


def upload_requests(page) -> list:
    sent: list = []
    page.on("request", lambda request: request.method == "POST" and ("/picture/" in request.url
            or "/thumbnail" in request.url) and sent.append(request.url))
    return sent


@pytest.mark.parametrize("width", [PHONE, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_picture_over_the_limit_is_refused_before_it_is_sent(browser, site, screenshot_dir, width, scheme):
    context, page, problems = open_page(browser, site, width, scheme)
    if width == PHONE:
        page.set_viewport_size({"width": PHONE, "height": 844})
    log_in(page, "picturefan")
    page.goto("/settings/profile")
    sent = upload_requests(page)
    form = page.locator("#picture-banner form")
    help_text = form.locator("#banner-picture-help")
    assert help_text.inner_text().startswith("JPEG, PNG, WebP or GIF, up to 1 MB.")
    form.locator("input[type=file]").set_input_files(big_file(MIB + 10))
    error = form.locator("#banner-picture-size-error")
    error.wait_for()
    assert error.inner_text() == "That file is larger than 1 MB. Pick a smaller picture."
    assert form.locator("input[type=file]").get_attribute("aria-invalid") == "true"
    form.get_by_role("button", name="Upload").click()
    page.wait_for_timeout(300)
    assert sent == [] and error.is_visible()
    error.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / f"picture-too-large-{width}-{scheme}.png", caret="initial")
    # A smaller picture clears the message.
    form.locator("input[type=file]").set_input_files(picture_file())
    error.wait_for(state="detached")
    # The dashboard's thumbnail form works the same way.
    page.goto("/dashboard")
    thumbnail = page.locator("#thumbnail form")
    assert thumbnail.locator("#picture-help").inner_text().startswith("JPEG, PNG, WebP or GIF, up to 1 MB.")
    thumbnail.locator("input[type=file]").set_input_files(big_file(2 * MIB))
    thumbnail.locator("#picture-size-error").wait_for()
    thumbnail.get_by_role("button", name="Upload").click()
    page.wait_for_timeout(300)
    assert sent == []
    thumbnail.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / f"thumbnail-too-large-{width}-{scheme}.png", caret="initial")
    assert problems == []
    context.close()


def test_what_the_server_refuses_is_said_in_the_form(browser, site, screenshot_dir):
    context, page, problems = open_page(browser, site, PHONE, "light")
    page.set_viewport_size({"width": PHONE, "height": 844})
    log_in(page, "picturefan")
    page.goto("/settings/profile")
    form = page.locator("#picture-avatar form")
    alert = page.locator("#picture-avatar [data-request-error]")

    # Past the request body limit (a browser without the check, say): the server's 413 page.
    page.evaluate("document.querySelector('#avatar-picture').removeAttribute('data-max-bytes')")
    form.locator("input[type=file]").set_input_files(big_file(3 * MIB))
    with page.expect_response(lambda r: r.url.endswith("/picture/avatar")) as answer:
        form.get_by_role("button", name="Upload").click()
    assert answer.value.status == 413
    alert.wait_for()
    assert alert.inner_text() == "That file is larger than 1 MB. Pick a smaller picture."
    assert alert.get_attribute("role") == "alert"
    alert.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "picture-413-390-light.png", caret="initial")

    # Good pictures go up (the alert goes with the swap), until the per-account rate is used up.
    for _ in range(2):
        form = page.locator("#picture-avatar form")
        form.locator("input[type=file]").set_input_files(picture_file())
        with page.expect_response(lambda r: r.url.endswith("/picture/avatar")) as answer:
            form.get_by_role("button", name="Upload").click()
        assert answer.value.status == 200
        page.locator("#picture-avatar .flash-success").wait_for()
    assert alert.count() == 0
    form = page.locator("#picture-avatar form")
    form.locator("input[type=file]").set_input_files(picture_file((700, 700)))
    with page.expect_response(lambda r: r.url.endswith("/picture/avatar")) as answer:
        form.get_by_role("button", name="Upload").click()
    assert answer.value.status == 429
    alert.wait_for()
    assert alert.inner_text().startswith("You have uploaded a lot of pictures in a short time. Try again in ")
    alert.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "picture-429-390-light.png", caret="initial")
    # The browser and htmx log each refused request (a failed load, "Response Status Error Code");
    # nothing else went wrong.
    assert problems and [p for p in problems if "413" not in p and "429" not in p] == []
    context.close()
