"""Tolerant readers for FHIR JSON primitives: dates, codings, references, quantities.

Real EHR data is messy (partial dates, DSTU2/STU3 shapes, a CodeableConcept where R4 wants a
list). Every function here returns ``None`` for what it cannot read instead of raising, so the
snapshot can record *why* a value was not used. No I/O, no clinical content.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

# For isinstance: JSON objects are dicts, checked first in C; other Mappings still pass.
# (isinstance(x, Mapping) alone runs the ABC machinery, a large share of reading a bundle.)
MAPPING = (dict, Mapping)
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_datetime(value: Any) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware UTC datetime (partial dates: the start)."""
    if not isinstance(value, str) or not value:
        return None
    # Only a date (10 characters at most) can be partial; a dateTime goes straight to the parser.
    match = _PARTIAL_DATE.match(value) if len(value) <= 10 else None
    try:
        if match:
            year, month, day = match.groups()
            return datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
        zone = parsed.tzinfo
        if zone is UTC:  # "Z" and "+00:00" (the common case) need no conversion
            return parsed
        if zone is None:
            return parsed.replace(tzinfo=UTC)
        # Year 1 with a positive offset (or 9999 with a negative one) has no UTC equivalent.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def parse_date(value: Any) -> date | None:
    parsed = parse_datetime(value)
    return parsed.date() if parsed else None


def as_list(value: Any) -> list[Any]:
    """R4 wants arrays where older shapes (and the sandbox) send single objects."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def codings(concept: Any) -> Iterator[Mapping[str, Any]]:
    """The codings of a CodeableConcept (or a list of them), skipping malformed entries."""
    for item in as_list(concept):
        if isinstance(item, MAPPING):
            for coding in as_list(item.get("coding")):
                if isinstance(coding, MAPPING):
                    yield coding


def concept_text(concept: Any) -> str | None:
    """The human-readable name of a CodeableConcept: text, else the first display."""
    for item in as_list(concept):
        if isinstance(item, MAPPING):
            text = item.get("text")
            if isinstance(text, str) and text.strip():
                return text.strip()
    for coding in codings(concept):
        display = coding.get("display")
        if isinstance(display, str) and display.strip():
            return display.strip()
    return None


def status_code(status: Any) -> str | None:
    """A status as a code: an R4 CodeableConcept (clinicalStatus, verificationStatus) or a
    DSTU2/STU3 code string."""
    if isinstance(status, str):
        return status
    for coding in codings(status):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def finite_number(value: Any) -> float | None:
    """A JSON number usable in arithmetic: not a bool, not NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        return None
    return number if math.isfinite(number) else None


def reference_id(reference: Any) -> str | None:
    """The logical id at the end of a Reference ("Patient/1", "urn:uuid:1", absolute URLs)."""
    if not isinstance(reference, MAPPING):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str) or not ref:
        return None
    if ref.startswith("urn:uuid:"):
        return ref[9:]
    parts = ref.rstrip("/").split("/")
    # .../Type/id/_history/n
    if len(parts) >= 4 and parts[-2] == "_history":
        return parts[-3]
    return parts[-1]


def resource_ref(resource: Mapping[str, Any]) -> str:
    """ "Type/id" of a resource, or just the type when it has no id."""
    rtype = resource.get("resourceType", "Resource")
    rid = resource.get("id")
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else str(rtype)
