"""The load harnesses at CI size: ``python -m tests.reliability.harness load|publish``.

Each scenario starts its own Redis, PostgreSQL cluster, gunicorn, Celery
workers and beat (tests.reliability.harness.stack), so these tests touch neither the
test database nor the shared Redis; they carry the service markers because
they need the same binaries (redis-server, PostgreSQL) that CI provides.
"""

from __future__ import annotations

import pytest

from tests.reliability.harness.runner import harness_run

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_load_stores_every_acknowledged_touchpoint_once_and_rescores_every_lead() -> (
    None
):
    # Given a private stack, when the CI-size mixed ingest has run
    figures = harness_run("load", "--size", "ci")

    # then every acknowledged touchpoint is stored exactly once
    assert figures["touchpoints_sent"] == 2_000
    assert figures["accepted"] == figures["stored"]
    assert figures["accepted"] == 2_000 - figures["repeats_sent"]
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    # every repeated external_id was acknowledged as a duplicate (200)
    assert figures["repeats_sent"] > 0
    assert figures["repeats_answered_200"] == figures["repeats_sent"]
    # no server error, nothing refused, every read answered
    assert figures["errors_5xx"] == 0
    assert figures["rejected_items"] == 0
    assert figures["unexpected_answers"] == 0
    assert figures["requests"]["read_queue"] > 0
    assert figures["requests"]["read_leads"] > 0
    # and no lead is left unscored a minute after the load
    assert figures["stale_leads"] == 0


def test_publish_during_ingest_moves_every_lead_to_the_new_model_version() -> None:
    # Given 5,000 seeded leads, when a new model version is published while
    # the ingest runs against real-time rescoring
    figures = harness_run("publish", "--size", "ci")

    # then the bulk rescore finished and every lead, those the ingest created
    # meanwhile included, is scored under the new version and shows that score
    assert figures["leads_seeded"] == 5_000
    assert figures["publish_finished"] is True
    assert figures["leads_total"] > figures["leads_seeded"]
    assert figures["leads_on_new_version"] == figures["leads_total"]
    assert figures["leads_score_not_new_version"] == 0
    # no lead's score misses a touchpoint that arrived during the publish
    assert figures["stale_leads"] == 0
    # real-time rescoring kept going while the bulk queue worked
    assert figures["realtime_rescore_samples"] > 0
    assert figures["realtime_rescore_timeouts"] == 0
    # and the concurrent ingest lost nothing and doubled nothing
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert figures["errors_5xx"] == 0
    assert figures["repeats_answered_200"] == figures["repeats_sent"]
