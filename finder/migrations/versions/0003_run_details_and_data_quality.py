"""run details and data-quality notes

``ingest_runs.details``: a source's own run report (services seen, recognised
and by what, rejected by reason; ODS rows skipped as out of scope, postcodes
kept as published). ``gp_surgeries.data_quality_note``: why a practice has no
coordinates (its postcode is kept as ODS published it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
    with op.batch_alter_table("gp_surgeries") as batch:
        batch.add_column(sa.Column("data_quality_note", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gp_surgeries") as batch:
        batch.drop_column("data_quality_note")
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_column("details")
