"""Imported attribute keys read as labels, in groups, in a stable order."""

from __future__ import annotations

import pytest

from leads.attribute_labels import (
    COMPANY,
    CONTACT,
    MARKETING,
    OTHER,
    AttributeLabel,
    attribute_groups,
    attribute_label,
)


@pytest.mark.parametrize(
    ("key", "group", "label"),
    [
        ("annual_revenue", COMPANY, "Annual revenue"),
        ("hs_lead_status", MARKETING, "Lead status"),
        ("Company_Size__c", COMPANY, "Company size"),
        ("NumberOfEmployees", COMPANY, "Number of employees"),
        ("acme__Employee_Band__c", COMPANY, "Employee band"),
        ("utm_campaign", MARKETING, "UTM campaign"),
        ("hs_analytics_source", MARKETING, "Analytics source"),
        ("mobile-phone", CONTACT, "Mobile phone"),
        ("LinkedIn_URL__pc", CONTACT, "LinkedIn URL"),
        ("favourite colour", OTHER, "Favourite colour"),
        ("__c", OTHER, "__c"),
    ],
)
def test_attribute_key_reads_as_a_label_in_its_group(key, group, label):
    assert attribute_label(key) == AttributeLabel(group, label)


def test_attributes_are_grouped_and_alphabetical_within_a_group():
    groups = attribute_groups(
        {
            "zodiac": "Leo",
            "utm_source": "newsletter",
            "Company_Size__c": "51-200",
            "annual_revenue": 1200000,
            "phone_ext": "12",
            "hs_lead_status": "OPEN",
        }
    )

    assert [(g, [i["label"] for i in items]) for g, items in groups] == [
        (COMPANY, ["Annual revenue", "Company size"]),
        (CONTACT, ["Phone ext"]),
        (MARKETING, ["Lead status", "UTM source"]),
        (OTHER, ["Zodiac"]),
    ]
    assert groups[0][1][0] == {
        "key": "annual_revenue",
        "label": "Annual revenue",
        "value": 1200000,
    }
