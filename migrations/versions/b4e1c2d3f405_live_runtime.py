"""Live runtime: a session's mode, owner host and lease token, playable time; Stop's cool-down

Revision ID: b4e1c2d3f405
Revises: 7c0d5e1f2a3b
Create Date: 2026-12-05 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4e1c2d3f405'
down_revision = '7c0d5e1f2a3b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stream_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('mode_reason', sa.String(length=400), server_default='', nullable=False))
        batch_op.add_column(sa.Column('host', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('lease_token', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('playable_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('announced', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ingest_url', sa.String(length=255), nullable=True))
    # A plain ADD COLUMN: a batch rebuild of `channels` on SQLite would drop its search triggers.
    op.add_column('channels', sa.Column('publish_blocked_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('channels', 'publish_blocked_until')
    with op.batch_alter_table('stream_sessions', schema=None) as batch_op:
        for name in ('ingest_url', 'announced', 'playable_at', 'lease_token', 'host', 'mode_reason', 'mode'):
            batch_op.drop_column(name)
