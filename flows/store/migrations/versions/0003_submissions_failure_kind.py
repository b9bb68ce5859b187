"""Each unreadable file records the kind of reason it could not be read, and its values.

Reports, summaries, the note beside the file in failed/ and `status` say why in Swedish, worded
from the kind (models/messages.py, FAILURES); the reason in English stays for the logs. A file
that failed before has no kind: it is said with its English reason until it is read again
(`rerun --failed`), which records the kind.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("failure_kind", sa.String(32), nullable=True))
    op.add_column("submissions", sa.Column("failure_values", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("failure_values")
        batch.drop_column("failure_kind")
