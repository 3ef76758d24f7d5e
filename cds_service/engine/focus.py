"""What patient-view cards leave out, and what they say instead (issue 17).

- A supplement the patient already takes (an active order or statement, OTC included) is never
  suggested again (``recommend`` drops it); here it becomes a ``CurrentSupplement``: taken since
  when, and each recheck of ``follow_up.yaml``: due, not yet due, or the change since the start
  (baseline -> latest) and whether the target band was reached.
- A finding whose only answer is a supplement already taken is being treated: it leaves the
  pathway card, and the follow-up says where its value stands.
- An option finding all of whose options a silencing safety rule withholds (F1, no first-line
  treatment recorded) is not shown on its own: that rule's own finding says it once.

Pure: data in, data out; the clock is the snapshot's ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from cds_service.engine.assess import status_of
from cds_service.engine.types import Decision, Finding, PathwayAssessment
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
    FollowUp,
    Intervention,
    LabOrderSuggestion,
    MedicationSuggestion,
)
from cds_service.snapshot.facts import LabFact, MedicationFact, PatientSnapshot

# due: no result since the start and the day has come (the test is suggested); not-due: not
# yet; result-since: a current result dated after the start (the change is shown);
# start-unknown: the order or statement gives no start (a current result is shown, and
# reviewed when outside the target); not-indicated: no recheck for this patient (no treated
# deficiency: the result before the start was not in the rule's baseline bands).
RecheckStatus = Literal["due", "not-due", "result-since", "start-unknown", "not-indicated"]


@dataclass(frozen=True, slots=True)
class Recheck:
    rule: FollowUp
    status: RecheckStatus
    due: date | None  # the day the recheck is due (due / not-due)
    baseline: LabFact | None  # the newest result on or before the start
    latest: LabFact | None  # the result since the start (or the current one, start unknown)
    reached: bool | None  # latest in the target bands; None when there is no latest

    @property
    def suggests_test(self) -> bool:
        return self.status == "due" or (self.status == "start-unknown" and self.latest is None)

    @property
    def actionable(self) -> bool:
        """Something to do now: order the recheck, or review a result not in the target range
        (since the start, or the current one when the start is not recorded)."""
        return self.suggests_test or (
            self.status in ("result-since", "start-unknown") and self.reached is False
        )


@dataclass(frozen=True, slots=True)
class CurrentSupplement:
    """An intervention the patient already takes, and what follows from it."""

    intervention: Intervention  # the base intervention (variants count as it)
    medications: tuple[MedicationFact, ...]  # the active orders and statements
    since: datetime | None  # the earliest start stated; None when none is
    rechecks: tuple[Recheck, ...]
    wanted_by: tuple[str, ...]  # rule ids that would have suggested it (not suggested again)

    @property
    def actionable(self) -> bool:
        return any(r.actionable for r in self.rechecks)

    @property
    def worth_saying(self) -> bool:
        """A line on a card: a recheck to speak of, or a suggestion it replaces."""
        return bool(self.wanted_by) or any(r.status != "not-indicated" for r in self.rechecks)


def taken_interventions(
    snapshot: PatientSnapshot, kb: KnowledgeBase
) -> dict[str, list[MedicationFact]]:
    """Base intervention id -> the active orders and statements of it (drafts and stopped
    therapy are not "taken")."""
    taken: dict[str, list[MedicationFact]] = {}
    for fact in snapshot.medications:
        if not fact.active or fact.draft:
            continue
        for intervention_id in fact.interventions:
            taken.setdefault(kb.base_intervention(intervention_id), []).append(fact)
    return taken


def current_supplements(
    assessments: Iterable[PathwayAssessment], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> tuple[CurrentSupplement, ...]:
    """Every intervention the patient takes, with its rechecks and the rules it answers."""
    taken = taken_interventions(snapshot, kb)
    if not taken:
        return ()
    wanted: dict[str, dict[str, None]] = {}
    for assessment in assessments:
        for finding in assessment.findings:
            for suggestion in finding.rule.suggest:
                if isinstance(suggestion, MedicationSuggestion):
                    base = kb.base_intervention(suggestion.medication)
                    wanted.setdefault(base, {})[finding.rule.id] = None
    supplements = []
    for intervention_id, facts in taken.items():
        starts = [f.start_date for f in facts if f.start_date is not None]
        since = min(starts) if starts else None
        rechecks = tuple(
            _recheck(rule, since, snapshot) for rule in kb.follow_ups.get(intervention_id, ())
        )
        supplements.append(
            CurrentSupplement(
                kb.interventions[intervention_id],
                tuple(facts),
                since,
                rechecks,
                tuple(wanted.get(intervention_id, ())),
            )
        )
    return tuple(supplements)


def _recheck(rule: FollowUp, since: datetime | None, snapshot: PatientSnapshot) -> Recheck:
    current = snapshot.labs.get(rule.measure)
    baseline = snapshot.baselines.get(rule.measure)
    if since is None:
        # No start: no recheck date, no baseline. A current result is shown (for review when
        # outside the target); without one, a test is suggested only when the recheck does not
        # depend on a treated deficiency (which cannot be told without a start).
        if current is None and rule.baseline_bands:
            return Recheck(rule, "not-indicated", None, None, None, None)
        return Recheck(rule, "start-unknown", None, None, current, _reached(rule, current))
    start = since.date()
    if current is not None and current.effective.date() > start:
        return Recheck(rule, "result-since", None, baseline, current, _reached(rule, current))
    if rule.baseline_bands and (baseline is None or baseline.band not in rule.baseline_bands):
        return Recheck(rule, "not-indicated", None, baseline, None, None)
    due = start + timedelta(days=rule.recheck_after_days)
    status: RecheckStatus = "due" if snapshot.now.date() >= due else "not-due"
    return Recheck(rule, status, due, baseline, None, None)


def _reached(rule: FollowUp, fact: LabFact | None) -> bool | None:
    return None if fact is None else fact.band in rule.target_bands


def focus(
    assessments: Sequence[PathwayAssessment],
    decisions: Sequence[Decision],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> tuple[list[PathwayAssessment], list[Decision]]:
    """The assessments and decisions the pathway cards show: treated findings and options
    silenced by a rule that says it once (F1) are left out, with the suggestions only they
    asked for."""
    taken = set(taken_interventions(snapshot, kb))
    blocked = {(d.candidate.pathway, d.candidate.target) for d in decisions if not d.shown}
    silenced = {(d.candidate.pathway, d.candidate.target) for d in decisions if _silenced(d)}
    shown = []
    dropped: set[tuple[str, str]] = set()  # (pathway, rule id) of findings left out
    for assessment in assessments:
        pathway_id = assessment.pathway.id
        findings = tuple(
            f
            for f in assessment.findings
            if not _treated(f, taken, kb) and not _silenced_option(f, pathway_id, blocked, silenced)
        )
        if findings == assessment.findings:
            shown.append(assessment)
            continue
        kept = {f.rule.id for f in findings}
        dropped |= {(pathway_id, f.rule.id) for f in assessment.findings if f.rule.id not in kept}
        interpretable = any(
            not NON_ACTIONABLE_FLAGS.intersection(kb.measures[f.measure_id].flags)
            for f in assessment.present_markers
        )
        shown.append(
            replace(assessment, findings=findings, status=status_of(findings, interpretable))
        )
    kept_decisions = [
        d
        for d in decisions
        if not _silenced(d)
        and not (
            d.candidate.rule_ids
            and all((d.candidate.pathway, r) in dropped for r in d.candidate.rule_ids)
        )
    ]
    return shown, kept_decisions


def _silenced(decision: Decision) -> bool:
    return decision.verdict == "block" and any(
        h.rule.silences_options for h in decision.hits if h.rule.action == "block"
    )


def _treated(finding: Finding, taken: set[str], kb: KnowledgeBase) -> bool:
    """The finding is answered by supplements already taken (an urgent finding stays): every
    supplement it suggests is taken; the follow-up card speaks of the measure."""
    if finding.rule.severity == "urgent":
        return False
    medications = [s for s in finding.rule.suggest if isinstance(s, MedicationSuggestion)]
    return bool(medications) and all(
        kb.base_intervention(s.medication) in taken for s in medications
    )


def _silenced_option(
    finding: Finding,
    pathway_id: str,
    blocked: set[tuple[str, str]],
    silenced: set[tuple[str, str]],
) -> bool:
    """An option every suggestion of which is withheld, at least one by a silencing rule."""
    if finding.rule.severity != "option":
        return False
    targets = [
        (pathway_id, s.medication)
        for s in finding.rule.suggest
        if isinstance(s, MedicationSuggestion)
    ]
    if not targets or any(isinstance(s, LabOrderSuggestion) for s in finding.rule.suggest):
        return False
    return all(t in blocked for t in targets) and any(t in silenced for t in targets)
