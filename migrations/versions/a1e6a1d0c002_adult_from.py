"""users.adult_from replaces users.birth_date: the date of birth is checked at signup, not kept

Revision ID: a1e6a1d0c002
Revises: a1e6a1d0c001
Create Date: 2026-12-07 04:40:00.000000

"""
from datetime import date

from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = 'a1e6a1d0c002'
down_revision = 'a1e6a1d0c001'
branch_labels = None
depends_on = None


def upgrade():
    from app.auth.age import adult_from

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adult_from', sa.Date(), nullable=True))
    # Members who are minors today keep the month they come of age; every other date is dropped.
    bind = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('birth_date', sa.Date()),
                     sa.column('adult_from', sa.Date()))
    for user_id, born in bind.execute(sa.select(users.c.id, users.c.birth_date)
                                      .where(users.c.birth_date.is_not(None))).all():
        if isinstance(born, str):  # SQLite hands dates back as text here
            born = date.fromisoformat(born)
        if (coming_of_age := adult_from(born)) is not None:
            bind.execute(users.update().where(users.c.id == user_id).values(adult_from=coming_of_age))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('birth_date')
    if bind.dialect.name == "sqlite":
        reinstall_sqlite_triggers()


def downgrade():
    # The dates of birth are gone: downgrading leaves them empty.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_date', sa.Date(), nullable=True))
        batch_op.drop_column('adult_from')
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()
