"""Order-time findings -> cards: one card per draft order that needs the clinician's attention.

Every problem with one draft is on its card (interactions, contraindications, dose limits,
duplication, allergies, age, results); the indicator is the most severe finding's, and the
summary names it first with the action. Suggestions target the product that causes the
problem (clinical-reference §7.6): "stop the 5-HTP" (an ``update`` of the patient's own
statement or order to ``stopped``) when an existing supplement is the culprit, "remove the
draft" (``delete`` by ``resourceId``) when the draft is, naming a safer alternative when the
rule has one, and "order this test first" when a test would lift the block (C24). A hard block
is ``critical`` with no override reasons (the rule may not be overridden); an urgent,
overridable block (linezolid on a serotonergic drug) is ``critical`` with override reasons;
other blocks and warnings are ``warning`` with override reasons (with ``display``; the CDS Hooks
vocabulary's codes where one fits), so the decision comes back through feedback.

Cards fit the budget (cards/compact.py): summary under 140 characters, never cut; detail within
1,200 characters with the draft, one line per finding (rule, grade, what it met), the inputs
used and one to three citations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cds_service.cards.compact import (
    drug_name,
    fact_line,
    first_sentence,
    fit_detail,
    input_lines,
    short_footer,
    source_links,
)
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import (
    SOURCE_LABEL,
    order_test_suggestion,
    override_reasons,
    stop_suggestion,
)
from cds_service.cards.text import ALLERGIES_NOT_CHECKED, clip, fit
from cds_service.engine.orders import OrderFinding, OrderReview
from cds_service.engine.types import Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import (
    Action,
    Card,
    Coding,
    Source,
    Suggestion,
)
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot

# The suggested resources are R4; a DSTU2 client (MedicationOrder) gets deletes only.
_DSTU2_ORDER = "MedicationOrder"
_LABEL = {"critical": "Critical", "warning": "Warning", "info": "Note"}


def order_cards(
    review: OrderReview, snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[RenderedCard]:
    """Cards for the order hooks: per draft with findings, then what could not be checked."""
    groups = review.by_order()
    cards = [_order_card(order, findings, review, snapshot, kb) for order, findings in groups]
    concerned = {order.ref for order, _ in groups}
    unchecked = [d for d in review.unchecked if d.ref not in concerned]
    if unchecked:
        cards.append(_unchecked_card(unchecked, snapshot, kb))
    return cards


def _finding_line(finding: OrderFinding, kb: KnowledgeBase, *, short: bool = False) -> str:
    rule = finding.rule
    grade = f", grade {rule.grade}" if rule.grade else ""
    head = f"- **{_LABEL[finding.severity]}** `{rule.id}` v{rule.version}{grade}: "
    text = first_sentence(rule.message) if short else rule.message.strip()
    if finding.hard:
        text += " Hard rule: not to be overridden."
    others = [p for p in finding.partners if p is not finding.order]
    if finding.subject is not finding.order:
        others = [finding.subject, *[p for p in others if p is not finding.subject]]
    if others:
        shown = [
            f"{drug_name(p, kb, 48)} ({p.ref})" if short else fact_line(p, kb) for p in others[:3]
        ]
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        text += f" With: {'; '.join(shown)}{more}."
    if finding.note:
        text += f" Dose: {finding.note}."
    return head + text


def _order_card(
    order: MedicationFact,
    findings: list[OrderFinding],
    review: OrderReview,
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    top = findings[0]
    severity = top.severity
    hard = any(f.hard for f in findings)
    rules = list(dict.fromkeys(f.rule.id for f in findings))
    name = drug_name(order, kb)
    dstu2 = order.source == _DSTU2_ORDER

    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    stopped: list[str] = []
    culprits = {
        fact.ref: fact for f in findings if f.severity != "info" for fact in f.stop
    }.values()
    # Each suggestion names the rules it answers: the findings that stop that supplement,
    # remove the draft, or need that test (an acceptance counts for those rules only).
    for culprit in culprits:
        culprit_name = drug_name(culprit, kb, 40)
        stopped.append(culprit_name)
        if dstu2:
            continue  # only R4 resources are changed; the detail still names it
        made = stop_suggestion(
            culprit.resource,
            clip(f"Stop {culprit_name} ({culprit.source} {culprit.ref.split('/')[-1]})", 139),
            f"interacts with the draft order {order.ref}",
            _rules(
                f
                for f in findings
                if f.severity != "info" and any(s.ref == culprit.ref for s in f.stop)
            ),
        )
        if made is not None:
            suggestions.append(made[0])
            audits.append(made[1])
    if any(f.remove for f in findings) and "/" in order.ref:
        alternative = next((f.rule.alternative for f in findings if f.rule.alternative), None)
        label = f"Remove the draft order for {name}"
        if alternative:
            label = fit((f"{label}; consider {alternative} instead", label))
        suggestion = Suggestion(
            label=label,
            isRecommended=(hard and not stopped) or None,
            actions=[
                Action(
                    type="delete",
                    description=f"Remove the draft order {order.ref} ({name})",
                    resourceId=order.ref,
                )
            ],
        )
        suggestions.append(suggestion)
        audits.append(
            SuggestionAudit(
                suggestion.uuid, f"delete:{order.source}", _rules(f for f in findings if f.remove)
            )
        )
    tests = _replacement_tests(order, findings, kb)
    for lab_order_id in tests:
        if dstu2:
            continue
        lab_order = kb.lab_orders[lab_order_id]
        suggestion, audit = order_test_suggestion(
            kb,
            lab_order,
            snapshot.patient_id,
            clip(f"Order {lab_order.name} first", 139),
            _rules(f for f in findings if f.blocks and f.replacement == lab_order_id),
        )
        suggestions.append(suggestion)
        audits.append(audit)

    rule = top.rule
    card = Card(
        summary=_summary(name, findings, stopped, severity),
        detail=_detail(order, findings, stopped, tests, snapshot, kb),
        indicator=severity,
        source=Source(
            label=f"{SOURCE_LABEL}: order check",
            url=kb.citations[rule.citations[0]].link,
            topic=Coding(system=kb.manifest.topic_system, code=rule.id, display=rule.title),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=(
            override_reasons(kb, [c for f in findings for c in f.rule.override_reasons])
            if severity != "info" and not hard
            else None
        ),
    )
    card_audit = CardAudit(card.uuid, card.indicator, rule.id, tuple(rules), tuple(audits))
    return RenderedCard(card, card_audit)


def _rules(findings: Iterable[OrderFinding]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.rule.id for f in findings))


def _replacement_tests(
    order: MedicationFact, findings: Sequence[OrderFinding], kb: KnowledgeBase
) -> list[str]:
    """Tests that can lift every block on this order (C24), never for a supplement the service
    does not offer at all (phenylalanine): then a test changes nothing."""
    blocks = [f for f in findings if f.blocks]
    if not blocks or any(f.replacement is None for f in blocks):
        return []
    if not all(kb.interventions[i].offer for i in order.interventions):
        return []
    return list(dict.fromkeys(f.replacement for f in blocks if f.replacement is not None))


def _summary(
    name: str, findings: Sequence[OrderFinding], stopped: Sequence[str], severity: str
) -> str:
    """Finding first, then the action, in under 140 characters, never cut off."""
    top = findings[0]
    title = top.rule.title
    distinct = len({f.rule.id for f in findings})
    more = f" (+{distinct - 1} more)" if distinct > 1 else ""
    if stopped:
        action = f"stop {stopped[0]}" + (" or remove the draft" if top.remove else "")
    elif top.hard:
        action = "remove the draft"
    elif severity == "critical":
        action = "urgent use only, with monitoring"
    elif top.rule.alternative:
        action = f"consider {top.rule.alternative}"
    elif top.remove:
        action = "reconsider or override with a reason"
    else:
        action = ""
    lead = {"critical": "Do not give", "warning": "", "info": "Note for"}[severity]
    if severity == "critical" and not top.hard:
        lead = ""
    subject = f"{lead} {name}".strip()
    head = f"{subject}: {title}{more}"
    return fit(
        (
            f"{head}; {action}" if action else head,
            f"{subject}: {title}; {action}" if action else head,
            head,
            f"{subject}: {title}",
            f"{clip(subject, 50)}: {title}",
        )
    )


def _detail(
    order: MedicationFact,
    findings: Sequence[OrderFinding],
    stopped: Sequence[str],
    tests: Sequence[str],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> str:
    dose = "; ".join(
        f"{kb.ingredients[i].name.split(' (')[0]} {d.describe()}" for i, d in order.doses.items()
    )
    essential = [
        f"**Order**: {clip(order.name, 80)} ({order.ref}); dose: {dose or 'not stated in a form the service can read'}.",
        "",
        *(_finding_line(f, kb) for f in findings),
    ]
    shorter = [essential[0], "", *(_finding_line(f, kb, short=True) for f in findings)]
    optional: list[str | tuple[str, ...]] = []
    if stopped:
        optional.append(
            "**Choice**: stop " + ", ".join(stopped) + " (already taken), or remove this draft."
        )
    if tests:
        optional.append(
            "**Safer step**: "
            + "; ".join(f"order {kb.lab_orders[t].name} first" for t in tests)
            + "."
        )
    trace = Trace()
    for finding in findings:
        trace.merge(finding.trace)
    inputs = input_lines(trace, snapshot, kb)
    keep = ["**Inputs**: " + "; ".join(inputs) + "."] if inputs else []
    if order.interventions and not snapshot.allergies_read:
        optional.append(ALLERGIES_NOT_CHECKED)
    citations = [kb.citations[c] for f in findings for c in f.rule.citations]
    optional.append((source_links(citations), source_links(citations, limit=1)))
    return fit_detail(
        [*essential, ""],
        optional,
        short_footer(kb, (f.rule.id for f in findings)),
        [*shorter, ""],
        keep,
    )


def _unchecked_card(
    drafts: list[MedicationFact], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> RenderedCard:
    names = ", ".join(drug_name(d, kb, 40) for d in drafts)
    unclassified = sorted({m.name for m in snapshot.unclassified_medications if m.name})
    essential = [
        f"The interaction check does not recognise {names}: no RxNorm ingredient or curated "
        "product code, no ATC code and no known generic or brand name matched, so it was "
        "**not checked** against the patient's supplements, drugs and conditions.",
        "",
    ]
    optional = [
        f"Also not recognised: {', '.join(n for n in unclassified if n not in names)}."
        if len(unclassified) > len(drafts)
        else "",
    ]
    card = Card(
        summary=fit(
            (
                f"Not checked for supplement interactions: {names}",
                f"Not checked for supplement interactions: {len(drafts)} drugs not recognised",
            )
        ),
        detail=fit_detail(essential, optional, short_footer(kb, [])),
        indicator="info",
        source=Source(
            label=f"{SOURCE_LABEL}: order check",
            topic=Coding(
                system=kb.manifest.topic_system, code="not-checked", display="Not checked"
            ),
        ),
    )
    return RenderedCard(card, CardAudit(card.uuid, card.indicator, "not-checked", (), ()))
