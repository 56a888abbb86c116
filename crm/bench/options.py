"""Command-line option types shared by the benchmarks and the harness."""

from __future__ import annotations

import argparse


def count(value: str) -> int:
    """A whole number of 0 or more; ``1_000`` is read as 1000."""
    text = value.strip().replace("_", "")
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number.")
    return int(text)


def positive(value: str) -> int:
    """A whole number of 1 or more; ``1_000`` is read as 1000."""
    text = value.strip().replace("_", "")
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number.")
    return int(text)
