"""The lead list's word search, served by trigram indexes on PostgreSQL.

A word matches a lead when it appears, in any case, in the lead's first or
last name, e-mail or company name. On PostgreSQL a word of
``TRIGRAM_MIN_LENGTH`` characters or more is asked as

    (first_name || ' ' || last_name || ' ' || email) ILIKE '%word%'
    OR account_id = ANY(ARRAY(SELECT id FROM leads_account
                              WHERE name ILIKE '%word%'))

whose two sides the GIN trigram indexes of migration ``leads 0017`` serve:
the lead's concatenated text (the query's expression is the index's, to the
character, or PostgreSQL cannot use it) and the account's name. The accounts
are looked up once, before the leads (an init plan), so the lead side is a
bitmap OR of two index scans instead of a join tested row by row. A word is
split on white space, so it never spans two of the joined fields.

A word of one or two characters has no trigram to look up (the index would
be read whole, slower than the table); it is asked as before, each field
with ``icontains``: correct, read row by row (such a word matches so many
leads that the newest page fills quickly from the created-at index and the
count stops at its cap). SQLite always asks that way, with the same answers.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Expression,
    F,
    Func,
    Q,
    TextField,
    Value,
)
from django.db.models.sql.compiler import SQLCompiler

from leads.models import Account

#: A word shorter than a trigram has none to look up: the index would be read
#: whole, slower than the table (a two-letter word's capped count: about
#: 190 ms through the index at 1M leads, 40 ms row by row).
TRIGRAM_MIN_LENGTH = 3

#: The fields of the lead's search text, in the order of the index expression.
LEAD_SEARCH_FIELDS = ("first_name", "last_name", "email")


class LeadSearchText(Func):
    """``first_name || ' ' || last_name || ' ' || email``: the expression the
    trigram index ``lead_search_trgm_idx`` is built on (all three columns are
    NOT NULL, so no COALESCE, which would change the expression)."""

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = TextField()

    def __init__(self, **extra: Any) -> None:
        super().__init__(*(F(name) for name in LEAD_SEARCH_FIELDS), **extra)


class ILike(Func):
    """``expression ILIKE pattern``: a condition a trigram index serves."""

    template = "%(expressions)s"
    arg_joiner = " ILIKE "
    output_field = BooleanField()

    def __init__(self, expression: Expression, pattern: str) -> None:
        super().__init__(expression, Value(pattern, output_field=TextField()))


class AccountIdIn(Func):
    """``account_id = ANY(ARRAY(subquery))``: the ids are read once, before
    the leads, and the lead's account index looks them up."""

    output_field = BooleanField()

    def __init__(self, accounts: Any) -> None:
        self.accounts = accounts
        super().__init__(F("account_id"))

    def as_sql(
        self, compiler: SQLCompiler, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        column, column_params = compiler.compile(self.source_expressions[0])
        subquery, subquery_params = self.accounts.query.get_compiler(
            connection=connection
        ).as_sql()
        return (
            f"{column} = ANY(ARRAY({subquery}))",
            [*column_params, *subquery_params],
        )


def contains_pattern(word: str) -> str:
    """``%word%`` for ILIKE, with the word's own ``%``, ``_`` and ``\\``
    matched literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def has_trigram(word: str) -> bool:
    """Whether the trigram indexes can look ``word`` up.

    Only its length counts. A longer word whose letters are split by
    punctuation ("1-2", "a.b") still gives pg_trgm whole one-letter words to
    look up, and even one of dots only, read through the whole index, is
    faster than the table (at 1M leads "1-2" takes 4 ms, against 5 s row by
    row; "..." 1.6 s against 3.8 s).
    """
    return len(word) >= TRIGRAM_MIN_LENGTH


def word_condition(word: str) -> Q:
    """The condition that ``word`` appears in a lead's names, e-mail or
    company name (see the module's description for how it is asked)."""
    if connection.vendor != "postgresql" or not has_trigram(word):
        return (
            Q(email__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(account__name__icontains=word)
        )
    pattern = contains_pattern(word)
    accounts = Account.objects.filter(ILike(F("name"), pattern)).order_by().values("id")
    return Q(ILike(LeadSearchText(), pattern)) | Q(AccountIdIn(accounts))
