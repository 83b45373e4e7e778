"""Chat filters: blocked terms, links, emote-only, duplicates, automod levels and the verdict."""
import pytest

from app.chat.filters import (
    HELD_REASON,
    ChatPolicy,
    Verdict,
    check_message,
    compile_terms,
    find_links,
    is_emote_only,
    normalise,
    repeats,
    validate_domain,
    validate_term,
)

QUIET = "off"  # automod level for tests about something else


def never_toxic(text: str) -> float:
    return 0.0


def verdict(text, *, recent=(), scorer=never_toxic, **policy):
    policy.setdefault("automod_level", QUIET)
    return check_message(text, ChatPolicy(**policy), recent=recent, scorer=scorer)


# --- blocked terms -------------------------------------------------------------------------------

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


# --- links ---------------------------------------------------------------------------------------

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


# --- emote-only ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["😄", "😄 👍", ":smile:", ":thumbsup: :heart:", " 👨‍👩‍👧 ❤️ ", "🇫🇷:fire:"])
def test_emote_only_accepts_emoji(text):
    assert is_emote_only(text)
    assert verdict(text, emote_only=True).action == "allow"


@pytest.mark.parametrize("text", ["hi 😄", ":notanemoji:", "lol", "123", "   ", "", ":smile: x", "<3"])
def test_emote_only_refuses_text(text):
    assert not is_emote_only(text)
    result = verdict(text, emote_only=True)
    assert (result.action, result.code, result.reason) == ("block", "emote_only", "This chat is in emote-only mode.")


def test_emote_only_comes_first():
    result = verdict("bad example.com", emote_only=True, blocked_terms=("bad",), link_policy="block")
    assert result.code == "emote_only"


# --- duplicates ----------------------------------------------------------------------------------

def test_duplicate_of_a_recent_message_is_blocked():
    result = verdict("Hello  World", recent=("something else", "hello world"))
    assert (result.action, result.code, result.reason) == ("block", "duplicate", "You already sent that message.")


def test_duplicate_ignores_accents_and_invisible_characters():
    assert verdict("héllo\u200b", recent=("HELLO",)).code == "duplicate"


def test_different_messages_are_not_duplicates():
    assert verdict("hello there", recent=("hello", "there")).action == "allow"
    assert verdict("hello").action == "allow"


def test_order_blocked_term_then_link_then_duplicate():
    policy = dict(blocked_terms=("bad",), link_policy="block")
    assert verdict("bad example.com", recent=("bad example.com",), **policy).code == "blocked_term"
    assert verdict("see example.com", recent=("see example.com",), **policy).code == "link"
    assert verdict("see", recent=("see",), **policy).code == "duplicate"


# --- automod -------------------------------------------------------------------------------------

def held_flags(text, level, scorer=never_toxic):
    result = check_message(text, ChatPolicy(automod_level=level), scorer=scorer)
    if result.action == "allow":
        return ()
    assert result.action == "hold"
    assert result.reason == HELD_REASON
    assert result.code == "held"
    return result.flags


@pytest.mark.parametrize("text, low, high", [
    ("I LOVE THIS", (), ()),                                     # 9 letters: too short for either
    ("THIS IS SO GOOD", (), ("caps",)),                          # 12 capitals
    ("THIS IS SO GOOD wow", (), ("caps",)),                      # 12 of 15 = 80%
    ("THIS IS SO good wow", (), ()),                             # 8 of 14 = 57%
    ("THIS IS THE BEST STREAM I HAVE EVER SEEN", ("caps",), ("caps",)),   # 32 capitals
    ("THIS IS THE BEST STREAM I HAVE EVER SEEN ok", ("caps",), ("caps",)),  # 32 of 34 = 94%
    ("THIS IS THE BEST STREAM I HAVE EVER SEEN okay", (), ("caps",)),       # 32 of 36 = 89%
])
def test_caps_thresholds(text, low, high):
    assert held_flags(text, "low") == low
    assert held_flags(text, "high") == high


@pytest.mark.parametrize("count, low, high", [(9, False, False), (10, False, True),
                                              (19, False, True), (20, True, True)])
def test_character_run_thresholds(count, low, high):
    text = "no" + "o" * (count - 1) + " way"
    assert ("repetition" in held_flags(text, "low")) is low
    assert ("repetition" in held_flags(text, "high")) is high


@pytest.mark.parametrize("count, low, high", [(4, False, False), (5, False, True),
                                              (7, False, True), (8, True, True)])
def test_word_repetition_thresholds(count, low, high):
    text = " ".join(["spam"] * count)
    assert ("repetition" in held_flags(text, "low")) is low
    assert ("repetition" in held_flags(text, "high")) is high


def test_phrase_and_glued_repetition():
    assert repeats("buy now, buy now buy now BUY NOW buy now") == 5
    assert repeats("hey hey you you") == 2
    assert repeats("spamspamspamspamspam") == 5
    assert repeats("hahahahahahahahahaha") == 1  # laughter is not spam
    assert repeats("the cat and the dog and the bird and the fish and the end") == 1


def test_toxicity_thresholds():
    def scores(value):
        return lambda text: value
    assert held_flags("hello", "low", scores(0.79)) == ()
    assert held_flags("hello", "low", scores(0.8)) == ("toxicity:0.80",)
    assert held_flags("hello", "high", scores(0.49)) == ()
    assert held_flags("hello", "high", scores(0.5)) == ("toxicity:0.50",)
    assert held_flags("hello", "high", scores(7)) == ("toxicity:1.00",)
    assert held_flags("hello", "high", scores(float("nan"))) == ()


def test_automod_off_checks_nothing():
    def explode(text):
        raise AssertionError("scorer called with automod off")
    assert held_flags("SPAM " * 20 + "!" * 40, "off", explode) == ()


def test_several_reasons_are_all_flagged():
    flags = held_flags("STOP STOP STOP STOP STOP STOP", "high", lambda text: 0.9)
    assert flags == ("caps", "repetition", "toxicity:0.90")


def test_default_scorer_is_the_lexicon():
    result = check_message("kys", ChatPolicy(automod_level="low"))
    assert result.action == "hold"
    assert result.flags == ("toxicity:1.00",)
    assert check_message("good game everyone", ChatPolicy(automod_level="high")).action == "allow"


def test_a_failing_scorer_does_not_stop_chat(caplog):
    def broken(text):
        raise RuntimeError("model server down")
    assert check_message("hello", ChatPolicy(automod_level="high"), scorer=broken).action == "allow"
    assert "scorer failed" in caplog.text


def test_blocks_come_before_automod():
    result = check_message("bad " * 10, ChatPolicy(blocked_terms=("bad",), automod_level="high"))
    assert result.code == "blocked_term"


# --- policy and verdict --------------------------------------------------------------------------

def test_policy_refuses_unknown_settings():
    with pytest.raises(ValueError, match="link_policy"):
        ChatPolicy(link_policy="sometimes")
    with pytest.raises(ValueError, match="automod_level"):
        ChatPolicy(automod_level="extreme")


@pytest.mark.parametrize("result, code", [
    (Verdict("allow"), ""),
    (Verdict("hold", HELD_REASON, ("caps",)), "held"),
    (Verdict("block", "x", ("link",)), "link"),
    (Verdict("block", "x", ("caps",)), "spam"),
    (Verdict("block", "x"), "spam"),
])
def test_verdict_code(result, code):
    assert result.code == code
