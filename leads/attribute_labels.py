"""What people call a lead's imported attributes, and which group each belongs to.

``Lead.attributes`` holds whatever columns an import or the API brought:
``annual_revenue``, HubSpot's ``hs_lead_status``, Salesforce's
``Company_Size__c``. ``attribute_label`` turns such a key into the words a
page shows ("Annual revenue", "Lead status", "Company size") and the group the
lead page files it under. Pure functions over the key alone, so the lead page,
rule sentences and their tests agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

COMPANY = "Company"
CONTACT = "Contact"
MARKETING = "Marketing"
OTHER = "Other"
#: The groups in the order the lead page shows them.
GROUPS = (COMPANY, CONTACT, MARKETING, OTHER)

# Vendor decorations that say where a column came from, not what it holds:
# HubSpot's "hs_" prefix, Salesforce's custom-field suffixes ("__c", "__pc")
# and a managed package's namespace ("acme__Score__c").
_VENDOR_PREFIX = re.compile(r"^(hs_|hubspot_|sf_|[a-z0-9]+__(?=\w+__p?c$))", re.I)
_VENDOR_SUFFIX = re.compile(r"__(p?c|r)$", re.I)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_.\-]+")
#: Words written in capitals wherever they appear in a label.
_ACRONYMS = {
    "utm": "UTM",
    "url": "URL",
    "id": "ID",
    "ip": "IP",
    "crm": "CRM",
    "arr": "ARR",
    "mrr": "MRR",
    "b2b": "B2B",
    "b2c": "B2C",
    "saas": "SaaS",
    "usd": "USD",
    "eur": "EUR",
    "gclid": "GCLID",
    "ceo": "CEO",
    "cto": "CTO",
    "hq": "HQ",
    "linkedin": "LinkedIn",
}
# The first group whose words a label contains wins (so "utm_source" is
# marketing, not contact, and "company_phone" is company).
_GROUP_WORDS = (
    (
        MARKETING,
        {
            "utm",
            "campaign",
            "source",
            "medium",
            "term",
            "content",
            "referrer",
            "gclid",
            "lifecycle",
            "status",
            "analytics",
            "ad",
            "ads",
            "channel",
            "persona",
            "score",
            "webinar",
            "newsletter",
        },
    ),
    (
        COMPANY,
        {
            "company",
            "account",
            "employee",
            "employees",
            "headcount",
            "revenue",
            "industry",
            "size",
            "website",
            "domain",
            "founded",
            "sector",
            "hq",
            "arr",
            "mrr",
            "funding",
            "tech",
            "stack",
            "vertical",
        },
    ),
    (
        CONTACT,
        {
            "phone",
            "mobile",
            "email",
            "title",
            "job",
            "name",
            "linkedin",
            "twitter",
            "city",
            "state",
            "country",
            "address",
            "street",
            "zip",
            "postal",
            "timezone",
            "language",
            "role",
            "seniority",
            "department",
        },
    ),
)


@dataclass(frozen=True)
class AttributeLabel:
    group: str
    label: str


def attribute_label(key: str) -> AttributeLabel:
    """The label and group of an attribute key: ``"hs_lead_status"`` is
    "Lead status" in Marketing, ``"Company_Size__c"`` "Company size" in Company.

    A key with nothing left to show (such as ``"__c"``) keeps its own text.
    """
    words = _words(key)
    if not words:
        return AttributeLabel(OTHER, key.strip() or key)
    lowered = [w.lower() for w in words]
    group = next(
        (name for name, vocabulary in _GROUP_WORDS if vocabulary & set(lowered)),
        OTHER,
    )
    shown = [_ACRONYMS.get(w, w) for w in lowered]
    first = shown[0]
    if first == lowered[0]:
        shown[0] = first[:1].upper() + first[1:]
    return AttributeLabel(group, " ".join(shown))


def attribute_groups(attributes: Mapping[str, Any]) -> list[tuple[str, list[dict]]]:
    """A lead's attributes as ``[(group, [{"key", "label", "value"}, ...]), ...]``.

    Groups in GROUPS order (empty ones left out), attributes alphabetical by
    label within a group (then by key, so equal labels keep a stable order).
    """
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in GROUPS}
    for key, value in attributes.items():
        label = attribute_label(str(key))
        grouped[label.group].append({"key": key, "label": label.label, "value": value})
    return [
        (name, sorted(items, key=lambda i: (i["label"].casefold(), str(i["key"]))))
        for name, items in grouped.items()
        if items
    ]


def _words(key: str) -> list[str]:
    text = _VENDOR_PREFIX.sub("", key.strip())
    text = _VENDOR_SUFFIX.sub("", text)
    # A brand written in camel case is one word, not "Linked In".
    text = re.sub("linkedin", "Linkedin", text, flags=re.IGNORECASE)
    text = _CAMEL.sub(" ", text)
    return [w for w in _SEPARATORS.split(text) if w]
