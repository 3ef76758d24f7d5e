"""Links added to every card after rendering: the basis of its rules, and the SMART app.

One place, so the card renderers stay free of URLs. The "Why" link opens the PHI-free
knowledge page of the card's rules (statements, thresholds in both unit systems, evidence,
the safety rules checked): what the card no longer prints is one click away. The ``appContext`` names the
card and its rules and nothing else: it travels through the EHR and its authorization server,
so it must hold no patient data. The app reads it back to open the page at the card clicked.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

import orjson

from cds_service.cards.record import RenderedCard
from cds_service.protocol.messages import Link

SMART_LINK_LABEL = "Open trends and reasoning"
WHY_LINK_LABEL = "Why: rules, thresholds, evidence"


def why_url(knowledge_url: str, rule_ids: Iterable[str]) -> str:
    """The knowledge page of these rules (their ids are public: no patient data)."""
    return f"{knowledge_url}/why?rules={quote(','.join(rule_ids), safe=',.')}"


def with_why_links(rendered: Iterable[RenderedCard], knowledge_url: str) -> list[RenderedCard]:
    """Every card with an ``absolute`` link to the knowledge page of its rules."""
    linked = []
    for item in rendered:
        if not item.audit.rule_ids:
            linked.append(item)
            continue
        link = Link(
            label=WHY_LINK_LABEL, url=why_url(knowledge_url, item.audit.rule_ids), type="absolute"
        )
        card = item.card.model_copy(update={"links": [*(item.card.links or ()), link]})
        linked.append(RenderedCard(card, item.audit))
    return linked


def app_context(card_uuid: str, rule_ids: Iterable[str]) -> str:
    """The launch context of a card's smart link: its uuid and rule ids, as compact JSON."""
    return orjson.dumps({"card": card_uuid, "rules": list(rule_ids)}).decode()


def with_smart_links(rendered: Iterable[RenderedCard], launch_url: str) -> list[RenderedCard]:
    """Every card with a ``smart`` link to the companion app's launch URL appended."""
    linked = []
    for item in rendered:
        link = Link(
            label=SMART_LINK_LABEL,
            url=launch_url,
            type="smart",
            appContext=app_context(item.audit.uuid, item.audit.rule_ids),
        )
        card = item.card.model_copy(update={"links": [*(item.card.links or ()), link]})
        linked.append(RenderedCard(card, item.audit))
    return linked
