"""CSV export of lead lists: safe cells, streamed text, the download's name.

The rows come from ``leads.selectors.lead_export_rows``; this module turns
them into CSV text in chunks, so a response streams a million leads in
bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse

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
