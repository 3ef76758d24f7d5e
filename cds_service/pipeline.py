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
from cds_service.cards.links import with_smart_links, with_why_links
from cds_service.cards.orders import order_cards
from cds_service.cards.patient import alert_card, patient_view_cards
from cds_service.cards.record import CardAudit, RenderedCard
from cds_service.engine.assess import assess
from cds_service.engine.focus import current_supplements, focus
from cds_service.engine.orders import review_orders
from cds_service.engine.recommend import recommend
from cds_service.engine.safety import alert_hits, gate
from cds_service.fetch.result import PrefetchResult
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import EXTENSION_KEY, HookRequest
from cds_service.snapshot.facts import PatientSnapshot
from cds_service.snapshot.reader import build_snapshot

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
    *,
    knowledge_url: str | None = None,
    smart_launch_url: str | None = None,
) -> Evaluation:
    """Assess the patient and render the cards for this hook.

    With ``knowledge_url`` (the service's /knowledge pages), every card links to the basis of
    its rules; with ``smart_launch_url`` (the companion app is on), to the app as well.
    """
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
        # Supplements already taken are never suggested again: their rechecks, and the findings
        # they answer, are follow-up items on the labs card (engine/focus.py).
        current = current_supplements(assessments, snapshot, kb)
        shown, decisions = focus(assessments, decisions, snapshot, kb)
        alerts = alert_hits(snapshot, kb)
        rendered += patient_view_cards(shown, decisions, alerts, snapshot, kb, current)
    else:
        review = review_orders(snapshot, kb)
        rendered += [alert_card(review.alerts, kb)] if review.alerts else []
        rendered += order_cards(review, snapshot, kb)
        # Knowledge side of order time: do the data support the selected drafts?
        rendered += order_guidance_cards(assessments, snapshot, kb)
    rendered = fit_cards(rendered, kb)  # at most three, critical first
    if knowledge_url is not None:
        rendered = with_why_links(rendered, knowledge_url)
    if smart_launch_url is not None:
        rendered = with_smart_links(rendered, smart_launch_url)
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
