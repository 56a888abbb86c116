"""Request body parsers that answer 400, never 500, for hostile bodies.

DRF's parsers let three kinds of bad body through: JSON nested deeper than
Python's recursion limit makes ``json.load`` raise RecursionError (a 500),
JSON that Python reads but no one can store (``1e400``, a key given twice;
see ``crm.common.strict_json``), and a form-encoded body whose percent-escapes
are not UTF-8 is decoded with replacement characters and stored as
``\ufffd`` garbage. These parsers refuse all of them with a message that
says what to fix (ARCHITECTURE.md, reliability rule 5).
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import unquote_to_bytes

from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, get_encoding

from crm.common import strict_json


class _WholeBodyParser:
    """Reads the whole body and its charset; the subclass's
    ``parse_body(body, encoding, media_type, context)`` parses them."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        body = stream.read() if stream is not None else b""
        return self.parse_body(body, encoding, media_type, parser_context)


class SafeJSONParser(_WholeBodyParser, JSONParser):
    """JSONParser that reads strictly, with a 400 for deep nesting and bad bytes."""

    def parse_body(
        self, body: bytes, encoding: str, media_type: Any, context: Any
    ) -> Any:
        try:
            return strict_json.loads(body.decode(encoding))
        except RecursionError:
            # The C decoder unwinds cleanly; nothing was half-built.
            raise ParseError(
                "JSON parse error - the body is nested too deeply; free-form "
                "objects may nest at most 10 levels."
            ) from None
        except UnicodeDecodeError as cause:
            byte = cause.object[cause.start : cause.start + 1].hex().upper()
            raise ParseError(
                f"JSON parse error - the body is not valid {cause.encoding}: "
                f"byte 0x{byte} at offset {cause.start:,}. Send UTF-8 text."
            ) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class SafeFormParser(_WholeBodyParser, FormParser):
    """FormParser that refuses a field whose escaped bytes are not in the charset.

    Django decodes form data with ``errors="replace"``: a page in Latin-1
    posting ``J%F6rg`` would be stored as ``J\ufffdrg``. The error names the
    field so the sender can fix the page's ``accept-charset``.
    """

    def parse_body(
        self, body: bytes, encoding: str, media_type: Any, context: Any
    ) -> Any:
        errors: dict[str, list[str]] = {}
        for pair in body.split(b"&"):
            raw_name, _, raw_value = pair.partition(b"=")
            name = unquote_to_bytes(raw_name.replace(b"+", b" "))
            value = unquote_to_bytes(raw_value.replace(b"+", b" "))
            for part in (name, value):
                try:
                    part.decode(encoding)
                except UnicodeDecodeError:
                    key = name.decode(encoding, errors="replace") or "non_field_errors"
                    errors[key] = [
                        f"This field is not valid {encoding} text; send the form "
                        'as UTF-8 (accept-charset="UTF-8").'
                    ]
        if errors:
            raise ParseError(errors)
        # FormParser reads the body again: hand it the bytes already read.
        return FormParser.parse(self, io.BytesIO(body), media_type, context)
