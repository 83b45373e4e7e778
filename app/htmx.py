"""One URL serves a page and its fragment; this decides which one a request gets."""
from flask import make_response, render_template, request


def wants_fragment() -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.headers.add("Vary", "HX-Request")
    return response
