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
    with op.batch_alter_table('donation_addresses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_symbol', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('token_contract', sa.String(length=42), nullable=True))
        batch_op.create_unique_constraint('uq_donation_addresses_entry',
                                          ['user_id', 'currency', 'address', 'token_symbol'])


def downgrade():
    with op.batch_alter_table('donation_addresses', schema=None) as batch_op:
        batch_op.drop_constraint('uq_donation_addresses_entry', type_='unique')
        batch_op.drop_column('token_contract')
        batch_op.drop_column('token_symbol')
