"""name_keys recomputed: lookalike keys now take the skeleton of the name as typed, in lower case
and in capitals (app.auth.names.folded_forms), so "ALlCE" meets "alice"

Revision ID: b15a00000001
Revises: a1e6a1d0c007
Create Date: 2026-12-20 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b15a00000001'
down_revision = 'a1e6a1d0c007'
branch_labels = None
depends_on = None


def _recompute():
    # The keys are whatever app.auth.names computes today: both directions rebuild them.
    from app.auth.names import name_keys

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT users.id, users.username, profiles.display_name FROM users "
        "LEFT JOIN profiles ON profiles.user_id = users.id")).all()
    table = sa.table('name_keys', sa.column('user_id', sa.Integer()), sa.column('key', sa.String()))
    op.execute(table.delete())
    keys = [{"user_id": user_id, "key": key}
            for user_id, username, display_name in rows
            for key in sorted(name_keys(username) | (name_keys(display_name) if display_name else set()))]
    if keys:
        op.bulk_insert(table, keys)


def upgrade():
    _recompute()


def downgrade():
    _recompute()
