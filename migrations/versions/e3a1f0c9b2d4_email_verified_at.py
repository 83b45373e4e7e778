"""users.email_verified_at: when the owner confirmed their address

Revision ID: e3a1f0c9b2d4
Revises: c5e55101d0e1
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = 'e3a1f0c9b2d4'
down_revision = 'c5e55101d0e1'
branch_labels = None
depends_on = None


def upgrade():
    # Accounts made before this revision count as unverified: their owners can verify from
    # Settings → Account.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()
