"""Measures: laboratory analytes and questionnaire scores, with their units and bands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import Code, _Model


class Band(_Model):
    """A named interval in the measure's canonical unit; bounds say which side is closed.

    Bands are tried in order and the first that holds wins. A band with ``sex`` applies only to
    patients recorded with that sex, so sex-specific bands come first and a general band (used
    when sex is unknown, chosen to be the conservative one) follows under the same id. A band
    with ``method`` applies only to results of that assay method.
    """

    id: str
    label: str
    # The band in a word or two where its id does not read as one ("G3a" for g3a): cards in
    # their compact form and summaries show it; the default is the id, hyphens as spaces.
    short: str | None = Field(default=None, max_length=24)
    sex: Literal["female", "male"] | None = None
    method: str | None = None
    # The cut-off is disputed (e.g. vitamin D 12-20 ng/mL): no rule may suggest a supplement
    # from this band (checked at load); the card says "threshold contested".
    contested: bool = False
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Band:
        if self.gt is not None and self.ge is not None:
            raise ValueError("use gt or ge, not both")
        if self.lt is not None and self.le is not None:
            raise ValueError("use lt or le, not both")
        return self

    @property
    def lower(self) -> tuple[float, bool] | None:
        """(bound, inclusive) or None when unbounded below."""
        if self.ge is not None:
            return (self.ge, True)
        if self.gt is not None:
            return (self.gt, False)
        return None

    @property
    def upper(self) -> tuple[float, bool] | None:
        if self.le is not None:
            return (self.le, True)
        if self.lt is not None:
            return (self.lt, False)
        return None

    def contains(self, value: float) -> bool:
        lower, upper = self.lower, self.upper
        if lower is not None and (value < lower[0] or (value == lower[0] and not lower[1])):
            return False
        return not (
            upper is not None and (value > upper[0] or (value == upper[0] and not upper[1]))
        )

    def applies(self, sex: str | None, method: str | None) -> bool:
        return (self.sex is None or self.sex == sex) and (
            self.method is None or self.method == method
        )

    def describe(self, unit: str) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"{'≥' if self.lower[1] else '>'} {self.lower[0]:g}")
        if self.upper is not None:
            parts.append(f"{'≤' if self.upper[1] else '<'} {self.upper[0]:g}")
        text = f"{' and '.join(parts)} {unit}" if parts else "any value"
        qualifiers = [q for q in (self.sex, self.method and f"{self.method} method") if q]
        return f"{text} ({', '.join(qualifiers)})" if qualifiers else text


class UnitConversion(_Model):
    """``per_canonical`` units of ``unit`` make one canonical unit (value / per_canonical)."""

    unit: str
    per_canonical: float = Field(gt=0)


class QualitativeBand(_Model):
    """Maps coded or textual results (e.g. hCG "Positive") onto a band id."""

    band: str
    codes: list[Code] = []
    texts: list[str] = []  # case-insensitive exact matches of valueString / coding display


# acute-phase: distorted by inflammation, read with CRP; research-only: no clinical reference
# interval, never drives a suggestion; informational: displayed, never interpreted by a rule;
# method-dependent: values of different assays are not comparable.
Flag = Literal[
    "acute-phase",
    "research-only",
    "informational",
    "method-dependent",
    "fasting",
]

# Flags that forbid a measure from driving a supplement suggestion (checked at load).
NON_ACTIONABLE_FLAGS = frozenset({"research-only", "informational"})


class Measure(_Model):
    id: str
    name: str
    # What a card's summary calls it ("B12", "25-OH vitamin D", "PHQ-9"); default: the name
    # up to its first comma.
    short: str | None = Field(default=None, max_length=24)
    codes: list[Code] = Field(min_length=1)
    # None for purely qualitative results (e.g. a urine pregnancy test).
    canonical_unit: str | None = None
    units: list[UnitConversion] = []
    bands: list[Band] = []
    qualitative: list[QualitativeBand] = []
    stale_after_days: int = Field(gt=0)
    flags: list[Flag] = []
    notes: list[str] = []
    citations: list[str] = []
    # Measures that stand in for this one (CRP for hs-CRP): when one of them has a current
    # value, this one is not reported as missing.
    substitutes: list[str] = []

    @property
    def label(self) -> str:
        return self.short or self.name.split(",")[0]

    @model_validator(mode="after")
    def _units(self) -> Measure:
        units = [u.unit for u in self.units]
        if self.canonical_unit is None:
            if self.units or not self.qualitative:
                raise ValueError("a measure without canonical_unit must be qualitative only")
        elif self.canonical_unit not in units:
            raise ValueError(f"units must include the canonical unit {self.canonical_unit!r}")
        declared = {b.id for b in self.bands}
        keys = {(b.id, b.sex, b.method) for b in self.bands}
        if len(keys) != len(self.bands):
            raise ValueError("band ids must be unique (per sex and method)")
        for band_id in (q.band for q in self.qualitative):
            if self.bands and band_id not in declared:
                raise ValueError(f"qualitative band {band_id!r} is not among the bands")
        return self


class Analyte(Measure):
    kind: Literal["lab"] = "lab"


class Questionnaire(Measure):
    """A score read from an Observation or, failing that, from a QuestionnaireResponse.

    A response is recognised by its ``questionnaire`` canonical (prefix match, version ignored)
    or by carrying one of the items. Its total is the item with ``total_link_ids`` (or the
    total's LOINC code) when present, else the sum of ``items`` when every one is answered;
    a single-item measure (PHQ-9 item 9) lists just that item.
    """

    kind: Literal["score"] = "score"
    panel_codes: list[Code] = []
    questionnaire_urls: list[str] = []
    total_link_ids: list[str] = []
    # LOINC codes of the scored items; a linkId matches as "CODE", "/CODE" or by item.code.
    items: list[str] = []
    item_link_ids: list[str] = []  # extra linkIds of scored items (local questionnaires)
    # Coded answers -> item score (e.g. LOINC LA6568-5 "Not at all" = 0).
    answer_scores: dict[str, float] = {}
    min_score: float = 0
    max_score: float

    @model_validator(mode="after")
    def _score_range(self) -> Questionnaire:
        if self.min_score >= self.max_score:
            raise ValueError("min_score must be below max_score")
        return self
