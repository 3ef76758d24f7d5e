"""SMART app opens: one row per rule of the card the companion app was opened from (issue 18).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Autoincrementing keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "app_opens",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("launch_id", sa.String(36), nullable=False),
        sa.Column("opened_at", TIMESTAMP, nullable=False),
        sa.Column("card_uuid", sa.String(200), nullable=True),
        sa.Column("rule_id", sa.String(200), nullable=True),
        sa.Column("knowledge_version", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_opens"),
    )
    op.create_index("ix_app_opens_opened_at", "app_opens", ["opened_at"])
    op.create_index("ix_app_opens_rule_id", "app_opens", ["rule_id"])


def downgrade() -> None:
    op.drop_table("app_opens")
