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
    pass


def downgrade():
    pass
