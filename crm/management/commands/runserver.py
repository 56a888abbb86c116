"""``manage.py runserver``: the dev server, running the beat's timers when embedded.

Django's (and staticfiles') development server, plus two things once it is
listening: the address to log in at, and on the embedded default the beat
schedule running in a thread of the serving process (``crm.embedded_timers``).
With the autoreloader on, only the child process that serves gets here
(``RUN_MAIN=true``); the parent that watches files never binds, so the
timers run once, and restart with the code.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.management.commands import runserver
from django.urls import reverse

from crm import embedded_timers


class Command(runserver.Command):
    help = (
        "Start the development server; on the embedded default it also runs "
        "the beat schedule (EMBEDDED_TIMERS=false turns that off)."
    )

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        # Django's own banner just above names the address the same way.
        host = f"[{self.addr}]" if self._raw_ipv6 else self.addr
        # Only the printed address (runserver's "0" shorthand), not a bind.
        host = "0.0.0.0" if host == "0" else host  # nosec B104
        login = f"{self.protocol}://{host}:{server_port}{reverse('login')}"
        self.stdout.write(f"Log in at {login}")
        if embedded_timers.timers_start() is not None:
            self.stdout.write(
                "The beat schedule runs in this process (SLA timers every "
                "minute); EMBEDDED_TIMERS=false turns it off."
            )
        elif settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write(
                "EMBEDDED_TIMERS is off: SLA timers do not run in this process."
            )
