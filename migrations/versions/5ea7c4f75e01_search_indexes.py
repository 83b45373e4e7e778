"""search indexes (PostgreSQL pg_trgm and full text, SQLite FTS5)

Revision ID: 5ea7c4f75e01
Revises: db735443bd74
Create Date: 2026-11-25 08:00:00.000000

The search structures live outside the models, so `flask db check` skips them by name
(`app.directory.search.is_search_structure`, wired into migrations/env.py):

- PostgreSQL: the pg_trgm extension, GIN trigram indexes and a GIN full-text index, all
  named `ix_search_*`. Queries must use the very expressions indexed here.
- SQLite: FTS5 tables `fts_channels`, `fts_users`, `fts_categories` (trigram tokenizer,
  SQLite >= 3.34) that keep their own copy of the text, kept in sync by triggers on the
  base tables. A later batch migration that rebuilds `channels`, `users`, `profiles` or
  `categories` drops that table's triggers: call `install_sqlite()` from this module again
  at its end.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5ea7c4f75e01'
down_revision = 'db735443bd74'
branch_labels = None
depends_on = None

POSTGRESQL_INDEXES = {
    "ix_search_channels_slug_trgm": "channels USING gin (slug gin_trgm_ops)",
    "ix_search_channels_title_trgm": "channels USING gin (lower(title) gin_trgm_ops)",
    "ix_search_channels_text": "channels USING gin (to_tsvector('simple'::regconfig, slug || ' ' || title))",
    "ix_search_users_username_trgm": "users USING gin (username_lower gin_trgm_ops)",
    "ix_search_profiles_display_name_trgm":
        "profiles USING gin (lower(coalesce(display_name, '')) gin_trgm_ops)",
    "ix_search_categories_name_trgm": "categories USING gin (lower(name) gin_trgm_ops)",
}

# Tags are a JSON list; the index gets them as words.
_TAGS = "coalesce((SELECT group_concat(value, ' ') FROM json_each({row}.tags)), '')"

SQLITE_TABLES = {
    "fts_channels": "slug, title, tags",
    "fts_users": "username, display_name",
    "fts_categories": "name, slug",
}

SQLITE_TRIGGERS = [
    # channels
    f"""CREATE TRIGGER fts_channels_ai AFTER INSERT ON channels BEGIN
          INSERT INTO fts_channels(rowid, slug, title, tags)
          VALUES (new.id, new.slug, new.title, {_TAGS.format(row='new')});
        END""",
    """CREATE TRIGGER fts_channels_ad AFTER DELETE ON channels BEGIN
          DELETE FROM fts_channels WHERE rowid = old.id;
        END""",
    f"""CREATE TRIGGER fts_channels_au AFTER UPDATE OF slug, title, tags ON channels BEGIN
          UPDATE fts_channels SET slug = new.slug, title = new.title, tags = {_TAGS.format(row='new')}
          WHERE rowid = new.id;
        END""",
    # users, with the display name from their profile
    """CREATE TRIGGER fts_users_ai AFTER INSERT ON users BEGIN
          INSERT INTO fts_users(rowid, username, display_name)
          VALUES (new.id, new.username,
                  coalesce((SELECT display_name FROM profiles WHERE user_id = new.id), ''));
        END""",
    """CREATE TRIGGER fts_users_ad AFTER DELETE ON users BEGIN
          DELETE FROM fts_users WHERE rowid = old.id;
        END""",
    """CREATE TRIGGER fts_users_au AFTER UPDATE OF username ON users BEGIN
          UPDATE fts_users SET username = new.username WHERE rowid = new.id;
        END""",
    """CREATE TRIGGER fts_profiles_ai AFTER INSERT ON profiles BEGIN
          UPDATE fts_users SET display_name = coalesce(new.display_name, '') WHERE rowid = new.user_id;
        END""",
    """CREATE TRIGGER fts_profiles_au AFTER UPDATE OF display_name ON profiles BEGIN
          UPDATE fts_users SET display_name = coalesce(new.display_name, '') WHERE rowid = new.user_id;
        END""",
    """CREATE TRIGGER fts_profiles_ad AFTER DELETE ON profiles BEGIN
          UPDATE fts_users SET display_name = '' WHERE rowid = old.user_id;
        END""",
    # categories
    """CREATE TRIGGER fts_categories_ai AFTER INSERT ON categories BEGIN
          INSERT INTO fts_categories(rowid, name, slug) VALUES (new.id, new.name, new.slug);
        END""",
    """CREATE TRIGGER fts_categories_ad AFTER DELETE ON categories BEGIN
          DELETE FROM fts_categories WHERE rowid = old.id;
        END""",
    """CREATE TRIGGER fts_categories_au AFTER UPDATE OF name, slug ON categories BEGIN
          UPDATE fts_categories SET name = new.name, slug = new.slug WHERE rowid = new.id;
        END""",
]

SQLITE_FILL = [
    (f"INSERT INTO fts_channels(rowid, slug, title, tags) "
     f"SELECT id, slug, title, {_TAGS.format(row='channels')} FROM channels"),
    ("INSERT INTO fts_users(rowid, username, display_name) "
     "SELECT users.id, users.username, coalesce(profiles.display_name, '') "
     "FROM users LEFT JOIN profiles ON profiles.user_id = users.id"),
    "INSERT INTO fts_categories(rowid, name, slug) SELECT id, name, slug FROM categories",
]


def _trigger_names():
    return [statement.split()[2] for statement in SQLITE_TRIGGERS]


def install_sqlite():
    """(Re)create the FTS5 tables and triggers and fill them from the base tables."""
    uninstall_sqlite()
    for table, columns in SQLITE_TABLES.items():
        op.execute(f"CREATE VIRTUAL TABLE {table} USING fts5({columns}, tokenize='trigram')")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    for statement in SQLITE_FILL:
        op.execute(statement)


def uninstall_sqlite():
    for name in _trigger_names():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in SQLITE_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, target in POSTGRESQL_INDEXES.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    elif dialect == "sqlite":
        install_sqlite()


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name in POSTGRESQL_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        # The extension stays: other databases objects may use it, and it costs nothing.
    elif dialect == "sqlite":
        uninstall_sqlite()
