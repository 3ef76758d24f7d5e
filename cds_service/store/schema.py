"""The audit tables, as SQLAlchemy Core metadata.

This module is the single description of the schema; the Alembic revisions in
``migrations/versions`` must produce exactly this (``tests/store/test_store_migrations.py``
compares them on SQLite and PostgreSQL). Nothing here holds patient data: the patient is a
keyed hash, and strings that come from the client are bounded before they are written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Bounds for strings the EHR chooses; ours (uuids, kinds, topics) are far shorter.
MAX_ID_LENGTH = 200
MAX_CODE_LENGTH = 500


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    SQLite has no time zone type and SQLAlchemy drops ``tzinfo`` when it writes there, so
    values are converted to UTC before they are bound and marked UTC when they are read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


invocations = sa.Table(
    "invocations",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("hook_instance", sa.String(MAX_ID_LENGTH), nullable=False, index=True),
    sa.Column("service_id", sa.String(MAX_ID_LENGTH), nullable=False),
    sa.Column("hook", sa.String(MAX_ID_LENGTH), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False, index=True),
    # HMAC-SHA256(CDS_AUDIT_KEY, patient id), hex; NULL when no key is configured.
    sa.Column("patient_ref", sa.String(64), nullable=True, index=True),
    # Which key made patient_ref (a fingerprint, not the key), so rotations stay auditable.
    sa.Column("patient_key_id", sa.String(16), nullable=True),
    sa.Column("knowledge_version", sa.String(MAX_ID_LENGTH), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)
sa.Index("ix_invocations_service_started", invocations.c.service_id, invocations.c.started_at)

cards = sa.Table(
    "cards",
    metadata,
    sa.Column("uuid", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column(
        "invocation_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("invocations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("indicator", sa.String(20), nullable=False),
    sa.Column("topic", sa.String(MAX_ID_LENGTH), nullable=False),
    # The card's rules in the order it named them; ``card_rules`` holds the same, one row each,
    # for the report to count per rule in SQL on both backends.
    sa.Column("rule_ids", sa.JSON, nullable=False),
)

card_rules = sa.Table(
    "card_rules",
    metadata,
    sa.Column(
        "card_uuid",
        sa.String(MAX_ID_LENGTH),
        sa.ForeignKey("cards.uuid", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("rule_id", sa.String(MAX_ID_LENGTH), primary_key=True, index=True),
)

suggestions = sa.Table(
    "suggestions",
    metadata,
    sa.Column(
        "card_uuid",
        sa.String(MAX_ID_LENGTH),
        sa.ForeignKey("cards.uuid", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("uuid", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(MAX_ID_LENGTH), nullable=False),
    # Whether ``suggestion_rules`` says which of the card's rules the suggestion came from.
    # False for suggestions recorded before revision 0003: the report then counts their
    # acceptance for every rule of their card, the only attribution there is for them.
    sa.Column("rules_recorded", sa.Boolean, nullable=False, server_default=sa.false()),
)

# The rules a suggestion came from (issue 15): accepting it counts as acceptance for these
# rules, not for every rule of its card. No row for a suggestion no rule asks for.
suggestion_rules = sa.Table(
    "suggestion_rules",
    metadata,
    sa.Column("card_uuid", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column("suggestion_uuid", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column("rule_id", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.ForeignKeyConstraint(
        ["card_uuid", "suggestion_uuid"],
        ["suggestions.card_uuid", "suggestions.uuid"],
        ondelete="CASCADE",
    ),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    # sha256 of the item's canonical form: the same feedback posted twice is one row.
    sa.Column("identity", sa.String(64), nullable=False, unique=True),
    sa.Column("service_id", sa.String(MAX_ID_LENGTH), nullable=False),
    # No foreign key: feedback for a card this store never saw is kept, and flagged.
    sa.Column("card_uuid", sa.String(MAX_ID_LENGTH), nullable=False, index=True),
    sa.Column("card_known", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("outcome_at", UTCDateTime, nullable=False),
    sa.Column("reason_system", sa.String(MAX_CODE_LENGTH), nullable=True),
    sa.Column("reason_code", sa.String(MAX_CODE_LENGTH), nullable=True),
    sa.Column("reason_display", sa.Text, nullable=True),
    # Free text typed by the clinician: never logged, never printed by the report.
    sa.Column("user_comment", sa.Text, nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False, index=True),
)

feedback_suggestions = sa.Table(
    "feedback_suggestions",
    metadata,
    sa.Column(
        "feedback_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("feedback.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("suggestion_uuid", sa.String(MAX_ID_LENGTH), primary_key=True),
)

# The SMART companion app was opened (issue 18): one row per rule of the card it was opened
# from (rule_id NULL when the launch named none). CDS Hooks has no feedback for app launches;
# this is how `cds-service report` counts how often clinicians open the reasoning. No patient
# reference at all: the card uuid and rule ids come from the link's appContext.
app_opens = sa.Table(
    "app_opens",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    # One launch, several rows: the launch's id groups them.
    sa.Column("launch_id", sa.String(36), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False, index=True),
    sa.Column("card_uuid", sa.String(MAX_ID_LENGTH), nullable=True),
    sa.Column("rule_id", sa.String(MAX_ID_LENGTH), nullable=True, index=True),
    sa.Column("knowledge_version", sa.String(MAX_ID_LENGTH), nullable=False),
)
