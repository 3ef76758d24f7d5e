"""What a rendered card carries: the wire card and the record the audit trail keeps of it.

The audit record holds ids, indicator, topic, rule ids and suggestion kinds: no patient data.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.protocol.messages import Card


@dataclass(frozen=True, slots=True)
class SuggestionAudit:
    uuid: str
    # What the suggestion does, e.g. "create:MedicationRequest", "create:ServiceRequest",
    # "delete:MedicationRequest"; several actions are joined with "+".
    kind: str
    # The rules of the card that led to this suggestion (the findings offering it, never a
    # safety rule that only cautions it): a card carries several rules, and an accepted
    # suggestion counts as acceptance for these rules only. Empty when none of the card's
    # rules asks for it.
    rule_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CardAudit:
    uuid: str
    indicator: str
    topic: str
    rule_ids: tuple[str, ...]
    suggestions: tuple[SuggestionAudit, ...]


@dataclass(frozen=True, slots=True)
class RenderedCard:
    card: Card
    audit: CardAudit
