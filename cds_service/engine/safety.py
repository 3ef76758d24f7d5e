"""The safety gate: every block/warn/info decision about giving something to a patient is made here.

A *subject* is what would be given: a candidate suggestion (an intervention at its proposed
daily dose), a clinician's draft order, or a drug the patient already takes when a draft order
would be combined with it. A rule (``mappings/safety.yaml``) applies to a subject by
intervention id or tag, to every supplement, or by medication class or ingredient; its trigger
is evaluated on the patient with the subject itself left out, so a drug never interacts with
itself. Dose-dependent rules compare the subject's daily dose with the rule's threshold; an
unknown dose counts as above the threshold, and the hit says so.

Nothing reaches a card without passing ``gate``. A block is never rendered as a suggestion; the
card says what was withheld and why, and a block for missing data (C24) carries the lab order to
offer instead. Order-time checks (engine/orders.py) use ``check_subject`` from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from cds_service.engine.predicates import Given, holds
from cds_service.engine.types import Candidate, Decision, SafetyHit, Trace, Verdict
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import AnyPredicate, Intervention, Predicate, SafetyRule
from cds_service.knowledge.units import amount_in, canonical_amount
from cds_service.snapshot.doses import DoseEstimate
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot


@dataclass(frozen=True, slots=True)
class Subject:
    """Something that would be given to the patient, as the safety rules see it."""

    name: str
    interventions: tuple[Intervention, ...]
    ingredients: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    # Daily amount per intervention id (suggestions) or ingredient id (orders, statements).
    doses: Mapping[str, DoseEstimate] = field(default_factory=dict)
    fact: MedicationFact | None = None  # None for one of the service's own suggestions

    @property
    def is_supplement(self) -> bool:
        return bool(self.interventions)

    @property
    def given(self) -> Given:
        """The subject as an allergy rule sees it."""
        return Given(self.ingredients, [i.id for i in self.interventions])


def intervention_subject(intervention: Intervention) -> Subject:
    """A suggestion of ``intervention`` at the daily dose the knowledge base proposes."""
    doses: dict[str, DoseEstimate] = {}
    proposed = intervention.daily_dose
    if proposed is not None:
        amount = canonical_amount(proposed.value, proposed.unit)
        if amount is not None:
            doses[intervention.id] = DoseEstimate(
                amount[0], amount[1], True, f"proposed {proposed.value:g} {proposed.unit}/day"
            )
    return Subject(intervention.name, (intervention,), doses=doses)


def fact_subject(fact: MedicationFact, kb: KnowledgeBase) -> Subject:
    """A draft order or a current medication as a subject (supplements keep their interventions)."""
    interventions = tuple(kb.interventions[i] for i in fact.interventions if i in kb.interventions)
    return Subject(fact.name, interventions, fact.ingredients, fact.classes, fact.doses, fact)


def targets(rule: SafetyRule, intervention: Intervention) -> bool:
    return rule.applies_to.covers(intervention.id, intervention.tags)


def applies(rule: SafetyRule, subject: Subject) -> bool:
    """Does the rule concern giving this subject (by intervention, tag, class or ingredient)?

    A product made only of ingredients the rule excepts (``except_medications``: by ingredient
    or class) is left out; a suggestion, which names no product, is not.
    """
    if rule.applies_to.oral_only and subject.fact is not None and subject.fact.parenteral:
        return False
    excepted = rule.applies_to.except_medications
    if (
        excepted
        and subject.ingredients
        and (
            all(i in excepted for i in subject.ingredients) or set(subject.classes) & set(excepted)
        )
    ):
        return False
    if any(targets(rule, intervention) for intervention in subject.interventions):
        return True
    drugs = rule.applies_to.medications
    return bool(drugs) and any(d in subject.ingredients or d in subject.classes for d in drugs)


def _relevant_doses(
    rule: SafetyRule, subject: Subject, kb: KnowledgeBase
) -> list[tuple[DoseEstimate | None, float | None]]:
    """The doses of the parts of the subject the rule is about (None where unknown), each with
    the milligrams one IU of that ingredient stands for (None when not known)."""
    if subject.fact is None:
        return [
            (subject.doses.get(i.id), _intervention_mg_per_iu(i, kb))
            for i in subject.interventions
            if targets(rule, i)
        ]
    drugs = set(rule.applies_to.medications)
    relevant: list[tuple[DoseEstimate | None, float | None]] = []
    for ingredient_id in subject.ingredients:
        intervention_id = kb.ingredient_interventions.get(ingredient_id)
        by_intervention = intervention_id in kb.interventions and targets(
            rule, kb.interventions[intervention_id]
        )
        by_drug = ingredient_id in drugs or bool(drugs & set(kb.ingredients[ingredient_id].classes))
        if by_intervention or by_drug:
            relevant.append((subject.doses.get(ingredient_id), kb.mg_per_iu(ingredient_id)))
    return relevant or [(None, None)]


def _intervention_mg_per_iu(intervention: Intervention, kb: KnowledgeBase) -> float | None:
    """The IU factor of the ingredient the intervention's suggestions are coded with."""
    code = intervention.ingredient
    ids = (
        kb.rxnorm_ingredients.get(code.code, ())
        if code.system == "rxnorm"
        else kb.supplement_ingredients.get(code.code, ())
    )
    return next((f for f in map(kb.mg_per_iu, ids) if f is not None), None)


