"""``manage.py bench_tracking``: what it refuses before starting anything."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from leads.models import TrackingSource


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--batch-size", "501"],
            "--batch-size is at most 500 (Segment's 500 KB a batch).",
        ),
        (["--threads", "0"], "Counts must not be negative; use at least 1 thread."),
        (["--single", "-1"], "Counts must not be negative; use at least 1 thread."),
    ],
)
def test_bad_arguments_are_refused_before_any_work(args, message):
    with pytest.raises(CommandError) as excinfo:
        call_command("bench_tracking", *args)

    assert str(excinfo.value) == message
    assert not TrackingSource.objects.exists()
