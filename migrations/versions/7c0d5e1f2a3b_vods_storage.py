"""VOD objects in storage, and recording retention per channel

Revision ID: 7c0d5e1f2a3b
Revises: a11ce0d0a7e5
Create Date: 2026-11-25 09:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = '7c0d5e1f2a3b'
down_revision = 'a11ce0d0a7e5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('vods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_prefix', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('download_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('thumbnails_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('size_bytes', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_vods_storage_prefix'), ['storage_prefix'])
    # A plain ADD COLUMN: a batch rebuild of `channels` on SQLite would drop its search triggers.
    op.add_column('channels', sa.Column('vod_retention_days', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('vod_retention_days')
    if op.get_bind().dialect.name == "sqlite":
        # The batch rebuild of `channels` dropped the search triggers: put them back.
        reinstall_sqlite_triggers()
    with op.batch_alter_table('vods', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_vods_storage_prefix'), type_='unique')
        batch_op.drop_column('started_at')
        batch_op.drop_column('size_bytes')
        batch_op.drop_column('thumbnails_key')
        batch_op.drop_column('download_key')
        batch_op.drop_column('storage_prefix')
