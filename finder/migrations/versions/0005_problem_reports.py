"""problem reports

Reports of problems with a listing ("Report a problem with this listing"),
kept for operators (`finder reports list/close`), never shown publicly.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-02 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import finder.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('problem_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('practitioner_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('sender_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', finder.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', finder.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_note', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['practitioner_id'], ['practitioners.id'], name=op.f('fk_problem_reports_practitioner_id_practitioners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problem_reports'))
    )
    with op.batch_alter_table('problem_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problem_reports_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_problem_reports_practitioner_id'), ['practitioner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_problem_reports_sender_key'), ['sender_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('problem_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_problem_reports_sender_key'))
        batch_op.drop_index(batch_op.f('ix_problem_reports_practitioner_id'))
        batch_op.drop_index(batch_op.f('ix_problem_reports_created_at'))
    op.drop_table('problem_reports')
