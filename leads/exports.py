"""CSV export of lead lists: the download with its audit row, safe cells,
streamed text, the download's name.

``lead_csv_export`` is the one way a lead list leaves as CSV (the list page
and the API alike): it filters once, writes the ``lead_export_csv`` audit row
and streams the rows of that same filtered list from
``leads.selectors.lead_export_rows`` as CSV text in chunks, so a response
streams a million leads in bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.http import StreamingHttpResponse

from crm.common.keyset import SortKey
from leads import selectors
from leads.audit import audit_record
from leads.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

#: Characters that make spreadsheet programs read a cell as a formula (CSV
#: injection, OWASP): a value starting with one of them gets a leading "'".
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

#: Rows encoded per chunk written to the socket: one write per row would cost
#: a system call each, one write per file would hold it all in memory.
ROWS_PER_CHUNK = 500


def csv_cell(value: object) -> str:
    """One cell as text; free text that could start a formula is neutralised.

    Only text is neutralised: numbers and times are formatted here, so a
    negative score stays a number a spreadsheet can add up.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool | int | Decimal):
        return str(value)
    return csv_cell(str(value))


def csv_chunks(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """CSV text (RFC 4180, CRLF line ends) for ``rows``, a few hundred at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    pending = 0
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        pending += 1
        if pending == ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()


def export_filename(day: dt.date) -> str:
    return f"leads-{day:%Y%m%d}.csv"


def csv_download(
    rows: Iterable[Iterable[object]], *, day: dt.date
) -> StreamingHttpResponse:
    """A streamed ``text/csv`` attachment named ``leads-YYYYMMDD.csv``."""
    response = StreamingHttpResponse(
        csv_chunks(rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(day)}"'
    # A list of people: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response


def _criterion(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def export_filter_record(criteria: dict[str, Any]) -> dict[str, Any]:
    """The filter as the audit row keeps it: the criteria given, as JSON
    values, except the free-text search, which may be a person's name and is
    kept as ``"q": true``."""
    kept = {
        name: _criterion(value)
        for name, value in criteria.items()
        if value not in (None, "", [], ()) and name not in ("q", "scopes")
    }
    for scope in criteria.get("scopes") or ():
        kept[scope.name] = _criterion(scope.value)
    if criteria.get("q"):
        kept["q"] = True
    return kept


def lead_csv_export(
    *,
    actor: AbstractBaseUser | None,
    criteria: dict[str, Any],
    sort: SortKey,
    day: dt.date,
) -> StreamingHttpResponse:
    """The leads matching ``criteria`` (the list filter's) as a streamed CSV
    attachment in ``sort`` order, and its one ``lead_export_csv`` audit row.

    The row records the filter (``export_filter_record``) and ``rows``, the
    number of leads the filter matches as the download starts (one count
    query, so the figure does not depend on the client reading to the end).
    It is written before the rows stream, so a download that starts is on
    record even if the client stops reading; a read changes nothing, so
    there is no transaction to share.
    """
    leads = selectors.lead_list_filtered(**criteria)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.LEAD_EXPORT_CSV,
        details={
            "filter": export_filter_record(criteria),
            "rows": leads.order_by().count(),
        },
    )
    return csv_download(selectors.lead_export_rows(leads, sort=sort), day=day)
