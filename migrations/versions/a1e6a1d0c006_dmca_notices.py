"""dmca_notices: copyright takedown notices and counter-notices; vods.disabled_at

Revision ID: a1e6a1d0c006
Revises: a1e6a1d0c005
Create Date: 2026-12-07 07:15:29.977133

"""
from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = 'a1e6a1d0c006'
down_revision = 'a1e6a1d0c005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dmca_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vod_id', sa.Integer(), nullable=True),
    sa.Column('uploader_id', sa.Integer(), nullable=True),
    sa.Column('material_label', sa.String(length=300), nullable=False),
    sa.Column('material_url', sa.String(length=500), nullable=False),
    sa.Column('work', sa.Text(), nullable=False),
    sa.Column('claimant_name', sa.String(length=200), nullable=False),
    sa.Column('claimant_address', sa.Text(), nullable=False),
    sa.Column('claimant_phone', sa.String(length=64), nullable=False),
    sa.Column('claimant_email', sa.String(length=254), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='disabled', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('strike_id', sa.Integer(), nullable=True),
    sa.Column('counter_name', sa.String(length=200), nullable=True),
    sa.Column('counter_address', sa.Text(), nullable=True),
    sa.Column('counter_phone', sa.String(length=64), nullable=True),
    sa.Column('counter_statement', sa.Text(), nullable=True),
    sa.Column('counter_received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('restore_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('disabled', 'counter_noticed', 'restored', 'lawsuit', 'retracted')", name=op.f('ck_dmca_notices_state')),
    sa.ForeignKeyConstraint(['strike_id'], ['sanctions.id'], name=op.f('fk_dmca_notices_strike_id_sanctions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], name=op.f('fk_dmca_notices_uploader_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vod_id'], ['vods.id'], name=op.f('fk_dmca_notices_vod_id_vods'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dmca_notices'))
    )
    with op.batch_alter_table('dmca_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dmca_notices_restore_at'), ['restore_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_dmca_notices_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_dmca_notices_uploader_id'), ['uploader_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dmca_notices_vod_id'), ['vod_id'], unique=False)

    with op.batch_alter_table('vods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()


def downgrade():
    with op.batch_alter_table('vods', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')

    with op.batch_alter_table('dmca_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dmca_notices_vod_id'))
        batch_op.drop_index(batch_op.f('ix_dmca_notices_uploader_id'))
        batch_op.drop_index(batch_op.f('ix_dmca_notices_state'))
        batch_op.drop_index(batch_op.f('ix_dmca_notices_restore_at'))

    op.drop_table('dmca_notices')
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()
