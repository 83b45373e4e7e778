"""The chat policy and its verdict: duplicates, the order of the checks, unknown settings, codes."""
import pytest

from app.chat.automod import HELD_REASON
from app.chat.policy import ChatPolicy, Verdict, check_message
from tests.chat.conftest import verdict

# --- duplicates ----------------------------------------------------------------------------------

def test_duplicate_of_a_recent_message_is_blocked():
    result = verdict("Hello  World", recent=("something else", "hello world"))
    assert (result.action, result.code, result.reason) == ("block", "duplicate", "You already sent that message.")


def test_duplicate_ignores_accents_and_invisible_characters():
    assert verdict("héllo\u200b", recent=("HELLO",)).code == "duplicate"


def test_different_messages_are_not_duplicates():
    assert verdict("hello there", recent=("hello", "there")).action == "allow"
    assert verdict("hello").action == "allow"


# --- the order of the checks ---------------------------------------------------------------------

def test_emote_only_comes_first():
    result = verdict("bad example.com", emote_only=True, blocked_terms=("bad",), link_policy="block")
    assert result.code == "emote_only"


def test_order_blocked_term_then_link_then_duplicate():
    policy = dict(blocked_terms=("bad",), link_policy="block")
    assert verdict("bad example.com", recent=("bad example.com",), **policy).code == "blocked_term"
    assert verdict("see example.com", recent=("see example.com",), **policy).code == "link"
    assert verdict("see", recent=("see",), **policy).code == "duplicate"


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
