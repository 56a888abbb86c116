"""``manage.py bench_ingest``: what it refuses before starting anything."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from crm.bench.ingest import Phase


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--batch-size", "1001"],
            "--batch-size is at most 1000 (the API's batch limit).",
        ),
        (["--threads", "0"], "Counts must not be negative; use at least 1 thread."),
        (["--single", "-1"], "Counts must not be negative; use at least 1 thread."),
    ],
)
def test_bad_arguments_are_refused_before_any_work(args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("bench_ingest", *args)
    assert str(excinfo.value) == message


def test_phase_percentiles():
    phase = Phase(requests=100)
    for ms in range(1, 101):
        phase.record(float(ms), None)
    phase.record(1000.0, "HTTP 500: b''")

    assert (phase.percentile(50), round(phase.percentile(95), 2)) == (51.0, 96.0)
    assert phase.errors == ["HTTP 500: b''"]
