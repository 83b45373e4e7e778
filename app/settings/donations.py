"""Settings: the creator's crypto donation addresses, with a preview of what visitors see."""
from flask import abort, redirect, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from ..htmx import render_page_or_fragment, wants_fragment
from ..profiles import crypto, donations
from . import bp


class DonationForm(FlaskForm):
    currency = SelectField("Currency", choices=donations.currency_choices(), validate_choice=False)
    token_symbol = StringField("Token", validators=[Length(max=11)],
                               description=("USDT, USDC and DAI are filled in for you; "
                                            "any other token needs its contract."))
    token_contract = StringField("Token contract (optional for USDT, USDC, DAI)", validators=[Length(max=42)])
    address = StringField("Address", validators=[Length(max=128)])
    note = StringField("Note (optional)", validators=[Length(max=donations.NOTE_MAX)],
                       description="Shown under the address, for example “Lightning-ready” or “Thank you!”.")


def _form_for(entry) -> DonationForm:
    # Prefixed, so its field ids differ from the add form's on the same page.
    return DonationForm(prefix="edit", currency=entry.currency, address=entry.address, note=entry.note,
                        token_symbol=entry.token_symbol, token_contract=entry.token_contract or "")


def _render(status: int = 200, **context):
    context.setdefault("form", DonationForm(formdata=None))
    context.setdefault("editing", None)
    context.setdefault("edit_form", None)
    return render_page_or_fragment(
        "settings/donations.html", "settings/_donations.html", status,
        entries=donations.donation_addresses(current_user),
        donations=donations.public_donations(current_user),
        currency_names={code: spec.name for code, spec in crypto.CURRENCIES.items()},
        max_addresses=donations.MAX_ADDRESSES, **context)


def _done():
    if wants_fragment():
        return _render()
    return redirect(url_for("settings.donations"), 303)


def _apply(form: DonationForm, change) -> bool:
    """Run a service call with the form's fields; a refusal becomes that field's error."""
    if not form.validate_on_submit():
        return False
    try:
        change(currency=form.currency.data, address=form.address.data, note=form.note.data,
               token_symbol=form.token_symbol.data, token_contract=form.token_contract.data)
    except donations.DonationError as error:
        getattr(form, error.field, form.address).errors.append(error.message)
        return False
    return True


@bp.route("/donations", methods=["GET", "POST"], endpoint="donations")
@login_required
def donations_page():
    form = DonationForm()
    if form.is_submitted() and _apply(form, lambda **f: donations.add_address(current_user, **f)):
        return _done()
    return _render(form=form if form.is_submitted() else DonationForm(formdata=None))


@bp.route("/donations/<int:entry_id>", methods=["GET", "POST"])
@login_required
def donation_edit(entry_id: int):
    entry = _owned(entry_id)
    form = DonationForm(prefix="edit") if request.method == "POST" else _form_for(entry)
    if form.is_submitted() and _apply(form, lambda **f: donations.update_address(current_user, entry_id, **f)):
        return _done()
    return _render(editing=entry_id, edit_form=form)


@bp.route("/donations/<int:entry_id>/remove", methods=["POST"])
@login_required
def donation_remove(entry_id: int):
    _owned(entry_id)
    donations.remove_address(current_user, entry_id)
    return _done()


@bp.route("/donations/<int:entry_id>/move", methods=["POST"])
@login_required
def donation_move(entry_id: int):
    _owned(entry_id)
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if step:
        donations.move_address(current_user, entry_id, step)
    return _done()


def _owned(entry_id: int):
    entry = next((e for e in donations.donation_addresses(current_user) if e.id == entry_id), None)
    if entry is None:
        abort(404)
    return entry

