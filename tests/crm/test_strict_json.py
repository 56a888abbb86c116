"""The strict reader of client JSON: plain JSON only, with messages that say why."""

from __future__ import annotations

import json

import pytest

from crm.common import strict_json
from crm.common.strict_json import JSONInputError

PLAIN = (
    '{"email": "ann@acme.example", "n": [1, -2.5, 1e308, 1e-400, null, true], '
    '"nested": {"a": {"b": "c"}}, "empty": {}}'
)


def test_plain_json_reads_as_the_json_module_reads_it():
    assert strict_json.loads(PLAIN) == json.loads(PLAIN)
    assert strict_json.loads(PLAIN.encode()) == json.loads(PLAIN)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"a": NaN}',
            "NaN is not a number JSON allows; send a finite number, or null.",
        ),
        ("[Infinity]", "Infinity is not a number JSON allows"),
        ("[-Infinity]", "-Infinity is not a number JSON allows"),
        (
            '{"a": 1e400}',
            "the number 1e400 is too large; numbers must lie between -1.7e308 "
            "and 1.7e308.",
        ),
        ("[-2.5E+999]", "the number -2.5E+999 is too large"),
        (
            '{"email": "ann@acme.example", "email": "bob@acme.example"}',
            'the key "email" appears more than once in one object; send each key once.',
        ),
        ('[{"a": {"b": 1, "c": 2, "b": 3}}]', 'the key "b" appears more than once'),
    ],
)
def test_what_json_readers_disagree_on_is_refused(text, message):
    with pytest.raises(JSONInputError) as refused:
        strict_json.loads(text)

    assert message in str(refused.value)


def test_a_refusal_is_a_value_error_like_every_other_json_error():
    assert issubclass(JSONInputError, ValueError)
    with pytest.raises(ValueError, match="Expecting value"):
        strict_json.loads('{"a": ')
