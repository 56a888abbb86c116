"""Which e-mail domains stand for a company, by the public-suffix list.

A public suffix (``com``, ``co.uk``, ``github.io``) is shared by every company
registered under it, so it is never an account's domain and account matching
never walks up to it: ``eu.acme.co.uk`` may join ``acme.co.uk``, never
``co.uk``. The list is the one bundled with the pinned ``publicsuffixlist``
package (read once, on first use; nothing is fetched at run time). It
includes the private section (``github.io``, ``blogspot.com``) and treats an
unknown top-level domain as a public suffix, as browsers do.
"""

from __future__ import annotations

import functools

from publicsuffixlist import PublicSuffixList

from leads.freemail import is_freemail


@functools.cache
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()


def is_public_suffix(domain: str) -> bool:
    """Whether ``domain`` (any letter case, IDNA form) is itself a public suffix."""
    return _suffix_list().is_public(domain.strip().lower())


def account_domain_candidates(domain: str) -> list[str]:
    """The account domains an e-mail domain may match, most specific first.

    ``eu.acme.co.uk`` gives ``["eu.acme.co.uk", "acme.co.uk"]``: the domain and
    its parents down to the registrable domain, never a public suffix. Empty
    for a public suffix itself and for free-mail (no account); free-mail
    parents are left out too.
    """
    domain = domain.strip().lower()
    registrable = _suffix_list().privatesuffix(domain) if domain else None
    if registrable is None or is_freemail(domain):
        return []
    labels = domain.split(".")
    depth = registrable.count(".") + 1
    candidates = [".".join(labels[i:]) for i in range(len(labels) - depth + 1)]
    return [c for c in candidates if not is_freemail(c)]


def account_domain_problem(domain: str) -> str | None:
    """Why ``domain`` cannot be an account's domain, or None when it can."""
    domain = domain.strip().lower()
    if domain and is_public_suffix(domain):
        return (
            f"{domain} is a public suffix shared by many companies; give the "
            f"company's own domain, such as example.{domain}."
        )
    return None
