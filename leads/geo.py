"""Countries (ISO 3166-1 alpha-2) and the sales regions they belong to.

Regions are sales territories, not continents: Mexico and the Caribbean sit in
Latin America, Turkey and Israel in Middle East & Africa.
"""

from __future__ import annotations

from functools import cache

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

#: Every country code Leadflow accepts, mapped to its sales region.
COUNTRY_REGION: dict[str, str] = {
    code: str(region)
    for region, codes in _REGION_CODES.items()
    for code in codes.split()
}


def region_for_country(country: str) -> str:
    """Return the region code of an ISO country code, or "" when unknown/blank."""
    return COUNTRY_REGION.get((country or "").upper(), "")


def is_known_country(country: str) -> bool:
    return (country or "").upper() in COUNTRY_REGION


@cache
def _country_names() -> dict[str, str]:
    territories = Locale("en").territories
    return {code: territories.get(code, code) for code in COUNTRY_REGION}


def country_name(country: str) -> str:
    """The English name people use for a country code: "DE" is "Germany",
    "KR" "South Korea" (Unicode CLDR's names); a code Leadflow does not know
    is shown as given, and blank stays blank."""
    return _country_names().get((country or "").upper(), country or "")


def country_names() -> dict[str, str]:
    """Every country code Leadflow accepts and its name."""
    return dict(_country_names())
