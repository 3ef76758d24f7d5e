"""A measure's bands as one SVG bar per population, with the bounds in every unit system.

Segments are drawn equal in width, in order, split where the engine's first-match band
changes (``web/bands.py``): a reference bar, not a scale, so "< 1" and "> 10 mg/L" are both
legible. Under the bar, each unit system has a row of the bounds at the joints. A population
is a sex or an assay method the bands distinguish; populations whose bands are the same share
one bar. Hand-written SVG with presentation attributes only (no ``style``), so it passes a
Content-Security-Policy without ``'unsafe-inline'``, prints, and needs no script.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from cds_service.knowledge.schema import Measure, Questionnaire
from cds_service.web.bands import GREY, BandSegment, band_segments
from cds_service.web.knowledge.describe import UnitSystem, bound_text, unit_systems

WIDTH = 760
LEFT = 112  # the unit names' column
RIGHT = 12
BAR_HEIGHT = 26
TICK_ROW = 15
LABEL_ROW = 16
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
INK, MUTED, EDGE = "#1d1d1f", "#5b5b60", "#8a8a90"
CHAR_WIDTH = 6.4  # of an 11 px DejaVu Sans character, on average: to decide what fits
DASH = "\u2013"  # an en dash, as ranges are printed
SEX_NAMES = {"female": "female", "male": "male", None: "other or unknown sex"}


@dataclass(frozen=True, slots=True)
class Piece:
    """A segment of the bar, and whether its open-ended bound is itself in the band."""

    segment: BandSegment
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True, slots=True)
class Population:
    label: str  # "" when the bands apply to everyone alike
    pieces: tuple[Piece, ...]


def populations(measure: Measure) -> tuple[Population, ...]:
    """One bar per distinct set of segments: by sex and by method where the bands differ."""
    sexes: list[str | None] = [None]
    if any(b.sex for b in measure.bands):
        sexes = ["female", "male", None]
    methods: list[str | None] = [None]
    if any(b.method for b in measure.bands):
        methods = [*sorted({b.method for b in measure.bands if b.method}), None]
    rows: dict[tuple[tuple[str, float | None, float | None], ...], list[str]] = {}
    found: dict[tuple[tuple[str, float | None, float | None], ...], tuple[Piece, ...]] = {}
    for method, sex in itertools.product(methods, sexes):
        segments = band_segments(measure, sex=sex, method=method, factor=1.0)
        if not isinstance(measure, Questionnaire):  # scores are whole numbers: 4 then 5
            segments = _with_gaps(segments)
        if not segments:
            continue
        key = tuple((s.band_id, s.low, s.high) for s in segments)
        name = ", ".join(
            part
            for part in (
                f"{method} method" if method else "",
                SEX_NAMES[sex] if len(sexes) > 1 else "",
            )
            if part
        )
        rows.setdefault(key, []).append(name)
        found[key] = tuple(_piece(measure, s, sex, method) for s in segments)
    many = len(rows) > 1
    return tuple(
        Population("; ".join(n for n in names if n) if many else "", found[key])
        for key, names in rows.items()
    )


def _piece(measure: Measure, segment: BandSegment, sex: str | None, method: str | None) -> Piece:
    band = next(
        (b for b in measure.bands if b.id == segment.band_id and b.applies(sex, method)), None
    )
    lower = band.lower if band else None
    upper = band.upper if band else None
    return Piece(
        segment,
        low_closed=lower is not None and lower == (segment.low, True),
        high_closed=upper is not None and upper == (segment.high, True),
    )


def _with_gaps(segments: list[BandSegment]) -> list[BandSegment]:
    """A stretch no band covers, between two that do, shown as such (never silently closed)."""
    out: list[BandSegment] = []
    for segment in segments:
        if out and out[-1].high != segment.low:
            out.append(BandSegment("", "no band", out[-1].high, segment.low, GREY, False))
        out.append(segment)
    return out


def band_bar(measure: Measure, *, dom_id: str, highlight: frozenset[str] = frozenset()) -> Markup:
    """The SVG, or an empty string for a measure without numeric bands."""
    rows = populations(measure)
    systems = unit_systems(measure)
    if not rows or not systems:
        return Markup("")
    per_row = (LABEL_ROW if rows[0].label else 4) + BAR_HEIGHT + TICK_ROW * len(systems) + 10
    height = per_row * len(rows)
    title = f"Bands of {measure.name}: equal-width segments in order, bounds in " + " and ".join(
        s.unit for s in systems
    )
    out = [
        f'<svg class="bandbar" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{dom_id}-title" font-family="{FONT}" font-size="11" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{dom_id}-title">{escape(title)}</title>',
    ]
    top = 0
    for row in rows:
        out += _row(row, systems, top, highlight)
        top += per_row
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above is escaped


def _row(
    row: Population, systems: tuple[UnitSystem, ...], top: int, highlight: frozenset[str]
) -> list[str]:
    out = []
    if row.label:
        out.append(
            f'<text x="{LEFT}" y="{top + 12}" fill="{MUTED}" font-weight="bold">'
            f"{escape(row.label)}</text>"
        )
        top += LABEL_ROW
    else:
        top += 4
    width = (WIDTH - LEFT - RIGHT) / len(row.pieces)
    for index, piece in enumerate(row.pieces):
        segment = piece.segment
        x = LEFT + index * width
        marked = segment.band_id in highlight
        # With a highlight (a rule's page), the bands the rule reads stand out.
        opacity = ' fill-opacity="0.45"' if highlight and not marked else ""
        weight = ' font-weight="bold"' if marked else ""
        if marked:
            stroke = f'stroke="{INK}" stroke-width="2.5"'
        else:
            dashes = ' stroke-dasharray="4 3"' if segment.contested else ""
            stroke = f'stroke="{EDGE}" stroke-width="1"{dashes}'
        classes = " ".join(
            c for c in ("segment", "read" if marked else "", "contested" * segment.contested) if c
        )
        out.append(
            f'<g class="{classes}"><title>{escape(segment.label)}: '
            f"{escape(span_text(piece, systems[0]))}</title>"
            f'<rect x="{x:.1f}" y="{top}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{segment.colour}"{opacity} {stroke}/>'
            f'<text x="{x + width / 2:.1f}" y="{top + 17}" text-anchor="middle" '
            f'fill="{INK}"{weight}>{escape(_fit(segment, width))}</text></g>'
        )
    for line, system in enumerate(systems):
        y = top + BAR_HEIGHT + TICK_ROW * (line + 1) - 3
        colour = INK if line == 0 else MUTED
        out.append(
            f'<text x="{LEFT - 8}" y="{y}" text-anchor="end" fill="{colour}">'
            f"{escape(_cut(system.unit, LEFT - 12))}</text>"
        )
        for index, piece in enumerate(row.pieces):
            out.append(
                f'<text x="{LEFT + (index + 0.5) * width:.1f}" y="{y}" text-anchor="middle" '
                f'fill="{colour}">{escape(span_text(piece, system, unit=False))}</text>'
            )
    return out


def span_text(piece: Piece, system: UnitSystem, *, unit: bool = True) -> str:
    """ "15-45", "< 200", "≥ 20": a segment's stretch in a unit system (bounds as labs print
    them: a closed range without its signs, an open one with its own)."""
    low, high = piece.segment.low, piece.segment.high
    suffix = f" {system.unit}" if unit else ""
    if low is not None and high is not None:
        return f"{bound_text(low, system.factor)}{DASH}{bound_text(high, system.factor)}{suffix}"
    if low is not None:
        return f"{'≥' if piece.low_closed else '>'} {bound_text(low, system.factor)}{suffix}"
    if high is not None:
        return f"{'≤' if piece.high_closed else '<'} {bound_text(high, system.factor)}{suffix}"
    return "any value"


def _cut(text: str, room: float) -> str:
    chars = int(room / CHAR_WIDTH)
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _fit(segment: BandSegment, width: float) -> str:
    """The band's label without its parenthesis, else its id, cut to the segment's width."""
    room = int((width - 8) / CHAR_WIDTH)
    for text in (segment.label.split(" (", 1)[0].strip(), segment.band_id):
        if text and len(text) <= room:
            return text
    text = segment.band_id or segment.label
    return text[: max(room - 1, 1)] + "…" if len(text) > room else text