def dose_applies(rule: SafetyRule, subject: Subject, kb: KnowledgeBase) -> tuple[bool, str | None]:
    """Whether a dose-dependent rule applies, and a note saying how the dose was judged."""
    threshold = rule.dose
    if threshold is None:
        return True, None
    limit = threshold.describe()
    unknown = False
    for dose, mg_per_iu in _relevant_doses(rule, subject, kb):
        if dose is None:
            unknown = True
            continue
        value = amount_in(dose.amount, dose.unit, threshold.unit, mg_per_iu=mg_per_iu)
        if value is None:
            unknown = True
        elif threshold.exceeded_by(value):
            return True, f"dose {dose.describe()} ({dose.text}) is {limit}"
        elif not dose.exact:
            unknown = True  # a lower bound below the threshold settles nothing
    if unknown:
        return True, f"dose unknown or incomplete: assumed {limit} (conservative)"
    return False, None


def therapy_without(pool: Iterable[MedicationFact], subject: Subject) -> tuple[MedicationFact, ...]:
    """The rest of the patient's therapy: not the subject, nor another product of its ingredients."""
    own = set(subject.ingredients)
    fact = subject.fact
    return tuple(m for m in pool if m is not fact and not (own and own & set(m.ingredients)))


def check_subject(
    subject: Subject,
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
    *,
    scope: str,
    therapy: tuple[MedicationFact, ...] | None = None,
) -> tuple[SafetyHit, ...]:
    """Every safety rule in ``scope`` that fires for giving this subject to this patient.

    ``therapy`` replaces the snapshot's medications (order time: current and recent therapy
    plus the other draft orders); the subject itself is always left out.
    """
    pool = snapshot.medications if therapy is None else therapy
    others = therapy_without(pool, subject)
    if others == snapshot.medications and not snapshot.drafts:
        view = snapshot  # a suggestion at patient view: the patient as read, no copy needed
    else:
        view = replace(snapshot, medications=others, drafts=())
    hits = []
    for rule in _rules_for(subject, kb):
        if scope not in rule.scope or not applies(rule, subject):
            continue
        trace = Trace()
        if not holds(rule.trigger, view, trace, subject.given):
            continue
        fires, note = dose_applies(rule, subject, kb)
        if fires:
            hits.append(SafetyHit(rule, trace, note))
    return tuple(hits)


def _rules_for(subject: Subject, kb: KnowledgeBase) -> Iterable[SafetyRule]:
    """The rules that may apply: for a suggestion (one intervention, no drug), its indexed
    rules, in file order; for a drug or a draft order, every rule (``applies`` decides)."""
    if (
        subject.fact is None
        and len(subject.interventions) == 1
        and not (subject.ingredients or subject.classes)
    ):
        by_intervention = kb.safety_rules_by_intervention.get(subject.interventions[0].id)
        if by_intervention is not None:
            return by_intervention
    return kb.safety_rules


def check_intervention(
    intervention: Intervention, snapshot: PatientSnapshot, kb: KnowledgeBase
) -> tuple[SafetyHit, ...]:
    """Every safety rule that fires for suggesting this intervention to this patient."""
    return check_subject(intervention_subject(intervention), snapshot, kb, scope="suggestions")


def verdict_of(hits: tuple[SafetyHit, ...]) -> Verdict:
    actions = {hit.rule.action for hit in hits}
    if "block" in actions:
        return "block"
    if "warn" in actions:
        return "warn"
    return "allow"


