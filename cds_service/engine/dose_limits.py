"""Single and cumulative daily dose limits at order time (``order_checks.yaml`` dose_limits).

Every limit-bearing decision about an ordered amount is made here. For each draft order in
focus and each limit whose ingredients it contains, the draft's daily amount and that of every
other active order, statement or draft of the same ingredients are expressed in the limit's
unit (IU through the ingredient's IU mass, salts through their elemental share) and summed.

- the sum is above the limit (the one a holding exception names, else the base one) ->
  ``warning``, naming the limit, its source and the combined dose;
- above the note threshold (vitamin B6 above 25 mg/day) -> ``info``;
- the draft's own dose cannot be read -> ``info`` "dose not checked", never "within the limit";
  a lower bound (frequency or units per dose not stated) warns only when it is already above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cds_service.engine.predicates import holds
from cds_service.engine.types import Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import DoseLimit, DoseThreshold
from cds_service.knowledge.units import amount_in
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot


@dataclass(frozen=True, slots=True)
class Contribution:
    """One product's daily amount of a limit's ingredients, in the limit's unit."""

    fact: MedicationFact
    amount: float | None  # None: not readable
    exact: bool  # False: a lower bound (frequency or units per dose not stated)


@dataclass(frozen=True, slots=True)
class DoseCheck:
    """The outcome of one limit for one draft order."""

    limit: DoseLimit
    order: MedicationFact
    severity: str  # "warning" | "info"
    threshold: DoseThreshold
    total: float | None  # None: the draft's own dose was not readable
    exact: bool
    parts: tuple[Contribution, ...]  # the draft first, then the other products
    trace: Trace
    exception: str | None  # why the higher limit applies, when one does

    def note(self) -> str:
        """The combined dose, the limit and its source in plain words, for the card."""
        unit = self.threshold.unit.strip("[]")
        bound = self.threshold.gt if self.threshold.gt is not None else self.threshold.ge or 0
        limit = f"limit {amount(bound, unit)}/day"
        if self.exception:
            limit += f" ({self.exception})"
        limit += f", {self.limit.limit_source}"
        if self.total is None:
            return f"dose not checked: this order's daily dose could not be read; {limit}"
        shown = [
            f"{'this order' if p.fact is self.order else _named(p.fact)} "
            f"{'at least ' if not p.exact else ''}{amount(p.amount, unit)}"
            for p in self.parts
            if p.amount is not None
        ]
        unread = [_named(p.fact) for p in self.parts if p.amount is None]
        least = "" if self.exact else "at least "
        text = f"{least}{amount(self.total, unit)}/day"
        if len(self.parts) > 1:
            text = f"combined {text}: {' + '.join(shown)}"
        if unread:
            text += f"; dose not readable for {', '.join(unread)}"
        if self.severity == "info" and not self.exact:
            text = f"dose not fully checked, {text}"
        return f"{text}; {limit}"


def amount(value: float, unit: str) -> str:
    """An amount as a clinician reads it: 50,000 IU, 65 mg, 1.5 g."""
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.3g} {unit}"


def _named(fact: MedicationFact) -> str:
    name = fact.name if len(fact.name) <= 40 else fact.name[:40].rsplit(" ", 1)[0]
    return f"{name} ({fact.ref})"


def dose_checks(
    focus: Iterable[MedicationFact], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[DoseCheck]:
    """Every limit a draft order in focus reaches (or cannot be checked against)."""
    if not kb.dose_limits:
        return []
    checks = []
    for order in focus:
        for limit in kb.dose_limits:
            group = kb.limit_ingredients[limit.id]
            if not group.intersection(order.ingredients):
                continue
            check = _check(order, limit, group, snapshot, kb)
            if check is not None:
                checks.append(check)
    return checks


def _check(
    order: MedicationFact,
    limit: DoseLimit,
    group: frozenset[str],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> DoseCheck | None:
    trace = Trace()
    threshold, exception = limit.warn_above, None
    for candidate in limit.exceptions:
        if holds(candidate.when, snapshot, trace):
            threshold, exception = candidate.warn_above, candidate.reason
            break
    own = _contribution(order, group, threshold.unit, kb)
    others = [
        _contribution(fact, group, threshold.unit, kb)
        for fact in (*snapshot.medications, *snapshot.drafts)
        if fact is not order
        and fact.ref != order.ref  # the same order revised and re-signed is not a second one
        and fact.active
        and group.intersection(fact.ingredients)
    ]
    parts = (own, *others)
    if own.amount is None and not threshold.exceeded_by(_sum(others)):
        return DoseCheck(limit, order, "info", threshold, None, False, parts, trace, exception)
    total = _sum(parts)
    exact = all(p.amount is not None and p.exact for p in parts)
    if threshold.exceeded_by(total):
        return DoseCheck(limit, order, "warning", threshold, total, exact, parts, trace, exception)
    if not exact:
        # Within the limit only as far as the doses could be read: not called safe.
        return DoseCheck(limit, order, "info", threshold, total, exact, parts, trace, exception)
    note = limit.info_above
    if note is not None and exception is None:
        value = amount_in(total, threshold.unit, note.unit, mg_per_iu=None)
        if value is not None and note.exceeded_by(value):
            return DoseCheck(limit, order, "info", note, total, exact, parts, trace, None)
    return None


def _sum(parts: Iterable[Contribution]) -> float:
    return sum(p.amount for p in parts if p.amount is not None)


def _contribution(
    fact: MedicationFact, group: frozenset[str], unit: str, kb: KnowledgeBase
) -> Contribution:
    """The fact's daily amount of the group's ingredients in ``unit`` (elemental, IU converted)."""
    total = 0.0
    exact = True
    for ingredient_id in group.intersection(fact.ingredients):
        dose = fact.doses.get(ingredient_id)
        if dose is None or not dose.per_day:
            # One dose with no frequency says nothing of the daily amount: 50,000 IU may be
            # weekly. Only a known rate is counted (a unit count assumed is a lower bound).
            return Contribution(fact, None, False)
        value = amount_in(dose.amount, dose.unit, unit, mg_per_iu=kb.mg_per_iu(ingredient_id))
        if value is None:
            return Contribution(fact, None, False)
        amount = kb.ingredient_amounts.get(ingredient_id)
        if amount is not None and amount.elemental_fraction is not None:
            value *= amount.elemental_fraction
        total += value
        exact = exact and dose.exact
    return Contribution(fact, total, exact)


def combined_dose(facts: Iterable[MedicationFact], kb: KnowledgeBase) -> str | None:
    """The daily dose several products of one supplement give together, in words ("combined
    4,000 IU/day"), in the unit of its limit (elemental, IU converted) when it has one; None
    when a dose cannot be read or the units cannot be added."""
    facts = list(facts)
    ingredients = frozenset(i for f in facts for i in f.ingredients)
    limit = next(
        (lim for lim in kb.dose_limits if ingredients <= kb.limit_ingredients[lim.id]), None
    )
    if limit is not None:
        unit = limit.warn_above.unit
        parts = [_contribution(f, kb.limit_ingredients[limit.id], unit, kb) for f in facts]
        if any(p.amount is None for p in parts):
            return None
        bound = "" if all(p.exact for p in parts) else "at least "
        return f"combined {bound}{amount(_sum(parts), unit.strip('[]'))}/day"
    doses = [d for f in facts for d in f.doses.values()]
    units = {d.unit for d in doses}
    if len(doses) != sum(len(f.ingredients) for f in facts) or len(units) != 1:
        return None
    bound = "" if all(d.exact for d in doses) else "at least "
    return f"combined {bound}{amount(sum(d.amount for d in doses), units.pop())}/day"
