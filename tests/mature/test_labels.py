"""The one list of content labels, and how a choice of them is stored."""
import pytest

from app.mature.labels import CONTENT_LABELS, LABEL_KEYS, UnknownLabel, clean_labels, label_names


def test_the_list_is_twitchs_set_with_keys_and_names():
    assert [label.name for label in CONTENT_LABELS] == [
        "Drugs, Intoxication, or Excessive Tobacco Use", "Gambling", "Mature-rated Games",
        "Profanity or Vulgarity", "Sexual Themes", "Significant Violence"]
    assert len(set(LABEL_KEYS)) == len(LABEL_KEYS)


def test_labels_are_stored_once_each_in_the_lists_order():
    assert clean_labels(["violence", "gambling", "violence"]) == ["gambling", "violence"]
    assert clean_labels(None) == [] and clean_labels([]) == []


def test_an_unknown_label_is_refused():
    with pytest.raises(UnknownLabel, match="nudity"):
        clean_labels(["gambling", "nudity"])


def test_names_are_read_in_the_lists_order_and_forgotten_keys_left_out():
    assert label_names(["profanity", "drugs", "gone"]) == [
        "Drugs, Intoxication, or Excessive Tobacco Use", "Profanity or Vulgarity"]
