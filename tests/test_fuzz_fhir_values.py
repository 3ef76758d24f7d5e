"""Property-based tests of the tolerant FHIR primitive readers (fhir_values.py).

Each reader returns a usable value or ``None``; none raises, whatever JSON it is handed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.snapshot.values import (
    as_list,
    codings,
    concept_text,
    finite_number,
    parse_date,
    parse_datetime,
    reference_id,
    resource_ref,
)
from tests.fuzz_strategies import FUZZ, json_values, odd_strings, scalars


@FUZZ
@given(json_values())
def test_primitive_readers_never_raise(value: Any) -> None:
    parsed = parse_datetime(value)
    assert parsed is None or parsed.utcoffset() == timedelta(0)
    assert parse_date(value) is None or parsed is not None
    number = finite_number(value)
    assert number is None or math.isfinite(number)
    rid = reference_id(value)
    assert rid is None or isinstance(rid, str)
    text = concept_text(value)
    assert text is None or (text and text == text.strip())
    assert all(isinstance(c, Mapping) for c in codings(value))
    assert isinstance(as_list(value), list)
    if isinstance(value, Mapping):
        assert isinstance(resource_ref(value), str)


@FUZZ
@given(st.one_of(odd_strings, st.sampled_from(["0001-01-01T00:30:00+01:00"])))
def test_dates_parse_or_are_refused(value: str) -> None:
    parsed = parse_datetime(value)
    assert parsed is None or parsed.tzinfo is not None


OFFSETS = [UTC, *(timezone(timedelta(minutes=m)) for m in (-720, -210, 330, 345, 840))]


@FUZZ
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(OFFSETS),
    )
)
def test_valid_date_times_round_trip(moment: datetime) -> None:
    assert parse_datetime(moment.isoformat()) == moment


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_date_times_beyond_the_calendar_in_utc_are_refused(value: str) -> None:
    # Converting these to UTC leaves years 1..9999; they are unreadable, not a crash.
    assert parse_datetime(value) is None


@FUZZ
@given(st.one_of(scalars, st.integers(min_value=-(10**400), max_value=10**400)))
def test_finite_number_takes_only_usable_numbers(value: Any) -> None:
    number = finite_number(value)
    usable = isinstance(value, int | float) and not isinstance(value, bool)
    if not usable or (isinstance(value, float) and not math.isfinite(value)):
        assert number is None
    elif number is not None:  # None only for integers beyond float range
        assert number == float(value)
    else:
        assert isinstance(value, int) and abs(value) > 2**1023
