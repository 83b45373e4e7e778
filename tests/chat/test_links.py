"""Links in chat: finding them, the link policy and allowlist (through the verdict) and validating a domain."""
import pytest

from app.chat.links import find_links, validate_domain
from tests.chat.conftest import verdict


@pytest.mark.parametrize("text, links", [
    ("see example.com now", ["example.com"]),
    ("sub.example.co.uk/path?x=1", ["sub.example.co.uk/path?x=1"]),
    ("https://evil.test/x", ["https://evil.test/x"]),
    ("http://127.0.0.1:8080/", ["http://127.0.0.1:8080/"]),
    ("www.example.org", ["www.example.org"]),
    ("go to google.com.", ["google.com"]),
    ("ｅｖｉｌ．ｃｏｍ", ["evil.com"]),
    ("exa\u200bmple.com", ["example.com"]),
    ("пример.рф", ["пример.рф"]),
    ("e.g. this, i.e. that", []),
    ("file.txt and node.js", []),
    ("main.py and readme.md", []),
    ("mail me at someone@example.com", []),
    ("javascript:alert(1)", []),
    ("3.14 is pi", []),
])
def test_find_links(text, links):
    assert find_links(text) == links


def test_links_allowed_by_default():
    assert verdict("see example.com").action == "allow"


def test_link_policy_block():
    result = verdict("see https://example.com/x", link_policy="block")
    assert (result.action, result.code, result.reason) == ("block", "link", "Links are not allowed in this chat.")
    assert verdict("no links here.", link_policy="block").action == "allow"


@pytest.mark.parametrize("text", [
    "example.com", "https://example.com/a", "www.example.com", "https://sub.deep.example.com/x",
    "EXAMPLE.COM", "two: example.com and docs.example.com",
])
def test_allowlist_allows_domain_and_subdomains(text):
    assert verdict(text, link_policy="allowlist", allowed_domains=("example.com",)).action == "allow"


@pytest.mark.parametrize("text, host", [
    ("https://evil.test/x", "evil.test"),
    ("evilexample.com", "evilexample.com"),
    ("example.com.evil.com", "example.com.evil.com"),
    ("https://example.com@evil.test/", "evil.test"),
    ("https://evil.test\\@example.com", "evil.test"),
    ("example.com and evil.com", "evil.com"),
])
def test_allowlist_blocks_other_hosts_and_names_them(text, host):
    result = verdict(text, link_policy="allowlist", allowed_domains=("example.com",))
    assert (result.action, result.code) == ("block", "link")
    assert result.reason == f"Links to {host} are not allowed here."


def test_backslash_is_read_as_a_browser_reads_it():
    # Browsers treat "\\" as "/": this link goes to evil.test, whatever follows the "@".
    result = verdict("https://evil.test\\@example.com", link_policy="allowlist",
                     allowed_domains=("example.com",))
    assert (result.action, result.reason) == ("block", "Links to evil.test are not allowed here.")


def test_allowlist_compares_unicode_and_ascii_forms():
    assert verdict("https://bücher.de/x", link_policy="allowlist",
                   allowed_domains=("xn--bcher-kva.de",)).action == "allow"
    assert verdict("https://xn--bcher-kva.de/x", link_policy="allowlist",
                   allowed_domains=("bücher.de",)).action == "allow"


def test_allowlist_with_nothing_allowed_blocks_every_link():
    assert verdict("example.com", link_policy="allowlist").action == "block"


@pytest.mark.parametrize("typed, stored", [
    ("example.com", "example.com"),
    ("https://www.Example.com/x?y=1", "example.com"),
    ("HTTP://Sub.Example.com:8080/", "sub.example.com"),
    ("*.example.com", "example.com"),
    ("example.com.", "example.com"),
    ("Bücher.de", "xn--bcher-kva.de"),
    ("//example.org", "example.org"),
])
def test_validate_domain(typed, stored):
    assert validate_domain(typed) == stored


@pytest.mark.parametrize("typed, reason", [
    ("", "Enter a domain"),
    ("localhost", "with a dot"),
    ("exa mple.com", "spaces"),
    ("javascript:alert(1)", "not a domain"),
    ("ftp://example.com", "http or https"),
    ("127.0.0.1", "IP address"),
    ("-bad-.com", "not a valid domain"),
    ("co.uk", "shared by many sites"),
    ("https://www.co.uk/", "shared by many sites"),
    ("ex_ample.com", "not a valid domain"),
    ("example.com:port", "not a domain"),
    ("a" * 64 + ".com", "not a valid domain"),
])
def test_validate_domain_refuses(typed, reason):
    with pytest.raises(ValueError, match=reason):
        validate_domain(typed)
