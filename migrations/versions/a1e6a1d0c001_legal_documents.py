"""legal_documents: versions of the terms, privacy and copyright pages; users.legal_seen_at

Revision ID: a1e6a1d0c001
Revises: f7a2c4e6b8d0
Create Date: 2026-12-07 04:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

from migrations.search import reinstall_sqlite_triggers


# revision identifiers, used by Alembic.
revision = 'a1e6a1d0c001'
down_revision = 'f7a2c4e6b8d0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('legal_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('summary', sa.String(length=500), server_default='', nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('terms', 'privacy', 'dmca')", name=op.f('ck_legal_documents_kind')),
    sa.CheckConstraint('version > 0', name=op.f('ck_legal_documents_version')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_legal_documents_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_documents')),
    sa.UniqueConstraint('kind', 'version', name=op.f('uq_legal_documents_kind'))
    )
    with op.batch_alter_table('legal_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_documents_published_at'), ['published_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_seen_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('legal_seen_at')
    if op.get_bind().dialect.name == "sqlite":
        reinstall_sqlite_triggers()
    with op.batch_alter_table('legal_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_documents_published_at'))
    op.drop_table('legal_documents')
