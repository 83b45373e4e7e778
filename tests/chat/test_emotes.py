"""Emoji in chat: what counts as emote-only, and the emote-only mode's verdict."""
import pytest

from app.chat.emotes import is_emote_only
from tests.chat.conftest import verdict


@pytest.mark.parametrize("text", ["😄", "😄 👍", ":smile:", ":thumbsup: :heart:", " 👨‍👩‍👧 ❤️ ", "🇫🇷:fire:"])
def test_emote_only_accepts_emoji(text):
    assert is_emote_only(text)
    assert verdict(text, emote_only=True).action == "allow"


@pytest.mark.parametrize("text", ["hi 😄", ":notanemoji:", "lol", "123", "   ", "", ":smile: x", "<3"])
def test_emote_only_refuses_text(text):
    assert not is_emote_only(text)
    result = verdict(text, emote_only=True)
    assert (result.action, result.code, result.reason) == ("block", "emote_only", "This chat is in emote-only mode.")
