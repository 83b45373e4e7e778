"""follow notifications

Revision ID: f0110e5a0b01
Revises: 5ea7c4f75e01
Create Date: 2026-11-25 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f0110e5a0b01'
down_revision = '5ea7c4f75e01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), server_default='live', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_notifications_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['stream_sessions.id'], name=op.f('fk_notifications_session_id_stream_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('user_id', 'session_id', name='uq_notifications_user_session')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_session_id'), ['session_id'], unique=False)
        # The bell's unread count: WHERE user_id = ? AND read_at IS NULL.
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')
        batch_op.drop_index(batch_op.f('ix_notifications_session_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_channel_id'))

    op.drop_table('notifications')
