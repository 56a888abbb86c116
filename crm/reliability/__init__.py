"""The reliability harness: a private stack and the scenarios run on it.

``stack.Stack`` starts its own Redis, PostgreSQL cluster, gunicorn, Celery
workers and beat on free ports of 127.0.0.1 and records each by PID, so a
scenario can kill exactly what it started. ``client`` is the threaded HTTP
client with retries, ``load`` the scenarios (``manage.py reliability``).
"""
