"""Therapeutic duplication at order time (``order_checks.yaml`` duplication): the same
supplement ordered while it is already taken, or ordered twice at once.

"The same supplement" is the same intervention (any of its products: ferrous sulfate and
ferrous gluconate are both iron), read through the one recognition table. An active order or
statement counts (over-the-counter included); one stopped, or only within a washout window,
does not; an order revised and re-signed (the draft *is* the active order) is not a duplicate.
Alternatives of one pathway and LAT1 competitors are safety rules (safety.yaml D2, D3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import DuplicationRule
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot


@dataclass(frozen=True, slots=True)
class Duplicate:
    rule: DuplicationRule
    order: MedicationFact
    interventions: tuple[str, ...]  # the supplements taken twice
    others: tuple[MedicationFact, ...]  # active products already taken, then other drafts


def duplicates(
    focus: Iterable[MedicationFact], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[Duplicate]:
    """Every draft in focus that duplicates a supplement taken or ordered alongside it."""
    found = []
    drafts = list(snapshot.drafts)
    for rule in kb.duplication:
        for order in focus:
            wanted = {
                i for i in order.interventions if not rule.interventions or i in rule.interventions
            }
            if not wanted:
                continue
            taken = [
                m
                for m in snapshot.medications
                if m.active and m.ref != order.ref and wanted.intersection(m.interventions)
            ]
            position = drafts.index(order) if order in drafts else len(drafts)
            # Two drafts of one supplement: reported once, on the later one when both are in
            # focus (order-select with one selected: on the selected one).
            ordered = [
                d
                for index, d in enumerate(drafts)
                if d is not order
                and d.ref != order.ref
                and wanted.intersection(d.interventions)
                and (index < position or not d.selected)
            ]
            if taken or ordered:
                shared = tuple(
                    i
                    for i in order.interventions
                    if i in wanted and any(i in m.interventions for m in (*taken, *ordered))
                )
                found.append(Duplicate(rule, order, shared, (*taken, *ordered)))
    return found
