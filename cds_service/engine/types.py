"""Typed values passed between the engine's stages (assess -> recommend -> safety -> cards)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cds_service.knowledge.schema import Pathway, Rule, SafetyRule
from cds_service.snapshot.facts import AllergyFact, ConditionFact, LabFact, MedicationFact

PathwayStatus = Literal["likely adequate", "possible limitation", "insufficient data"]
Verdict = Literal["allow", "warn", "block"]


@dataclass(slots=True)
class Trace:
    """What a predicate looked at: the inputs a card must show for its rule to be checkable."""

    labs: dict[str, LabFact] = field(default_factory=dict)
    missing: dict[str, None] = field(default_factory=dict)  # measure ids with no current value
    stale: dict[str, LabFact] = field(default_factory=dict)
    medications: dict[str, MedicationFact] = field(default_factory=dict)
    conditions: dict[str, ConditionFact] = field(default_factory=dict)
    age_used: bool = False
    notes: dict[str, str] = field(default_factory=dict)  # why a missing measure has no value
    allergies: dict[str, AllergyFact] = field(default_factory=dict)

    def merge(self, other: Trace) -> None:
        self.labs.update(other.labs)
        self.missing.update(other.missing)
        self.stale.update(other.stale)
        self.medications.update(other.medications)
        self.conditions.update(other.conditions)
        self.allergies.update(other.allergies)
        self.age_used = self.age_used or other.age_used
        self.notes.update(other.notes)


@dataclass(frozen=True, slots=True)
class FindingCause:
    """A likely cause of a finding found on the record (rule ``causes``), with what showed it."""

    label: str
    trace: Trace


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    trace: Trace
    causes: tuple[FindingCause, ...] = ()


@dataclass(frozen=True, slots=True)
class PathwayAssessment:
    pathway: Pathway
    status: PathwayStatus
    findings: tuple[Finding, ...]  # most serious first
    present_markers: tuple[LabFact, ...]
    missing_markers: tuple[str, ...]
    symptoms: tuple[LabFact, ...] = ()  # questionnaire scores of the pathway's symptom measures
    context: tuple[Finding, ...] = ()  # context findings of other pathways (e.g. inflammation)

    @property
    def actionable(self) -> bool:
        """Worth a card: a finding other than context (context alone is never a card)."""
        return any(f.rule.severity != "context" for f in self.findings)

    @property
    def urgent(self) -> bool:
        """A finding needs prompt action (its card is a `warning`, whatever the options)."""
        return any(f.rule.severity == "urgent" for f in self.findings)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A suggestion the rules would make, before safety has seen it."""

    kind: Literal["medication", "lab_order"]
    target: str  # intervention id or lab order id
    pathway: str
    rule_ids: tuple[str, ...]
    # For a lab order: the interventions it must come before (see LabOrderSuggestion).
    prerequisite_for: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SafetyHit:
    rule: SafetyRule
    trace: Trace
    # How the dose bore on a dose-dependent rule, e.g. "dose unknown: assumed above 5 mg/day".
    dose_note: str | None = None
    # For an alert whose trigger is a list of alternatives: what the first alternative that
    # held read (the answer that fired, e.g. PHQ-9 item 9 = 2), for the card to state.
    reason: Trace | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    candidate: Candidate
    verdict: Verdict
    hits: tuple[SafetyHit, ...]  # every rule that fired, block, warn and info alike
    reason: str | None = None  # for blocks that are not rules (e.g. "do not offer")
    # A block for missing safety data (C24) offers this lab order instead of the supplement.
    replacement: Candidate | None = None

    @property
    def shown(self) -> bool:
        return self.verdict != "block"
