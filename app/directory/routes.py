"""Directory and search pages."""
from flask import render_template, request

from ..htmx import render_page_or_fragment
from . import bp, services


@bp.route("/directory")
def index():
    return render_template("directory/index.html", live=services.live_channels(),
                           recent=services.recently_live(), categories=services.all_categories())


@bp.route("/search")
def search():
    q = request.args.get("q", "")
    return render_page_or_fragment("directory/search.html", "directory/_search_results.html",
                                   q=q, results=services.search(q))
