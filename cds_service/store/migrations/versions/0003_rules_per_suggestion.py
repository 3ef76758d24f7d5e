"""Rules per card and per suggestion, so the report counts acceptance per rule (issue 15).

``card_rules`` is filled from the existing ``cards.rule_ids`` JSON lists, in one statement per
backend. Existing suggestions keep ``rules_recorded`` false: which rule each came from was never
recorded, and the report counts their acceptance for every rule of their card, as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# One row per distinct rule id of each card (cut to the column's 200 characters, as the store
# cuts what it writes); anything in the list that is not a string is not a rule id.
_CARD_RULES_FROM_JSON = {
    "sqlite": """
        INSERT INTO card_rules (card_uuid, rule_id)
        SELECT DISTINCT cards.uuid, substr(rule.value, 1, 200)
        FROM cards, json_each(cards.rule_ids) AS rule
        WHERE json_type(cards.rule_ids) = 'array' AND rule.type = 'text'
    """,
    "postgresql": """
        INSERT INTO card_rules (card_uuid, rule_id)
        SELECT DISTINCT cards.uuid, left(rule.value #>> '{}', 200)
        FROM cards CROSS JOIN LATERAL json_array_elements(
            CASE WHEN json_typeof(cards.rule_ids) = 'array' THEN cards.rule_ids ELSE '[]' END
        ) AS rule(value)
        WHERE json_typeof(rule.value) = 'string'
    """,
}


def upgrade() -> None:
    op.add_column(
        "suggestions",
        sa.Column("rules_recorded", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "card_rules",
        sa.Column("card_uuid", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", "rule_id", name="pk_card_rules"),
        sa.ForeignKeyConstraint(
            ["card_uuid"],
            ["cards.uuid"],
            name="fk_card_rules_card_uuid_cards",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_card_rules_rule_id", "card_rules", ["rule_id"])
    op.create_table(
        "suggestion_rules",
        sa.Column("card_uuid", sa.String(200), nullable=False),
        sa.Column("suggestion_uuid", sa.String(200), nullable=False),
        sa.Column("rule_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint(
            "card_uuid", "suggestion_uuid", "rule_id", name="pk_suggestion_rules"
        ),
        sa.ForeignKeyConstraint(
            ["card_uuid", "suggestion_uuid"],
            ["suggestions.card_uuid", "suggestions.uuid"],
            name="fk_suggestion_rules_card_uuid_suggestions",
            ondelete="CASCADE",
        ),
    )
    op.execute(_CARD_RULES_FROM_JSON[op.get_bind().dialect.name])


def downgrade() -> None:
    op.drop_table("suggestion_rules")
    op.drop_table("card_rules")
    # SQLite rebuilds the table (batch mode, env.py); PostgreSQL drops the column.
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_column("rules_recorded")
