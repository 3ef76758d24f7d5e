"""Order-time checks (order-select, order-sign): each draft order against the patient's therapy.

The same rules as the suggestion gate, seen from the order: the patient's therapy is taken to be
current and recent medications *plus* every draft order, and every part of it is a subject. A
rule firing is a finding about a draft order when the subject is that draft (5-HTP ordered while
on sertraline), or when the trigger was met by that draft (sertraline ordered while on 5-HTP;
an MAOI ordered while on tyrosine). Drafts are checked against each other the same way. Dose
limits (engine/dose_limits.py) and duplication (engine/duplication.py) add their findings, so
every problem with one draft is one list, for one card.

Each finding says what the card may offer (clinical-reference §7.6): to remove the draft when
the draft is the culprit (a block, or a warning that names a safer alternative), and to stop an
existing supplement when that is the culprit (sertraline ordered on OTC 5-HTP: stop the 5-HTP),
with removing the draft as the other choice.

order-select and order-sign run the same checks, so the same order gets the same answer; with
``selections``, only findings that involve a selected draft are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cds_service.engine.dose_limits import combined_dose, dose_checks
from cds_service.engine.duplication import duplicates
from cds_service.engine.safety import (
    Subject,
    alert_hits,
    applies,
    check_subject,
    fact_subject,
)
from cds_service.engine.types import SafetyHit, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import DoseLimit, DuplicationRule, SafetyRule
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot

Severity = Literal["critical", "warning", "info"]
CheckedRule = SafetyRule | DoseLimit | DuplicationRule
RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class OrderFinding:
    """One check firing on a draft order."""

    order: MedicationFact  # the draft order the finding is about (the one to reconsider)
    subject: MedicationFact  # what would be given: the draft itself, or current use it meets
    rule: CheckedRule
    trace: Trace
    partners: tuple[MedicationFact, ...]  # the therapy that met the trigger, or is combined
    severity: Severity
    hard: bool = False  # may not be overridden
    note: str | None = None  # how the dose bore on it, or the combined dose
    remove: bool = False  # the card offers to remove the draft
    stop: tuple[MedicationFact, ...] = ()  # existing supplements the card offers to stop

    @property
    def blocks(self) -> bool:
        return isinstance(self.rule, SafetyRule) and self.rule.action == "block"

    @property
    def replacement(self) -> str | None:
        """The lab order that would lift this block (C24: order eGFR first), if any."""
        if isinstance(self.rule, SafetyRule) and self.rule.replacement is not None:
            return self.rule.replacement.lab_order
        return None


@dataclass(frozen=True, slots=True)
class OrderReview:
    """Everything the order hooks report: findings per draft, and what could not be checked."""

    findings: tuple[OrderFinding, ...]
    drafts: tuple[MedicationFact, ...]  # the draft medication orders in focus (selected)
    unchecked: tuple[MedicationFact, ...]  # drafts in focus naming a drug nobody recognised
    alerts: tuple[SafetyHit, ...] = ()  # e.g. suicide risk, when a supplement is ordered

    @property
    def blocked(self) -> frozenset[str]:
        """Refs of the draft orders a block rule (hard or soft) says to reconsider."""
        return frozenset(f.order.ref for f in self.findings if f.blocks)

    def by_order(self) -> list[tuple[MedicationFact, list[OrderFinding]]]:
        """Findings grouped per draft order, most severe order first."""
        groups: dict[str, tuple[MedicationFact, list[OrderFinding]]] = {}
        for finding in self.findings:
            groups.setdefault(finding.order.ref, (finding.order, []))[1].append(finding)
        for _, findings in groups.values():
            findings.sort(key=lambda f: (RANK[f.severity], not f.hard))
        return sorted(
            groups.values(),
            key=lambda group: (RANK[group[1][0].severity], not group[1][0].hard),
        )


def _named(fact: MedicationFact) -> bool:
    """The sandbox's first order-select has a draft with no drug yet: not a drug to check."""
    return fact.classified or fact.name != "unnamed medication"


def review_orders(snapshot: PatientSnapshot, kb: KnowledgeBase) -> OrderReview:
    """Check every draft medication order against current and recent therapy and each other."""
    focus = tuple(d for d in snapshot.drafts if d.selected and _named(d))
    if not focus:
        return OrderReview((), (), ())
    findings = [
        *_safety_findings(snapshot, kb),
        *_dose_findings(focus, snapshot, kb),
        *_duplicate_findings(focus, snapshot, kb),
    ]
    # An unrecognised drug is worth a "not checked" card only when a supplement is in view: with
    # none taken or ordered there is nothing it could interact with here, and a card on every
    # atenolol order would be the nuisance alert clinical-reference §7 warns about.
    unchecked = (
        tuple(d for d in focus if not d.classified) if _supplement_in_view(snapshot, kb) else ()
    )
    return OrderReview(tuple(findings), focus, unchecked, _alerts(focus, snapshot, kb))


