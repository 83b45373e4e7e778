"""Directory, category and search pages."""
from typing import Any

from flask import abort, request
from flask_login import current_user

from ..htmx import render_page_or_fragment, wants_fragment
from ..mature.services import hides_labelled
from . import bp, services

bp.add_app_template_global(services.cover_url, "category_cover_url")
bp.add_app_template_global(services.cover_style, "category_cover_style")

SUGGESTIONS_TARGET = "search-suggest"


@bp.route("/directory")
def index():
    tag = services.normalise_tag(request.args.get("tag"))
    hide = hides_labelled(current_user)
    listing = services.live_page(tag=tag, cursor=request.args.get("cursor"), hide_labelled=hide)
    context: dict[str, Any] = dict(listing=listing, tag=tag, category=None)
    if wants_fragment():
        return render_page_or_fragment("directory/index.html", "directory/_live_page.html", **context)
    live, _ = services.ordered_live(hide_labelled=hide)
    return render_page_or_fragment(
        "directory/index.html", "directory/_live_page.html", tags=services.popular_tags(live),
        recent=services.recently_live(hide_labelled=hide), categories=services.categories_by_live(), **context)


@bp.route("/directory/category/<slug>")
def category(slug):
    found = services.category_by_slug(slug) or abort(404)
    tag = services.normalise_tag(request.args.get("tag"))
    hide = hides_labelled(current_user)
    listing = services.live_page(category_id=found.id, tag=tag, cursor=request.args.get("cursor"),
                                 hide_labelled=hide)
    context: dict[str, Any] = dict(listing=listing, tag=tag, category=found)
    if wants_fragment():
        return render_page_or_fragment("directory/category.html", "directory/_live_page.html", **context)
    live, _ = services.ordered_live(found.id, hide_labelled=hide)
    return render_page_or_fragment(
        "directory/category.html", "directory/_live_page.html", tags=services.popular_tags(live), live_count=len(live),
        channels=services.category_channels(found.id, hide_labelled=hide), **context)


@bp.route("/search")
def search():
    q = request.args.get("q", "")
    hide = hides_labelled(current_user)
    if wants_fragment() and request.headers.get("HX-Target") == SUGGESTIONS_TARGET:
        return render_page_or_fragment("directory/search.html", "directory/_search_suggest.html",
                                       q=q, results=services.search(q, limit=4, hide_labelled=hide))
    return render_page_or_fragment("directory/search.html", "directory/_search_results.html",
                                   q=q, results=services.search(q, hide_labelled=hide))
