"""The profile editor at /settings/profile: each section posts on its own and htmx swaps it back."""
from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..htmx import render_page_or_fragment, wants_fragment
from ..profiles import images, services
from ..profiles.forms import FeaturedChannelForm, PictureForm, ProfileDetailsForm, ThemeForm, TopFriendForm
from ..profiles.markdown import render_bio
from ..uploads import upload_limit
from . import bp


def _theme_form(profile, formdata=None) -> ThemeForm:
    form = ThemeForm(formdata=formdata, accent=profile.theme_accent, background=profile.theme_background)
    form.offer_image(bool(profile.background_key))
    return form


def _render(fragment: str = "settings/profile.html", **context):
    """The editor page, or one of its sections for htmx; sections not given start from the profile."""
    user = current_user._get_current_object()
    profile = services.profile_page(user).profile
    context.setdefault("details_form", ProfileDetailsForm(formdata=None, display_name=profile.display_name or "",
                                                          bio=profile.bio))
    pictures = {kind: PictureForm(kind, formdata=None) for kind in images.KINDS}
    pictures.update(context.pop("pictures", {}))
    featured = profile.featured_channel
    context.setdefault("featured_form", FeaturedChannelForm(
        formdata=None, featured_channel=featured.slug if featured else ""))
    context.setdefault("theme_form", _theme_form(profile))
    context.setdefault("friend_form", TopFriendForm(formdata=None))
    return render_page_or_fragment("settings/profile.html", fragment, user=user, profile=profile,
                                   pictures=pictures, friends=services.top_friends(profile),
                                   top_max=services.TOP_FRIENDS_MAX, **context)


def _done(fragment: str, **context):
    """After a change: the updated section for htmx, otherwise back to the page (303)."""
    if not wants_fragment():
        return redirect(url_for("settings.profile"), 303)
    return _render(fragment, saved=True, **context)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileDetailsForm()
    if form.validate_on_submit():
        try:
            services.update_details(current_user, form.display_name.data, form.bio.data)
        except services.ProfileError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            return _done("settings/_profile_details.html")
    if request.method == "POST":
        return _render("settings/_profile_details.html", details_form=form)
    return _render()


@bp.route("/profile/preview", methods=["POST"])
@login_required
def profile_preview():
    return render_template("settings/_profile_preview.html", bio_html=render_bio(request.form.get("bio", "")))


@bp.route("/profile/picture/<kind>", methods=["POST"])
@login_required
@upload_limit
def profile_picture(kind: str):
    if kind not in images.KINDS:
        abort(404)
    form = PictureForm(kind)
    if form.validate_on_submit():
        try:
            images.set_picture(current_user, kind, form.picture.data.read())
        except images.PictureError as error:
            form.picture.errors.append(str(error))
        else:
            return _done("settings/_profile_picture.html", kind=kind)
    return _render("settings/_profile_picture.html", kind=kind, pictures={kind: form})


@bp.route("/profile/picture/<kind>/remove", methods=["POST"])
@login_required
def remove_profile_picture(kind: str):
    if kind not in images.KINDS:
        abort(404)
    images.remove_picture(current_user, kind)
    return _done("settings/_profile_picture.html", kind=kind)


@bp.route("/profile/featured", methods=["POST"])
@login_required
def profile_featured():
    form = FeaturedChannelForm()
    if form.validate_on_submit():
        try:
            services.set_featured_channel(current_user, form.featured_channel.data)
        except services.ProfileError as error:
            form.featured_channel.errors.append(error.message)
        else:
            return _done("settings/_profile_featured.html")
    return _render("settings/_profile_featured.html", featured_form=form)


@bp.route("/profile/theme", methods=["POST"])
@login_required
def profile_theme():
    form = ThemeForm()
    form.offer_image(bool(current_user.profile.background_key))
    if form.validate_on_submit():
        try:
            services.set_theme(current_user, form.accent.data or "", form.background.data or "")
        except services.ProfileError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            return _done("settings/_profile_theme.html")
    return _render("settings/_profile_theme.html", theme_form=form)


@bp.route("/profile/top8/search")
@login_required
def top8_search():
    q = request.args.get("username", "")
    return render_template("settings/_top8_results.html", q=q,
                           results=services.search_friend_candidates(current_user, q))


@bp.route("/profile/top8", methods=["POST"])
@login_required
def top8_add():
    form = TopFriendForm()
    if form.validate_on_submit():
        try:
            services.add_top_friend(current_user, form.username.data)
        except services.ProfileError as error:
            form.username.errors.append(error.message)
        else:
            return _done("settings/_top8_editor.html")
    return _render("settings/_top8_editor.html", friend_form=form)


@bp.route("/profile/top8/<int:friend_id>/<any(up, down, remove):action>", methods=["POST"])
@login_required
def top8_change(friend_id: int, action: str):
    if action == "remove":
        services.remove_top_friend(current_user, friend_id)
    else:
        services.move_top_friend(current_user, friend_id, -1 if action == "up" else 1)
    return _done("settings/_top8_editor.html")
