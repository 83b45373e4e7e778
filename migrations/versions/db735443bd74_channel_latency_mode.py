"""channel latency mode

Revision ID: db735443bd74
Revises: 054268341855
Create Date: 2026-11-26 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'db735443bd74'
down_revision = '054268341855'
branch_labels = None
depends_on = None


def upgrade():
    # Existing channels get "low", the same as new ones.
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latency_mode', sa.String(length=8), server_default='low', nullable=False))


def downgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('latency_mode')
