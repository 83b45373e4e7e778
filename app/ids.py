"""What a row id from a URL may be: a number some row can have, so the database is never asked about others."""
from werkzeug.routing import IntegerConverter, Map

# Every table's primary key is an INTEGER column: 32 bits on PostgreSQL, which refuses a larger
# bind outright (and SQLite's driver refuses anything past 64 bits). Raise this with the columns.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """`<int:...>` app-wide: a number past MAX_ROW_ID matches no route, so it is a 404."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ROW_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def row_id(text: str) -> int:
    """A row id from a query string, for `request.args.get(name, type=row_id)`: the ValueError
    for anything else makes Werkzeug answer the default instead."""
    if not (text.isascii() and text.isdigit()):  # int() would take " 12", "+12" and "١٢"
        raise ValueError(f"{text!r} is not an id")
    value = int(text)
    if not 0 < value <= MAX_ROW_ID:
        raise ValueError(f"{text!r} is not an id")
    return value
