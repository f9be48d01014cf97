"""store changes

A row per committed write to the listings, in commit order, so that every
host's search index knows it must catch up (finder.changes).

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-02 02:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import finder.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('store_changes',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('changed_at', finder.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('command', sa.String(length=64), nullable=False),
    sa.Column('listings', sa.Integer(), nullable=False),
    sa.Column('earliest', finder.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_store_changes'))
    )


def downgrade() -> None:
    op.drop_table('store_changes')
