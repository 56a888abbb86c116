"""The fault scenarios of the harness.

Each runs the mixed ingest of ``load`` against a private ``Stack`` and breaks
one part of it on purpose, then counts in the database what survived:

``worker-kill``
    SIGKILLs Celery processes while touchpoints arrive and a model publish
    rescores every lead: pool children (the worker's main process forks a new
    one), and whole workers, main process first and then the pool children it
    had (as a supervisor that restarts a crashed container would), after
    which a new worker of the same name is started. Nothing acknowledged may
    be lost, every lead must be rescored within the visibility timeout plus a
    minute of the last kill, and no lead may have a stage transition or a
    handoff twice.
``redis-kill``
    SIGKILLs the stack's Redis mid-ingest, keeps it down (30 s by default) and
    starts an empty one on the same port. Ingestion must keep answering 2xx
    (PostgreSQL holds the facts), nothing is lost, and the reconciler must
    get every lead rescored within two minutes of Redis coming back.
``pg-restart``
    Stops PostgreSQL the way a crash does (immediate shutdown), keeps it down
    and starts it again. Requests meanwhile must fail fast with 503 (no hang,
    no 500), the client retries with the same ``external_id`` until the
    answer is final, nothing is half-stored, lost or stored twice, and
    gunicorn and the worker carry on with the same processes.

The ingest runs in rounds (each a fresh ``Ingest`` with its own external id
prefix) until the fault is over and a few seconds more, so the load always
spans the fault whatever the machine's speed. Every HTTP attempt is logged
with its time, status and latency, to judge the answers given during the
fault separately from the others.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from crm.bench.procs import child_pids
from crm.bench.stats import percentile
from tests.reliability.harness.client import ApiClient, Recorder
from tests.reliability.harness.database import (
    prepare,
    publish_progress,
    settle,
    stale_breakdown,
    stale_leads,
)
from tests.reliability.harness.ingest import Ingest, LoadPlan
from tests.reliability.harness.stack import Process, Stack

#: Share of touchpoints that are demo requests: enough points for an MQL, so
#: the faults hit stage transitions and handoffs too, not only scores.
DEMO_REQUEST_SHARE = 0.03

FAULT_SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "worker-kill": {
        "ci": {"round": 600, "leads": 3_000, "kills": 4, "every": 6.0},
        "full": {"round": 2_000, "leads": 50_000, "kills": 12, "every": 10.0},
    },
    "redis-kill": {
        "ci": {"round": 400, "outage": 30.0, "timer": 10, "reconcile": 20},
        # Production timers: beat every minute, marks older than a minute.
        "full": {"round": 1_000, "outage": 30.0, "timer": None, "reconcile": None},
    },
    "pg-restart": {
        "ci": {"round": 400, "outage": 10.0, "timer": 10, "reconcile": 20},
        "full": {"round": 1_000, "outage": 30.0, "timer": None, "reconcile": None},
    },
}
#: The stack's broker visibility timeout in the worker-kill scenario: a
#: killed worker's unacknowledged message comes back after this long.
VISIBILITY_TIMEOUT = 60
#: Beat's timers and the reconciler's age in the worker-kill scenario.
TIMER_SECONDS = 5
RECONCILE_SECONDS = 20
#: Load before the fault starts, and after it ends, in seconds.
LEAD_IN = 5.0
TAIL = 5.0
#: An answer slower than this during an outage counts as a hang.
HANG_MS = 10_000


# Recording every attempt
# ------------------------------------------------------------------------------


@dataclass
class Attempt:
    began: float
    ms: float
    status: int


@dataclass
class AttemptLog:
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def between(self, start: float, end: float) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if start <= a.began < end]


class LoggingClient(ApiClient):
    """An ApiClient that also logs each attempt (time, status, latency)."""

    def __init__(self, port: int, log: AttemptLog, **kwargs: Any) -> None:
        super().__init__(port, **kwargs)
        self.log = log

    def _once(
        self, method: str, path: str, payload: str | None, headers: dict[str, str]
    ) -> tuple[int, bytes, float]:
        began = time.monotonic()
        status, data, wait = super()._once(method, path, payload, headers)
        self.log.add(Attempt(began, (time.monotonic() - began) * 1000, status))
        return status, data, wait


def _window(log: AttemptLog, start: float, end: float) -> dict[str, Any]:
    """What the clients were answered between ``start`` and ``end``."""
    inside = log.between(start, end)
    statuses = Counter(a.status for a in inside)
    latencies = [a.ms for a in inside]
    return {
        "attempts": len(inside),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "non_2xx": sum(n for s, n in statuses.items() if not 200 <= s < 300),
        "errors_500": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "no_answer": statuses.get(0, 0),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
    }


# The ingest, in rounds
# ------------------------------------------------------------------------------


class FaultIngest(Ingest):
    """The load's ingest with a few demo requests (MQLs), and a count of the
    batches that were retried and found partly stored by the failed try."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retried_batches = 0
        self.half_stored_batches = 0

    def item(self, n: int) -> dict[str, Any]:
        body = super().item(n)
        if random.Random(n * 7_919 + self.plan.seed).random() < DEMO_REQUEST_SHARE:
            body["kind"] = "demo_request"
            body["properties"] = {"form": "demo"}
        return body

    def batch_answered(
        self, answer: Any, results: list[dict[str, Any]], repeats: list[bool]
    ) -> None:
        # A batch answered only after retries must show every fresh item as
        # "created" or every one as "duplicate" (the failed try stored all of
        # it); a mix means an attempt that failed had stored part of it.
        if answer.attempts <= 1:
            return
        fresh = {
            r["status"] for r, rep in zip(results, repeats, strict=True) if not rep
        }
        with self.tally.lock:
            self.retried_batches += 1
            self.half_stored_batches += {"duplicate", "created"} <= fresh


