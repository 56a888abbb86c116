"""The lead list's word search: the same answers on every database, and on
PostgreSQL read through the trigram indexes."""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.common.keyset import SortKey, encode_cursor
from leads import selectors
from leads.models import Lead
from leads.search import contains_pattern, has_trigram
from tests.factories import AccountFactory, LeadFactory


@pytest.fixture
def people() -> dict[str, Any]:
    acme = AccountFactory(name="Acme Robotics", domain="acme.example")
    globex = AccountFactory(name="Globex 100%", domain="globex.example")
    return {
        "ada": LeadFactory(
            email="ada@acme.example",
            first_name="Ada",
            last_name="Lovelace",
            account=acme,
        ),
        "dee": LeadFactory(
            email="dee@acme.example", first_name="Dee", last_name="", account=acme
        ),
        "bob": LeadFactory(
            email="bob@builder.example", first_name="Bob", last_name="Builder"
        ),
        "cy": LeadFactory(
            email="cy@gmail.com", first_name="Cy", last_name="", account=globex
        ),
        "ann": LeadFactory(email="a_q@x.example", first_name="Ann", last_name="Lee"),
        "axq": LeadFactory(email="axq@y.example", first_name="", last_name="Back\\s"),
        "snake": LeadFactory(email="snake_case@z.example", first_name="Sid"),
        "plain": LeadFactory(email="snakexcase@z.example", first_name="Pia"),
    }


def found(people: dict[str, Any], q: str) -> set[str]:
    """The keys of ``people`` the search finds."""
    ids = set(selectors.lead_list_filtered(q=q).values_list("id", flat=True))
    return {key for key, lead in people.items() if lead.id in ids}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # A last name, in any case.
        ("LOVELACE", {"ada"}),
        # The company's name alone finds its leads.
        ("robot", {"ada", "dee"}),
        # Every word must match, each anywhere.
        ("ada robotics", {"ada"}),
        ("ada builder", set()),
        # The e-mail's domain.
        ("builder.example", {"bob"}),
        # A word never spans two fields (the search text joins them by spaces).
        ("annlee", set()),
        ("ann lee", {"ann"}),
        # LIKE's wildcards are plain characters.
        ("a_q", {"ann"}),
        ("100%", {"cy"}),
        ("x%", set()),
        ("k\\s", {"axq"}),
        ("ack\\s", {"axq"}),
        ("snake_case", {"snake"}),
        ("snake%case", set()),
        ("...", set()),
        ("a.b", set()),
        # Words shorter than a trigram: the same answers, read row by row.
        ("ob", {"ada", "dee", "bob", "cy"}),  # Robotics, Bob, Globex
        ("cy", {"cy"}),
        ("_", {"ann", "snake"}),
        ("ob ada", {"ada"}),
        ("nothing", set()),
    ],
)
def test_every_word_matches_a_name_the_email_or_the_company(people, q, expected):
    assert found(people, q) == expected


def expected_by_hand(people: dict[str, Any], q: str) -> set[str]:
    words = q.split()[: selectors.SEARCH_MAX_TERMS]

    def text(lead: Any) -> list[str]:
        company = lead.account.name if lead.account else ""
        return [lead.first_name, lead.last_name, lead.email, company]

    return {
        key
        for key, lead in people.items()
        if all(any(w.lower() in field.lower() for field in text(lead)) for w in words)
    }


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.text(
            alphabet=string.ascii_letters + "@.%_\\ 01", min_size=1, max_size=6
        ).filter(str.strip),
        min_size=1,
        max_size=3,
    )
)
def test_search_agrees_with_matching_by_hand(people, words):
    q = " ".join(words)

    assert found(people, q) == expected_by_hand(people, q)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("abc", True),
        ("x@gmail", True),
        ("a.b", True),
        ("...", True),
        ("ma", False),
        ("é", False),
    ],
)
def test_a_word_of_three_characters_or_more_is_looked_up_by_trigram(word, expected):
    assert has_trigram(word) is expected


def test_a_pattern_matches_its_word_literally():
    assert contains_pattern("a_b%c\\d") == "%a\\_b\\%c\\\\d%"


# PostgreSQL: the plan reads the trigram indexes
# ------------------------------------------------------------------------------


def plan(read: Any) -> str:
    """The plan of the last query ``read()`` makes, with every scan but an
    index bitmap's made too dear: on a small table a sequential scan (or
    walking the created-at index, as a page of a search that matches many
    leads does) is cheaper."""
    with CaptureQueriesContext(connection) as queries:
        read()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {queries[-1]['sql']}")  # nosec B608: the ORM's SQL
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_search_and_its_count_read_the_trigram_indexes(people):
    LeadFactory.create_batch(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")
        cursor.execute("ANALYZE leads_account")

    page = plan(lambda: selectors.lead_page(q="lovelace robot"))
    count = plan(lambda: selectors.lead_count(q="lovelace robot"))

    for explained in (page, count):
        # One word's two sides as one bitmap; the other word is then a filter.
        assert "BitmapOr" in explained
        assert "Bitmap Index Scan on lead_search_trgm_idx" in explained
        assert "Bitmap Index Scan on account_name_trgm_idx" in explained
        assert "Seq Scan" not in explained


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_indexes_exist_with_the_expression_the_search_writes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE indexname IN ('lead_search_trgm_idx', 'account_name_trgm_idx')"
            " ORDER BY indexname"
        )
        rows = dict(cursor.fetchall())

    assert set(rows) == {"account_name_trgm_idx", "lead_search_trgm_idx"}
    assert "gin_trgm_ops" in rows["lead_search_trgm_idx"]
    assert "USING gin (name gin_trgm_ops)" in rows["account_name_trgm_idx"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sort",
    [
        selectors.LEAD_SORT_DEFAULT,
        SortKey("created_at", descending=False),
        SortKey("score", descending=True),
    ],
)
def test_a_search_pages_by_cursor_to_its_end_and_back(sort):
    base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    matching = []
    for i in range(12):
        lead = LeadFactory(
            email=f"p{i}@example.com",
            first_name="Pat" if i % 3 else "Sam",
            last_name="Quinn",
            # Ties in time and in score: the id breaks them.
            created_at=base + dt.timedelta(hours=i // 2),
            score=Decimal(i % 4),
        )
        if i % 3:
            matching.append(lead)
    expected = sorted(
        matching,
        key=lambda lead: (getattr(lead, sort.field), lead.pk),
        reverse=sort.descending,
    )

    seen, cursor, pages = [], None, []
    while True:
        page, cursor, _ = selectors.lead_page(
            q="pat quinn", sort=sort, size=3, cursor=cursor
        )
        pages.append(page)
        seen += [lead.pk for lead in page.items]
        if cursor is None:
            break

    assert seen == [lead.pk for lead in expected]
    assert len(pages) == 3
    # Back from the last page: the page before it, in the same order.
    back, _, _ = selectors.lead_page(
        q="pat quinn",
        sort=sort,
        size=3,
        cursor=encode_cursor(pages[-1].previous_cursor, sort=sort, model=Lead),
    )
    assert [lead.pk for lead in back.items] == [lead.pk for lead in expected[3:6]]
    # The page's rows come with their owner and account joined.
    assert all("account" in lead._state.fields_cache for lead in back.items)
