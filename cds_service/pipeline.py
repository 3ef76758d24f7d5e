"""One service call, from resolved request data to the response document: a pure function.

snapshot -> assess -> recommend -> safety -> cards. The HTTP layer (app.py) and the offline
``cds-service evaluate`` command both call ``evaluate``; it does no I/O and reads the clock only
through its ``now`` argument, so every stage is reproducible in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_service.cards.budget import fit_cards
from cds_service.cards.guidance import order_guidance_cards
from cds_service.cards.orders import order_cards
from cds_service.cards.pathway import pathway_cards
from cds_service.cards.record import CardAudit, RenderedCard
from cds_service.cards.safety import alert_cards, prompt_cards
from cds_service.engine.assess import assess
from cds_service.engine.orders import review_orders
from cds_service.engine.recommend import recommend
from cds_service.engine.safety import alert_hits, gate
from cds_service.fetch.result import PrefetchResult
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import HookRequest
from cds_service.snapshot.facts import PatientSnapshot
from cds_service.snapshot.reader import build_snapshot

EXTENSION_KEY = "org.neurotransmitter-cds"
ALLERGIES_KEY = "allergies"  # the prefetch key of hooks/*.yaml that reads AllergyIntolerance


@dataclass(frozen=True, slots=True)
class Evaluation:
    response: dict[str, Any]
    cards: tuple[CardAudit, ...]
    snapshot: PatientSnapshot


def evaluate(
    request: HookRequest,
    prefetch: PrefetchResult,
    kb: KnowledgeBase,
    now: datetime,
) -> Evaluation:
    """Assess the patient and render the cards for this hook."""
    context = request.context
    snapshot = build_snapshot(
        kb,
        patient_id=request.patient_id,
        now=now,
        prefetch_values=prefetch.values.values(),
        draft_orders=context.get("draftOrders"),
        selections=context.get("selections"),
        allergies_read=_allergies_read(prefetch),
    )
    assessments = assess(snapshot, kb)
    decisions = gate(recommend(assessments, snapshot, kb), snapshot, kb)
    rendered: list[RenderedCard] = []
    if request.hook == "patient-view":
        # Critical safety alerts (suicide risk) come first, before any pathway card.
        rendered += alert_cards(alert_hits(snapshot, kb), kb)
        rendered += pathway_cards(assessments, decisions, snapshot, kb)
        rendered += prompt_cards(snapshot, kb)
    else:
        review = review_orders(snapshot, kb)
        rendered += alert_cards(review.alerts, kb)
        rendered += order_cards(review, snapshot, kb)
        # Knowledge side of order time: do the data support the selected drafts?
        rendered += order_guidance_cards(assessments, snapshot, kb, review.blocked)
        rendered = fit_cards(rendered, kb)
    extension: dict[str, Any] = {"knowledgeVersion": kb.version}
    notes = _data_notes(prefetch)
    if notes:
        extension["dataNotes"] = notes
    response = {
        "cards": [r.card.wire() for r in rendered],
        "extension": {EXTENSION_KEY: extension},
    }
    return Evaluation(response, tuple(r.audit for r in rendered), snapshot)


def _allergies_read(prefetch: PrefetchResult) -> bool:
    """False when the service asked for the patient's allergies and could not get them (absent
    from prefetch and not fetched, or a failed read): cards then say "allergies not checked"."""
    return ALLERGIES_KEY not in prefetch.incomplete


def _data_notes(prefetch: PrefetchResult) -> list[str]:
    notes = [f"{key}: could not be obtained; not checked" for key in prefetch.incomplete]
    notes += [
        f"{key}: more pages than the service reads; later results not checked"
        for key in prefetch.truncated
    ]
    return notes
