"""The search migration (5ea7c4f75e01) as a module. Its file name starts with a digit, so it has
no plain import: later migrations that rebuild a searched table on SQLite (a batch rebuild drops
the table's FTS triggers) put the triggers back through here, and the tests check them."""
import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def search_migration() -> ModuleType:
    path = next((Path(__file__).parent / "versions").glob("5ea7c4f75e01_*.py"))
    spec = importlib.util.spec_from_file_location("search_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reinstall_sqlite_triggers() -> None:
    """Install the search triggers again (SQLite only; PostgreSQL searches through indexes)."""
    search_migration().install_sqlite()
