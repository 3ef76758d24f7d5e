"""Links added to every card after rendering: the SMART app link (issue 18).

One place, so the card renderers stay free of launch plumbing. The ``appContext`` names the
card and its rules and nothing else: it travels through the EHR and its authorization server,
so it must hold no patient data. The app reads it back to open the page at the card clicked.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from cds_service.cards.record import RenderedCard
from cds_service.protocol.messages import Link

SMART_LINK_LABEL = "Open trends and reasoning"


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