def gate(
    candidates: list[Candidate], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[Decision]:
    """Decide allow / warn / block for each candidate; lab orders are always allowed."""
    checked: dict[str, tuple[SafetyHit, ...]] = {}  # intervention id -> hits, this patient

    def check(intervention: Intervention) -> tuple[SafetyHit, ...]:
        hits = checked.get(intervention.id)
        if hits is None:
            hits = checked[intervention.id] = check_intervention(intervention, snapshot, kb)
        return hits

    decisions = []
    for candidate in candidates:
        if candidate.kind == "lab_order":
            if candidate.prerequisite_for and not any(
                _could_follow(kb.interventions[i], check) for i in candidate.prerequisite_for
            ):
                reason = (
                    "not needed: every option it would come before is withheld for another reason"
                )
                decisions.append(Decision(candidate, "block", (), reason=reason))
            else:
                decisions.append(Decision(candidate, "allow", ()))
            continue
        intervention = kb.interventions[candidate.target]
        if not intervention.offer:
            decisions.append(
                Decision(candidate, "block", (), reason=intervention.do_not_offer_reason)
            )
            continue
        hits = check(intervention)
        verdict = verdict_of(hits)
        replacement = None
        if verdict == "block":
            for hit in hits:
                if hit.rule.action == "block" and hit.rule.replacement is not None:
                    replacement = Candidate(
                        kind="lab_order",
                        target=hit.rule.replacement.lab_order,
                        pathway=candidate.pathway,
                        rule_ids=(hit.rule.id,),
                    )
                    break
        decisions.append(Decision(candidate, verdict, hits, replacement=replacement))
    return decisions


def _could_follow(
    intervention: Intervention, check: Callable[[Intervention], tuple[SafetyHit, ...]]
) -> bool:
    """Could this intervention be offered once its missing tests are done? Only when it is
    offered at all and every block on it is one a test lifts (C24)."""
    if not intervention.offer:
        return False
    hits = check(intervention)
    return all(h.rule.replacement is not None for h in hits if h.rule.action == "block")


def offered(decisions: Iterable[Decision]) -> list[Decision]:
    """What a card may suggest: the shown decisions, then replacement lab orders not yet there.

    A replacement test is offered only when every block on the supplement is one a test can
    lift (C24: eGFR before magnesium, hCG before amino acids...). When another block stands
    (under 18, an MAOI, a recorded pregnancy), the test would change nothing and is noise.
    """
    decisions = list(decisions)
    shown = [d for d in decisions if d.shown]
    present = {(d.candidate.kind, d.candidate.target) for d in shown}
    for decision in decisions:
        for replacement in replacements(decision):
            if ("lab_order", replacement.target) not in present:
                present.add(("lab_order", replacement.target))
                shown.append(Decision(replacement, "allow", ()))
    return shown


def replacements(decision: Decision) -> list[Candidate]:
    """The tests offered in place of a blocked supplement: only when every block on it is one
    a test can lift (C24); each block for missing data names its own test."""
    if decision.verdict != "block" or decision.reason is not None:
        return []
    blocks = [h for h in decision.hits if h.rule.action == "block"]
    if not blocks or any(h.rule.replacement is None for h in blocks):
        return []
    # Decision.replacement is the first; every block for missing data names its own test.
    wanted = [decision.replacement] if decision.replacement else []
    wanted += [
        Candidate(
            "lab_order", h.rule.replacement.lab_order, decision.candidate.pathway, (h.rule.id,)
        )
        for h in blocks
        if h.rule.replacement is not None
    ]
    return wanted


def alert_hits(snapshot: PatientSnapshot, kb: KnowledgeBase) -> tuple[SafetyHit, ...]:
    """Rules whose trigger alone warrants a critical card for this patient (e.g. suicide risk),
    each with the alternative of its trigger that held (the answer the card states)."""
    hits = []
    for rule in kb.safety_rules:
        if rule.alert:
            trace = Trace()
            if holds(rule.trigger, snapshot, trace):
                hits.append(SafetyHit(rule, trace, reason=_what_held(rule.trigger, snapshot)))
    return tuple(hits)


def _what_held(trigger: Predicate, snapshot: PatientSnapshot) -> Trace:
    """The inputs of the first alternative of an ``any`` trigger that holds (else of the whole
    trigger), without the inputs of alternatives that did not."""
    for alternative in trigger.any if isinstance(trigger, AnyPredicate) else [trigger]:
        trace = Trace()
        if holds(alternative, snapshot, trace):
            return trace
    return Trace()  # pragma: no cover - called only when the trigger holds
