"""Demo accounts: company names, domains, sizes and revenue."""

from __future__ import annotations

import math
import random
import unicodedata
from decimal import Decimal

from crm.demo.catalogue import (
    _COINED_ENDS,
    _COINED_STARTS,
    _COUNTRY_BY_CODE,
    _COUNTRY_CHOICE,
    _FOUNDER_NAMES,
    _INDUSTRY_CHOICE,
    _INDUSTRY_NAMES,
    _NOUNS,
    _PREFIXES,
    _PUBLIC_INDUSTRIES,
    _REVENUE_PER_EMPLOYEE,
    _ROOTS,
    _SIZE_BANDS,
    _choice,
    _Country,
)
from leads.models import Account, Industry

_FOLD = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "o", "æ": "ae", "ł": "l"}
)


def _ascii(text: str) -> str:
    """Lower-case ASCII letters and digits: "Dąbrowski-Müller" -> "dabrowskimueller"."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum())


def _company_core(rng: random.Random, industry: str) -> str:
    """The distinctive part of a company name: "Northwind", "Blue Harbor", "Kalora"."""
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(_PREFIXES) + rng.choice(_ROOTS)
    if roll < 0.75:
        return f"{rng.choice(_PREFIXES)} {rng.choice(_NOUNS)}"
    if roll < 0.9 or industry in _PUBLIC_INDUSTRIES:
        return rng.choice(_COINED_STARTS) + rng.choice(_COINED_ENDS)
    first, second = rng.sample(_FOUNDER_NAMES, 2)
    return f"{first} & {second}"


def _account_name_and_domain(
    rng: random.Random, industry: str, country: _Country, taken_domains: set[str]
) -> tuple[str, str] | None:
    """A company name and a free domain derived from it, or None if all are taken."""
    core = _company_core(rng, industry)
    name = rng.choice(_INDUSTRY_NAMES[industry]).format(core)
    tld = _tld(rng, industry, country)
    core_slug, name_slug = _ascii(core), _ascii(name)
    candidates = []
    if " " not in core and rng.random() < 0.5:
        candidates.append(core_slug)
    candidates.append(name_slug)
    hyphenated = "-".join(_ascii(word) for word in name.replace("&", " ").split())
    if hyphenated != name_slug:
        candidates.append(hyphenated)
    if industry == Industry.SOFTWARE:
        candidates += [f"get{core_slug}", f"{core_slug}hq"]
    for stem in candidates:
        for suffix in (tld, "com"):
            domain = f"{stem}.{suffix}"
            if domain not in taken_domains:
                return name, domain
    return None


def _tld(rng: random.Random, industry: str, country: _Country) -> str:
    code = country.code
    if industry == Industry.GOVERNMENT and code in ("US", "GB"):
        return "gov" if code == "US" else "gov.uk"
    if industry == Industry.EDUCATION and code in ("US", "GB", "AU"):
        return {"US": "edu", "GB": "ac.uk", "AU": "edu.au"}[code]
    if industry == Industry.NONPROFIT:
        return "org.uk" if code == "GB" else "org"
    if industry == Industry.SOFTWARE and rng.random() < 0.15:
        return "io"
    return _choice(country.tlds).pick(rng)


def _employee_count(rng: random.Random) -> int:
    low, high = _SIZE_BANDS.pick(rng)
    # Log-uniform within the band: more 12-person than 48-person companies.
    return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))


def _accounts_build(rng: random.Random, count: int) -> list[Account]:
    """``count`` accounts (unsaved) with unique names and lower-case domains."""
    accounts: list[Account] = []
    taken_names: set[str] = set()
    taken_domains: set[str] = set()
    while len(accounts) < count:
        industry = _INDUSTRY_CHOICE.pick(rng)
        country = _COUNTRY_BY_CODE[_COUNTRY_CHOICE.pick(rng)]
        for _attempt in range(100):
            made = _account_name_and_domain(rng, industry, country, taken_domains)
            if made is not None and made[0].lower() not in taken_names:
                break
        else:
            raise RuntimeError(f"Ran out of company names after {len(accounts)}.")
        name, domain = made
        taken_names.add(name.lower())
        taken_domains.add(domain)
        if country.legal and industry not in _PUBLIC_INDUSTRIES and rng.random() < 0.25:
            name = f"{name} {rng.choice(country.legal)}"
        employees: int | None = _employee_count(rng)
        revenue = None
        per_employee = _REVENUE_PER_EMPLOYEE[industry]
        if per_employee is not None and rng.random() < 0.9:
            dollars = employees * rng.uniform(*per_employee) * 1_000
            revenue = Decimal(max(10_000, int(round(dollars, -4))))
        if rng.random() < 0.04:
            employees = None
        accounts.append(
            Account(
                name=name,
                domain=domain,
                industry=industry,
                employee_count=employees,
                annual_revenue=revenue,
                country=country.code,
            )
        )
    return accounts
