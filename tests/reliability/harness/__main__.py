"""``python -m tests.reliability.harness``: Django set up, then ``cli.run``.

The stack runs its inside steps (``seed``, ``prepare``, ``publish-model``)
this way with its own environment, so DJANGO_SETTINGS_MODULE is set there;
from a shell it defaults to the project's settings.
"""

from __future__ import annotations

import os
import sys

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    django.setup()
    # Imported once Django is set up: the steps import models.
    from tests.reliability.harness.cli import run

    try:
        run(sys.argv[1:], stdout=sys.stdout, stderr=sys.stderr)
    except RuntimeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
