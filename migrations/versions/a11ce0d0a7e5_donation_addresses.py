"""donation addresses

Revision ID: a11ce0d0a7e5
Revises: 9b0f11e0ed17
Create Date: 2026-11-25 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a11ce0d0a7e5'
down_revision = '9b0f11e0ed17'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
