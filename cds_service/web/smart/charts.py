"""One chart per measure: every result over time against the knowledge base's bands.

Drawn on the server by matplotlib's SVG backend (object API only: no pyplot, no global figure
state) and inlined in the page, so it prints, works without JavaScript and under a strict CSP
(``svg.inline_safe``). Values and bands are shown in the unit the results use: bands live in
``mappings/analytes.yaml`` in the canonical unit, and the same conversion factors the reader
uses turn both into the display unit.

Band shading follows the engine's rule exactly (``web/bands.py``, shared with the knowledge
pages' band bars): the axis is split at every bound and each piece takes the band that holds
at its middle.
"""

from __future__ import annotations

import io
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Measure, Questionnaire
from cds_service.knowledge.units import normalise_unit
from cds_service.snapshot.facts import LabFact
from cds_service.snapshot.history import TherapySpan
from cds_service.web.bands import BandSegment, band_segments
from cds_service.web.smart.svg import inline_safe

# Text stays text in the SVG (selectable, read by screen readers, small), not glyph outlines.
matplotlib.rcParams["svg.fonttype"] = "none"
# Matplotlib's text layout caches are shared; charts are drawn one at a time.
_DRAW_LOCK = threading.Lock()

WIDTH_IN, HEIGHT_IN = 7.2, 2.8
POINT_COLOUR = "#1f3b73"
START_COLOUR = "#2e7d32"
STOP_COLOUR = "#8e2420"


@dataclass(frozen=True, slots=True)
class PlotPoint:
    when: datetime
    value: float | None  # display unit; None for a qualitative result
    comparator: str | None
    text: str  # as the table shows it, e.g. "<5 ng/mL" or "Positive"
    band_label: str | None
    stale: bool


@dataclass(frozen=True, slots=True)
class MeasureChart:
    measure_id: str
    name: str
    unit: str
    points: tuple[PlotPoint, ...]
    bands: tuple[BandSegment, ...]
    therapies: tuple[TherapySpan, ...]  # those that start or stop within the chart's span
    converted: int  # results reported in another unit and converted for the chart
    svg: str | None  # None for qualitative-only measures (the table says it all)
    is_score: bool


def display_unit(
    kb: KnowledgeBase, measure: Measure, facts: Sequence[LabFact]
) -> tuple[str, float]:
    """(unit, units per canonical unit): the unit most results were reported in, else the
    canonical one. Ties go to the newest result's unit."""
    canonical = measure.canonical_unit or ""
    factors = kb.unit_factors.get(measure.id, {})
    declared = {normalise_unit(u.unit): u.unit for u in measure.units}
    seen: Counter[str] = Counter()
    newest: dict[str, int] = {}
    for index, fact in enumerate(facts):
        unit = _reported_unit(fact)
        key = normalise_unit(unit) if unit else None
        if key and key in factors and key in declared:
            seen[key] += 1
            newest[key] = index
    if not seen or isinstance(measure, Questionnaire):
        return canonical, 1.0
    best = max(seen, key=lambda k: (seen[k], newest[k]))
    return declared[best], factors[best]


def _reported_unit(fact: LabFact) -> str | None:
    # LabFact.reported is "<comparator><number> <unit as sent>" for quantities (reader._value).
    head, _, unit = fact.reported.partition(" ")
    return unit.strip() or None if head and not unit.startswith("(") else None


def build_chart(
    kb: KnowledgeBase,
    measure: Measure,
    facts: Sequence[LabFact],
    *,
    sex: str | None,
    therapies: Sequence[TherapySpan],
    chart_id: str,
) -> MeasureChart:
    """The chart data for one measure and, when it has numbers, its SVG."""
    unit, factor = display_unit(kb, measure, facts)
    same_unit = {normalise_unit(unit), None}
    method = facts[-1].method if facts else None
    segments = band_segments(measure, sex=sex, method=method, factor=factor)
    labels = {b.id: b.label for b in measure.bands}
    points = []
    converted = 0
    for fact in facts:
        value = None if fact.value is None else float(f"{fact.value * factor:.6g}")
        reported = _reported_unit(fact)
        if (
            fact.value is not None
            and (normalise_unit(reported) if reported else None) not in same_unit
        ):
            converted += 1
        points.append(
            PlotPoint(
                when=fact.effective,
                value=value,
                comparator=fact.comparator,
                text=fact.reported,
                band_label=labels.get(fact.band) if fact.band else None,
                stale=fact.stale,
            )
        )
    numeric = [p for p in points if p.value is not None]
    span = _time_span([p.when for p in points])
    shown_therapies = tuple(
        t
        for t in therapies
        if any(d is not None and span[0] <= d <= span[1] for d in (t.start, t.stop))
    )
    if unit.startswith("{"):  # a UCUM annotation such as {score}: show the word
        unit = unit.strip("{}")
    svg = None
    if numeric:
        with _DRAW_LOCK:
            svg = _draw(
                measure,
                numeric,
                segments,
                shown_therapies,
                unit=unit,
                span=span,
                chart_id=chart_id,
            )
    return MeasureChart(
        measure_id=measure.id,
        name=measure.name,
        unit=unit,
        points=tuple(points),
        bands=tuple(segments),
        therapies=shown_therapies,
        converted=converted,
        svg=svg,
        is_score=isinstance(measure, Questionnaire),
    )