def _supplement_in_view(snapshot: PatientSnapshot, kb: KnowledgeBase) -> bool:
    """A supplement taken (current or within its washout) or being ordered."""
    for fact in (*snapshot.medications, *snapshot.drafts):
        if not (fact.draft or fact.active or fact.recent):
            continue
        if fact.interventions or any(
            kb.medication_classes[c].supplement
            for i in fact.ingredients
            for c in kb.ingredients[i].classes
        ):
            return True
    return False


def _safety_findings(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[OrderFinding]:
    therapy = snapshot.medications + snapshot.drafts
    findings: dict[tuple[str, frozenset[str], str], OrderFinding] = {}
    drug_targets = kb.safety_drug_targets
    for fact in therapy:
        # Only supplements and drugs some rule is about can be subjects (fast path for the
        # long medication lists of real records).
        if not (
            fact.draft
            or fact.interventions
            or drug_targets.intersection(fact.ingredients)
            or drug_targets.intersection(fact.classes)
        ):
            continue
        subject = fact_subject(fact, kb)
        for hit in check_subject(subject, snapshot, kb, scope="orders", therapy=therapy):
            partners = tuple(hit.trace.medications.values())
            candidates = ([fact] if fact.draft else []) + [p for p in partners if p.draft]
            order = next((c for c in candidates if c.selected), None)
            if order is None:
                continue  # no draft in focus is involved: current therapy, not this order
            # The rules of one pair (A with B, B with A; the S1 family) say one thing per pair
            # of products: keep the view about the draft itself ("linezolid ordered while on
            # sertraline"), which reads right whichever side came first.
            pair = frozenset([fact.ref, *(p.ref for p in partners)])
            key = (order.ref, pair, hit.rule.pair or hit.rule.id)
            kept = findings.get(key)
            if kept is None or (fact is order and kept.subject is not order):
                findings[key] = _safety_finding(order, fact, hit, partners, kb)
    return list(findings.values())


def _safety_finding(
    order: MedicationFact,
    subject: MedicationFact,
    hit: SafetyHit,
    partners: tuple[MedicationFact, ...],
    kb: KnowledgeBase,
) -> OrderFinding:
    rule = hit.rule
    severity: Severity
    if rule.action == "block":
        severity = "critical" if rule.hard or rule.critical else "warning"
    else:
        severity = "warning" if rule.action == "warn" else "info"
    stop: tuple[MedicationFact, ...] = ()
    if severity != "info":
        stop = tuple(f for f in (subject, *partners) if f is not order and _stoppable(f, kb))
    remove = rule.action == "block" or rule.alternative is not None or bool(stop)
    return OrderFinding(
        order=order,
        subject=subject,
        rule=rule,
        trace=hit.trace,
        partners=partners,
        severity=severity,
        hard=rule.hard,
        note=hit.dose_note,
        remove=remove,
        stop=stop,
    )


def _stoppable(fact: MedicationFact, kb: KnowledgeBase) -> bool:
    """An existing supplement the patient takes now (not a drug, not a draft, not stopped)."""
    return (
        not fact.draft
        and fact.active
        and (
            bool(fact.interventions)
            or any(kb.medication_classes[c].supplement for c in fact.classes)
        )
        and "/" in fact.ref
    )


def _dose_findings(
    focus: tuple[MedicationFact, ...], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[OrderFinding]:
    return [
        OrderFinding(
            order=check.order,
            subject=check.order,
            rule=check.limit,
            trace=check.trace,
            partners=(),  # the note names every product counted
            severity="warning" if check.severity == "warning" else "info",
            note=check.note(),
        )
        for check in dose_checks(focus, snapshot, kb)
    ]


def _duplicate_findings(
    focus: tuple[MedicationFact, ...], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[OrderFinding]:
    findings = []
    for duplicate in duplicates(focus, snapshot, kb):
        order = duplicate.order
        combined = combined_dose([order, *duplicate.others], kb)
        findings.append(
            OrderFinding(
                order=order,
                subject=order,
                rule=duplicate.rule,
                trace=Trace(medications={m.ref: m for m in duplicate.others}),
                partners=duplicate.others,
                severity="warning",
                note=combined or "combined dose not known: a dose could not be read",
                remove=True,
                stop=tuple(m for m in duplicate.others if _stoppable(m, kb)),
            )
        )
    return findings


def _alerts(
    focus: tuple[MedicationFact, ...], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> tuple[SafetyHit, ...]:
    """Alert rules (suicide risk) when a supplement they cover is being ordered."""
    subjects: list[Subject] = [fact_subject(d, kb) for d in focus]
    return tuple(
        hit
        for hit in alert_hits(snapshot, kb)
        if any(s.is_supplement and applies(hit.rule, s) for s in subjects)
    )
