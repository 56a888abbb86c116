"""Running a reliability harness from a test: its figures, shown on failure."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from django.core.management import call_command


def harness_run(*args: str) -> dict[str, Any]:
    """Run ``manage.py reliability *args`` and return its JSON last line."""
    out, err = io.StringIO(), io.StringIO()
    call_command("reliability", *args, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    assert lines, err.getvalue()
    # Shown by pytest when an assertion after this fails: the figures and the log.
    sys.stderr.write(f"{err.getvalue()[-4000:]}\n{lines[-1]}\n")
    return json.loads(lines[-1])