def _time_span(times: Sequence[datetime]) -> tuple[datetime, datetime]:
    first, last = min(times), max(times)
    pad = max((last - first) * 0.06, timedelta(days=20))
    return first - pad, last + pad


def _value_span(
    measure: Measure, values: Sequence[float], segments: Sequence[BandSegment]
) -> tuple[float, float]:
    if isinstance(measure, Questionnaire):
        return measure.min_score, measure.max_score + (measure.max_score - measure.min_score) * 0.04
    low, high = min(values), max(values)
    # Show the next band edge above the highest value (how far from the next band), within 2x.
    above = [s.low for s in segments if s.low is not None and s.low > high]
    if above and min(above) <= max(high * 2, 1e-9):
        high = min(above)
    bottom = 0.0 if low >= 0 else low * 1.1
    top = high * 1.18 if high > 0 else 1.0
    return bottom, top


def _draw(
    measure: Measure,
    points: Sequence[PlotPoint],
    segments: Sequence[BandSegment],
    therapies: Sequence[TherapySpan],
    *,
    unit: str,
    span: tuple[datetime, datetime],
    chart_id: str,
) -> str:
    # Fixed margins, no layout engine: the right margin holds the band labels, and a layout
    # engine would shrink the axes for long therapy names instead of clipping them.
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    figure.subplots_adjust(left=0.085, right=0.80, bottom=0.13, top=0.96)
    axes = figure.add_subplot()
    bottom, top = _value_span(measure, [p.value for p in points if p.value is not None], segments)
    for segment in segments:
        low = bottom if segment.low is None else max(segment.low, bottom)
        high = top if segment.high is None else min(segment.high, top)
        if high <= low:
            continue
        axes.axhspan(
            low,
            high,
            facecolor=segment.colour,
            edgecolor="#b0b0b0" if segment.contested else "none",
            hatch="//" if segment.contested else None,
            linewidth=0,
            gid=f"nt.band.band-{segment.band_id}",
            zorder=0,
        )
        axes.text(
            1.005,
            (low + high) / 2,
            _short(segment.label),
            transform=axes.get_yaxis_transform(),
            va="center",
            ha="left",
            fontsize=7.5,
            color="#444444",
            gid=f"nt.band-label.band-label-{segment.band_id}",
            clip_on=False,
        )
    for therapy in therapies:
        for when, colour, what in (
            (therapy.start, START_COLOUR, "start"),
            (therapy.stop, STOP_COLOUR, "stop"),
        ):
            if when is None or not span[0] <= when <= span[1]:
                continue
            axes.axvline(
                _x(when),
                color=colour,
                linewidth=1,
                linestyle="--" if what == "stop" else "-",
                gid=f"nt.therapy.therapy-{what}",
                zorder=1,
            )
            axes.text(
                _x(when),
                0.98,
                f" {'started' if what == 'start' else 'stopped'}: {_short(therapy.name, 30)}",
                transform=axes.get_xaxis_transform(),
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
                color=colour,
                gid=f"nt.therapy-label.therapy-label-{what}",
                clip_on=True,
            )
    times = [_x(p.when) for p in points]
    values = [p.value if p.value is not None else math.nan for p in points]
    axes.plot(times, values, color=POINT_COLOUR, linewidth=1.2, zorder=2, gid="nt.trend")
    plain = [(t, v) for t, v, p in zip(times, values, points, strict=True) if p.comparator is None]
    bounded = [
        (t, v, p.comparator)
        for t, v, p in zip(times, values, points, strict=True)
        if p.comparator is not None
    ]
    if plain:
        axes.scatter(
            [t for t, _ in plain],
            [v for _, v in plain],
            s=28,
            color=POINT_COLOUR,
            zorder=3,
            gid="nt.points",
        )
    if bounded:
        axes.scatter(
            [t for t, _, _ in bounded],
            [v for _, v, _ in bounded],
            s=36,
            marker="v",
            facecolors="white",
            edgecolors=POINT_COLOUR,
            zorder=3,
            gid="nt.points.bound",
        )
    axes.set_xlim(_x(span[0]), _x(span[1]))
    axes.set_ylim(bottom, top)
    axes.set_ylabel(unit or "score", fontsize=8.5)
    locator = AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.tick_params(labelsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    buffer = io.StringIO()
    FigureCanvasSVG(figure).print_svg(buffer)  # type: ignore[no-untyped-call]
    return inline_safe(
        buffer.getvalue(),
        chart_id,
        title=f"{measure.name}: {len(points)} results over time, in {unit or 'points'}",
        title_id=f"{chart_id}-title",
    )


def _x(when: datetime) -> float:
    """A datetime as matplotlib's date number (days since its epoch)."""
    return float(date2num(when))  # type: ignore[no-untyped-call]


def _short(label: str, limit: int = 24) -> str:
    """A label without its parenthesised part (the axis shows the numbers), cut to fit."""
    head = label.split(" (", 1)[0].strip()
    return head if len(head) <= limit else head[: limit - 1] + "…"
