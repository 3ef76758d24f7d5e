"""Order-time checks (order-select, order-sign): each draft order against the patient's therapy.

The same rules as the suggestion gate, seen from the order: the patient's therapy is taken to be
current and recent medications *plus* every draft order, and every part of it is a subject. A
rule firing is a finding about a draft order when the subject is that draft (5-HTP ordered while
on sertraline), or when the trigger was met by that draft (sertraline ordered while on 5-HTP;
an MAOI ordered while on tyrosine). Drafts are checked against each other the same way.

order-select and order-sign run the same checks, so the same order gets the same answer; with
``selections``, only findings that involve a selected draft are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cds_service.engine.safety import (
    Subject,
    alert_hits,
    applies,
    check_subject,
    fact_subject,
)
from cds_service.engine.types import SafetyHit
from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot

Severity = Literal["critical", "warning", "info"]
_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class OrderFinding:
    """One safety rule firing on a draft order."""

    order: MedicationFact  # the draft order the finding is about (the one to reconsider)
    subject: MedicationFact  # what would be given: the draft itself, or current use it meets
    hit: SafetyHit
    partners: tuple[MedicationFact, ...]  # the therapy that met the trigger

    @property
    def severity(self) -> Severity:
        rule = self.hit.rule
        if rule.action == "block":
            return "critical" if rule.hard else "warning"
        return "warning" if rule.action == "warn" else "info"


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
        return frozenset(f.order.ref for f in self.findings if f.hit.rule.action == "block")

    def by_order(self) -> list[tuple[MedicationFact, list[OrderFinding]]]:
        """Findings grouped per draft order, most severe order first."""
        groups: dict[str, tuple[MedicationFact, list[OrderFinding]]] = {}
        for finding in self.findings:
            groups.setdefault(finding.order.ref, (finding.order, []))[1].append(finding)
        ordered = sorted(
            groups.values(),
            key=lambda group: min(_RANK[f.severity] for f in group[1]),
        )
        for _, findings in ordered:
            findings.sort(key=lambda f: _RANK[f.severity])
        return ordered


def _named(fact: MedicationFact) -> bool:
    """The sandbox's first order-select has a draft with no drug yet: not a drug to check."""
    return fact.classified or fact.name != "unnamed medication"


def review_orders(snapshot: PatientSnapshot, kb: KnowledgeBase) -> OrderReview:
    """Check every draft medication order against current and recent therapy and each other."""
    focus = tuple(d for d in snapshot.drafts if d.selected and _named(d))
    if not focus:
        return OrderReview((), (), ())
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
            # Mirror rules (A with B, B with A) say the same thing once per pair of drugs.
            pair = frozenset([fact.ref, *(p.ref for p in partners)])
            key = (order.ref, pair, hit.rule.message)
            # Of the two views of one pair, keep the one about the draft itself ("oxybutynin
            # ordered while on diphenhydramine"), which reads right whichever side came first.
            kept = findings.get(key)
            if kept is None or (fact is order and kept.subject is not order):
                findings[key] = OrderFinding(order, fact, hit, partners)
    unchecked = tuple(d for d in focus if not d.classified)
    return OrderReview(tuple(findings.values()), focus, unchecked, _alerts(focus, snapshot, kb))


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
