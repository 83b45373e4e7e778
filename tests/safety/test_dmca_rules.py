"""The DMCA's elements and business days, without a database."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.safety import dmca

TAKEDOWN = {"signature": "Jo Owner", "work": "My song 'Rain'", "material_url": "https://live.test/c/x/videos/1",
            "address": "1 Main St, Springfield", "phone": "+1 555 0100", "email": "jo@example.com",
            "good_faith": True, "accurate": True}
COUNTER = {"signature": "Sam Uploader", "material": "video 1 at /c/x/videos/1", "mistake": True,
           "name": "Sam Uploader", "address": "2 Side St, Shelbyville", "phone": "+1 555 0101", "jurisdiction": True}


def test_a_complete_takedown_and_counter_notice_lack_nothing():
    assert dmca.missing(dmca.TAKEDOWN_ELEMENTS, TAKEDOWN) == []
    assert dmca.missing(dmca.COUNTER_ELEMENTS, COUNTER) == []


@pytest.mark.parametrize("field, statute", [("signature", "(c)(3)(A)(i)"), ("work", "(c)(3)(A)(ii)"),
                                            ("material_url", "(c)(3)(A)(iii)"), ("phone", "(c)(3)(A)(iv)"),
                                            ("email", "(c)(3)(A)(iv)"), ("good_faith", "(c)(3)(A)(v)"),
                                            ("accurate", "(c)(3)(A)(vi)")])
def test_each_takedown_element_is_required_and_named(field, statute):
    data = {**TAKEDOWN, field: False if isinstance(TAKEDOWN[field], bool) else "  "}
    absent = dmca.missing(dmca.TAKEDOWN_ELEMENTS, data)
    assert [element.statute for element in absent] == [f"§512{statute}"]
    assert f"§512{statute}" in dmca.refusal(absent)


@pytest.mark.parametrize("field, statute", [("signature", "(g)(3)(A)"), ("material", "(g)(3)(B)"),
                                            ("mistake", "(g)(3)(C)"), ("address", "(g)(3)(D)"),
                                            ("jurisdiction", "(g)(3)(D)")])
def test_each_counter_notice_element_is_required_and_named(field, statute):
    data = {**COUNTER, field: False if isinstance(COUNTER[field], bool) else ""}
    assert [element.statute for element in dmca.missing(dmca.COUNTER_ELEMENTS, data)] == [f"§512{statute}"]


def test_business_days_skip_weekends_and_federal_holidays():
    # Friday 2026-12-18 + 10 business days: Dec 25 (Christmas) and Jan 1 (New Year) are holidays.
    assert dmca.business_days_after(date(2026, 12, 18), 10) == date(2027, 1, 5)
    # Thursday 2026-11-19 + 5: Thanksgiving (Nov 26) skipped.
    assert dmca.business_days_after(date(2026, 11, 19), 5) == date(2026, 11, 27)
    assert not dmca.is_business_day(date(2026, 7, 4)) and not dmca.is_business_day(date(2026, 12, 5))
    assert dmca.is_business_day(date(2026, 12, 7))


def test_the_restore_window_is_10_to_14_business_days():
    earliest, latest = dmca.restore_window(datetime(2026, 12, 7, 15, 30, tzinfo=UTC))  # a Monday
    assert earliest == datetime(2026, 12, 22, tzinfo=UTC)  # end of Mon 21 Dec, the 10th business day
    assert latest == datetime(2026, 12, 29, tzinfo=UTC)  # end of Mon 28 Dec (Christmas skipped)
