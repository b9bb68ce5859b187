"""Each result records the rules that checked it: checked again only when they change.

The nightly run checks a result again only when the rules have changed since. A result made
before has none: the next nightly run checks it once more and records the rules then in force
(flows/pipeline/revalidation.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("results", sa.Column("rules_fingerprint", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("rules_fingerprint")
