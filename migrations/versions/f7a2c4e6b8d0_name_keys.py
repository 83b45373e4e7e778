"""name_keys: lookalike keys (UTS #39 skeletons) of every username and display name

Revision ID: f7a2c4e6b8d0
Revises: e3a1f0c9b2d4
Create Date: 2026-12-08 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f7a2c4e6b8d0'
down_revision = 'e3a1f0c9b2d4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('name_keys',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_name_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_name_keys'))
    )
    with op.batch_alter_table('name_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_name_keys_key'), ['key'], unique=False)

    # Existing members' names, so new names are checked against theirs from the start.
    from app.auth.names import name_keys

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT users.id, users.username, profiles.display_name FROM users "
        "LEFT JOIN profiles ON profiles.user_id = users.id")).all()
    table = sa.table('name_keys', sa.column('user_id', sa.Integer()), sa.column('key', sa.String()))
    keys = [{"user_id": user_id, "key": key}
            for user_id, username, display_name in rows
            for key in name_keys(username) | (name_keys(display_name) if display_name else set())]
    if keys:
        op.bulk_insert(table, keys)


def downgrade():
    with op.batch_alter_table('name_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_name_keys_key'))

    op.drop_table('name_keys')
