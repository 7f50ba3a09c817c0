"""Scenarios have an owner: the token that created them (only it or a facilitator may edit).

Existing scenarios get the token of their creator where exactly one token of the workshop has
that display name; otherwise the owner stays empty and only a facilitator may edit them.

Revision ID: 0002_scenario_owner
Revises: 0001_initial
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_scenario_owner"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_scenarios_owner_token_id_tokens"


def upgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.add_column(sa.Column("owner_token_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(FK, "tokens", ["owner_token_id"], ["id"])
    op.execute(
        """UPDATE scenarios SET owner_token_id = (
             SELECT t.id FROM tokens t
             WHERE t.workshop_id = scenarios.workshop_id AND t.display_name = scenarios.created_by)
           WHERE (SELECT count(*) FROM tokens t
                  WHERE t.workshop_id = scenarios.workshop_id
                    AND t.display_name = scenarios.created_by) = 1"""
    )


def downgrade() -> None:
    with op.batch_alter_table("scenarios") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.drop_column("owner_token_id")
