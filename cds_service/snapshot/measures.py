"""Which measure an Observation reports, and which band of that measure its value falls in.

The measure and band logic the reader, the derived measures and the questionnaire totals
share: one look-up per coding to find the measure, bands tried in the knowledge base's order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Band, Measure
from cds_service.knowledge.units import normalise_unit
from cds_service.snapshot.facts import LabFact
from cds_service.snapshot.values import MAPPING, as_list, codings, concept_text, finite_number


def measure_of(
    resource: Mapping[str, Any],
    measure_codes: Mapping[str, Mapping[str, Measure]],
    system_aliases: Mapping[str, str],
) -> tuple[Measure, str] | None:
    """The measure an Observation reports, and the code that says so; None for most of a record.

    One dictionary look-up per coding: an Observation no measure reads (vitals, panels, other
    labs) costs no more. lean_json leaves out, before parsing, Observations whose codings are
    all well-formed with codes not in ``measure_codes``: this finds no measure for any of them.
    """
    code = resource.get("code")
    if not isinstance(code, MAPPING):
        return None
    coding = code.get("coding")
    for item in coding if type(coding) is list else as_list(coding):
        if not isinstance(item, MAPPING):
            continue
        value = item.get("code")
        if not isinstance(value, str):  # lists and objects are unhashable: never looked up
            continue
        by_system = measure_codes.get(value)
        if by_system is None:
            continue
        uri = item.get("system")
        system = system_aliases.get(uri) if isinstance(uri, str) else None
        measure = by_system.get(system) if system else None
        if measure is not None:
            return measure, value
    return None


def default_unit(measure: Measure, code: str) -> str | None:
    for known in measure.codes:
        if known.code == code and known.unit:
            return known.unit
    return None


def method_of(measure: Measure, code: str) -> str | None:
    for known in measure.codes:
        if known.code == code:
            return known.method
    return None


def settle_bands(
    kb: KnowledgeBase, facts: dict[str, LabFact], sex: str | None
) -> dict[str, LabFact]:
    """Re-band the few facts whose measure has sex-specific bands, now that sex is known."""
    settled = dict(facts)
    for measure_id, fact in facts.items():
        measure = kb.measures[measure_id]
        if sex is not None and any(b.sex for b in measure.bands):
            settled[measure_id] = _settled(measure, fact, sex)
    return settled


def _settled(measure: Measure, fact: LabFact, sex: str) -> LabFact:
    """The fact (and its previous result) re-banded for the patient's sex."""
    previous = fact.previous and _settled(measure, fact.previous, sex)
    if fact.value is None:
        return fact if previous is fact.previous else replace(fact, previous=previous)
    band = band_match(measure, fact.value, fact.comparator, sex=sex, method=fact.method)
    return replace(
        fact,
        band=band.id if band else None,
        band_label=band.label if band else None,
        previous=previous,
    )


def band_for(
    measure: Measure,
    value: float,
    comparator: str | None,
    *,
    sex: str | None = None,
    method: str | None = None,
) -> str | None:
    """The id of the band holding the value (see ``band_match``)."""
    band = band_match(measure, value, comparator, sex=sex, method=method)
    return band.id if band is not None else None


def band_match(
    measure: Measure,
    value: float,
    comparator: str | None,
    *,
    sex: str | None = None,
    method: str | None = None,
) -> Band | None:
    """The band holding the value; for a bound ("<5") only a band holding the whole interval.

    Bands are tried in order; those for another sex or assay method are skipped, so with an
    unknown sex the general (conservative) band applies. Several bands may share an id (one per
    sex or method, each with its own label): the one returned is the one that applied.
    """
    bands = [b for b in measure.bands if b.applies(sex, method) and (b.lower or b.upper)]
    if comparator is None:
        for band in bands:
            if band.contains(value):
                return band
        return None
    below = comparator in ("<", "<=")
    for band in bands:
        lower, upper = band.lower, band.upper
        if below:
            # (-inf, value) must fit: band unbounded below and reaching the bound.
            if lower is None and (
                upper is None
                or value < upper[0]
                or (value == upper[0] and (upper[1] or comparator == "<"))
            ):
                return band
        elif upper is None and (
            lower is None
            or value > lower[0]
            or (value == lower[0] and (lower[1] or comparator == ">"))
        ):
            return band
    return None


def reference_range(
    carrier: Mapping[str, Any], factors: Mapping[str, float]
) -> tuple[float | None, float | None]:
    for item in as_list(carrier.get("referenceRange")):
        if not isinstance(item, MAPPING):
            continue
        bounds: list[float | None] = []
        for key in ("low", "high"):
            quantity = item.get(key)
            value = finite_number(quantity.get("value")) if isinstance(quantity, MAPPING) else None
            unit = (
                (quantity.get("code") or quantity.get("unit"))
                if isinstance(quantity, MAPPING)
                else None
            )
            factor = factors.get(normalise_unit(unit)) if isinstance(unit, str) else None
            bound = float(f"{value / factor:.10g}") if value is not None and factor else None
            bounds.append(bound if bound is not None and math.isfinite(bound) else None)
        if bounds[0] is not None or bounds[1] is not None:
            return bounds[0], bounds[1]
    return None, None


def qualitative_band(
    kb: KnowledgeBase, measure: Measure, carrier: Mapping[str, Any]
) -> tuple[str | None, str]:
    concept = carrier.get("valueCodeableConcept")
    texts = []
    if isinstance(carrier.get("valueString"), str):
        texts.append(carrier["valueString"])
    boolean = carrier.get("valueBoolean")
    if isinstance(boolean, bool):  # a yes/no answer (C-SSRS items), matched as "true"/"false"
        texts.append("true" if boolean else "false")
    text = concept_text(concept) if concept is not None else None
    if text:
        texts.append(text)
    coded = {
        (kb.system_aliases.get(c["system"]), c["code"])
        for c in codings(concept)
        if isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
    }
    folded = {t.strip().lower() for t in texts}
    for qualitative in measure.qualitative:
        for code in qualitative.codes:
            if (kb.system_uris[code.system], code.code) in coded:
                return qualitative.band, texts[0] if texts else code.code
        if folded & {t.lower() for t in qualitative.texts}:
            return qualitative.band, texts[0]
    return None, texts[0] if texts else "coded result"


def coded_score(measure: Measure, carrier: Mapping[str, Any]) -> float | None:
    """The score of a coded questionnaire answer (``answer_scores``), e.g. LA6569-3 = 1; a
    boolean answer scores 1 or 0 when the measure scores yes/no; None otherwise."""
    scores = getattr(measure, "answer_scores", None)
    if not scores:
        return None
    boolean = carrier.get("valueBoolean")
    if isinstance(boolean, bool):
        return 1.0 if boolean else 0.0
    for coding in codings(carrier.get("valueCodeableConcept")):
        code = coding.get("code")
        if isinstance(code, str) and code in scores:
            return float(scores[code])
    return None
