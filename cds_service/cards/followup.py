"""The follow-up card (patient-view): supplements the patient already takes.

One `info` card, only when something is to be done: a recheck that is due (its test is the
suggestion), or a recheck whose result since the start has not reached the target. It then
lists every supplement taken that has something to say: "taking X since DATE", not suggested
again; each recheck with its due day, or the change baseline -> latest with dates and whether
the target band was reached. Rendering only: every decision is made in engine/focus.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.detail import footer, short_value, sources
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import SOURCE_LABEL, order_test_suggestion
from cds_service.engine.focus import CurrentSupplement, Recheck
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import SUMMARY_MAX_LENGTH, Card, Coding, Source, Suggestion
from cds_service.snapshot.facts import LabFact, PatientSnapshot

TOPIC = "follow-up"


def follow_up_cards(
    supplements: Sequence[CurrentSupplement], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[RenderedCard]:
    """At most one card, and none unless a recheck asks for an action."""
    if not any(s.actionable for s in supplements):
        return []
    listed = [s for s in supplements if s.worth_saying]
    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    ordered: set[str] = set()
    lines = ["**Supplements already taken** (not suggested again)", ""]
    for supplement in listed:
        lines += _supplement_lines(supplement, kb)
        for recheck in supplement.rechecks:
            order_id = recheck.rule.lab_order
            if recheck.suggests_test and order_id not in ordered:
                ordered.add(order_id)
                order = kb.lab_orders[order_id]
                label = _cut(f"Recheck: order {order.name}")
                suggestion, suggestion_audit = order_test_suggestion(
                    kb, order, snapshot.patient_id, label
                )
                suggestions.append(suggestion)
                audits.append(suggestion_audit)
    lines.append("")
    rules = [r.rule for s in listed for r in s.rechecks if r.status != "not-indicated"]
    if rules:
        lines += ["**Rules**", ""]
        lines += [
            f"- `{r.id}` v{r.version} (grade {r.grade}; interval {r.interval}, "
            f"{'cited' if r.interval_source == 'cited' else 'service default, no checked source'}): "
            f"{r.statement.strip()}"
            for r in rules
        ]
        lines.append("")
    citations = dict.fromkeys(c for r in rules for c in r.citations)
    if citations:
        lines += sources(kb.citation_links(citations))
    rule_ids = [r.id for r in rules] + [rid for s in listed for rid in s.wanted_by]
    lines.append(footer(kb, dict.fromkeys(rule_ids)))
    first = next(s for s in listed if s.actionable)
    card = Card(
        summary=_cut(_summary(first, kb)),
        detail="\n".join(lines),
        indicator="info",
        source=Source(
            label=f"{SOURCE_LABEL}: follow-up",
            url=kb.citations[(rules[0].citations if rules else ["devalia-2014"])[0]].link,
            topic=Coding(
                system=kb.manifest.topic_system,
                code=TOPIC,
                display="Follow-up of supplements already taken",
            ),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
    )
    audit = CardAudit(card.uuid, "info", TOPIC, tuple(dict.fromkeys(rule_ids)), tuple(audits))
    return [RenderedCard(card, audit)]


def _name(supplement: CurrentSupplement) -> str:
    return supplement.intervention.name.split(" (")[0]


def _summary(supplement: CurrentSupplement, kb: KnowledgeBase) -> str:
    since = f" since {supplement.since.date().isoformat()}" if supplement.since else ""
    recheck = next(r for r in supplement.rechecks if r.actionable)
    measure = kb.measures[recheck.rule.measure].name.split(",")[0]
    if recheck.suggests_test:
        return f"On {_name(supplement)}{since}: {measure} recheck due; consider ordering it"
    latest = recheck.latest
    assert latest is not None  # actionable without a test: a result outside the target
    if recheck.status == "start-unknown":
        return f"On {_name(supplement)}: {measure} {short_value(latest)}, not in the target range"
    change = _change(recheck.baseline, latest)
    return f"On {_name(supplement)}{since}: {measure} {change}, not in the target range"


def _supplement_lines(supplement: CurrentSupplement, kb: KnowledgeBase) -> list[str]:
    since = (
        f"since {supplement.since.date().isoformat()}"
        if supplement.since
        else "start date not recorded"
    )
    refs = ", ".join(m.ref for m in supplement.medications)
    lines = [f"- {supplement.intervention.name}: taking {since} ({refs})"]
    if supplement.wanted_by:
        lines.append(
            f"  - Not suggested again (rule {', '.join(supplement.wanted_by)} would suggest it)."
        )
    for recheck in supplement.rechecks:
        text = _recheck_text(recheck, kb)
        if text:
            lines.append(f"  - {text}")
    return lines


def _recheck_text(recheck: Recheck, kb: KnowledgeBase) -> str:
    measure = kb.measures[recheck.rule.measure].name
    before = (
        f"; before the start: {_value(recheck.baseline)} ({recheck.baseline.effective.date().isoformat()})"
        if recheck.baseline
        else ""
    )
    targets = _targets(recheck, kb)
    if recheck.status == "due":
        return f"{measure}: recheck due since {recheck.due} (after {recheck.rule.interval}); no current result since the start{before}."
    if recheck.status == "not-due":
        return f"{measure}: recheck due from {recheck.due} (after {recheck.rule.interval}){before}."
    if recheck.status == "start-unknown":
        if recheck.latest is None:
            return f"{measure}: no current result and no start date; recheck suggested."
        reached = "in the target range" if recheck.reached else "not in the target range"
        return (
            f"{measure}: {_value(recheck.latest)} ({recheck.latest.effective.date().isoformat()}), "
            f"{reached} ({targets}); start date not recorded, so no recheck date."
        )
    if recheck.status == "result-since" and recheck.latest is not None:
        reached = "target range reached" if recheck.reached else "not in the target range"
        return f"{measure}: {_change(recheck.baseline, recheck.latest)}: {reached} ({targets})."
    return ""


def _change(baseline: LabFact | None, latest: LabFact) -> str:
    after = f"{short_value(latest)} ({latest.effective.date().isoformat()})"
    if baseline is None:
        return f"{after}, no result before the start"
    return f"{short_value(baseline)} ({baseline.effective.date().isoformat()}) → {after}"


def _value(fact: LabFact) -> str:
    return f"{short_value(fact)}, {fact.band_label or fact.band or 'no band'}"


def _targets(recheck: Recheck, kb: KnowledgeBase) -> str:
    measure = kb.measures[recheck.rule.measure]
    labels = [b.label for b in measure.bands if b.id in recheck.rule.target_bands and b.sex is None]
    return "target: " + " or ".join(dict.fromkeys(labels or recheck.rule.target_bands))


def _cut(text: str) -> str:
    return (
        text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 1].rstrip() + "…"
    )
