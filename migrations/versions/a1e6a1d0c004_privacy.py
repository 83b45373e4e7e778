"""privacy rights: data exports, the erasure dates and the Sec-GPC opt-out on users

Revision ID: a1e6a1d0c004
Revises: a1e6a1d0c003
Create Date: 2026-12-07 07:02:00.000000

"""
from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = 'a1e6a1d0c004'
down_revision = 'a1e6a1d0c003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('data_exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('object_key', sa.String(length=255), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.CheckConstraint("state IN ('queued', 'building', 'ready', 'failed', 'expired')",
                       name=op.f('ck_data_exports_state')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_data_exports_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_exports_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_exports_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erase_after', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('gpc_opt_out_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_erase_after'), ['erase_after'], unique=False)
    # Batch mode rebuilds users on SQLite, dropping the search index's triggers on it.
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_erase_after'))
        batch_op.drop_column('gpc_opt_out_at')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('erase_after')
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()

    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_exports_user_id'))
        batch_op.drop_index(batch_op.f('ix_data_exports_expires_at'))
    op.drop_table('data_exports')
