"""The test suite's settings: crm.settings in development mode (DEBUG on).

DEBUG is off unless set, and much follows from it when the settings are read
(the secret, allowed hosts, static file storage, HTTPS redirects), so it is
turned on before they are. Processes the tests start (Celery workers, the
settings probes) inherit it unless they set their own.
"""

import os

os.environ.setdefault("DEBUG", "true")

from crm.settings import *  # noqa: F403

# The funnel reads the leads in tests; the roll-up's own tests turn it on.
FUNNEL_ROLLUP = False
