"""The one place identifiers enter SQL text.

Values always go through DuckDB parameters; identifiers (table and column
names) go through :func:`quote_ident`, so no input can change a statement.
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote a SQL identifier for DuckDB.

    Args:
        name: a table or column name.

    Returns:
        The name in double quotes, with embedded quotes doubled.

    Examples:
        >>> quote_ident('a"b')
        '"a""b"'
    """
    if not isinstance(name, str) or not name:
        raise ValueError("an identifier must be a non-empty string")
    if "\x00" in name:
        raise ValueError("an identifier must not contain NUL")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal, for the few places DuckDB takes no parameter (DDL, COPY paths)."""
    return "'" + value.replace("'", "''") + "'"
