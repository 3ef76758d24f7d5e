"""Audit tables: invocations, cards, suggestions, feedback, feedback_suggestions.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Autoincrementing keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invocations",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("hook_instance", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(200), nullable=False),
        sa.Column("hook", sa.String(200), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("patient_ref", sa.String(64), nullable=True),
        sa.Column("patient_key_id", sa.String(16), nullable=True),
        sa.Column("knowledge_version", sa.String(200), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invocations"),
    )
    op.create_index("ix_invocations_hook_instance", "invocations", ["hook_instance"])
    op.create_index("ix_invocations_started_at", "invocations", ["started_at"])
    op.create_index("ix_invocations_patient_ref", "invocations", ["patient_ref"])
    op.create_index("ix_invocations_service_started", "invocations", ["service_id", "started_at"])

    op.create_table(
        "cards",
        sa.Column("uuid", sa.String(200), nullable=False),
        sa.Column("invocation_id", BIGID, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("indicator", sa.String(20), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("rule_ids", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_cards"),
        sa.ForeignKeyConstraint(
            ["invocation_id"],
            ["invocations.id"],
            name="fk_cards_invocation_id_invocations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_cards_invocation_id", "cards", ["invocation_id"])

    op.create_table(
        "suggestions",
        sa.Column("card_uuid", sa.String(200), nullable=False),
        sa.Column("uuid", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", "uuid", name="pk_suggestions"),
        sa.ForeignKeyConstraint(
            ["card_uuid"],
            ["cards.uuid"],
            name="fk_suggestions_card_uuid_cards",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "feedback",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("identity", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(200), nullable=False),
        sa.Column("card_uuid", sa.String(200), nullable=False),
        sa.Column("card_known", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("outcome_at", TIMESTAMP, nullable=False),
        sa.Column("reason_system", sa.String(500), nullable=True),
        sa.Column("reason_code", sa.String(500), nullable=True),
        sa.Column("reason_display", sa.Text, nullable=True),
        sa.Column("user_comment", sa.Text, nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("identity", name="uq_feedback_identity"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])

    op.create_table(
        "feedback_suggestions",
        sa.Column("feedback_id", BIGID, nullable=False),
        sa.Column("suggestion_uuid", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("feedback_id", "suggestion_uuid", name="pk_feedback_suggestions"),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name="fk_feedback_suggestions_feedback_id_feedback",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("feedback_suggestions")
    op.drop_table("feedback")
    op.drop_table("suggestions")
    op.drop_table("cards")
    op.drop_table("invocations")
