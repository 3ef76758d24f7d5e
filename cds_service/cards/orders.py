"""Order-time findings -> cards: one card per draft order that needs the clinician's attention.

A hard block is a ``critical`` card whose suggestions remove the draft (``delete`` by
``resourceId``) and, where the rule names one, offer a safer step (order the missing test);
no override reason is offered because the rule may not be overridden. A soft block or a warning
is a ``warning`` card with override reasons (with ``display``), so the clinician's decision comes
back through feedback. Spacing and monitoring rules give ``info`` cards. Every card shows the
draft, what it meets (drug, condition, lab with dates and resource ids), the rule in plain words,
its grade and citations, the checks that ran and what could not be checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.detail import footer, input_table, sources
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import (
    SOURCE_LABEL,
    order_test_suggestion,
    override_reasons,
)
from cds_service.engine.orders import OrderFinding, OrderReview
from cds_service.engine.types import Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import (
    SUMMARY_MAX_LENGTH,
    Action,
    Card,
    Coding,
    Source,
    Suggestion,
)
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot

# The suggested resources are R4; a DSTU2 client (MedicationOrder) gets deletes only.
_DSTU2_ORDER = "MedicationOrder"
_LABEL = {"block": "Not recommended", "warn": "Caution", "info": "Note"}
_VERB = {"critical": "Remove draft", "warning": "Reconsider", "info": "Note for"}


def order_cards(
    review: OrderReview, snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[RenderedCard]:
    """Cards for the order hooks: per draft with findings, then what could not be checked."""
    cards = [
        _order_card(order, findings, review, snapshot, kb) for order, findings in review.by_order()
    ]
    concerned = {order.ref for order, _ in review.by_order()}
    unchecked = [d for d in review.unchecked if d.ref not in concerned]
    if unchecked:
        cards.append(_unchecked_card(unchecked, snapshot, kb))
    return cards


def _short(name: str, limit: int = 60) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def _summary(text: str) -> str:
    return (
        text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 1].rstrip() + "…"
    )


def _fact_line(fact: MedicationFact) -> str:
    when = fact.last_date.date().isoformat() if fact.last_date else "date unknown"
    if fact.draft:
        state = "draft order"
    elif fact.active:
        state = f"{fact.status or 'active'}, last recorded {when}"
    else:
        state = f"stopped {when}, within its washout window"
    return f"{fact.name} ({fact.ref}; {state})"


def _dose_line(order: MedicationFact) -> str:
    if not order.doses:
        return "dose not stated in a form the service can read"
    return "; ".join(f"{ingredient}: {dose.describe()}" for ingredient, dose in order.doses.items())


def _finding_lines(finding: OrderFinding, age: int | None) -> list[str]:
    rule = finding.hit.rule
    grade = f", evidence grade {rule.grade}" if rule.grade else ""
    hard = " Hard rule: not to be overridden." if rule.hard else ""
    lines = [
        f"- **{'Do not combine' if rule.hard else _LABEL[rule.action]}** (rule `{rule.id}` v{rule.version}{grade}): "
        f"{rule.message.strip()}{hard}"
    ]
    if finding.subject is not finding.order:
        lines.append(f"  - Applies to: {_fact_line(finding.subject)}")
    for partner in finding.partners:
        lines.append(f"  - With: {_fact_line(partner)}")
    for condition in finding.hit.trace.conditions.values():
        lines.append(f"  - Condition: {condition.name} ({condition.ref})")
    if finding.hit.trace.age_used:
        known = f"{age} years" if age is not None else "not recorded"
        lines.append(f"  - Age: {known} (Patient.birthDate)")
    if finding.hit.dose_note:
        lines.append(f"  - Dose: {finding.hit.dose_note}")
    return lines


def _order_card(
    order: MedicationFact,
    findings: list[OrderFinding],
    review: OrderReview,
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    top = findings[0]
    severity = top.severity
    rules = list(dict.fromkeys(f.hit.rule.id for f in findings))
    blocks = [f for f in findings if f.hit.rule.action == "block"]
    hard = any(f.hit.rule.hard for f in blocks)

    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    if blocks and "/" in order.ref:
        suggestion = Suggestion(
            label=_summary(f"Remove the draft order for {_short(order.name)}"),
            isRecommended=hard or None,
            actions=[
                Action(
                    type="delete",
                    description=f"Remove the draft order {order.ref} ({_short(order.name)})",
                    resourceId=order.ref,
                )
            ],
        )
        suggestions.append(suggestion)
        audits.append(SuggestionAudit(suggestion.uuid, f"delete:{order.source}"))
    # A test is a "safer step" only when it can lift every block on this order (C24), and never
    # for a supplement the service does not offer at all (phenylalanine): then it changes nothing.
    lifts = (
        bool(blocks)
        and all(f.hit.rule.replacement is not None for f in blocks)
        and all(kb.interventions[i].offer for i in order.interventions)
    )
    replacements = list(
        dict.fromkeys(
            f.hit.rule.replacement.lab_order
            for f in blocks
            if lifts and f.hit.rule.replacement is not None
        )
    )
    offered_tests = []
    for lab_order_id in replacements:
        lab_order = kb.lab_orders[lab_order_id]
        offered_tests.append(lab_order.name)
        if order.source == _DSTU2_ORDER:
            continue
        suggestion, audit = order_test_suggestion(
            kb, lab_order, snapshot.patient_id, _summary(f"Order {lab_order.name} first")
        )
        suggestions.append(suggestion)
        audits.append(audit)

    rule = top.hit.rule
    card = Card(
        summary=_summary(f"{_VERB[severity]} {_short(order.name)}: {rule.title}"),
        detail=_detail(order, findings, offered_tests, review, snapshot, kb),
        indicator=severity,
        source=Source(
            label=f"{SOURCE_LABEL}: order check",
            url=kb.citations[rule.citations[0]].link,
            topic=Coding(system=kb.manifest.topic_system, code=rule.id, display=rule.title),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons(kb) if severity != "info" and not hard else None,
    )
    card_audit = CardAudit(
        uuid=card.uuid,
        indicator=card.indicator,
        topic=rule.id,
        rule_ids=tuple(rules),
        suggestions=tuple(audits),
    )
    return RenderedCard(card, card_audit)


def _detail(
    order: MedicationFact,
    findings: Sequence[OrderFinding],
    offered_tests: list[str],
    review: OrderReview,
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> str:
    lines = [
        f"**Draft order**: {order.name} ({order.ref}); {_dose_line(order)}.",
        "",
        "**Findings**",
        "",
    ]
    for finding in findings:
        lines += _finding_lines(finding, snapshot.age)
    lines.append("")
    trace = Trace()
    for finding in findings:
        trace.merge(finding.hit.trace)
    lines += input_table(trace, kb)
    lines += ["**Rules**", ""]
    rules = {f.hit.rule.id: f.hit.rule for f in findings}
    for rule in rules.values():
        lines.append(f"- `{rule.id}` {rule.title}: {rule.statement.strip()}")
    lines.append("")
    if offered_tests:
        lines += [
            "**Safer step**: " + "; ".join(f"order {name} first" for name in offered_tests) + ".",
            "",
        ]
    lines += checks_line(review, snapshot)
    citations = dict.fromkeys(c for f in findings for c in f.hit.rule.citations)
    lines += sources(kb.citation_links(citations))
    lines.append(footer(kb, [f.hit.rule.id for f in findings]))
    return "\n".join(lines)


def checks_line(review: OrderReview, snapshot: PatientSnapshot) -> list[str]:
    """What the order check looked at, and the drugs it could not classify ("not checked")."""
    lines = [
        "**Checks run**",
        "",
        f"- Draft medication orders checked: {len(review.drafts)}; current or recent "
        f"medications: {len(snapshot.medications)}; classified conditions: {len(snapshot.conditions)}.",
    ]
    unclassified = sorted({m.name for m in snapshot.unclassified_medications if m.name})
    if unclassified:
        lines.append(
            f"- Not checked (not recognised by ingredient, product, ATC code or name): {', '.join(unclassified)}."
        )
    return [*lines, ""]


def _unchecked_card(
    drafts: list[MedicationFact], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> RenderedCard:
    names = ", ".join(_short(d.name, 40) for d in drafts)
    review = OrderReview((), tuple(drafts), tuple(drafts))
    detail = [
        f"The interaction check does not recognise {names}: it matched no RxNorm ingredient or "
        "curated product code, no ATC code and no known generic or brand name, so it was "
        "**not checked** against the patient's supplements, drugs and conditions.",
        "",
        *checks_line(review, snapshot),
        footer(kb, []),
    ]
    card = Card(
        summary=_summary(f"Not checked for supplement interactions: {names}"),
        detail="\n".join(detail),
        indicator="info",
        source=Source(
            label=f"{SOURCE_LABEL}: order check",
            topic=Coding(
                system=kb.manifest.topic_system, code="not-checked", display="Not checked"
            ),
        ),
    )
    return RenderedCard(card, CardAudit(card.uuid, card.indicator, "not-checked", (), ()))
