"""Run calls in real threads released together, for the race tests.

Each thread has its own database connection (Django keeps one per thread) and
closes it when it ends. A barrier releases the threads of a round at the same
moment, so their transactions overlap. SQLite serialises every write
transaction, so tests built on this only mean something on PostgreSQL (mark
them ``postgres`` and ``django_db(transaction=True)``: the threads cannot see
rows a test transaction has not committed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

#: One call's result: ("ok", its return value) or ("error", the exception).
Result = tuple[str, Any]

#: Longest a call may run, or a thread wait at a barrier, before the test
#: fails as hung: generous, as one call may be a worker's whole share of a
#: big run on a busy two-core machine.
TIMEOUT = 300


def run_rounds(rounds: Sequence[Sequence[Callable[[], Any]]]) -> list[list[Result]]:
    """Run round after round of calls; the calls of a round start at once.

    Every round has the same number of calls, and call ``i`` of each round
    runs in thread ``i``: the threads (and their connections) live for all
    the rounds, so many short rounds stay cheap. A round starts when every
    thread has finished the previous one. Returns each round's results in
    call order; an exception a call raises is recorded, never re-raised.
    """
    width = len(rounds[0]) if rounds else 0
    assert all(len(calls) == width for calls in rounds), "rounds of unequal width"
    barrier = threading.Barrier(max(width, 1))
    results: list[list[Result]] = [[("missing", None)] * width for _ in rounds]
    progress = [time.monotonic()]  # when a call last finished

    def run(position: int) -> None:
        try:
            for number, calls in enumerate(rounds):
                barrier.wait(timeout=TIMEOUT)
                try:
                    results[number][position] = ("ok", calls[position]())
                except Exception as exc:  # recorded and asserted by the test
                    results[number][position] = ("error", exc)
                progress[0] = time.monotonic()
        except threading.BrokenBarrierError:
            pass  # another thread hung; its "missing" result fails the test
        finally:
            connection.close()

    # Daemons: a thread stuck on a lock must not keep pytest from exiting.
    threads = [
        threading.Thread(target=run, args=(i,), daemon=True) for i in range(width)
    ]
    for thread in threads:
        thread.start()
    # Wait as long as calls keep finishing; a call stuck for TIMEOUT fails.
    while any(thread.is_alive() for thread in threads):
        if time.monotonic() - progress[0] > TIMEOUT:
            barrier.abort()
            break
        for thread in threads:
            thread.join(timeout=0.05)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def run_together(*calls: Callable[[], Any]) -> list[Result]:
    """Run the calls in threads started at once; each result is ("ok", value)
    or ("error", exception). Each thread closes its own connection."""
    return run_rounds([calls])[0]
