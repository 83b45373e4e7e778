"""search indexes (PostgreSQL pg_trgm and full text, SQLite FTS5)

Revision ID: 5ea7c4f75e01
Revises: db735443bd74
Create Date: 2026-11-25 08:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5ea7c4f75e01'
down_revision = 'db735443bd74'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
