"""profile editor

Revision ID: 9b0f11e0ed17
Revises: f0110e5a0b01
Create Date: 2026-11-25 08:00:00.000000

"""


# revision identifiers, used by Alembic.
revision = '9b0f11e0ed17'
down_revision = 'f0110e5a0b01'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
