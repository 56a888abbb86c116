"""Running a reliability harness from a test: its figures, shown on failure."""

from __future__ import annotations

import io
import sys
from typing import Any

from tests.reliability.harness.cli import run


def harness_run(*args: str) -> dict[str, Any]:
    """Run ``python -m tests.reliability.harness *args`` in this process (Django
    is set up by the test run) and return the figures of its JSON last line."""
    out, err = io.StringIO(), io.StringIO()
    try:
        figures = run(list(args), stdout=out, stderr=err)
    finally:
        # Shown by pytest when an assertion after this fails: the log and figures.
        sys.stderr.write(f"{err.getvalue()[-4000:]}\n{out.getvalue()[-4000:]}\n")
    return figures
