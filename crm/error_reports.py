"""What the debug page and error reports may show (the exception reporter filter).

Django's filter hides settings whose names look secret (``PASSWORD``,
``SECRET_KEY``...), and, with DEBUG off only, the POST fields and variables
a view marks sensitive. Leadflow's credentials also sit inside URLs under
names that do not look secret (``CELERY_BROKER_URL``, the cache's
``LOCATION``, ``DATABASE_URL`` in the environment ``runserver`` shows), and
its requests carry people's e-mail addresses and phone numbers. So, on the
debug page as in a mailed report, this filter also

* masks the password of every URL in settings, request headers and
  environment, and traceback variables (``redis://:****@host``);
* masks request fields and traceback variables (and the keys of dicts in
  them) named like a credential or like personal contact data.

Everything else is shown as Django shows it: the page stays useful.
"""

from __future__ import annotations

from typing import Any

import re2
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

#: ``scheme://user:password@``; user and password may be empty. re2: the
#: text can be a request's data, so no pattern may backtrack on it.
URL_CREDENTIALS = re2.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*):[^@/?#\s]*@")
#: Names of fields and variables whose values are masked.
PRIVATE_NAMES = re2.compile(
    r"(?i)pass|secret|token|signature|cookie|api_?key|credential"
    r"|e_?mail|phone|mobile|first_?name|last_?name|full_?name"
)
#: How deep into nested dicts and lists of a traceback variable to look.
NESTING_MAX = 4


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` masked."""
    if "://" not in text:
        return text
    return URL_CREDENTIALS.sub(
        rf"\1:{SafeExceptionReporterFilter.cleansed_substitute}@", text
    )


class ReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus URL passwords and personal fields (module docstring)."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        # Settings and request.META come through here, nested values included.
        cleansed = super().cleanse_setting(key, value)
        return mask_url_passwords(cleansed) if isinstance(cleansed, str) else cleansed

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        post = super().get_post_parameters(request)
        if not isinstance(post, QueryDict) or not post:
            return post
        cleansed = post.copy()
        for key in cleansed:
            if PRIVATE_NAMES.search(key):
                cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: Any
    ) -> list[tuple[str, Any]]:
        return [
            (name, self._cleanse_variable(name, value, depth=0))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def _cleanse_variable(self, name: Any, value: Any, *, depth: int) -> Any:
        if isinstance(name, str) and PRIVATE_NAMES.search(name):
            return self.cleansed_substitute
        if isinstance(value, str):
            return mask_url_passwords(value)
        if depth >= NESTING_MAX:
            return value
        nested = depth + 1
        if isinstance(value, MultiValueDict):
            return {
                key: [self._cleanse_variable(key, v, depth=nested) for v in values]
                for key, values in value.lists()
            }
        if isinstance(value, dict):
            return {
                key: self._cleanse_variable(key, v, depth=nested)
                for key, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(
                self._cleanse_variable(None, v, depth=nested) for v in value
            )
        return value
