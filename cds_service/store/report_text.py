"""The text form of ``cds-service report``: one block per service, a table per block.

Numbers only, and reason codings with their display: override comments are free text typed by
clinicians and never printed (``report.py`` does not even read them).
"""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.store.report import OverrideReasonCount, Report


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        ).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _top_reasons(rows: Iterable[tuple[str, list[OverrideReasonCount]]]) -> list[str]:
    return [
        f"  {name}: top override reasons: "
        + ", ".join(f"{r.display or r.code} ({r.count})" for r in reasons)
        for name, reasons in rows
        if reasons
    ]


def render_text(report: Report) -> str:
    """The human form: one block per service, a table per block."""
    period = f"since {report.since.isoformat()}" if report.since else "all recorded time"
    out = [f"CDS feedback report ({period}; generated {report.generated_at:%Y-%m-%d %H:%M} UTC)"]
    if not report.services and not report.app_launches:
        out.append("")
        out.append("No invocations or feedback recorded in this period.")
    for s in report.services:
        out.append("")
        plural = "" if s.invocations == 1 else "s"
        out.append(f"Service {s.service}: {s.invocations} invocation{plural}")
        if s.topics:
            out.append("")
            out += _table(
                ["topic", "shown", "accepted", "overridden", "ignored", "accept rate"],
                [
                    [
                        t.topic,
                        str(t.shown),
                        str(t.accepted),
                        str(t.overridden),
                        str(t.ignored),
                        _rate(t.acceptance_rate),
                    ]
                    for t in s.topics
                ],
            )
            out += _top_reasons((t.topic, t.top_override_reasons) for t in s.topics)
        if s.rules:
            out.append("")
            out += _table(
                ["rule", "shown", "accepted", "overridden", "accept rate"],
                [
                    [
                        r.rule,
                        str(r.shown),
                        str(r.accepted),
                        str(r.overridden),
                        _rate(r.acceptance_rate),
                    ]
                    for r in s.rules
                ],
            )
            out += _top_reasons((r.rule, r.top_override_reasons) for r in s.rules)
        if s.suggestion_kinds:
            out.append("")
            out += _table(
                ["suggestion kind", "shown", "accepted", "accept rate"],
                [
                    [k.kind, str(k.shown), str(k.accepted), _rate(k.acceptance_rate)]
                    for k in s.suggestion_kinds
                ],
            )
        if s.overrides_by_rule:
            out.append("")
            out += _table(
                ["rule", "override reason", "overrides"],
                [[r.rule, r.display or r.code, str(r.count)] for r in s.overrides_by_rule],
            )
        if s.unknown_card_feedback:
            out.append("")
            out.append(f"Feedback for unknown cards: {s.unknown_card_feedback}")
    if report.app_launches:
        out.append("")
        plural = "" if report.app_launches == 1 else "es"
        out.append(f"Trends and reasoning opened (SMART app): {report.app_launches} launch{plural}")
        out.append("")
        out += _table(["rule", "opened"], [[r.rule, str(r.opens)] for r in report.reasoning_opened])
    return "\n".join(out) + "\n"
