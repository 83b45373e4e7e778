"""content labels on channels and VODs, VODs' mature flag, the mature pass and label filter on users

Revision ID: a1e6a1d0c005
Revises: a1e6a1d0c004
Create Date: 2026-12-07 07:06:29.507684

"""
from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = 'a1e6a1d0c005'
down_revision = 'a1e6a1d0c004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_labels', sa.JSON(), server_default='[]', nullable=False))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mature_passed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hide_labelled', sa.Boolean(), server_default='0', nullable=False))

    with op.batch_alter_table('vods', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mature', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('content_labels', sa.JSON(), server_default='[]', nullable=False))
    # Should batch mode rebuild users or channels on SQLite, the search index's triggers go with them.
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()


def downgrade():
    with op.batch_alter_table('vods', schema=None) as batch_op:
        batch_op.drop_column('content_labels')
        batch_op.drop_column('mature')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('hide_labelled')
        batch_op.drop_column('mature_passed_at')

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('content_labels')
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()
