"""The reliability harness: a private stack and the scenarios run on it.

Run it as ``python -m tests.reliability.harness <scenario> [--size ci|full]``
(``cli``). ``stack.Stack`` starts its own Redis, PostgreSQL cluster,
gunicorn, Celery workers and beat on free ports of 127.0.0.1 and records each
by PID, so a scenario can kill exactly what it started. ``client`` is the
threaded HTTP client with retries, ``ingest`` the mixed load, ``load`` and
``faults`` the scenarios, ``fixtures`` the steps run inside the stack, and
``runner.harness_run`` runs a scenario from a test.
"""