class Rounds(threading.Thread):
    """Ingest rounds of ``round_size`` touchpoints until ``stop`` is set."""

    def __init__(
        self,
        *,
        stack: Stack,
        client: ApiClient,
        prepared: dict[str, Any],
        round_size: int,
        threads: int = 4,
        lead_ids: list[int] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.client = client
        self.prepared = prepared
        self.plan = LoadPlan(touchpoints=round_size, threads=threads, pool=300)
        self.lead_ids = lead_ids or prepared["lead_ids"]
        self.stop = threading.Event()
        self.ingests: list[FaultIngest] = []
        self.failure: BaseException | None = None
        self.run_id = f"{int(time.time()):x}"

    def run(self) -> None:
        try:
            number = 0
            while not self.stop.is_set():
                number += 1
                ingest = FaultIngest(
                    client=self.client,
                    plan=replace(self.plan, seed=number),
                    run=f"{self.run_id}r{number}",
                    marketing_token=self.prepared["marketing_token"],
                    sdr_token=self.prepared["sdr_token"],
                    lead_ids=self.lead_ids,
                )
                self.ingests.append(ingest)
                ingest.run_all(stop=self.stop)
        except BaseException as exc:  # reported by the scenario
            self.failure = exc

    def finish(self) -> None:
        self.stop.set()
        self.join()
        if self.failure is not None:
            raise RuntimeError(f"the ingest failed: {self.failure!r}")

    def figures(self) -> dict[str, Any]:
        """Acknowledged against stored, over every round."""
        total: Counter[str] = Counter()
        for ingest in self.ingests:
            figures = ingest.figures(self.stack)
            for name in (
                "accepted",
                "stored",
                "lost",
                "duplicated",
                "repeats_sent",
                "repeats_answered_200",
                "rejected_items",
                "unexpected_answers",
            ):
                total[name] += figures[name]
            total["retried_batches"] += ingest.retried_batches
            total["half_stored_batches"] += ingest.half_stored_batches
        recorder = self.client.recorder
        return {
            **dict(total),
            "rounds": len(self.ingests),
            "errors_5xx": recorder.responses_5xx(),
            # Over every attempt: a 5xx other than 503 ("nothing stored, try
            # again") is a bug whatever the fault.
            "errors_500": sum(
                n for s, n in recorder.attempts.items() if s >= 500 and s != 503
            ),
            "retries": recorder.retries,
            "p95_ms_single": recorder.p95("single"),
            "p95_ms_batch": recorder.p95("batch"),
            "p95_ms_reads": recorder.p95("read_queue", "read_leads"),
            "first_errors": recorder.errors[:5],
        }


# Integrity counts
# ------------------------------------------------------------------------------

INTEGRITY_SQL = {
    # A lead that entered the same stage twice (nothing in these scenarios
    # moves a lead back, so any repeat is a doubled transition).
    "doubled_transitions": """
        SELECT count(*) FROM (
            SELECT lead_id, to_stage FROM leads_stagetransition
            GROUP BY lead_id, to_stage HAVING count(*) > 1) AS d""",
    # More than one first handoff for a lead (a successor has ``previous``).
    "doubled_handoffs": """
        SELECT count(*) FROM (
            SELECT lead_id FROM handoff_handoff WHERE previous_id IS NULL
            GROUP BY lead_id HAVING count(*) > 1) AS d""",
    "mqls": "SELECT count(*) FROM leads_lead WHERE stage = 'mql'",
    "mqls_without_handoff": """
        SELECT count(*) FROM leads_lead l WHERE l.stage = 'mql'
        AND NOT EXISTS (SELECT 1 FROM handoff_handoff h WHERE h.lead_id = l.id)""",
    "handoffs": "SELECT count(*) FROM handoff_handoff",
    "leads": "SELECT count(*) FROM leads_lead",
}


def integrity(stack: Stack) -> dict[str, int]:
    with stack.db() as conn:
        return {
            name: conn.execute(sql).fetchone()[0] for name, sql in INTEGRITY_SQL.items()
        }


def wait_for(
    check: Callable[[], bool], seconds: float, every: float = 2.0
) -> tuple[bool, float]:
    """Poll ``check`` until true or ``seconds``; return (ok, seconds waited)."""
    began = time.monotonic()
    while True:
        if check():
            return True, round(time.monotonic() - began, 1)
        if time.monotonic() - began >= seconds:
            return False, round(time.monotonic() - began, 1)
        time.sleep(every)


def _reconcile_window(knobs: dict[str, Any]) -> float:
    """Longest a lost rescore can wait for the reconciler: the mark's age
    limit plus one timer interval (production: a minute each)."""
    return float((knobs["reconcile"] or 60) + (knobs["timer"] or 60))


def _client(stack: Stack, log: AttemptLog) -> LoggingClient:
    assert stack.web_port is not None
    return LoggingClient(stack.web_port, log, recorder=Recorder())


def _logged_rounds(stack: Stack, round_size: int) -> tuple[AttemptLog, Rounds]:
    """The scenario's ingest over 300 prepared leads, every attempt logged;
    not started yet."""
    prepared = prepare(stack, 300)
    log = AttemptLog()
    rounds = Rounds(
        stack=stack,
        client=_client(stack, log),
        prepared=prepared,
        round_size=round_size,
    )
    return log, rounds


@contextlib.contextmanager
def _outage_stack(
    knobs: dict[str, Any], *, say: Callable[[str], None], keep: bool
) -> Iterator[Stack]:
    """A started stack with the scenario's timer and reconcile knobs."""
    with Stack(
        say=say,
        keep=keep,
        timer_interval_seconds=knobs["timer"],
        reconcile_after_seconds=knobs["reconcile"],
    ) as stack:
        stack.up()
        yield stack


def _workers(stack: Stack) -> dict[str, Process]:
    return {
        p.name.removeprefix("worker-"): p
        for p in stack.processes
        if p.kind == "worker" and p.alive()
    }


# Scenarios
# ------------------------------------------------------------------------------


def run_worker_kill(
    *, size: str = "ci", say: Callable[[str], None] = print, keep: bool = False
) -> dict[str, Any]:
    """SIGKILL pool children and whole workers during ingest and a publish."""
    knobs = FAULT_SIZES["worker-kill"][size]
    began = time.monotonic()
    queues = {"realtime": ("realtime,timers,default", 2), "bulk": ("bulk", 1)}
    with Stack(
        say=say,
        keep=keep,
        timer_interval_seconds=TIMER_SECONDS,
        visibility_timeout=VISIBILITY_TIMEOUT,
        reconcile_after_seconds=RECONCILE_SECONDS,
    ) as stack:
        stack.up(workers=[(name, q, c) for name, (q, c) in queues.items()])
        stack.harness("seed", "--leads", str(knobs["leads"]))
        _log, rounds = _logged_rounds(stack, knobs["round"])
        rounds.start()
        time.sleep(LEAD_IN)
        model = stack.harness("publish-model")
        say(f"worker-kill: published model {model['model_id']}; killing workers")
        kills: list[dict[str, Any]] = []
        plan = ["realtime-child", "bulk-child", "realtime-main", "bulk-main"]
        for number in range(knobs["kills"]):
            time.sleep(knobs["every"])
            target = plan[number % len(plan)]
            name, part = target.split("-")
            worker = _workers(stack)[name]
            if part == "child":
                children = stack.worker_pool_children(worker)
                if not children:
                    continue
                pid = random.Random(number).choice(children)
                stack.kill(pid)
                kills.append({"target": target, "pid": pid})
            else:
                children = stack.worker_pool_children(worker)
                stack.kill(worker)
                for pid in children:  # recorded above as the worker's own
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                kills.append({"target": target, "pid": worker.pid})
                stack.start_worker(name, *queues[name])
            say(f"worker-kill: SIGKILL {kills[-1]}")
        last_kill = time.monotonic()
        time.sleep(TAIL)
        rounds.finish()
        say("worker-kill: load stopped; waiting for every lead to be rescored")
        deadline = VISIBILITY_TIMEOUT + 60

        def done() -> bool:
            progress = publish_progress(stack, model["model_id"])
            return (
                progress["finished"] is not None
                and progress["mismatched"] == 0
                and stale_leads(stack) == 0
            )

        settled, _ = wait_for(done, deadline - (time.monotonic() - last_kill))
        # The handoff reconciler opens what a killed task did not.
        wait_for(
            lambda: integrity(stack)["mqls_without_handoff"] == 0,
            RECONCILE_SECONDS + 3 * TIMER_SECONDS,
        )
        progress = publish_progress(stack, model["model_id"])
        figures = rounds.figures()
        counts = integrity(stack)
        stale = stale_leads(stack)
    return {
        "scenario": "worker-kill",
        "size": size,
        "kills": len(kills),
        "killed": Counter(k["target"] for k in kills),
        **figures,
        "stale_leads": stale,
        "settled_within_deadline": settled,
        "deadline_seconds": deadline,
        "leads_total": progress["total"],
        "leads_on_new_version": progress["on_new"],
        "leads_score_not_new_version": progress["mismatched"],
        **counts,
        "seconds": round(time.monotonic() - began, 1),
    }


def run_redis_kill(
    *, size: str = "ci", say: Callable[[str], None] = print, keep: bool = False
) -> dict[str, Any]:
    """Kill Redis mid-ingest, bring back an empty one, time the recovery."""
    knobs = FAULT_SIZES["redis-kill"][size]
    began = time.monotonic()
    with _outage_stack(knobs, say=say, keep=keep) as stack:
        log, rounds = _logged_rounds(stack, knobs["round"])
        rounds.start()
        time.sleep(LEAD_IN)
        down = time.monotonic()
        stack.kill_redis()
        say(f"redis-kill: Redis killed; down for {knobs['outage']:.0f} s")
        time.sleep(knobs["outage"])
        stack.start_redis()
        back = time.monotonic()
        say("redis-kill: an empty Redis is back")
        time.sleep(TAIL)
        rounds.finish()
        stopped = time.monotonic()
        # Waits past the two minutes, so a slow recovery is measured, not cut off.
        recovered, _ = wait_for(
            lambda: stale_leads(stack) == 0, _reconcile_window(knobs) + 150
        )
        recovery = round(time.monotonic() - back, 1)
        wait_for(
            lambda: integrity(stack)["mqls_without_handoff"] == 0,
            max(30.0, _reconcile_window(knobs) + 60 - recovery),
        )
        handoffs_recovery = round(time.monotonic() - back, 1)
        figures = rounds.figures()
        counts = integrity(stack)
        stale = stale_leads(stack)
        why = stale_breakdown(stack) if stale else None
    return {
        "scenario": "redis-kill",
        "size": size,
        "outage_seconds": knobs["outage"],
        "beat_interval_seconds": knobs["timer"] or 60,
        "reconcile_after_seconds": knobs["reconcile"] or 60,
        **figures,
        "during_outage": _window(log, down, back),
        "after_outage": _window(log, back, stopped),
        "stale_leads": stale,
        "rescored_all": recovered,
        # From Redis coming back to no lead left marked or scored before its
        # newest touchpoint (the load goes on for TAIL seconds of that).
        "seconds_to_all_rescored": recovery,
        "seconds_to_all_handoffs": handoffs_recovery,
        "stale_breakdown": why,
        **counts,
        "seconds": round(time.monotonic() - began, 1),
    }


def run_pg_restart(
    *, size: str = "ci", say: Callable[[str], None] = print, keep: bool = False
) -> dict[str, Any]:
    """Crash-stop PostgreSQL mid-load, start it again, check what survived."""
    knobs = FAULT_SIZES["pg-restart"][size]
    began = time.monotonic()
    with _outage_stack(knobs, say=say, keep=keep) as stack:
        log, rounds = _logged_rounds(stack, knobs["round"])
        assert stack.web is not None
        web_pids = sorted([stack.web.pid, *child_pids(stack.web.pid)])
        worker_pids = sorted(p.pid for p in _workers(stack).values())
        rounds.start()
        time.sleep(LEAD_IN)
        stopping = time.monotonic()
        say(f"pg-restart: stopping PostgreSQL for {knobs['outage']:.0f} s")
        # The outage window is from the postmaster's exit to the start
        # command: a request that began while the crash-stop was under way,
        # or after the new postmaster accepts again, may rightly succeed.
        stack.stop_postgres(mode="immediate")
        down = time.monotonic()
        time.sleep(knobs["outage"])
        starting = time.monotonic()
        stack.start_postgres()
        back = time.monotonic()
        say("pg-restart: PostgreSQL accepts connections again")
        time.sleep(TAIL)
        rounds.finish()
        stopped = time.monotonic()
        # A rescore that failed during the outage is the reconciler's: its
        # mark ages past the reconcile age, then the next timer takes it.
        stale, settle_seconds = settle(stack, _reconcile_window(knobs) + 90)
        # No lead stale says nothing of the handoff tasks the last rescores
        # enqueued, still in the realtime queue; wait for them (or for the
        # handoff reconciler, for a task lost in the outage).
        _, handoff_seconds = wait_for(
            lambda: integrity(stack)["mqls_without_handoff"] == 0,
            _reconcile_window(knobs) + 60,
        )
        web_after = sorted([stack.web.pid, *child_pids(stack.web.pid)])
        workers_after = sorted(p.pid for p in _workers(stack).values())
        figures = rounds.figures()
        counts = integrity(stack)
        why = stale_breakdown(stack) if stale else None
    during = _window(log, down, starting)
    return {
        "scenario": "pg-restart",
        "size": size,
        "outage_seconds": knobs["outage"],
        **figures,
        "during_outage": during,
        "after_outage": _window(log, back, stopped),
        "answers_503": during["statuses"].get("503", 0),
        "hung_answers": sum(1 for a in log.between(stopping, back) if a.ms >= HANG_MS),
        "web_processes_same": web_pids == web_after,
        "worker_processes_same": worker_pids == workers_after,
        "stale_leads": stale,
        "settle_seconds": settle_seconds,
        "stale_breakdown": why,
        "handoff_wait_seconds": handoff_seconds,
        **counts,
        "seconds": round(time.monotonic() - began, 1),
    }


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "worker-kill": run_worker_kill,
    "redis-kill": run_redis_kill,
    "pg-restart": run_pg_restart,
}
