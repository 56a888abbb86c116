"""The beat schedule, run inside the dev server on the embedded default.

In production the ``beat`` process sends each entry of
``CELERY_BEAT_SCHEDULE`` (SLA reminders, expiries, escalations and
reassignments, the rescore and handoff reconcilers, the nightly decay) to a
worker. The embedded default has neither: tasks run eagerly in the process
that enqueues them. Without these timers a demo's SLA clocks would never
move on their own, so ``manage.py runserver`` starts them there (see
``crm/management/commands/runserver.py``): one daemon thread that runs each
entry when its schedule says, calling the same task the beat would send,
synchronously, in this process.

Only when ``settings.EMBEDDED_TIMERS`` is on, which needs the embedded
default (no broker: a configured broker has its own beat) and may be turned
off with ``EMBEDDED_TIMERS=false``. Nothing else starts them, so the tests
and the web processes of a real deployment never run them.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery.schedules import BaseSchedule, maybe_schedule
from django.conf import settings
from django.db import connections
from django.utils import timezone

from crm.celery import app as celery_app

logger = logging.getLogger(__name__)

#: Longest sleep between two checks, so a schedule far ahead (the nightly
#: decay) is still checked against a clock that jumped (a laptop's sleep).
MAX_WAIT_SECONDS = 60.0
#: Shortest sleep, so a schedule that is always due cannot spin the thread.
MIN_WAIT_SECONDS = 1.0

Clock = Callable[[], datetime]
TaskRunner = Callable[[str, tuple[Any, ...], dict[str, Any]], Any]


@dataclass
class TimerEntry:
    """One entry of the beat schedule and when it last ran."""

    name: str
    task: str
    schedule: BaseSchedule
    last_run_at: datetime
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def task_run(task_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run the registered task ``task_name`` in this thread; return its result.

    ``apply`` runs it as an eager task would (retries, the failure record of
    ``crm.celery``); its exception, if any, propagates.
    """
    return celery_app.tasks[task_name].apply(args=args, kwargs=kwargs).get()


def _schedule_of(value: Any, now: Clock) -> BaseSchedule:
    """The entry's schedule (seconds or a crontab) read with the clock ``now``."""
    schedule = maybe_schedule(copy.copy(value), app=celery_app)
    schedule.nowfun = now
    return schedule


class EmbeddedTimers:
    """The entries of a beat schedule, each run when it is due.

    As the beat does, every entry counts from the moment the timers start:
    a minute timer first runs a minute later, the nightly one at its next
    time of day.
    """

    def __init__(
        self,
        beat_schedule: Mapping[str, Mapping[str, Any]],
        *,
        now: Clock = timezone.now,
        run: TaskRunner = task_run,
    ) -> None:
        self.now = now
        self.run = run
        started = now()
        self.entries = [
            TimerEntry(
                name=name,
                task=spec["task"],
                schedule=_schedule_of(spec["schedule"], now),
                last_run_at=started,
                args=tuple(spec.get("args", ())),
                kwargs=dict(spec.get("kwargs", {})),
            )
            for name, spec in beat_schedule.items()
        ]

    def tick(self) -> tuple[list[str], float]:
        """Run every entry that is due, in schedule order.

        Return the names of the entries run and the seconds until the next
        check. A failing task is logged and counts as run (the beat does not
        resend a failed message either); the others still run. Each run
        closes this thread's database connections, so none is left open
        between runs.
        """
        ran: list[str] = []
        wait = MAX_WAIT_SECONDS
        for entry in self.entries:
            due, next_check = entry.schedule.is_due(entry.last_run_at)
            if due:
                entry.last_run_at = self.now()
                self._run_entry(entry)
                ran.append(entry.name)
            wait = min(wait, next_check)
        return ran, wait

    def _run_entry(self, entry: TimerEntry) -> None:
        # Celery's own log line says that the task ran and what it returned.
        try:
            self.run(entry.task, entry.args, entry.kwargs)
        except Exception:
            logger.exception("timer %s (task %s) failed", entry.name, entry.task)
        finally:
            connections.close_all()

    def run_until(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set, sleeping until the next entry is due."""
        while not stop.is_set():
            _, wait = self.tick()
            stop.wait(max(wait, MIN_WAIT_SECONDS))


def timers_start() -> threading.Thread | None:
    """Start the beat schedule in a daemon thread of this process.

    Only when ``settings.EMBEDDED_TIMERS`` is on; return the thread, or None
    when the timers are off. The thread ends with the process.
    """
    if not settings.EMBEDDED_TIMERS:
        return None
    # Celery imports the apps' tasks modules (autodiscovery) when a worker
    # starts; no worker starts here, so ask for them.
    celery_app.loader.import_default_modules()
    timers = EmbeddedTimers(settings.CELERY_BEAT_SCHEDULE)
    thread = threading.Thread(
        target=timers.run_until,
        args=(threading.Event(),),
        name="embedded-timers",
        daemon=True,
    )
    thread.start()
    logger.info(
        "running the beat schedule in this process: %s",
        ", ".join(entry.name for entry in timers.entries),
    )
    return thread
