"""structured opening hours

Each location's opening hours become weekly intervals plus a note
(finder.hours.OpeningHours, stored as JSON). Existing free text is read with
the same parser the importers use; whatever it cannot read is kept as the note,
so no text is lost. Downgrading writes the hours back as text.

Revision ID: 0004
Revises: 0003 (0002 on its own branch; rechained when issue-10 was merged in)
Create Date: 2026-12-02 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_locations = sa.table(
    "practitioner_locations",
    sa.column("id", sa.Integer()),
    sa.column("opening_hours", sa.String(300)),
    sa.column("opening_hours_json", sa.JSON()),
)


def upgrade() -> None:
    from finder.hours import parse_hours

    with op.batch_alter_table("practitioner_locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opening_hours_json", sa.JSON(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_locations.c.id, _locations.c.opening_hours).where(_locations.c.opening_hours.is_not(None))
    ).all()
    # Many locations share the same few texts: parse each text once.
    parsed: dict[str, object] = {}
    for location_id, text in rows:
        if text not in parsed:
            hours = parse_hours(text)
            parsed[text] = hours.model_dump(mode="json") if hours is not None else None
        connection.execute(
            sa.update(_locations).where(_locations.c.id == location_id).values(opening_hours_json=parsed[text])
        )
    with op.batch_alter_table("practitioner_locations", schema=None) as batch_op:
        batch_op.drop_column("opening_hours")
        batch_op.alter_column("opening_hours_json", new_column_name="opening_hours", existing_type=sa.JSON())


def downgrade() -> None:
    from finder.hours import OpeningHours

    with op.batch_alter_table("practitioner_locations", schema=None) as batch_op:
        batch_op.alter_column("opening_hours", new_column_name="opening_hours_json", existing_type=sa.JSON())
    with op.batch_alter_table("practitioner_locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opening_hours", sa.String(length=300), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_locations.c.id, _locations.c.opening_hours_json).where(_locations.c.opening_hours_json.is_not(None))
    ).all()
    for location_id, value in rows:
        if not value:
            continue
        text = str(OpeningHours.model_validate(value))[:300] or None
        connection.execute(sa.update(_locations).where(_locations.c.id == location_id).values(opening_hours=text))
    with op.batch_alter_table("practitioner_locations", schema=None) as batch_op:
        batch_op.drop_column("opening_hours_json")
