"""Read a CSV file: decode it, find the header, yield records with line numbers.

Everything that makes the whole file unusable raises ImportFileError with a
message that says what to fix; problems of single records are left to
``leads.imports.rows``. Pure functions over bytes: no database.
"""

from __future__ import annotations

import codecs
import csv
import encodings
import io
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass

from leads.exceptions import ImportFileError
from leads.exports import FORMULA_TRIGGERS
from leads.models import IMPORT_MAX_BYTES

#: Magic numbers of files people upload by mistake instead of a CSV export.
_NOT_CSV = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip file",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
}


#: Codecs Python ships (the modules of its ``encodings`` package). A codec
#: some installed library registers is not offered: what it does is unknown.
_SHIPPED_CODECS = frozenset(
    module.name for module in pkgutil.iter_modules(encodings.__path__)
)
#: Shipped codecs that turn bytes into text without being a character set:
#: they read backslash escapes or domain-name syntax (so the text is not what
#: was exported), map bytes through a table nobody gives, or always fail.
_NOT_CHARSETS = frozenset(
    {
        "charmap",
        "idna",
        "punycode",
        "raw-unicode-escape",
        "undefined",
        "unicode-escape",
    }
)


def encoding_check(encoding: str) -> str:
    """The codec's canonical name if it is a character set; else ImportFileError.

    Every import passes here (the upload form, the commands' ``--encoding``
    and each run of a stored job), so a byte-to-byte codec (rot13, base64,
    zlib), an escape reader such as unicode_escape or an unknown name is
    refused with what to use instead, never decoded.
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ImportFileError(
            f"Unknown encoding {encoding!r}; use utf-8 (the default), latin-1 "
            "or cp1252."
        ) from None
    if (
        not getattr(info, "_is_text_encoding", True)
        or info.name in _NOT_CHARSETS
        or info.name.replace("-", "_") not in _SHIPPED_CODECS
    ):
        raise ImportFileError(
            f"{encoding!r} is not a text encoding; use utf-8 (the default), "
            "latin-1, windows-1252 or the character set the file was saved in, "
            "such as utf-16 or shift_jis."
        )
    return info.name


def formula_unquote(cell: str) -> str:
    """A cell without the ``'`` our CSV exports put before a formula character.

    Spreadsheets never write that quote into a CSV (it only marks a cell as
    text), so a leading ``'=`` comes from a Leadflow export such as the
    rejected rows: dropping it lets such a file be imported again as it was.
    """
    if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell


@dataclass(frozen=True)
class Record:
    """One CSV record: the file line it starts on and its cells as written."""

    line: int
    cells: list[str]


@dataclass(frozen=True)
class CsvFile:
    """A decoded CSV file whose header row has been checked."""

    text: str
    delimiter: str
    header: list[str]
    header_line: int

    def records(self) -> Iterator[Record]:
        """Every data record after the header, skipping blank lines.

        A record's line is the file line it starts on (a quoted cell may span
        lines). Raises ImportFileError for a record the CSV reader cannot
        parse at all (say, a cell longer than the reader's limit).
        """
        reader = csv.reader(io.StringIO(self.text), delimiter=self.delimiter)
        line = 0
        try:
            for cells in reader:
                start, line = line + 1, reader.line_num
                if start <= self.header_line or not any(c.strip() for c in cells):
                    continue
                yield Record(start, [formula_unquote(c) for c in cells])
        except csv.Error as exc:
            raise ImportFileError(
                f"Line {line + 1} cannot be read as CSV ({exc}); check its quotes."
            ) from None

    def count(self) -> int:
        """How many data records the file holds (reads it all once)."""
        return sum(1 for _ in self.records())


def csv_open(content: bytes, *, encoding: str = "utf-8") -> CsvFile:
    """Decode ``content`` and check its header row.

    A UTF-8 byte order mark is accepted. The delimiter is a comma unless the
    header row holds more semicolons or tabs (European Excel exports). Raises
    ImportFileError for an empty or oversized file, a spreadsheet or PDF, text
    that is not in ``encoding`` (naming the byte offset and line), NUL
    characters in the header, and a header that is missing, has a blank or
    repeated column name, or looks like data.
    """
    if not content.strip():
        raise ImportFileError("The file is empty; export the CSV again.")
    if len(content) > IMPORT_MAX_BYTES:
        raise ImportFileError(
            f"The file has {len(content):,} bytes; split it into files of at most "
            f"{IMPORT_MAX_BYTES // (1024 * 1024)} MB."
        )
    for magic, what in _NOT_CSV.items():
        if content.startswith(magic):
            raise ImportFileError(
                f"This is {what}, not a CSV file; save it as CSV (UTF-8) first."
            )
    codec = encoding_check(encoding)
    try:
        text = content.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        byte = content[exc.start : exc.start + 1].hex().upper()
        raise ImportFileError(
            f"The file is not valid {encoding}: byte 0x{byte} at offset "
            f"{exc.start:,} (line {line}) cannot be decoded. Save the file as "
            "UTF-8, or choose its encoding (for example latin-1 or cp1252)."
        ) from None
    text = text.removeprefix("\ufeff")
    first_line = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max(",;\t", key=first_line.count)
    header, header_line = _header(text, delimiter)
    return CsvFile(
        text=text, delimiter=delimiter, header=header, header_line=header_line
    )


def _header(text: str, delimiter: str) -> tuple[list[str], int]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                break
        else:
            raise ImportFileError("The file has no header row: it is all blank lines.")
    except csv.Error as exc:
        raise ImportFileError(
            f"The header row cannot be read as CSV ({exc})."
        ) from None
    header = [formula_unquote(c.strip()) for c in cells]
    if any("\x00" in c for c in header):
        raise ImportFileError(
            "The header row holds NUL characters (\\u0000); save the file as "
            "UTF-8 text (a UTF-16 file needs --encoding utf-16)."
        )
    for position, name in enumerate(header):
        if not name:
            raise ImportFileError(
                f"Column {position + 1} of the header row has no name; name every "
                "column (or delete the empty one)."
            )
        if "@" in name:
            raise ImportFileError(
                f"The first row looks like data ({name!r}), not column names; add "
                "a header row such as: email,first_name,last_name."
            )
    seen: dict[str, int] = {}
    for position, name in enumerate(header):
        if name.lower() in seen:
            raise ImportFileError(
                f"The header names the column {name!r} twice (columns "
                f"{seen[name.lower()] + 1} and {position + 1}); rename one."
            )
        seen[name.lower()] = position
    return header, reader.line_num
