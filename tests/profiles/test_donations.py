"""Donation addresses: the service rules, the settings routes with and without htmx, the public section."""
import re

import pytest
from flask import render_template

from app.extensions import db
from app.models import DonationAddress
from app.profiles import donations
from app.profiles.donations import DonationError
from tests.conftest import page_text
from tests.factories import make_user

HX = {"HX-Request": "true"}
BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
XMR = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
SOL = "So11111111111111111111111111111111111111112"


def stored(user):
    db.session.expire_all()
    return [(e.currency, e.address, e.note) for e in donations.donation_addresses(user)]


# --- services ------------------------------------------------------------------------------

def test_add_normalises_and_orders(app):
    alice = make_user("alice")
    donations.add_address(alice, "BTC", BTC.upper(), note="  Thanks \n so much ")
    donations.add_address(alice, "ETH", ETH.lower())
    assert stored(alice) == [("BTC", BTC, "Thanks so much"), ("ETH", ETH, "")]


def test_bad_input_changes_nothing(app):
    alice = make_user("alice")
    entry = donations.add_address(alice, "BTC", BTC, note="first")
    before = stored(alice)
    with pytest.raises(DonationError) as error:
        donations.update_address(alice, entry.id, "BTC", BTC[:-1] + "5", note="changed")
    assert error.value.field == "address" and "checksum" in error.value.message
    with pytest.raises(DonationError) as error:
        donations.update_address(alice, entry.id, "BTC", BTC, note="x" * 201)
    assert error.value.field == "note"
    with pytest.raises(DonationError):
        donations.add_address(alice, "DOGE", BTC)
    assert stored(alice) == before


def test_at_most_ten_and_no_duplicates(app):
    alice = make_user("alice")
    donations.add_address(alice, "BTC", BTC)
    with pytest.raises(DonationError, match="already on your list"):
        donations.add_address(alice, "BTC", BTC.upper())
    for _ in range(9):
        db.session.add(DonationAddress(user_id=alice.id, currency="SOL", address=f"x{_}", position=_ + 1))
    db.session.commit()
    with pytest.raises(DonationError, match="up to 10"):
        donations.add_address(alice, "ETH", ETH)


