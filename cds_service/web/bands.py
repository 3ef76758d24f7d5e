"""Bands as stretches of an axis: where the engine's first-match band changes, and its shade.

Shared by the SMART app's charts (``smart/charts.py``) and the knowledge pages' band bars
(``knowledge/bandbar.py``), so both draw a measure's bands exactly as the engine reads them:
bands are tried in order and the first that holds wins, so the axis is split at every bound
and each piece takes the band that holds at its middle. Shades are presentation, not knowledge.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cds_service.knowledge.schema import Band, Measure

# Fills of the three tones (and of no band).
GREEN, AMBER, RED, GREY = "#dcefd8", "#fbe8c8", "#f6d2d0", "#ebebeb"
# Shades are presentation, not knowledge: the band ids whose words mislead the rules below.
_TONE_OF = {"below-acute": GREEN, "desirable": GREEN, "g1-g2": GREEN, "g4": RED, "g5": RED}
# Band ids -> shade, first match wins ("inadequate" is not "adequate"; "low-normal" is amber).
_TONES = (
    (
        RED,
        (
            "deficien",
            "severe",
            "toxic",
            "overload",
            "acute",
            "above-",
            "high",
            "positive",
            "undesirable",
        ),
    ),
    (
        AMBER,
        (
            "inadequate",
            "insufficien",
            "marginal",
            "indeterminate",
            "low",
            "mild",
            "moderate",
            "raised",
            "reduced",
            "borderline",
            "possibl",
        ),
    ),
    (GREEN, ("normal", "within", "average", "minimal", "negative", "none", "adequate", "optimal")),
)


@dataclass(frozen=True, slots=True)
class BandSegment:
    band_id: str
    label: str  # the knowledge base's label
    low: float | None  # in the display unit; None: open below
    high: float | None
    colour: str
    contested: bool

    @property
    def tone(self) -> str:
        return {GREEN: "good", RED: "bad"}.get(self.colour, "caution")

    @property
    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{number(self.low)}-{number(self.high)}"
        if self.low is not None:
            return f"above {number(self.low)}"
        if self.high is not None:
            return f"below {number(self.high)}"
        return "any value"


def number(value: float) -> str:
    """Three significant figures, thousands separated: a converted bound as a reader compares it."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def band_segments(
    measure: Measure, *, sex: str | None, method: str | None, factor: float
) -> list[BandSegment]:
    """The axis split where the engine's first-match band changes, in the display unit."""
    applicable = [b for b in measure.bands if b.applies(sex, method)]
    if not applicable:
        return []
    bounds = sorted(
        {bound[0] for band in applicable for bound in (band.lower, band.upper) if bound is not None}
    )
    edges: list[float | None] = [None, *bounds, None]
    segments: list[BandSegment] = []
    for low, high in itertools.pairwise(edges):
        probe = _inside(low, high)
        band = next((b for b in applicable if b.contains(probe)), None)
        if band is None:
            continue
        # A bound value itself may belong to either side; shading is continuous, so the
        # label (the knowledge base's own) says which side is closed.
        if segments and segments[-1].band_id == band.id:
            last = segments[-1]
            segments[-1] = BandSegment(
                last.band_id,
                last.label,
                last.low,
                _scaled(high, factor),
                last.colour,
                last.contested,
            )
            continue
        segments.append(
            BandSegment(
                band.id,
                band.label,
                _scaled(low, factor),
                _scaled(high, factor),
                colour(band),
                band.contested,
            )
        )
    return segments


def _inside(low: float | None, high: float | None) -> float:
    if low is None and high is None:
        return 0.0
    if low is None:
        return high - max(1.0, abs(high)) if high is not None else 0.0
    if high is None:
        return low + max(1.0, abs(low))
    return (low + high) / 2


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def colour(band: Band) -> str:
    key = band.id.lower()
    if key in _TONE_OF:
        return _TONE_OF[key]
    return next((tone for tone, words in _TONES if any(w in key for w in words)), AMBER)
