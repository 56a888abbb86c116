"""Text PostgreSQL can store: the one check every entry point applies.

PostgreSQL refuses a NUL character in text and in jsonb, and UTF-8 cannot
encode an unpaired surrogate; either would end as a 500 at the database.
Every way in (the API, web forms, CSV imports, the rule editor) asks
``text_problem`` first and answers 400 with its message.
"""

from __future__ import annotations


def text_problem(value: str) -> str | None:
    """Why PostgreSQL would refuse this text, or None when it is storable."""
    if "\x00" in value:
        return "Remove the NUL character (\\u0000); it cannot be stored."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Remove the invalid character (an unpaired surrogate); use UTF-8 text."
    return None
