"""Short texts for cards: values as the lab reported them, dates, and summaries that fit.

A summary is never cut off: it is built from the most to the least complete wording, and
the first one under the limit wins (the shortest wording is short by construction).
"""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.knowledge.schema import Measure
from cds_service.protocol.messages import SUMMARY_MAX_LENGTH
from cds_service.snapshot.facts import LabFact

# Characters of markdown in a card's detail: the patient-specific core of the basis in about a
# screen (clinical-reference §7.6); the rest is one click away on the knowledge pages.
DETAIL_BUDGET = 1200

# Said wherever a supplement is offered or ordered while the allergy prefetch was unavailable:
# "not checked", never a silent "no allergy".
ALLERGIES_NOT_CHECKED = "Allergies: not checked (the patient's allergies could not be obtained)."


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters at a word boundary, without an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(-/")
    return cut or text[:limit]


def fit(candidates: Iterable[str], limit: int = SUMMARY_MAX_LENGTH) -> str:
    """The first candidate within ``limit`` characters, else the shortest one cut at a word
    boundary (never with an ellipsis: a cut summary reads as finished when it is not)."""
    options = [c.strip() for c in candidates if c and c.strip()]
    for option in options:
        if len(option) <= limit:
            return option
    return clip(min(options, key=len), limit)


def value_text(fact: LabFact) -> str:
    """The result as the lab reported it ("185 pg/mL", "<5 mIU/mL", "14"), score units
    dropped."""
    reported = fact.reported.replace("{score}", "").strip()
    for unit in ("[IU]", "[iU]"):
        reported = reported.replace(unit, "IU")
    # UCUM's annotation braces are for machines: eGFR reads "mL/min/1.73 m²".
    reported = reported.replace("{1.73_m2}", "1.73 m²")
    return reported.replace(" ug/", " µg/")


def band_word(fact: LabFact, measure: Measure | None = None) -> str:
    """The band a result fell in, as a word ("deficient", "moderately severe"; "G3a" where
    the knowledge base gives the band a ``short`` name)."""
    if not fact.band:
        return "no band"
    band = next((b for b in measure.bands if b.id == fact.band), None) if measure else None
    if band is not None and band.short:
        return band.short
    return fact.band.replace("-", " ")


def band_label(fact: LabFact, measure: Measure, sex: str | None = None) -> str:
    """The band with its threshold ("deficient (< 200 pg/mL)"): the knowledge base's label,
    and the interval in the canonical unit when the label carries no number."""
    band = next(
        (b for b in measure.bands if b.id == fact.band and b.applies(sex, fact.method)), None
    )
    band = band or next((b for b in measure.bands if b.id == fact.band), None)
    if band is None:
        return band_word(fact)
    if any(ch.isdigit() for ch in band.label) or not measure.canonical_unit:
        return band.label
    unit = (
        measure.canonical_unit.strip("{}")
        if measure.canonical_unit.startswith("{")
        else measure.canonical_unit
    )
    return f"{band.label} ({band.describe(unit)})"


def day(fact: LabFact) -> str:
    return fact.effective.date().isoformat()


def joined(names: list[str], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"
