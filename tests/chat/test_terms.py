"""Blocked terms: normalising, term patterns (through the verdict they give) and validating a term."""
import pytest

from app.chat.terms import compile_terms, normalise, validate_term
from tests.chat.conftest import verdict


@pytest.mark.parametrize("text", [
    "bad", "BAD", "Bad day", "that was bad!", "BÁD", "bàd", "b4d", "8ad", "b@d", "baaaad", "baddd",
    "b.a.d", "b-a-d", "b a d", "b_a_d", "b*a*d", "ｂａｄ", "𝐛𝐚𝐝", "b\u200bad", "bаd", "ВАD",  # Cyrillic
    "(bad)", "'bad'", "so... bad.",
])
def test_plain_term_catches_disguises(text):
    result = verdict(text, blocked_terms=("bad",))
    assert (result.action, result.code) == ("block", "blocked_term"), text
    assert result.flags == ("blocked_term",)


@pytest.mark.parametrize("text", [
    "badge", "forbad", "abad", "b..a..d", "bed", "ba dx", "bd", "2bad4u",
])
def test_plain_term_matches_whole_words_only(text):
    assert verdict(text, blocked_terms=("bad",)).action == "allow", text


@pytest.mark.parametrize("text", ["class", "passage", "assassin", "bass", "as", "grass", "brass tacks"])
def test_short_terms_do_not_hit_innocent_words(text):
    assert verdict(text, blocked_terms=("ass",)).action == "allow"


@pytest.mark.parametrize("text", ["ass", "a$$", "@ss", "4SS", "a.s.s", "aaasss", "ÅSS"])
def test_short_terms_still_hit_the_word(text):
    assert verdict(text, blocked_terms=("ass",)).action == "block"


@pytest.mark.parametrize("term, hits, misses", [
    ("bad*", ["badword", "BADWORDS", "b4dness", "bad"], ["notbad", "ba"]),
    ("*bad", ["notbad", "bad"], ["badword"]),
    ("*bad*", ["notbadatall", "bad", "xbadx"], ["bd", "b a"]),
    ("b*d", ["bad", "bread", "bd"], ["bedroom", "abad"]),
])
def test_wildcards(term, hits, misses):
    for text in hits:
        assert verdict(f"so {text} ok", blocked_terms=(term,)).action == "block", (term, text)
    for text in misses:
        assert verdict(f"so {text} ok", blocked_terms=(term,)).action == "allow", (term, text)


@pytest.mark.parametrize("text", ["kill yourself", "KILL YOURSELF", "k1ll y0urs3lf", "killyourself",
                                  "kill - yourself", "kill_yourself"])
def test_phrases(text):
    assert verdict(f"just {text} now", blocked_terms=("kill yourself",)).action == "block"


def test_phrase_words_must_be_in_order():
    assert verdict("yourself kill", blocked_terms=("kill yourself",)).action == "allow"


def test_terms_typed_in_leetspeak_or_capitals():
    assert verdict("bad", blocked_terms=("B4D",)).action == "block"
    assert verdict("badness", blocked_terms=("  BAD* ",)).action == "block"


def test_any_of_several_terms():
    terms = ("foo", "bad*", "*crap*")
    assert verdict("scrap metal", blocked_terms=terms).action == "block"
    assert verdict("all good here", blocked_terms=terms).action == "allow"


def test_non_latin_terms():
    assert verdict("это плохо", blocked_terms=("плохо",)).action == "block"
    assert verdict("это хорошо", blocked_terms=("плохо",)).action == "allow"


def test_compile_terms_is_cached_and_empty_is_none():
    assert compile_terms(["bad", "worse"]) is compile_terms(("bad", "worse"))
    assert compile_terms([]) is None
    assert compile_terms(["*", "--", "!!"]) is None


@pytest.mark.parametrize("term, text", [("wtf!", "wtf"), ("!wtf", "wtf"), ("sh!t", "shit"), ("a$$", "ass"),
                                        ("sh|t", "shlt")])
def test_leet_symbols_in_terms_are_letters_only_inside_words(term, text):
    assert verdict(text, blocked_terms=(term,)).action == "block"


def test_normalise_folds_case_accents_and_compatibility_forms():
    assert normalise("ÉCOLE Ｆｕｌｌ 𝐛𝐨𝐥𝐝 stra\u00dfe a\u200bb") == "ecole full bold strasse ab"


@pytest.mark.parametrize("typed, stored", [
    ("  Bad   Word ", "bad word"),
    ("BAD**", "bad*"),
    ("*crap*", "*crap*"),
    ("b4d", "b4d"),
])
def test_validate_term_tidies(typed, stored):
    assert validate_term(typed) == stored


@pytest.mark.parametrize("typed, reason", [
    ("", "Enter a word"),
    ("   ", "Enter a word"),
    ("***", "only wildcards"),
    ("x" * 101, "at most 100"),
    ("a", "at least two"),
    ("a*", "at least two"),
    ("ab*", "at least three"),
    ("*ab*", "at least three"),
    ("--", "letter or digit"),
    ("!!", "letter or digit"),
])
def test_validate_term_refuses(typed, reason):
    with pytest.raises(ValueError, match=reason):
        validate_term(typed)


def test_validate_term_accepts_the_limit():
    assert validate_term("x" * 100) == "x" * 100
