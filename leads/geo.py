"""Countries (ISO 3166-1 alpha-2), how people write them, and the sales
regions they belong to.

Every country of ISO 3166-1 is known (from pycountry, plus Kosovo's
user-assigned XK, which CRMs use); ``country_from_text`` reads a code or an
English name the one way every entry point shares. Regions are sales
territories, not continents: Mexico and the Caribbean sit in Latin America,
Turkey and Israel in Middle East & Africa.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import pycountry
from babel import Locale
from django.db import models


class Region(models.TextChoices):
    NORTH_AMERICA = "north_america", "North America"
    LATAM = "latam", "Latin America"
    EUROPE = "europe", "Europe"
    MEA = "mea", "Middle East & Africa"
    APAC = "apac", "Asia-Pacific"


_REGION_CODES = {
    Region.NORTH_AMERICA: "US CA PM GL BM UM",
    Region.LATAM: (
        "MX GT BZ SV HN NI CR PA CU DO HT JM PR TT BB BS AG DM GD KN LC VC AW CW SX"
        " BQ KY TC VG VI AI MS GP MQ BL MF CO VE EC PE BO BR PY UY AR CL GY SR GF FK"
        " GS"
    ),
    Region.EUROPE: (
        "GB IE FR DE NL BE LU CH AT IT ES PT DK SE NO FI IS PL CZ SK HU SI HR BA RS"
        " ME MK AL GR BG RO MD UA BY LT LV EE MT CY MC LI AD SM VA GI IM JE GG FO AX"
        " SJ XK RU"
    ),
    Region.MEA: (
        "TR IL PS JO LB SY IQ IR SA AE QA BH KW OM YE EG LY TN DZ MA EH MR ML NE TD"
        " SD SS ER DJ ET SO KE UG RW BI TZ MZ MW ZM ZW BW NA ZA LS SZ MG MU SC KM RE"
        " YT AO CD CG GA GQ CM CF NG BJ TG GH CI LR SL GN GW SN GM CV ST BF SH AZ AM"
        " GE IO TF BV"
    ),
    Region.APAC: (
        "CN HK MO TW JP KR KP MN IN PK BD LK NP BT MV AF KZ KG TJ TM UZ MM TH LA KH"
        " VN MY SG ID BN PH TL AU NZ PG FJ SB VU NC PF WS TO TV KI NR MH FM PW GU MP"
        " AS CK NU TK WF PN NF CX CC HM"
    ),
}

#: Country codes mapped to their sales region. Antarctica (AQ) is a country
#: code without a sales region.
COUNTRY_REGION: dict[str, str] = {
    code: str(region)
    for region, codes in _REGION_CODES.items()
    for code in codes.split()
}

#: Every country code Leadflow accepts: ISO 3166-1 and Kosovo.
KNOWN_COUNTRIES: frozenset[str] = frozenset(
    {country.alpha_2 for country in pycountry.countries} | {"XK"}
)

#: Names people write that neither ISO 3166 (pycountry) nor Unicode CLDR
#: (Babel) spells this way: short forms, former names, parts of a country,
#: and the local names CRM users type. Matched like every name (any case,
#: accents, spaces and punctuation ignored).
COUNTRY_ALIASES: dict[str, str] = {
    "UK": "GB",
    "U.S.": "US",
    "U.S.A.": "US",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "America": "US",
    "UAE": "AE",
    "Turkey": "TR",
    "Korea": "KR",  # in CRM exports, South Korea (the North is written out)
    "Republic of Korea": "KR",
    "Holland": "NL",
    "Ivory Coast": "CI",
    "Macedonia": "MK",
    "Swaziland": "SZ",
    "Burma": "MM",
    "Vatican": "VA",
    "Palestine": "PS",
    "Macau": "MO",
    "East Timor": "TL",
    "DR Congo": "CD",
    "DRC": "CD",
    "Democratic Republic of the Congo": "CD",
    "Republic of Ireland": "IE",
    "Mainland China": "CN",
    "Deutschland": "DE",
    "España": "ES",
    "Italia": "IT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Österreich": "AT",
    "Brasil": "BR",
}


def region_for_country(country: str) -> str:
    """Return the region code of an ISO country code, or "" when unknown/blank."""
    return COUNTRY_REGION.get((country or "").upper(), "")


def is_known_country(country: str) -> bool:
    return (country or "").upper() in KNOWN_COUNTRIES


def _name_key(text: str) -> str:
    """``" Côte d'Ivoire "`` -> ``"cotedivoire"``: how country names match."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    key = re.sub(r"[\W_]+", "", plain.casefold())
    return key.removeprefix("the") if len(key) > 6 else key


@cache
def _names_index() -> dict[str, str]:
    """Every name Leadflow reads, by ``_name_key``, mapped to its code.

    pycountry's name, official and common names, CLDR's English name, then
    the aliases; an earlier spelling wins, so an alias never redirects an
    official name. Codes are not here: "n/a" must not read as Namibia.
    """
    index: dict[str, str] = {}
    territories = Locale("en").territories
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            if name := getattr(country, attr, None):
                index.setdefault(_name_key(name), country.alpha_2)
    for code in sorted(KNOWN_COUNTRIES):
        if name := territories.get(code):
            index.setdefault(_name_key(name), code)
    for alias, code in COUNTRY_ALIASES.items():
        index.setdefault(_name_key(alias), code)
    return index


def country_from_text(text: str) -> str | None:
    """The ISO alpha-2 code of a country as people write it, or None.

    ``"DE"``, ``"deu"``, ``" germany "``, ``"United States of America"``,
    ``"Korea, Republic of"``, ``"Türkiye"`` and ``"UK"`` are all read; blank
    text is ``""``; None means the text names no country Leadflow knows
    (each caller decides what that means: the API refuses it, an import keeps
    the text). Every entry point reads countries here.
    """
    stripped = (text or "").strip()
    if not stripped:
        return ""
    if stripped.isascii() and stripped.isalpha() and len(stripped) in (2, 3):
        code = _codes().get(stripped.upper())
        if code is not None:
            return code
    return _names_index().get(_name_key(stripped))


@cache
def _codes() -> dict[str, str]:
    """Alpha-2 and alpha-3 codes (upper case) to alpha-2."""
    codes = {"XK": "XK", "XKX": "XK"}  # Kosovo's user-assigned codes (CLDR's)
    for country in pycountry.countries:
        codes[country.alpha_2] = country.alpha_2
        codes[country.alpha_3] = country.alpha_2
    return codes


@cache
def _country_names() -> dict[str, str]:
    territories = Locale("en").territories
    return {code: territories.get(code, code) for code in KNOWN_COUNTRIES}


def country_name(country: str) -> str:
    """The English name people use for a country code: "DE" is "Germany",
    "KR" "South Korea" (Unicode CLDR's names); a code Leadflow does not know
    is shown as given, and blank stays blank."""
    return _country_names().get((country or "").upper(), country or "")


def country_names() -> dict[str, str]:
    """Every country code Leadflow accepts and its name."""
    return dict(_country_names())
