"""Bots by user agent: the patterns of ``crawlerdetect`` (a maintained port of
the CrawlerDetect lists), run by RE2 so that a user agent is read in linear
time whatever it holds.

crawlerdetect's own matcher uses Python's backtracking ``re`` on the text a
sender chooses; its pattern lists are plain alternations that RE2 runs as
they are, except one negative lookahead rewritten below.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import re2
from crawlerdetect.providers.crawlers import data as CRAWLER_PATTERNS
from crawlerdetect.providers.exclusions import data as EXCLUSION_PATTERNS

logger = logging.getLogger(__name__)

#: Longest user agent read; the rest is ignored (Visitor.user_agent keeps 500).
USER_AGENT_MAX_LENGTH = 500
#: RE2 has no lookahead; each rewrite matches what the original does.
_REWRITES = {
    "Yandex(?!Search)": "Yandex(?:$|[^S]|S[^e]|Se[^a]|Sea[^r]|Sear[^c]|Searc[^h])",
}


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = 64 << 20  # the crawler list's automaton needs ~10 MB
    return options


@lru_cache(maxsize=1)
def _patterns() -> tuple[re2._Regexp, re2._Regexp]:
    crawlers = [_REWRITES.get(p, p) for p in CRAWLER_PATTERNS]
    return (
        re2.compile("(?:" + "|".join(EXCLUSION_PATTERNS) + ")", _options()),
        re2.compile("(?:" + "|".join(crawlers) + ")", _options()),
    )


@lru_cache(maxsize=4096)
def is_bot_user_agent(user_agent: str) -> bool:
    """Whether the user agent is a crawler, bot, monitor or scripted client
    (crawlerdetect's judgement; cached for the user agents seen most)."""
    text = user_agent[:USER_AGENT_MAX_LENGTH].strip()
    if not text:
        return False
    exclusions, crawlers = _patterns()
    remaining = exclusions.sub("", text)
    return bool(remaining.strip()) and crawlers.search(remaining) is not None
