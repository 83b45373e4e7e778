"""Chat automod: what each level holds, the spam heuristics, the lexicon toxicity scorer and loading
a pluggable scorer by dotted name."""
import pytest

from app.chat import automod
from app.chat.automod import (
    HELD_REASON,
    LEXICON_PATH,
    compile_lexicon,
    lexicon_score,
    load_scorer,
    read_lexicon,
    repeats,
)
from app.chat.policy import ChatPolicy, check_message
from tests.chat.conftest import never_toxic

# --- levels and heuristics -----------------------------------------------------------------------

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


# --- the lexicon scorer --------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "kys", "KYS", "k.y.s", "kill yourself", "k1ll y0urs3lf", "KILL   YOURSELF!!", "kíll yoursélf",
    "killyourself", "just go die in a fire", "i hope you die",
])
def test_threats_score_high(text):
    assert lexicon_score(text) >= 0.8, text


@pytest.mark.parametrize("text", [
    "good game everyone", "that was a killer move", "I could kill for a pizza",
    "class is in session", "what a classic", "the trash can is full of garbage",  # two mild words
    "I'm such an idiot", "this boss is stupid hard", "shut up and take my money",
    "skill issue", "glass of water", "hello", "",
])
def test_ordinary_chat_is_not_held_on_low(text):
    assert lexicon_score(text) < 0.8, text


@pytest.mark.parametrize("text", ["I'm such an idiot", "this boss is stupid hard", "this game is trash",
                                  "good game everyone", "the hero kills monsters"])
def test_ordinary_chat_is_not_held_on_high(text):
    assert lexicon_score(text) < 0.5, text


@pytest.mark.parametrize("text", ["you idiot", "ur so stupid", "you're trash", "@bob loser",
                                  "shut up you moron", "1d10t y0u"])
def test_insults_aimed_at_someone_are_held_on_high(text):
    assert 0.5 <= lexicon_score(text) < 1.0, text


def test_insults_add_up():
    assert lexicon_score("you stupid idiot loser") >= 0.8
    assert lexicon_score("idiot") < lexicon_score("stupid idiot") < lexicon_score("stupid idiot loser")


def test_a_word_counts_once():
    assert lexicon_score("idiot idiot idiot") == lexicon_score("idiot")


def test_score_is_between_zero_and_one():
    assert lexicon_score("kys kill yourself you idiot loser moron trash stfu") == 1.0
    assert lexicon_score("hello") == 0.0


def test_shipped_lexicon_reads_and_compiles():
    entries = read_lexicon()
    assert len(entries) > 30
    assert ("kys", 1.0) in entries
    assert all(0 < weight <= 1 for _term, weight in entries)
    lexicon = compile_lexicon(entries)
    assert len(lexicon.weights) == len(entries)


def test_read_lexicon_refuses_a_bad_line(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("# fine\n0.5\tok\nheavy\tnot a number\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        read_lexicon(path)
    path.write_text("1.5\ttoo much\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_lexicon(path)


def test_custom_lexicon_scores_with_its_own_weights(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("0.3\tmeanie\n0.9\tgrr*\n", encoding="utf-8")
    lexicon = compile_lexicon(read_lexicon(path))
    assert automod.score_with(lexicon, "what a meanie") == 0.3
    assert automod.score_with(lexicon, "you meanie") == pytest.approx(0.45)
    assert automod.score_with(lexicon, "GRRRRR") == 0.9
    assert automod.score_with(compile_lexicon([]), "anything") == 0.0


def test_lexicon_file_sits_next_to_the_module():
    assert LEXICON_PATH.name == "lexicon.txt" and LEXICON_PATH.exists()


def half(text: str) -> float:
    return 0.5


class Scorers:
    @staticmethod
    def quiet(text: str) -> float:
        return 0.0

    not_callable = 3


@pytest.mark.parametrize("name", [None, "", "   "])
def test_load_scorer_defaults_to_the_lexicon(name):
    assert load_scorer(name) is lexicon_score


def test_load_scorer_imports_a_dotted_name():
    assert load_scorer("tests.chat.test_automod:half") is half
    assert load_scorer("tests.chat.test_automod:Scorers.quiet")("x") == 0.0
    assert load_scorer("app.chat.automod:lexicon_score") is lexicon_score


@pytest.mark.parametrize("name, reason", [
    ("tests.chat.test_automod.half", "should look like"),
    ("tests.chat.test_automod:", "should look like"),
    (":half", "should look like"),
    ("no_such_package.scorer:score", "cannot import 'no_such_package.scorer'"),
    ("tests.chat.test_automod:missing", "has no 'missing'"),
    ("tests.chat.test_automod:Scorers.not_callable", "not callable"),
])
def test_load_scorer_explains_a_bad_name(name, reason):
    with pytest.raises(ValueError, match=reason):
        load_scorer(name)
