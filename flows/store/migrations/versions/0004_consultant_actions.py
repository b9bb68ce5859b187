"""What consultants do with the applications, each with who did it and when.

Corrections of a version's fields, applications (or unreadable files) marked handled, decisions,
and letters to applicants (flows/store/actions.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def _who() -> list[sa.Column[object]]:
    return [sa.Column("done_by", sa.String(128), nullable=False),
            sa.Column("done_at", _WHEN, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        *_who(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"]),
    )
    op.create_index("ix_corrections_version_id", "corrections", ["version_id"])
    op.create_table(
        "handlings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("handled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        *_who(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
    )
    op.create_index("ix_handlings_application_id", "handlings", ["application_id"])
    op.create_index("ix_handlings_submission_id", "handlings", ["submission_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        *_who(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"]),
    )
    op.create_index("ix_decisions_application_id", "decisions", ["application_id"])
    op.create_table(
        "letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("draft_path", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        *_who(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
    )
    op.create_index("ix_letters_application_id", "letters", ["application_id"])


def downgrade() -> None:
    for table in ("letters", "decisions", "handlings", "corrections"):
        op.drop_table(table)
