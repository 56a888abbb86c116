"""The fault harnesses at CI size: ``python -m tests.reliability.harness <fault>``.

worker-kill, redis-kill and pg-restart each start their own Redis,
PostgreSQL cluster, gunicorn, Celery workers and beat (tests.reliability.harness.stack),
break one of them mid-ingest and report what survived as the JSON last line;
these tests hold the figures to what the harness promises: nothing
acknowledged is lost or stored twice, no 5xx but a fast 503 while PostgreSQL
is down, and every lead is rescored and every MQL handed off in time. They
carry the service markers because they need the binaries (redis-server,
PostgreSQL) that CI provides.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.harness.runner import harness_run

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _nothing_lost_or_doubled(figures: dict[str, Any]) -> None:
    assert figures["accepted"] > 0
    assert figures["stored"] == figures["accepted"]
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["repeats_answered_200"] == figures["repeats_sent"]
    assert figures["unexpected_answers"] == 0
    assert figures["rejected_items"] == 0
    assert figures["errors_500"] == 0
    # the demo requests made MQLs, each with one transition and one handoff
    assert figures["mqls"] > 0
    assert figures["doubled_transitions"] == 0
    assert figures["doubled_handoffs"] == 0
    assert figures["mqls_without_handoff"] == 0


def test_killed_workers_lose_nothing_and_leave_no_lead_stale() -> None:
    # Given ingest and a model publish under way, when pool children and whole
    # workers (main process first) are SIGKILLed and replaced
    figures = harness_run("worker-kill", "--size", "ci")

    # then every kind of kill happened
    assert figures["killed"] == {
        "realtime-child": 1,
        "bulk-child": 1,
        "realtime-main": 1,
        "bulk-main": 1,
    }
    # nothing acknowledged was lost or stored twice, no stage moved twice
    _nothing_lost_or_doubled(figures)
    assert figures["errors_5xx"] == 0
    # and within the visibility timeout plus a minute every lead is rescored,
    # under the new model version
    assert figures["settled_within_deadline"] is True
    assert figures["stale_leads"] == 0
    assert figures["leads_on_new_version"] == figures["leads_total"]
    assert figures["leads_score_not_new_version"] == 0


def test_redis_down_keeps_ingest_answering_and_the_reconciler_catches_up() -> None:
    # Given ingest under way, when Redis is killed for 30 s and comes back empty
    figures = harness_run("redis-kill", "--size", "ci")

    # then every request during the outage was answered 2xx
    during = figures["during_outage"]
    assert during["attempts"] > 0
    assert during["non_2xx"] == 0
    assert figures["errors_5xx"] == 0
    _nothing_lost_or_doubled(figures)
    # and every lead is rescored within two minutes of Redis returning
    assert figures["rescored_all"] is True
    assert figures["stale_leads"] == 0
    assert figures["seconds_to_all_rescored"] <= 120


def test_postgres_restart_fails_fast_with_503_and_recovers_without_restarts() -> None:
    # Given ingest under way, when PostgreSQL crash-stops and starts again
    figures = harness_run("pg-restart", "--size", "ci")

    # then requests during the outage were refused with 503 at once, never
    # a 500, never left hanging
    during = figures["during_outage"]
    assert figures["answers_503"] > 0
    assert during["statuses"].keys() <= {"503"}
    assert figures["hung_answers"] == 0
    # the client's retries with the same external_id stored everything once,
    # and no retried batch had been half-stored by the failed attempt
    _nothing_lost_or_doubled(figures)
    assert figures["half_stored_batches"] == 0
    # answers after the restart are 2xx from the same gunicorn and worker
    # processes, and the worker caught up with every rescore
    assert figures["after_outage"]["non_2xx"] == 0
    assert figures["web_processes_same"] is True
    assert figures["worker_processes_same"] is True
    assert figures["stale_leads"] == 0
