"""Hypothesis strategies for hostile FHIR JSON: what real EHRs and broken middleware send.

Everything here produces plain JSON-like values (dicts, lists, str, numbers, bools, None), the
way ``orjson`` hands a request body to the service, plus a few Python-only values (NaN,
infinities, integers beyond float range) that a tolerant reader must survive too.
"""

from __future__ import annotations

import math
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Each property runs many examples in one test: no deadline (CI machines vary). FUZZ_EXAMPLES
# raises the count for a longer hunt (e.g. FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_*.py).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Strings that look like numbers, nulls or dates to a careless parser.
NUMBER_LIKE = [
    "NaN",
    "nan",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-0",
    "0x1A",
    "1,5",
    "\uff11\uff15\uff10",  # full-width digits
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "<5",
    ">=300",
    "150 pg/mL",
    "null",
    "None",
    "undefined",
    "true",
    "",
    " ",
]
DATE_LIKE = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0000-00-00",
    "2024-02-30",
    "2024-13-01",
    "2024",
    "2024-06",
    "2024-06-01T25:00:00Z",
    "2024-06-01T12:00:00+24:00",
    "2024-06-01T12:00:00.123456789Z",
    "20240601",
    "yesterday",
    "--",
]
ODD_TEXT = [
    "\u200b",  # zero-width space
    "\u202eLm/gp",  # right-to-left override
    "e\u0301",  # combining accent
    "\ufeffpg/mL",  # byte-order mark
    "µg/L",
    "μg/L",
    "mcg/L",
    "PG/ML",
    "pg/ml ",
    "İ",  # dotted capital I: lower() changes its length
    "ß",
    "\U0001f9ea",  # emoji
    "a" * 5000,
    "\x00",
    "\\u0000",
    "%00",
    "<script>alert(1)</script>",
    "{{context.patientId}}",
    "../../etc/passwd",
]

odd_strings = st.one_of(
    st.sampled_from(NUMBER_LIKE + DATE_LIKE + ODD_TEXT),
    st.text(max_size=40),
)
odd_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            0,
            -0.0,
            -1,
            5e-324,
            2.2250738585072014e-308,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            2**63,
            -(2**63) - 1,
            10**400,
            math.nan,
            math.inf,
            -math.inf,
        ]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), odd_numbers, odd_strings)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON-like value: scalars, lists and objects, nested a few levels."""
    keys = st.one_of(st.sampled_from(["resourceType", "coding", "value", "reference"]), st.text())
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(keys, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def deep(value: Any, depth: int) -> Any:
    """``value`` wrapped ``depth`` times in alternating objects and lists."""
    for level in range(depth):
        value = {"extension": value} if level % 2 else [value]
    return value


@st.composite
def mutated(draw: st.DrawFn, template: Any, *, protect: frozenset[str] = frozenset()) -> Any:
    """``template`` with parts replaced by hostile values, removed, or padded with extras.

    Keys in ``protect`` keep their values at the top level (e.g. ``resourceType``, so the
    resource still reaches the code path under test).
    """
    if isinstance(template, dict):
        result: dict[str, Any] = {}
        for key, value in template.items():
            if key in protect:
                result[key] = value
                continue
            action = draw(st.sampled_from(["keep", "keep", "mutate", "replace", "drop"]))
            if action == "keep":
                result[key] = value
            elif action == "mutate":
                result[key] = draw(mutated(value))
            elif action == "replace":
                result[key] = draw(json_values())
        for key in draw(st.lists(st.text(max_size=12), max_size=2)):
            if key not in result:
                result[key] = draw(json_values(4))
        return result
    if isinstance(template, list):
        items = [draw(mutated(item)) for item in template]
        if draw(st.booleans()):
            items.insert(draw(st.integers(0, len(items))), draw(json_values(4)))
        return items
    return draw(st.one_of(st.just(template), scalars))