def test_erc20_tokens(app):
    alice = make_user("alice")
    donations.add_address(alice, "ERC20", ETH, token_symbol="usdc")
    donations.add_address(alice, "ERC20", ETH, token_symbol="DAI")  # same wallet, another token
    with pytest.raises(DonationError) as error:
        donations.add_address(alice, "ERC20", ETH, token_symbol="SHIB")
    assert error.value.field == "token_contract" and "contract" in error.value.message
    entries = donations.donation_addresses(alice)
    assert [(e.token_symbol, e.token_contract) for e in entries] == [
        ("USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), ("DAI", "0x6B175474E89094C44Da98b954EedeAC495271d0F")]
    shown = donations.public_donations(alice)
    assert shown[0].code == "USDC" and shown[0].label == "USDC (ERC-20 on Ethereum)"
    assert shown[0].uri == f"ethereum:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48/transfer?address={ETH}"


def test_reorder_move_and_remove(app):
    alice, bob = make_user("alice"), make_user("bob")
    a = donations.add_address(alice, "BTC", BTC)
    b = donations.add_address(alice, "ETH", ETH)
    c = donations.add_address(alice, "XMR", XMR)
    donations.reorder_addresses(alice, [c.id, a.id, b.id])
    assert [e.currency for e in donations.donation_addresses(alice)] == ["XMR", "BTC", "ETH"]
    donations.move_address(alice, b.id, -1)
    donations.move_address(alice, c.id, -1)  # already first: nothing moves
    assert [e.currency for e in donations.donation_addresses(alice)] == ["XMR", "ETH", "BTC"]
    with pytest.raises(DonationError):
        donations.reorder_addresses(alice, [a.id, b.id])
    with pytest.raises(LookupError):
        donations.remove_address(bob, a.id)
    donations.remove_address(alice, a.id)
    assert [e.currency for e in donations.donation_addresses(alice)] == ["XMR", "ETH"]


def test_public_donations_have_uri_and_style_free_qr(app):
    alice = make_user("alice")
    donations.add_address(alice, "XMR", XMR, note="<script>alert(1)</script>")
    donations.add_address(alice, "SOL", SOL)
    xmr, sol = donations.public_donations(alice)
    assert xmr.uri == f"monero:{XMR}" and sol.uri == f"solana:{SOL}"
    assert xmr.qr_svg.startswith("<svg") and "viewBox" in xmr.qr_svg
    assert "style" not in xmr.qr_svg and "<script" not in xmr.qr_svg
    assert xmr.note == "<script>alert(1)</script>"  # stored as typed; escaped when shown


def test_public_section_renders_nothing_when_empty(app):
    with app.test_request_context():
        assert render_template("profiles/_donations.html", donations=[]).strip() == ""


def test_public_section_escapes_notes(app):
    alice = make_user("alice")
    donations.add_address(alice, "BTC", BTC, note='<img src=x onerror="alert(1)"> <b>hi</b>')
    with app.test_request_context():
        html = render_template("profiles/_donations.html", donations=donations.public_donations(alice))
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert f'href="bitcoin:{BTC}"' in html
    assert 'data-copy="#donation-address-' in html
    assert "never holds" in html
    assert " style=" not in html and "<script" not in html


# --- routes --------------------------------------------------------------------------------

@pytest.fixture
def alice(actions):
    user = make_user("alice")
    actions.login("alice")
    return user


def test_settings_requires_login(client):
    response = client.get("/settings/donations")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_page_and_fragment(client, alice):
    page = client.get("/settings/donations").get_data(as_text=True)
    assert "<html" in page and 'id="donations"' in page and "Tips &amp; donations" in page
    assert 'aria-current="page">Tips' in page
    fragment = client.get("/settings/donations", headers=HX)
    html = fragment.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="donations"')
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_add_without_htmx_redirects(actions, alice):
    response = actions.post("/settings/donations", {"currency": "BTC", "address": BTC, "note": "hi"})
    assert response.status_code == 303
    assert stored(alice) == [("BTC", BTC, "hi")]


def test_add_with_htmx_returns_fragment_with_preview(actions, alice):
    response = actions.post("/settings/donations", {"currency": "ETH", "address": ETH.lower(), "note": "<b>gm</b>"},
                            headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<div id="donations"')
    assert ETH in html and f"ethereum:{ETH}" in html and "<svg" in html
    assert "&lt;b&gt;gm&lt;/b&gt;" in html and "<b>gm" not in html


def test_add_error_re_renders_the_form_with_the_message(actions, alice):
    response = actions.post("/settings/donations", {"currency": "BTC", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"},
                            headers=HX)
    text = page_text(response)
    assert response.status_code == 200
    assert "That Bitcoin address's checksum doesn't match — check for a typo." in text
    assert 'value="1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"' in text
    assert stored(alice) == []


def test_testnet_refused_with_a_clear_message(actions, alice):
    testnet = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
    text = page_text(actions.post("/settings/donations", {"currency": "BTC", "address": testnet}))
    assert "testnet" in text and stored(alice) == []


def test_edit_remove_and_move(actions, client, alice):
    a = donations.add_address(alice, "BTC", BTC)
    b = donations.add_address(alice, "SOL", SOL)
    form = client.get(f"/settings/donations/{a.id}", headers=HX).get_data(as_text=True)
    assert 'name="edit-address"' in form and f'value="{BTC}"' in form
    response = actions.post(f"/settings/donations/{a.id}",
                            {"edit-currency": "BTC", "edit-address": BTC, "edit-note": "new"},
                            token_from="/settings/donations", headers=HX)
    assert response.status_code == 200
    assert stored(alice)[0] == ("BTC", BTC, "new")
    actions.post(f"/settings/donations/{b.id}/move", {"direction": "up"}, token_from="/settings/donations")
    assert [c for c, _, _ in stored(alice)] == ["SOL", "BTC"]
    response = actions.post(f"/settings/donations/{a.id}/remove", token_from="/settings/donations")
    assert response.status_code == 303
    assert [c for c, _, _ in stored(alice)] == ["SOL"]


def test_edit_error_keeps_the_entry(actions, alice):
    a = donations.add_address(alice, "ETH", ETH)
    text = page_text(actions.post(f"/settings/donations/{a.id}",
                                  {"edit-currency": "ETH", "edit-address": ETH[:-1] + "D"},
                                  token_from="/settings/donations", headers=HX))
    assert "Ethereum address's checksum doesn't match" in text
    assert stored(alice) == [("ETH", ETH, "")]


@pytest.mark.parametrize("path", ["/settings/donations/{id}", "/settings/donations/{id}/remove",
                                  "/settings/donations/{id}/move"])
def test_someone_elses_address_is_not_found(actions, alice, path):
    bob = make_user("bob")
    entry = donations.add_address(bob, "BTC", BTC)
    response = actions.post(path.format(id=entry.id), {"direction": "up", "edit-currency": "BTC", "edit-address": BTC},
                            token_from="/settings/donations")
    assert response.status_code == 404
    assert stored(bob) == [("BTC", BTC, "")]


def test_posts_need_csrf(client, alice):
    response = client.post("/settings/donations", data={"currency": "BTC", "address": BTC})
    assert response.status_code == 400
    assert stored(alice) == []


def test_preview_counts_match_limit(actions, alice):
    for i in range(donations.MAX_ADDRESSES):
        db.session.add(DonationAddress(user_id=alice.id, currency="SOL", address=SOL if i == 0 else f"x{i}",
                                       position=i))
    db.session.commit()
    html = page_text(actions.client.get("/settings/donations"))
    assert "Add an address" not in html and "Remove one to add another" in html
    assert len(re.findall(r'class="donation-card"', html)) == donations.MAX_ADDRESSES
