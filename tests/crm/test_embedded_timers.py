"""The beat schedule run by the dev server on the embedded default."""

from __future__ import annotations

import io
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings

from crm import embedded_timers
from crm.embedded_timers import EmbeddedTimers, task_run
from crm.management.commands.runserver import Command as RunserverCommand
from crm.management.commands.seed_demo import Command as SeedDemoCommand
from tests.crm.test_settings import _run

MINUTE_ENTRIES = [
    "every-minute-expire-overdue-handoffs",
    "every-minute-reconcile-rescores",
    "every-minute-rebuild-campaign-attribution",
    "every-minute-rebuild-funnel-rollup",
    "every-minute-refresh-today",
    "every-minute-rebuild-rule-rollup",
]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.time = start

    def __call__(self) -> datetime:
        return self.time

    def advance(self, **delta: float) -> None:
        self.time += timedelta(**delta)


class Recorder:
    """Stands in for the task runner: records the task names it is given."""

    def __init__(self, failing: str | None = None) -> None:
        self.calls: list[str] = []
        self.failing = failing

    def __call__(self, task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self.calls.append(task)
        if task == self.failing:
            raise RuntimeError(f"{task} broke")
        return 0


def test_every_entry_of_the_beat_schedule_runs_when_due():
    """Given the project's schedule (minute timers, the decay at 02:30 UTC)."""
    clock = FakeClock(datetime(2026, 3, 2, 2, 28, 30, tzinfo=UTC))
    runner = Recorder()
    timers = EmbeddedTimers(settings.CELERY_BEAT_SCHEDULE, now=clock, run=runner)

    assert timers.tick()[0] == []  # as the beat: nothing runs at start
    clock.advance(seconds=30)  # 02:29:00
    assert timers.tick()[0] == MINUTE_ENTRIES
    clock.advance(seconds=30)  # 02:29:30
    assert timers.tick()[0] == []
    clock.advance(seconds=30)  # 02:30:00
    assert timers.tick()[0] == [*MINUTE_ENTRIES, "nightly-apply-score-decay"]
    clock.advance(minutes=1)  # 02:31:00
    assert timers.tick()[0] == MINUTE_ENTRIES

    assert runner.calls == [
        "handoff.escalate",
        "scoring.reconcile",
        "crm.rebuild_attribution",
        "crm.rebuild_funnel",
        "crm.refresh_today",
        "crm.rebuild_rule_rollup",
        "handoff.escalate",
        "scoring.reconcile",
        "crm.rebuild_attribution",
        "crm.rebuild_funnel",
        "crm.refresh_today",
        "crm.rebuild_rule_rollup",
        "scoring.apply_decay",
        "handoff.escalate",
        "scoring.reconcile",
        "crm.rebuild_attribution",
        "crm.rebuild_funnel",
        "crm.refresh_today",
        "crm.rebuild_rule_rollup",
    ]


def test_tick_says_how_long_until_the_next_entry_is_due():
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC))
    schedule = {
        "every-10-seconds": {"task": "a", "schedule": 10},
        "every-25-seconds": {"task": "b", "schedule": 25},
    }
    runner = Recorder()
    timers = EmbeddedTimers(schedule, now=clock, run=runner)

    assert timers.tick() == ([], 10.0)
    clock.advance(seconds=10)  # 0:10
    assert timers.tick() == (["every-10-seconds"], 10.0)
    clock.advance(seconds=10)  # 0:20
    assert timers.tick() == (["every-10-seconds"], 5.0)
    clock.advance(seconds=5)  # 0:25
    assert timers.tick() == (["every-25-seconds"], 5.0)
    assert runner.calls == ["a", "a", "b"]


def test_a_failing_task_is_logged_and_the_others_still_run(caplog):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC))
    schedule = {
        "first": {"task": "broken", "schedule": 60},
        "second": {"task": "fine", "schedule": 60},
    }
    runner = Recorder(failing="broken")
    timers = EmbeddedTimers(schedule, now=clock, run=runner)
    clock.advance(minutes=1)

    with caplog.at_level(logging.ERROR, logger="crm.embedded_timers"):
        assert timers.tick()[0] == ["first", "second"]

    assert runner.calls == ["broken", "fine"]
    [record] = caplog.records
    assert record.getMessage() == "timer first (task broken) failed"
    assert record.exc_info[1].args == ("broken broke",)
    # Counted as run: not retried on the next tick, as the beat would not.
    assert timers.tick()[0] == []


@pytest.mark.django_db
def test_task_run_runs_the_registered_task_the_beat_sends():
    result = task_run("handoff.escalate", (), {})

    assert result == {
        "reminded": 0,
        "expired": 0,
        "follow_up_breached": 0,
        "assigned": 0,
        "opened": 0,
    }


def test_timers_do_not_start_when_turned_off(settings):
    settings.EMBEDDED_TIMERS = False

    assert embedded_timers.timers_start() is None


def test_timers_start_in_a_daemon_thread(settings, monkeypatch):
    settings.EMBEDDED_TIMERS = True
    started = threading.Event()
    monkeypatch.setattr(EmbeddedTimers, "run_until", lambda self, stop: started.set())

    thread = embedded_timers.timers_start()

    assert thread is not None
    thread.join(timeout=5)
    assert thread.daemon
    assert thread.name == "embedded-timers"
    assert started.is_set()


def _runserver_bound(port: int) -> str:
    command = RunserverCommand(stdout=io.StringIO())
    command.addr, command._raw_ipv6, command.protocol = "127.0.0.1", False, "http"
    command.on_bind(port)
    return command.stdout.getvalue()


def test_runserver_prints_the_login_address_on_its_port(settings, monkeypatch):
    settings.EMBEDDED_TIMERS = True
    monkeypatch.setattr(embedded_timers, "timers_start", lambda: threading.Thread())

    output = _runserver_bound(8123)

    assert "Log in at http://127.0.0.1:8123/accounts/login/\n" in output
    assert "The beat schedule runs in this process" in output


def test_runserver_says_when_the_timers_are_off(settings):
    # The embedded default (eager tasks) with the timers switched off.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMBEDDED_TIMERS = False

    output = _runserver_bound(8000)

    assert "Log in at http://127.0.0.1:8000/accounts/login/\n" in output
    assert "EMBEDDED_TIMERS is off: SLA timers do not run in this process." in output


def test_runserver_with_a_broker_leaves_the_timers_to_the_beat(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.EMBEDDED_TIMERS = False

    output = _runserver_bound(8000)

    assert "Log in at http://127.0.0.1:8000/accounts/login/\n" in output
    assert "beat schedule" not in output
    assert "EMBEDDED_TIMERS" not in output


PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.EMBEDDED_TIMERS)"
)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "True"),
        ({"EMBEDDED_TIMERS": "false"}, "False"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "False"),
        ({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, "False"),
    ],
)
def test_embedded_timers_only_on_the_embedded_default(variables, expected):
    """A configured broker has its own beat process; the timers never double it."""
    result = _run(["-c", PROBE], DEBUG="true", **variables)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_seed_demo_prints_the_login_address_make_run_serves(settings):
    """make run sets SITE_URL to the port it serves on."""
    settings.SITE_URL = "http://127.0.0.1:8123"
    command = SeedDemoCommand(stdout=io.StringIO())

    command._write_logins()

    first = command.stdout.getvalue().splitlines()[0]
    assert first == "Demo logins at http://127.0.0.1:8123/accounts/login/"
