"""Demo data: a realistic, reproducible data set for trying Leadflow.

``demo_seed`` fills an empty database with accounts, campaigns, leads, 90 days
of touchpoints and a lifecycle history for the leads that went somewhere. All
of it follows from one random seed and one "today": the same two give the same
rows (primary keys and the demo users aside). ``demo_users_ensure`` creates or
updates one login per role. The ``seed_demo`` management command is a thin
caller of both.

The lists below are curated by hand (no Faker): names by nationality, company
name parts, job titles, campaigns, pages and e-mails. Generation uses only its
own ``random.Random(seed)`` and iterates lists, never sets, so the output does
not depend on hash seeds or the global random state.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import logging
import math
import random
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Generic, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from crm import roles
from leads.geo import region_for_country
from leads.lifecycle import HistoryStep, history_replay
from leads.models import (
    Account,
    Campaign,
    Industry,
    Lead,
    StageTransition,
    Touchpoint,
)
from leads.titles import department_from_title, seniority_from_title
from scoring.bulk import model_rescore_all
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, RescoreChunk
from scoring.selectors import model_active
from scoring.services import SYSTEM_ACTOR as SCORING_ACTOR

logger = logging.getLogger(__name__)

Stage = Lead.Stage
Channel = Campaign.Channel
T = TypeVar("T")

# ------------------------------------------------------------------------------
# Public constants
# ------------------------------------------------------------------------------

DEMO_PASSWORD = "leadflow-demo"
LOGIN_URL = "http://127.0.0.1:8000/accounts/login/"
DEFAULT_LEADS = 2_000
DEFAULT_SEED = 42
MAX_LEADS = 1_000_000
#: Touchpoints fall in this many days before "today".
HISTORY_DAYS = 90
#: ``system_actor`` of the demo stage transitions and ``source`` of its touchpoints.
DEMO_SOURCE = "demo"

#: One account per this many leads (at least MIN_ACCOUNTS).
LEADS_PER_ACCOUNT = 8
MIN_ACCOUNTS = 20
#: Share of leads on a free-mail address, with no account.
FREEMAIL_SHARE = 0.20
# MQLs from this many days before today are mostly still waiting for an SDR.
MQL_PENDING_DAYS = 5
# Leads generated, inserted and dropped together with their touchpoints and
# transitions: about 25,000 model instances, a few tens of MB, whatever --leads is.
LEAD_CHUNK_SIZE = 5_000
# Rows per INSERT. SQLite lowers it further (999 parameters per statement).
INSERT_BATCH_SIZE = 2_000


@dataclass(frozen=True)
class DemoUser:
    """One demo login: a user in one role group."""

    username: str
    first_name: str
    last_name: str
    role: str
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@leadflow.example".lower()


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("marketer", "Maya", "Lindqvist", roles.MARKETING, is_staff=True),
    DemoUser("sdr1", "Jordan", "Reyes", roles.SDR),
    DemoUser("sdr2", "Priya", "Nair", roles.SDR),
    DemoUser("rep1", "Daniel", "Okafor", roles.SALES),
    DemoUser(
        "admin", "Sam", "Whitfield", roles.ADMIN, is_staff=True, is_superuser=True
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    """What one ``demo_seed`` run wrote."""

    accounts: int
    leads: int
    campaigns: int
    touchpoints: int
    transitions: int
    #: Every stage code in funnel order, with its number of leads (0 included).
    leads_per_stage: dict[str, int]
    elapsed_seconds: float
    #: The active scoring model the leads were scored under ("" when none).
    scoring_model: str = ""
    #: Leads that scoring moved to ``mql`` at the end of the seed.
    mqls_from_scoring: int = 0


class DemoDataPresent(Exception):
    """The database already holds leads, accounts or campaigns; nothing was written."""

    def __init__(self, *, leads: int, accounts: int, campaigns: int):
        self.leads = leads
        self.accounts = accounts
        self.campaigns = campaigns
        super().__init__(
            f"The database already holds {leads:,} leads, {accounts:,} accounts "
            f"and {campaigns:,} campaigns."
        )


# ------------------------------------------------------------------------------
# Curated lists
# ------------------------------------------------------------------------------


def _names(text: str, sep: str = ",") -> tuple[str, ...]:
    """Split a separated list; items may contain spaces ("de Jong")."""
    return tuple(part.strip() for part in text.split(sep) if part.strip())


_NAME_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        _names(
            "James, Mary, Robert, Patricia, John, Jennifer, Michael, Linda, David, "
            "Elizabeth, William, Barbara, Richard, Susan, Joseph, Jessica, Thomas, "
            "Sarah, Christopher, Karen, Daniel, Lisa, Matthew, Nancy, Anthony, Betty, "
            "Mark, Sandra, Andrew, Ashley, Joshua, Emily, Ryan, Megan, Kevin, Rachel, "
            "Brian, Lauren, Jason, Amanda, Tyler, Hannah, Oliver, Olivia, Jack, "
            "Chloe, Harry, Sophie, Liam, Emma, Noah, Grace, Ethan, Natalie, Owen, "
            "Abigail, Connor, Kate, Aidan, Siobhan"
        ),
        _names(
            "Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, "
            "Taylor, Thomas, Moore, Martin, Jackson, Thompson, White, Harris, Clark, "
            "Lewis, Robinson, Walker, Young, Allen, King, Wright, Scott, Hill, Green, "
            "Adams, Baker, Nelson, Carter, Mitchell, Roberts, Turner, Phillips, "
            "Campbell, Parker, Evans, Edwards, Collins, Stewart, Morris, Murphy, Cook, "
            "Rogers, Morgan, Cooper, Reed, Bailey, Bell, Kelly, Howard, Ward, Cox, "
            "Hughes, Price, Bennett, Wood, Barnes, Ross, Henderson, Coleman, Jenkins, "
            "Perry, Powell, Patterson, Fleming, O'Brien, Sullivan, Walsh, Byrne, "
            "McCarthy, Fitzgerald"
        ),
    ),
    "de": (
        _names(
            "Lukas, Leon, Finn, Jonas, Paul, Felix, Maximilian, Moritz, Jan, Tobias, "
            "Stefan, Andreas, Thomas, Michael, Sebastian, Florian, Matthias, Jörg, "
            "Anna, Lena, Laura, Julia, Lea, Sarah, Katharina, Johanna, Sophie, Marie, "
            "Hannah, Miriam, Sabine, Claudia, Petra, Jana, Ursula, Jürgen"
        ),
        _names(
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, "
            "Schulz, Hoffmann, Schäfer, Koch, Bauer, Richter, Klein, Wolf, Schröder, "
            "Neumann, Schwarz, Zimmermann, Braun, Krüger, Hofmann, Hartmann, Lange, "
            "Schmitt, Werner, Krause, Meier, Lehmann, Keller, Brandt, Vogel, Fuchs, "
            "Huber, Gruber, Steiner"
        ),
    ),
    "fr": (
        _names(
            "Louis, Gabriel, Léo, Hugo, Arthur, Lucas, Jules, Thomas, Nicolas, "
            "Julien, Antoine, Mathieu, Pierre, François, Camille, Léa, Manon, Chloé, "
            "Inès, Sarah, Emma, Jade, Louise, Juliette, Claire, Marion, Céline, "
            "Élodie, Amélie, Margaux"
        ),
        _names(
            "Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Leroy, "
            "Moreau, Simon, Laurent, Lefebvre, Michel, Garcia, David, Bertrand, Roux, "
            "Vincent, Fournier, Morel, Girard, André, Mercier, Dupont, Lambert, "
            "Bonnet, François, Faure, Rousseau, Blanc, Guérin"
        ),
    ),
    "nl": (
        _names(
            "Daan, Sem, Lucas, Levi, Bram, Thijs, Jesse, Ruben, Sander, Joost, "
            "Pieter, Maarten, Emma, Julia, Sanne, Lotte, Fleur, Anouk, Eva, Femke, "
            "Iris, Lieke, Noor, Sophie"
        ),
        _names(
            "de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Janssen, "
            "Visser, Smit, Meijer, de Boer, Mulder, de Groot, Bos, Vos, Peters, "
            "Hendriks, van Leeuwen, Dekker, Brouwer, de Wit, Dijkstra, Smits, "
            "de Graaf, van der Meer, Peeters, Maes, Claes"
        ),
    ),
    "es": (
        _names(
            "Alejandro, Daniel, Pablo, Hugo, Álvaro, Adrián, David, Javier, Diego, "
            "Sergio, Carlos, Miguel, José, Manuel, Luis, Lucía, María, Paula, Laura, "
            "Marta, Sofía, Carmen, Ana, Elena, Isabel, Valentina, Camila, Andrea, "
            "Ximena, Fernanda"
        ),
        _names(
            "García, Rodríguez, González, Fernández, López, Martínez, Sánchez, Pérez, "
            "Gómez, Martín, Jiménez, Ruiz, Hernández, Díaz, Moreno, Muñoz, Álvarez, "
            "Romero, Alonso, Gutiérrez, Navarro, Torres, Domínguez, Vázquez, Ramos, "
            "Castillo, Ortiz, Flores, Morales, Reyes"
        ),
    ),
    "nordic": (
        _names(
            "Erik, Lars, Anders, Johan, Karl, Nils, Oskar, Magnus, Henrik, Mikael, "
            "Elias, Søren, Mads, Eero, Mikko, Juho, Astrid, Ingrid, Sofia, Maja, "
            "Elsa, Freja, Linnea, Karin, Emma, Sara, Anna, Sigrid, Liv, Mette, Aino, "
            "Laura"
        ),
        _names(
            "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Olsson, "
            "Persson, Svensson, Gustafsson, Lindqvist, Lindberg, Berg, Hansen, "
            "Johansen, Olsen, Nielsen, Jensen, Pedersen, Andersen, Christensen, "
            "Larsen, Sørensen, Korhonen, Virtanen, Mäkinen, Nieminen, Halvorsen, "
            "Dahl, Lund"
        ),
    ),
    "pt": (
        _names(
            "João, Pedro, Lucas, Gabriel, Mateus, Rafael, Gustavo, Felipe, Bruno, "
            "Thiago, Rodrigo, Leonardo, Ana, Beatriz, Mariana, Júlia, Larissa, "
            "Camila, Fernanda, Letícia, Juliana, Gabriela, Carolina, Amanda"
        ),
        _names(
            "Silva, Santos, Oliveira, Souza, Rodrigues, Ferreira, Alves, Pereira, "
            "Lima, Gomes, Costa, Ribeiro, Martins, Carvalho, Almeida, Lopes, Soares, "
            "Fernandes, Vieira, Barbosa, Rocha, Dias, Nascimento, Moreira, Cardoso"
        ),
    ),
    "it": (
        _names(
            "Marco, Luca, Giuseppe, Francesco, Alessandro, Andrea, Matteo, Lorenzo, "
            "Davide, Simone, Giulia, Chiara, Francesca, Sara, Martina, Alessia, "
            "Elena, Valentina, Federica, Silvia"
        ),
        _names(
            "Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, "
            "Marino, Greco, Bruno, Gallo, Conti, De Luca, Mancini, Costa, Giordano, "
            "Rizzo, Lombardi, Moretti"
        ),
    ),
    "pl": (
        _names(
            "Jakub, Kacper, Piotr, Tomasz, Krzysztof, Paweł, Michał, Marcin, Anna, "
            "Katarzyna, Małgorzata, Agnieszka, Magdalena, Zuzanna, Julia, Natalia"
        ),
        _names(
            "Nowak, Kowalski, Wiśniewski, Wójcik, Kowalczyk, Kamiński, Lewandowski, "
            "Zieliński, Szymański, Woźniak, Dąbrowski, Kozłowski, Mazur, Krawczyk"
        ),
    ),
    "in": (
        _names(
            "Aarav, Vihaan, Arjun, Rohan, Aditya, Rahul, Vikram, Karthik, "
            "Siddharth, Aniket, Sanjay, Deepak, Nikhil, Priya, Ananya, Divya, Sneha, "
            "Pooja, Kavya, Neha, Isha, Meera, Aditi, Anjali"
        ),
        _names(
            "Sharma, Patel, Singh, Kumar, Gupta, Reddy, Iyer, Nair, Rao, Mehta, Shah, "
            "Joshi, Desai, Kapoor, Malhotra, Chatterjee, Banerjee, Menon, Pillai, "
            "Agarwal, Verma, Bhat, Krishnan"
        ),
    ),
    "zh": (
        _names(
            "Wei, Jun, Hao, Ming, Jian, Xin, Yu, Mei, Ling, Hui, Jia, Yan, Kai, Jing, "
            "Lei, Tao, Zhiwei, Qing, Ethan, Rachel, Marcus, Grace, Vincent, Joyce"
        ),
        _names(
            "Chen, Wang, Li, Zhang, Liu, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, "
            "Zhu, Hu, Lin, Tan, Lim, Ng, Ong, Goh, Teo, Koh, Lee"
        ),
    ),
    "ja": (
        _names(
            "Haruto, Yuto, Sota, Ren, Kaito, Takumi, Hiroshi, Kenji, Daiki, Shota, "
            "Yui, Hina, Sakura, Aoi, Yuna, Mio, Haruka, Ayaka, Miki, Naoko"
        ),
        _names(
            "Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, "
            "Kobayashi, Kato, Yoshida, Yamada, Sasaki, Yamaguchi, Matsumoto, Inoue, "
            "Kimura, Hayashi, Shimizu, Mori"
        ),
    ),
    "za": (
        _names(
            "Thabo, Sipho, Themba, Johan, Pieter, Kagiso, Lerato, Naledi, Anika, "
            "Zanele, Lindiwe, Nomvula"
        ),
        _names(
            "Nkosi, Dlamini, Ndlovu, Mokoena, van der Merwe, Botha, Pretorius, "
            "Khumalo, Mahlangu, Naidoo, Venter, Molefe"
        ),
    ),
    "he": (
        _names("Noam, Itai, Yonatan, Omer, Ariel, Noa, Tamar, Maya, Yael, Shira"),
        _names("Cohen, Levi, Mizrahi, Peretz, Biton, Friedman, Katz, Shapiro, Azoulay"),
    ),
    "ar": (
        _names("Omar, Ahmed, Khalid, Yousef, Tariq, Fatima, Layla, Mariam, Noura"),
        _names("Al Mansouri, Haddad, Khoury, Nasser, Saleh, Hassan, Al Hashimi"),
    ),
}


class _Choice(Generic[T]):
    """A weighted choice over a fixed list, drawn with a caller's Random."""

    def __init__(self, pairs: Sequence[tuple[T, float]]):
        self.values: list[T] = [value for value, _ in pairs]
        self.cum: list[float] = list(itertools.accumulate(w for _, w in pairs))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


@functools.cache
def _choice(pairs: tuple[tuple[T, float], ...]) -> _Choice[T]:
    """The _Choice for a constant tuple of pairs, built once."""
    return _Choice(pairs)


@dataclass(frozen=True)
class _Country:
    code: str
    weight: float
    utc_offset: float  # hours, for plausible local business hours
    names: tuple[tuple[str, float], ...]  # name pool -> weight
    tlds: tuple[tuple[str, float], ...]
    phone: tuple[str, ...]  # "#" is a random digit
    freemail: tuple[tuple[str, float], ...] = ()
    legal: tuple[str, ...] = ()  # company suffixes used there


_C = _Country
# North America and Europe hold ~86% of the weight, the rest of the world ~14%.
# Phones use the fictional ranges where there are some (555-01xx, 7946 0xxx).
# fmt: off
_COUNTRIES: tuple[_Country, ...] = (
    # code weight UTC offset, name pools, domain endings, phone templates,
    # local free-mail providers, company suffixes
    _C("US", 36, -6,
       (("en", 70), ("es", 10), ("in", 7), ("zh", 7), ("it", 3), ("de", 3)),
       (("com", 82), ("io", 10), ("co", 5), ("ai", 3)),
       ("+1 212 555 01##", "+1 415 555 01##", "+1 617 555 01##", "+1 312 555 01##",
        "+1 512 555 01##", "+1 206 555 01##"),
       (("comcast.net", 4), ("att.net", 3), ("verizon.net", 2)), ("Inc.", "LLC")),
    _C("GB", 11, 0, (("en", 82), ("in", 10), ("pl", 4), ("zh", 4)),
       (("co.uk", 60), ("com", 35), ("io", 5)),
       ("+44 20 7946 0###", "+44 161 496 0###", "+44 131 496 0###"),
       (("btinternet.com", 5), ("yahoo.co.uk", 4), ("hotmail.co.uk", 5),
        ("sky.com", 2)), ("Ltd",)),
    _C("DE", 8, 1, (("de", 88), ("pl", 4), ("it", 4), ("en", 4)),
       (("de", 75), ("com", 20), ("io", 5)),
       ("+49 30 ### ####", "+49 89 ### ####", "+49 40 ### ####"),
       (("gmx.de", 10), ("web.de", 9), ("t-online.de", 6)), ("GmbH", "AG")),
    _C("CA", 6, -5, (("en", 70), ("fr", 15), ("zh", 8), ("in", 7)),
       (("ca", 45), ("com", 50), ("io", 5)),
       ("+1 416 555 01##", "+1 604 555 01##", "+1 514 555 01##"),
       (("shaw.ca", 3), ("rogers.com", 3), ("sympatico.ca", 2)), ("Inc.", "Ltd.")),
    _C("FR", 5, 1, (("fr", 90), ("en", 5), ("es", 5)), (("fr", 70), ("com", 30)),
       ("+33 1 ## ## ## ##", "+33 4 ## ## ## ##"),
       (("orange.fr", 8), ("free.fr", 5), ("laposte.net", 4)), ("SAS", "SA")),
    _C("NL", 4, 1, (("nl", 90), ("en", 10)), (("nl", 75), ("com", 25)),
       ("+31 20 ### ####", "+31 10 ### ####"), (), ("B.V.",)),
    _C("ES", 3, 1, (("es", 95), ("en", 5)), (("es", 70), ("com", 30)),
       ("+34 91 ### ## ##", "+34 93 ### ## ##"),
       (("hotmail.es", 6), ("yahoo.es", 3)), ("S.L.", "S.A.")),
    _C("SE", 2.5, 1, (("nordic", 92), ("en", 8)), (("se", 75), ("com", 25)),
       ("+46 8 ### ### ##",), (), ("AB",)),
    _C("IE", 1.5, 0, (("en", 95), ("pl", 5)), (("ie", 60), ("com", 40)),
       ("+353 1 ### ####",), (), ("Ltd",)),
    _C("CH", 1.5, 1, (("de", 70), ("fr", 20), ("it", 10)), (("ch", 75), ("com", 25)),
       ("+41 44 ### ## ##",), (("gmx.ch", 4),), ("AG", "GmbH")),
    _C("IT", 1.5, 1, (("it", 95), ("en", 5)), (("it", 75), ("com", 25)),
       ("+39 02 #### ####", "+39 06 #### ####"), (("libero.it", 6),), ("S.r.l.",)),
    _C("PL", 1.5, 1, (("pl", 95), ("en", 5)), (("pl", 75), ("com", 25)),
       ("+48 22 ### ## ##",), (("wp.pl", 6), ("o2.pl", 3)), ("Sp. z o.o.",)),
    _C("BE", 1, 1, (("nl", 50), ("fr", 50)), (("be", 70), ("com", 30)),
       ("+32 2 ### ## ##",), (), ("NV", "SRL")),
    _C("DK", 1, 1, (("nordic", 95), ("en", 5)), (("dk", 75), ("com", 25)),
       ("+45 ## ## ## ##",), (), ("ApS", "A/S")),
    _C("NO", 1, 1, (("nordic", 95), ("en", 5)), (("no", 75), ("com", 25)),
       ("+47 ## ## ## ##",), (), ("AS",)),
    _C("AT", 0.8, 1, (("de", 95), ("en", 5)), (("at", 70), ("com", 30)),
       ("+43 1 ### ## ##",), (("gmx.at", 5),), ("GmbH",)),
    _C("FI", 0.7, 2, (("nordic", 95), ("en", 5)), (("fi", 75), ("com", 25)),
       ("+358 9 ### ####",), (), ("Oy",)),
    _C("IN", 3.5, 5.5, (("in", 95), ("en", 5)),
       (("in", 40), ("co.in", 30), ("com", 30)),
       ("+91 22 #### ####", "+91 80 #### ####"),
       (("rediffmail.com", 6), ("yahoo.co.in", 5)), ("Pvt Ltd",)),
    _C("BR", 3, -3, (("pt", 95), ("es", 5)), (("com.br", 80), ("com", 20)),
       ("+55 11 ##### ####", "+55 21 ##### ####"), (), ("Ltda.",)),
    _C("AU", 2.5, 10, (("en", 80), ("zh", 10), ("in", 10)),
       (("com.au", 80), ("com", 20)), ("+61 2 #### ####", "+61 3 #### ####"),
       (("bigpond.com", 6), ("optusnet.com.au", 3)), ("Pty Ltd",)),
    _C("SG", 1.2, 8, (("zh", 70), ("in", 20), ("en", 10)),
       (("sg", 30), ("com.sg", 40), ("com", 30)), ("+65 6### ####",), (),
       ("Pte Ltd",)),
    _C("MX", 1.2, -6, (("es", 100),), (("com.mx", 70), ("mx", 10), ("com", 20)),
       ("+52 55 #### ####",), (), ("S.A. de C.V.",)),
    _C("JP", 1, 9, (("ja", 100),), (("co.jp", 70), ("jp", 15), ("com", 15)),
       ("+81 3 #### ####",), (("yahoo.co.jp", 20),), ("K.K.",)),
    _C("ZA", 0.8, 2, (("za", 60), ("en", 40)), (("co.za", 85), ("com", 15)),
       ("+27 21 ### ####", "+27 11 ### ####"), (), ("(Pty) Ltd",)),
    _C("IL", 0.4, 2, (("he", 90), ("en", 10)), (("co.il", 70), ("com", 30)),
       ("+972 3 ### ####",), (), ("Ltd",)),
    _C("AE", 0.4, 4, (("ar", 60), ("in", 25), ("en", 15)), (("ae", 50), ("com", 50)),
       ("+971 4 ### ####",), (), ("LLC", "FZ-LLC")),
)
# fmt: on
_COUNTRY_BY_CODE = {c.code: c for c in _COUNTRIES}
_COUNTRY_CHOICE = _Choice([(c.code, c.weight) for c in _COUNTRIES])

# Everybody's free-mail; countries add their own (see _Country.freemail).
_FREEMAIL_COMMON: tuple[tuple[str, float], ...] = (
    ("gmail.com", 55),
    ("outlook.com", 12),
    ("hotmail.com", 8),
    ("yahoo.com", 9),
    ("icloud.com", 7),
    ("proton.me", 2),
    ("aol.com", 1.5),
)

# Company names: "<Prefix><root>" ("Northwind"), "<Prefix> <Noun>" ("Blue
# Harbor"), coined words ("Kalora") and founders' names ("Keller & Brandt").
_PREFIXES = _names(
    "North South East West Blue Silver Gold Bright Clear Iron Red Green "
    "Summit Harbor Pine Oak Stone Cedar Maple River Lake Sky Sun Star Cloud "
    "Swift True High Deep Open Wild Black White Grand Fair Key Arrow Eagle "
    "Fox Hawk Wolf Bear Copper Crystal Ever Frost Granite Hazel Ivory Jade "
    "Lumen Moss Noble Ocean Prairie Ridge Sage Timber Willow Amber Birch "
    "Coral Falcon",
    sep=" ",
)
_ROOTS = _names(
    "wind peak line path stone field bridge gate ridge way point light wave "
    "forge works stack leaf crest ford haven mark port view brook wood side "
    "hill rock shore spring bay vale mont core scape well dale hurst water",
    sep=" ",
)
_NOUNS = _names(
    "Harbor Ridge River Summit Bridge Valley Mountain Meadow Canyon Forest "
    "Island Point Creek Lake Field Rock Hill Bay Grove Springs",
    sep=" ",
)
_COINED_STARTS = _names(
    "Av Bel Cor Del Ev Fin Gal Hel Ix Jun Kal Lum Mer Nov Or Pax Quin Ros Sol "
    "Tal Ul Ver Wex Xen Zan",
    sep=" ",
)
_COINED_ENDS = _names(
    "ara ion ix ora ent ify ly io ex on ia ium era ico ana",
    sep=" ",
)
_FOUNDER_NAMES = _NAME_POOLS["en"][1] + _NAME_POOLS["de"][1][:20]

# "{}" is the name part. Several per industry, so 100k+ accounts stay unique.
_INDUSTRY_NAMES: dict[str, tuple[str, ...]] = {
    Industry.SOFTWARE: (
        "{}",
        "{} Analytics",
        "{} Labs",
        "{} Software",
        "{} Systems",
        "{} Cloud",
        "{} Data",
        "{} Technologies",
        "{} AI",
        "{} Digital",
        "{} Security",
        "{} Tech",
    ),
    Industry.FINANCIAL_SERVICES: (
        "{} Capital",
        "{} Financial",
        "{} Bank",
        "{} Insurance",
        "{} Payments",
        "{} Wealth Management",
        "{} Credit Union",
    ),
    Industry.HEALTHCARE: (
        "{} Health",
        "{} Medical",
        "{} Biotech",
        "{} Pharma",
        "{} Care",
        "{} Diagnostics",
        "{} Clinics",
    ),
    Industry.MANUFACTURING: (
        "{} Manufacturing",
        "{} Industries",
        "{} Components",
        "{} Robotics",
        "{} Materials",
        "{} Machinery",
        "{} Plastics",
    ),
    Industry.RETAIL: (
        "{} Retail",
        "{} Outfitters",
        "{} Goods",
        "{} Market",
        "{} Commerce",
        "{} Brands",
        "{} Home",
    ),
    Industry.EDUCATION: (
        "{} University",
        "{} Community College",
        "{} Academy",
        "{} Learning",
        "{} School District",
        "{} Institute of Technology",
    ),
    Industry.GOVERNMENT: (
        "City of {}",
        "{} County",
        "{} Transit Authority",
        "{} Water District",
        "{} Public Services",
        "{} Housing Authority",
    ),
    Industry.MEDIA: (
        "{} Media",
        "{} Studios",
        "{} Publishing",
        "{} Entertainment",
        "{} Broadcasting",
        "{} Games",
    ),
    Industry.TELECOM: (
        "{} Telecom",
        "{} Networks",
        "{} Communications",
        "{} Wireless",
        "{} Fiber",
    ),
    Industry.PROFESSIONAL_SERVICES: (
        "{} Consulting",
        "{} Advisory",
        "{} Partners",
        "{} Group",
        "{} Associates",
        "{} Legal",
        "{} Accountants",
    ),
    Industry.LOGISTICS: (
        "{} Logistics",
        "{} Freight",
        "{} Shipping",
        "{} Transport",
        "{} Supply",
        "{} Cargo",
    ),
    Industry.ENERGY: (
        "{} Energy",
        "{} Power",
        "{} Solar",
        "{} Utilities",
        "{} Renewables",
        "{} Grid",
    ),
    Industry.NONPROFIT: (
        "{} Foundation",
        "{} Trust",
        "{} Alliance",
        "{} Society",
        "{} Fund",
    ),
    Industry.OTHER: ("{} Group", "{} Holdings", "{} Company", "{} Collective"),
}
# No legal suffix and no founders' names for these.
_PUBLIC_INDUSTRIES = (Industry.GOVERNMENT, Industry.EDUCATION, Industry.NONPROFIT)
_INDUSTRY_CHOICE = _Choice(
    [
        (Industry.SOFTWARE, 25),
        (Industry.FINANCIAL_SERVICES, 10),
        (Industry.HEALTHCARE, 8),
        (Industry.MANUFACTURING, 9),
        (Industry.RETAIL, 8),
        (Industry.EDUCATION, 5),
        (Industry.GOVERNMENT, 3),
        (Industry.MEDIA, 5),
        (Industry.TELECOM, 4),
        (Industry.PROFESSIONAL_SERVICES, 10),
        (Industry.LOGISTICS, 5),
        (Industry.ENERGY, 3),
        (Industry.NONPROFIT, 2),
        (Industry.OTHER, 3),
    ]
)
# Revenue per employee in thousands of US dollars (low, high); None: no revenue.
_REVENUE_PER_EMPLOYEE: dict[str, tuple[int, int] | None] = {
    Industry.SOFTWARE: (120, 350),
    Industry.FINANCIAL_SERVICES: (200, 600),
    Industry.HEALTHCARE: (80, 250),
    Industry.MANUFACTURING: (150, 400),
    Industry.RETAIL: (100, 300),
    Industry.EDUCATION: (40, 120),
    Industry.GOVERNMENT: None,
    Industry.MEDIA: (100, 300),
    Industry.TELECOM: (250, 600),
    Industry.PROFESSIONAL_SERVICES: (80, 250),
    Industry.LOGISTICS: (120, 350),
    Industry.ENERGY: (300, 900),
    Industry.NONPROFIT: (30, 100),
    Industry.OTHER: (80, 300),
}
# Employee size bands (low, high, weight): skewed to small and mid-sized companies.
_SIZE_BANDS = _Choice(
    [
        ((1, 10), 14),
        ((11, 50), 24),
        ((51, 200), 25),
        ((201, 500), 14),
        ((501, 1_000), 9),
        ((1_001, 5_000), 8),
        ((5_001, 10_000), 3.5),
        ((10_001, 150_000), 2.5),
    ]
)

# Job titles by level, with each level's share of leads (percent); the titles of
# a level share it equally. Seniority and department come from leads.titles.
_TITLE_LEVELS: tuple[tuple[float, str], ...] = (
    (
        4,
        "CEO; Co-Founder & CEO; Founder; Chief Marketing Officer; "
        "Chief Revenue Officer; CTO; CFO; COO; President; Managing Director; "
        "General Manager; Chief Information Officer",
    ),
    (
        6,
        "VP of Marketing; VP Sales; VP of Engineering; SVP Revenue Operations; "
        "Vice President, Customer Success; VP Demand Generation; VP of Finance; "
        "VP Product; VP of Sales Development; VP Growth",
    ),
    (
        14,
        "Director of Marketing; Head of Growth; Head of Demand Generation; "
        "Director of Sales Operations; Head of Customer Success; IT Director; "
        "Director of Engineering; Head of People; Marketing Director; "
        "Director of Product Marketing; Head of Revenue Operations; "
        "Director of Sales; Head of IT; Director of Finance",
    ),
    (
        28,
        "Marketing Manager; Demand Generation Manager; Marketing Operations Manager; "
        "Sales Manager; Revenue Operations Manager; Product Manager; "
        "Account Manager; Engineering Manager; IT Manager; HR Manager; "
        "Customer Success Manager; Content Marketing Manager; Team Lead; "
        "Sales Team Lead; Field Marketing Manager; Operations Manager; "
        "Product Marketing Manager; Sales Development Manager",
    ),
    (
        38,
        "Marketing Specialist; Demand Generation Specialist; Account Executive; "
        "Sales Development Representative; Business Development Representative; "
        "Software Engineer; Senior Software Engineer; Data Analyst; "
        "Marketing Operations Specialist; Growth Marketer; Content Strategist; "
        "Product Designer; Customer Success Specialist; Financial Analyst; "
        "Recruiter; Solutions Architect; Business Analyst; Consultant; Accountant; "
        "Operations Analyst; Revenue Operations Analyst; SEO Specialist; "
        "Copywriter; Systems Administrator",
    ),
    (
        7,
        "Marketing Intern; Sales Intern; Marketing Assistant; Junior Developer; "
        "Graduate Sales Trainee; Junior Account Executive; Sales Assistant; "
        "Marketing Trainee",
    ),
    (2, "Student; MBA Student; Graduate Student; Computer Science Student"),
)
_TITLE_WEIGHTS: tuple[tuple[str, float], ...] = tuple(
    (title, share / len(titles))
    for share, text in _TITLE_LEVELS
    for titles in [_names(text, sep=";")]
    for title in titles
)
_TITLES = _Choice(_TITLE_WEIGHTS)
# Free-mail leads: more freelancers, small business owners, students, no title.
_FREEMAIL_TITLES = _Choice(
    [
        *_TITLE_WEIGHTS,
        ("Freelance Consultant", 5),
        ("Independent Consultant", 3),
        ("Owner", 4),
        ("Student", 3),
        ("MBA Student", 1),
        ("Marketing Intern", 2),
        ("", 5),
    ]
)

_SITE = "https://leadflow.example"
_BLOG_POSTS = (
    "what-is-an-mql",
    "lead-scoring-models-explained",
    "sla-between-marketing-and-sales",
    "reduce-lead-response-time",
    "b2b-attribution-basics",
    "how-to-disqualify-leads-politely",
    "hubspot-vs-salesforce-lead-scoring",
    "intent-data-for-b2b",
    "revops-metrics-that-matter",
    "lead-nurturing-emails-that-work",
    "mql-vs-sql",
    "building-a-lead-routing-process",
)
_PRODUCT_PAGES = (
    "/features/lead-scoring",
    "/features/sla-management",
    "/features/sal-queue",
    "/integrations/salesforce",
    "/integrations/hubspot",
    "/customers",
    "/security",
)
_CAREER_PAGES = (
    "/careers",
    "/careers/senior-backend-engineer",
    "/careers/account-executive",
    "/careers/product-designer",
    "/careers/sdr-team-lead",
)
_ORGANIC_REFERRERS = _Choice(
    [
        ("", 45),
        ("https://www.google.com/", 30),
        ("https://www.bing.com/", 5),
        ("https://www.linkedin.com/", 10),
        ("https://news.ycombinator.com/", 3),
        ("https://www.g2.com/", 7),
    ]
)
# Referrer of a page view that a campaign brought in.
_CAMPAIGN_REFERRERS = {
    "brand_search": "https://www.google.com/",
    "nonbrand_search": "https://www.google.com/",
    "seo": "https://www.google.com/",
    "retargeting": "https://www.linkedin.com/",
    "playbook": "https://www.linkedin.com/",
    "benchmark": "https://www.facebook.com/",
    "partner": "https://northstar-revops.example/",
    "syndication": "https://www.netline.com/",
}
# Which campaigns (by key) bring which touchpoints; None: no campaign (direct).
_PRICING_CAMPAIGNS = (("retargeting", 30), ("brand_search", 25), (None, 45))
_HOME_CAMPAIGNS = (("brand_search", 45), (None, 55))
_BLOG_CAMPAIGNS = (("seo", 65), ("benchmark", 5), (None, 30))
_PRODUCT_CAMPAIGNS = (("nonbrand_search", 35), (None, 65))
_INTENT_CAMPAIGNS = (
    ("brand_search", 30),
    ("nonbrand_search", 20),
    ("partner", 6),
    (None, 44),
)
_ASSETS = (
    # title, path, campaign, weight
    ("The Lead Scoring Playbook (e-book)", "lead-scoring-playbook", "playbook", 30),
    ("RevOps Benchmark Report {year}", "revops-benchmark-report", "benchmark", 15),
    (
        "State of Lead Qualification {year}",
        "state-of-lead-qualification",
        "syndication",
        20,
    ),
    ("MQL-to-SQL SLA Template (spreadsheet)", "sla-template", "seo", 15),
    (
        "Buyer's Guide to Lead Management Software",
        "buyers-guide",
        "nonbrand_search",
        12,
    ),
    ("Lead Routing Checklist", "lead-routing-checklist", None, 8),
)
_ASSET_CHOICE = _Choice([(asset, asset[3]) for asset in _ASSETS])
_NEWSLETTER_SUBJECTS = (
    "MQL vs SQL: where do you draw the line?",
    "5 lead scoring mistakes we see every week",
    "How fast should sales follow up? (The data says: faster)",
    "Inside a 40-person SDR team's SAL queue",
    "Negative scoring: the rules nobody writes",
    "Your funnel report is lying to you",
    "What 1,200 rejected leads taught us",
    "Decay, caps and half-lives, explained simply",
    "The SLA template our customers copy most",
    "Intent data without the hype",
    "Three dashboards every RevOps lead needs",
    "Recycling leads: when nurture beats disqualify",
    "From webinar to pipeline in 14 days",
    "Why your best leads go cold over the weekend",
)
_CHAT_TOPICS = ("pricing", "integrations", "security review", "trial help", "demo")
_TECH_STACKS = ("salesforce", "hubspot", "marketo", "pipedrive", "dynamics365", "zoho")

# Why leads leave the funnel. Moves to nurture and disqualified must say why.
_REJECT_NURTURE = _Choice(
    [
        ("No budget this year", 30),
        ("Not the decision maker", 25),
        ("No need right now", 20),
        ("Timing: revisit next quarter", 25),
    ]
)
_REJECT_DISQUALIFY = _Choice(
    [
        ("Competitor", 25),
        ("Bad contact data", 25),
        ("Duplicate of an existing lead", 20),
        ("Already in an open deal", 15),
        ("Wrong region: outside our markets", 15),
    ]
)
_SAL_NURTURE = _Choice(
    [
        ("No budget this year", 35),
        ("Went dark after the discovery call", 35),
        ("Timing: revisit next quarter", 30),
    ]
)
_SAL_DISQUALIFY = _Choice(
    [("Not a fit: company too small", 60), ("Competitor", 20), ("No need", 20)]
)
_SQL_NURTURE = _Choice([("Project postponed", 50), ("No budget this year", 50)])
_OPPORTUNITY_LOST = _Choice(
    [
        ("Closed lost: chose a competitor", 45),
        ("Closed lost: no decision", 35),
        ("Closed lost: price", 20),
    ]
)


# ------------------------------------------------------------------------------
# Campaigns
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CampaignSpec:
    key: str
    name: str  # may use {quarter}, {year}, {city}
    channel: str
    utm_source: str
    utm_medium: str
    utm_campaign: str  # may use {quarter}, {year}, {city}
    budget: tuple[int, int]  # US dollars
    starts_ago: tuple[int, int]  # days before today
    days: tuple[int, int] | None  # running time; None: still running yesterday


_S = _CampaignSpec
# fmt: off
_CAMPAIGN_SPECS: tuple[_CampaignSpec, ...] = (
    # key, name, channel, utm source / medium / campaign,
    # budget range (USD), start (days before today), running days (None: ongoing)
    _S("brand_search", "Brand Search \N{EN DASH} Google Ads", Channel.PAID_SEARCH,
       "google", "cpc", "brand-search",
       (8_000, 15_000), (112, 120), None),
    _S("nonbrand_search", "Lead Scoring Software Keywords \N{EN DASH} Google Ads",
       Channel.PAID_SEARCH, "google", "cpc", "lead-scoring-software",
       (15_000, 35_000), (100, 110), None),
    _S("retargeting", "{quarter} Pricing Page Retargeting \N{EN DASH} LinkedIn",
       Channel.PAID_SOCIAL, "linkedin", "paid-social",
       "pricing-retargeting-{quarter}-{year}",
       (4_000, 12_000), (62, 80), (45, 60)),
    _S("playbook", "Lead Scoring Playbook E-book \N{EN DASH} LinkedIn Lead Gen",
       Channel.PAID_SOCIAL, "linkedin", "paid-social", "lead-scoring-playbook",
       (10_000, 25_000), (95, 110), (70, 90)),
    _S("benchmark", "RevOps Benchmark Report {year} \N{EN DASH} Meta Ads",
       Channel.PAID_SOCIAL, "facebook", "paid-social", "revops-benchmark-{year}",
       (2_000, 6_000), (50, 70), (30, 40)),
    _S("newsletter", "Weekly Newsletter", Channel.EMAIL,
       "newsletter", "email", "weekly-newsletter",
       (300, 900), (115, 120), None),
    _S("launch", "Product Launch: SLA Timers \N{EN DASH} E-mail", Channel.EMAIL,
       "leadflow", "email", "sla-timers-launch",
       (400, 1_500), (30, 45), (10, 14)),
    _S("webinar_sla", "Webinar: Building an MQL-to-SQL SLA Sales Trusts",
       Channel.WEBINAR, "zoom", "webinar", "webinar-mql-sql-sla",
       (1_500, 4_000), (92, 100), (21, 28)),
    _S("webinar_scoring", "Webinar: Scoring Models That Predict Revenue",
       Channel.WEBINAR, "zoom", "webinar", "webinar-scoring-models",
       (1_500, 4_000), (55, 65), (21, 28)),
    _S("webinar_routing", "Webinar: Lead Routing Office Hours",
       Channel.WEBINAR, "zoom", "webinar", "webinar-lead-routing",
       (1_500, 4_000), (30, 36), (21, 28)),
    _S("summit", "RevOps Summit {city} {year} \N{EN DASH} Booth", Channel.EVENT,
       "revops-summit", "event", "booth-{city}-{year}",
       (18_000, 40_000), (48, 58), (2, 3)),
    _S("syndication",
       "State of Lead Qualification {year} \N{EN DASH} Content Syndication",
       Channel.CONTENT, "netline", "syndication",
       "state-of-lead-qualification-{year}",
       (6_000, 15_000), (80, 90), (40, 60)),
    _S("seo", "Blog & SEO \N{EN DASH} Always On", Channel.ORGANIC,
       "google", "organic", "seo-blog",
       (800, 2_500), (118, 120), None),
    _S("partner", "Partner Referrals \N{EN DASH} Northstar RevOps Consulting",
       Channel.PARTNER, "northstar", "referral", "partner-referrals",
       (1_000, 3_000), (90, 100), None),
)
# fmt: on
_WEBINAR_KEYS = ("webinar_sla", "webinar_scoring", "webinar_routing")
_SUMMIT_CITIES = ("Berlin", "Boston", "London", "Austin", "Amsterdam")

# The lead's source follows the channel of its first touchpoint's campaign.
_SOURCE_BY_CHANNEL = {
    Channel.PAID_SEARCH: Lead.Source.PAID_SEARCH,
    Channel.PAID_SOCIAL: Lead.Source.PAID_SOCIAL,
    Channel.EMAIL: Lead.Source.EMAIL,
    Channel.WEBINAR: Lead.Source.EVENT,
    Channel.EVENT: Lead.Source.EVENT,
    Channel.CONTENT: Lead.Source.REFERRAL,
    Channel.ORGANIC: Lead.Source.ORGANIC_SEARCH,
    Channel.PARTNER: Lead.Source.PARTNER,
    Channel.DISPLAY: Lead.Source.PAID_SOCIAL,
    Channel.OTHER: Lead.Source.OTHER,
}
_SOURCE_BY_REFERRER = {
    "https://www.google.com/": Lead.Source.ORGANIC_SEARCH,
    "https://www.bing.com/": Lead.Source.ORGANIC_SEARCH,
    "https://www.linkedin.com/": Lead.Source.SOCIAL,
    "https://news.ycombinator.com/": Lead.Source.SOCIAL,
    "https://www.g2.com/": Lead.Source.REFERRAL,
}
_SEARCH_TERMS = (
    "lead scoring software",
    "mql to sql handoff",
    "lead qualification tool",
    "sales sla tracking",
    "b2b lead management",
    "leadflow pricing",
    "leadflow",
)
_AD_VARIANTS = ("carousel-a", "carousel-b", "single-image", "video-15s", "text-ad")


@dataclass(frozen=True)
class _Send:
    """One marketing e-mail sent to the list."""

    at: datetime
    campaign: str
    email_id: str
    subject: str
    url: str


@dataclass
class _World:
    """Everything generation reads: the clock, campaigns, accounts, users."""

    rng: random.Random
    start: datetime  # the first moment of the touchpoint window
    end: datetime  # midnight (UTC) starting "today": nothing happens from here on
    year: int
    campaigns: dict[str, Campaign]
    sends: list[_Send]
    send_times: list[datetime]
    users: dict[str, int]  # username -> id
    accounts: list[Account] = field(default_factory=list)
    account_cum: list[float] = field(default_factory=list)
    used_emails: set[str] = field(default_factory=set)

    def campaign_on(self, key: str | None, day: date) -> str | None:
        """``key`` when that campaign runs on ``day``, else None."""
        if key is None:
            return None
        campaign = self.campaigns[key]
        if campaign.starts_on <= day and (
            campaign.ends_on is None or day <= campaign.ends_on
        ):
            return key
        return None

    def webinar_at(self, key: str) -> datetime:
        ends_on = self.campaigns[key].ends_on
        return datetime(ends_on.year, ends_on.month, ends_on.day, 16, tzinfo=UTC)


def _campaigns_build(rng: random.Random, today: date) -> list[tuple[str, Campaign]]:
    """The demo campaigns (unsaved), keyed; dates within ~120 days before today."""
    yesterday = today - timedelta(days=1)
    city = rng.choice(_SUMMIT_CITIES)
    built = []
    for spec in _CAMPAIGN_SPECS:
        starts_on = today - timedelta(days=rng.randint(*spec.starts_ago))
        ends_on = yesterday
        if spec.days is not None:
            ends_on = min(
                yesterday, starts_on + timedelta(days=rng.randint(*spec.days))
            )
        labels = {
            "quarter": f"Q{(starts_on.month - 1) // 3 + 1}",
            "year": str(starts_on.year),
            "city": city,
        }
        slugs = {k: v.lower() for k, v in labels.items()}
        budget = Decimal(rng.randrange(spec.budget[0], spec.budget[1] + 1, 50))
        campaign = Campaign(
            name=spec.name.format(**labels),
            channel=spec.channel,
            utm_source=spec.utm_source,
            utm_medium=spec.utm_medium,
            utm_campaign=spec.utm_campaign.format(**slugs),
            budget=budget,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        built.append((spec.key, campaign))
    return built


def _sends_build(campaigns: dict[str, Campaign], end: datetime) -> list[_Send]:
    """The weekly newsletter (Tuesdays) and the two launch e-mails, by time."""
    sends = []
    newsletter = campaigns["newsletter"]
    day = newsletter.starts_on + timedelta(
        days=(1 - newsletter.starts_on.weekday()) % 7
    )
    while day <= newsletter.ends_on:
        year, week, _ = day.isocalendar()
        sends.append(
            _Send(
                at=datetime(day.year, day.month, day.day, 14, tzinfo=UTC),
                campaign="newsletter",
                email_id=f"newsletter-{year}-w{week:02d}",
                subject=_NEWSLETTER_SUBJECTS[week % len(_NEWSLETTER_SUBJECTS)],
                url=f"{_SITE}/blog/{_BLOG_POSTS[week % len(_BLOG_POSTS)]}",
            )
        )
        day += timedelta(days=7)
    launch = campaigns["launch"]
    subjects = (
        "New: SLA timers that keep sales honest",
        "Last chance: see SLA timers live this week",
    )
    for number, subject in enumerate(subjects, start=1):
        day = launch.starts_on + timedelta(days=6 * (number - 1))
        at = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        if at < end:
            sends.append(
                _Send(
                    at=at,
                    campaign="launch",
                    email_id=f"sla-timers-launch-{number}",
                    subject=subject,
                    url=f"{_SITE}/features/sla-management",
                )
            )
    sends.sort(key=lambda s: (s.at, s.email_id))
    return sends


# ------------------------------------------------------------------------------
# Accounts
# ------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------
# Journeys: one lead's touchpoints and stage history, in time order
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Touch:
    kind: str
    at: datetime
    campaign: str | None
    properties: dict
    received_at: datetime


class _Journey:
    """Builds one lead's touchpoints and history steps along a moving clock.

    The clock starts at the first touchpoint and only moves forward. Once it
    reaches ``world.end`` (today) the journey is closed: later touches and
    steps are dropped, so recent leads are simply caught mid-journey.
    """

    def __init__(self, world: _World, start: datetime, utc_offset: float):
        self.world = world
        self.rng = world.rng
        self.utc_offset = utc_offset
        self.now = start
        self.open = True
        self.touches: list[_Touch] = []
        self.steps: list[HistoryStep] = []
        self.owner: str | None = None
        self.emailed = False
        self.bounced = False
        self.unsubscribed = False
        self.pricing_seen = False

    # The clock ------------------------------------------------------------

    def _move_to(self, at: datetime) -> bool:
        if not self.open or at >= self.world.end:
            self.open = False
            return False
        self.now = at
        return True

    def later(self, low: int, high: int) -> bool:
        """Move to business hours ``low``..``high`` days later (weekdays mostly)."""
        if not self.open:
            return False
        day = _workday(
            self.rng, self.now.date() + timedelta(days=self.rng.randint(low, high))
        )
        at = _business_time(self.rng, day, self.utc_offset)
        if at <= self.now:
            at = self.now + timedelta(minutes=self.rng.randint(10, 180))
        return self._move_to(at)

    def soon(self, low: int, high: int) -> bool:
        """Move ``low``..``high`` minutes on (the same visit or session)."""
        seconds = self.rng.randint(max(5, low * 60), max(5, high * 60))
        return self._move_to(self.now + timedelta(seconds=seconds))

    def hours(self, low: int, high: int) -> bool:
        seconds = self.rng.randint(low * 3600, high * 3600)
        return self._move_to(self.now + timedelta(seconds=seconds))

    # Touchpoints ----------------------------------------------------------

    def touch(self, kind: str, properties: dict, campaign: str | None = None) -> None:
        if not self.open:
            return
        received_at = self.now + timedelta(seconds=self.rng.randint(1, 30))
        self.touches.append(_Touch(kind, self.now, campaign, properties, received_at))

    def _campaign(self, options: Sequence[tuple[str | None, float]]) -> str | None:
        key = _choice(tuple(options)).pick(self.rng)
        return self.world.campaign_on(key, self.now.date())

    def page_view(
        self, path: str, options: Sequence[tuple[str | None, float]] = ((None, 1),)
    ) -> None:
        campaign = self._campaign(options)
        referrer = (
            _CAMPAIGN_REFERRERS.get(campaign, "")
            if campaign
            else _ORGANIC_REFERRERS.pick(self.rng)
        )
        if path == "/pricing":
            self.pricing_seen = True
        self.touch("page_view", {"url": _SITE + path, "referrer": referrer}, campaign)

    def blog_view(self) -> None:
        self.page_view(f"/blog/{self.rng.choice(_BLOG_POSTS)}", _BLOG_CAMPAIGNS)

    def product_view(self) -> None:
        self.page_view(self.rng.choice(_PRODUCT_PAGES), _PRODUCT_CAMPAIGNS)

    def pricing_view(self) -> None:
        self.page_view("/pricing", _PRICING_CAMPAIGNS)

    def email(self, click: float = 0.1) -> None:
        """Open a recent marketing e-mail; maybe click, unsubscribe or bounce."""
        if not self.open or self.bounced or self.unsubscribed:
            return
        world = self.world
        last = bisect.bisect_right(world.send_times, self.now) - 1
        day = self.now.date()
        recent = [
            send
            for send in world.sends[max(0, last - 2) : last + 1]
            if self.now - send.at < timedelta(days=10)
            and world.campaign_on(send.campaign, day)
        ]
        if not recent:
            return
        send = self.rng.choice(recent)
        props = {"subject": send.subject, "email_id": send.email_id}
        first_email, self.emailed = not self.emailed, True
        if first_email and self.rng.random() < 0.03:
            self.bounced = True
            self.touch("email_bounce", {**props, "bounce": "hard"}, send.campaign)
            return
        self.touch("email_open", props, send.campaign)
        if self.rng.random() < 0.025:
            self.unsubscribed = True
            self.soon(0, 3)
            self.touch("unsubscribe", props, send.campaign)
        elif self.rng.random() < click:
            self.soon(0, 6)
            self.touch("email_click", {**props, "url": send.url}, send.campaign)
            self.soon(0, 1)
            self.touch("page_view", {"url": send.url, "referrer": ""}, send.campaign)

    def download(self) -> None:
        title, slug, key, _ = _ASSET_CHOICE.pick(self.rng)
        campaign = self.world.campaign_on(key, self.now.date())
        if campaign is None and self.rng.random() < 0.5:
            campaign = self.world.campaign_on("seo", self.now.date())
        props = {
            "asset": title.format(year=self.world.year),
            "url": f"{_SITE}/resources/{slug}",
        }
        self.touch("content_download", props, campaign)

    def webinar(self, attend: float = 0.55) -> bool:
        """Register for a webinar open for registration now; maybe attend it."""
        day = self.now.date()
        open_ones = [
            key
            for key in _WEBINAR_KEYS
            if self.world.campaign_on(key, day)
            and self.now < self.world.webinar_at(key)
        ]
        if not open_ones or not self.open:
            return False
        key = self.rng.choice(open_ones)
        name = self.world.campaigns[key].name.removeprefix("Webinar: ")
        self.touch("webinar_registered", {"webinar": name}, key)
        if self.rng.random() < attend:
            starts = self.world.webinar_at(key)
            if self._move_to(starts + timedelta(seconds=self.rng.randint(0, 600))):
                self.touch("webinar_attended", {"webinar": name}, key)
        return True

    def event_scan(self) -> bool:
        """A badge scan at the booth; sets the clock to the event (first touch only)."""
        summit = self.world.campaigns["summit"]
        days = (summit.ends_on - summit.starts_on).days + 1
        day = summit.starts_on + timedelta(days=self.rng.randrange(days))
        at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=self.rng.randint(8 * 3600, 17 * 3600)
        )
        if self.touches or not self.world.start <= at < self.world.end:
            return False
        self.now = at
        self.touch(
            "form_submit", {"form": "event-badge-scan", "event": summit.name}, "summit"
        )
        return True

    def high_intent(self) -> None:
        """A demo request or a trial sign-up (sometimes both), maybe a cart."""
        campaign = self._campaign(_INTENT_CAMPAIGNS)
        if self.rng.random() < 0.6:
            self.touch(
                "demo_request",
                {"form": "demo-request", "url": f"{_SITE}/demo"},
                campaign,
            )
            if self.rng.random() < 0.2:
                self.later(0, 3)
                self._trial(campaign)
        else:
            self._trial(campaign)

    def _trial(self, campaign: str | None) -> None:
        plan = self.rng.choice(("starter", "growth", "growth", "enterprise"))
        self.touch("trial_signup", {"plan": plan, "url": f"{_SITE}/signup"}, campaign)
        if plan != "enterprise" and self.rng.random() < 0.15:
            self.later(2, 10)
            seats = self.rng.choice((3, 5, 5, 10, 25))
            self.touch(
                "cart_add", {"plan": plan, "seats": seats, "url": f"{_SITE}/checkout"}
            )

    # Stage history --------------------------------------------------------

    def move(self, to_stage: str, reason: str = "") -> None:
        if self.open:
            self.steps.append(
                HistoryStep(to_stage=to_stage, at=self.now, reason=reason)
            )


def _workday(rng: random.Random, day: date) -> date:
    """Mostly move a weekend day to the next Monday: B2B buyers rest at weekends."""
    if day.weekday() >= 5 and rng.random() < 0.75:
        return day + timedelta(days=7 - day.weekday())
    return day


def _business_time(rng: random.Random, day: date, utc_offset: float) -> datetime:
    """A moment on ``day`` (UTC date) that is business hours at ``utc_offset``."""
    local_hour = rng.triangular(7.0, 20.0, 10.5)
    seconds = int(((local_hour - utc_offset) % 24) * 3600)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=seconds
    )


def _entry(j: _Journey, options: _Choice[str]) -> None:
    """The first touchpoint: the moment the lead was created."""
    entry = options.pick(j.rng)
    if entry == "event" and j.event_scan():
        return
    if entry == "webinar" and j.webinar():
        return
    if entry in ("event", "webinar", "download"):
        j.download()
    elif entry == "blog":
        j.blog_view()
    elif entry == "home":
        j.page_view("/", _HOME_CAMPAIGNS)
    elif entry == "pricing":
        j.pricing_view()
    elif entry == "newsletter":
        j.touch(
            "form_submit",
            {"form": "newsletter-signup", "url": f"{_SITE}/blog"},
            j.world.campaign_on("seo", j.now.date()),
        )
    elif entry == "email":
        j.email(click=0.0)
        if not j.touches:  # no e-mail to open yet: came in through the blog
            j.blog_view()
    elif entry == "partner":
        j.touch(
            "form_submit",
            {"form": "partner-referral", "partner": "Northstar RevOps Consulting"},
            j.world.campaign_on("partner", j.now.date()),
        )


_COLD_ENTRIES = _Choice(
    [
        ("blog", 35),
        ("home", 15),
        ("newsletter", 12),
        ("email", 20),
        ("download", 10),
        ("event", 5),
        ("webinar", 3),
    ]
)
_WARM_ENTRIES = _Choice(
    [("download", 45), ("webinar", 28), ("event", 10), ("blog", 12), ("partner", 5)]
)
_HOT_ENTRIES = _Choice(
    [
        ("download", 25),
        ("webinar", 15),
        ("blog", 15),
        ("pricing", 20),
        ("home", 15),
        ("partner", 5),
        ("event", 5),
    ]
)


def _journey_cold(j: _Journey, *, student: bool) -> None:
    """1-4 touchpoints: e-mail opens, a blog or home page visit, rarely a click."""
    _entry(j, _COLD_ENTRIES)
    for _ in range(j.rng.randint(0, 3)):
        if not j.later(1, 20):
            return
        roll = j.rng.random()
        if roll < 0.6:
            j.email(click=0.12)
        elif roll < 0.85:
            j.blog_view()
        else:
            j.page_view("/", _HOME_CAMPAIGNS)
    if student and j.rng.random() < 0.35 and j.later(1, 10):
        j.move(Stage.DISQUALIFIED, "Student")
    elif j.bounced and j.rng.random() < 0.4 and j.later(0, 7):
        j.move(Stage.DISQUALIFIED, "Bad contact data: e-mail bounced")


def _journey_job_seeker(j: _Journey) -> None:
    """Careers pages: a person looking for a job, not a buyer."""
    j.page_view(j.rng.choice(_CAREER_PAGES))
    for _ in range(j.rng.randint(1, 3)):
        if not j.later(0, 12):
            return
        j.page_view(j.rng.choice((*_CAREER_PAGES[1:], "/about")))
    if j.rng.random() < 0.4 and j.later(1, 10):
        j.move(Stage.DISQUALIFIED, "Job seeker, not a buyer")


def _journey_warm(j: _Journey, *, student: bool) -> None:
    """Content, webinars, clicks and one pricing view; a few reach MQL."""
    _entry(j, _WARM_ENTRIES)
    for _ in range(j.rng.randint(2, 6)):
        if not j.later(1, 12):
            return
        roll = j.rng.random()
        if roll < 0.35:
            j.email(click=0.35)
        elif roll < 0.5:
            j.download()
        elif roll < 0.62:
            if not j.webinar():
                j.blog_view()
        elif roll < 0.8:
            j.product_view()
        else:
            j.blog_view()
    if not j.pricing_seen and j.rng.random() < 0.7 and j.later(0, 10):
        j.pricing_view()
    roll = j.rng.random()
    if roll < 0.12 and j.soon(5, 240):
        j.move(Stage.MQL)
        _sales_funnel(j, accept=0.55, student=student, recycle=True)
    elif roll < 0.16 and j.later(3, 20):
        j.move(Stage.NURTURE, "Early research, not ready to talk to sales")


def _journey_hot(j: _Journey, *, student: bool) -> None:
    """Repeated pricing views, a demo request or trial, then the sales funnel."""
    _entry(j, _HOT_ENTRIES)
    for _ in range(j.rng.randint(1, 3)):
        if j.later(0, 6):
            if j.rng.random() < 0.7:
                j.product_view()
            else:
                j.blog_view()
    for _ in range(j.rng.randint(2, 4)):
        if j.later(0, 5):
            j.pricing_view()
            if j.rng.random() < 0.3 and j.soon(1, 8):
                j.product_view()
    if j.rng.random() < 0.3 and j.later(0, 4):
        j.email(click=0.6)
    if j.rng.random() < 0.4 and j.soon(1, 10):
        j.touch("chat", {"topic": j.rng.choice(_CHAT_TOPICS)})
    if not j.soon(2, 30):
        return
    j.high_intent()
    # Scoring notices the high-intent touchpoint within minutes to hours.
    if j.soon(5, 90):
        j.move(Stage.MQL)
        _sales_funnel(j, accept=0.7, student=student, recycle=True)


def _sales_funnel(j: _Journey, *, accept: float, student: bool, recycle: bool) -> None:
    """From MQL: the SDR's decision, then the rep's qualification and the deal."""
    rng = j.rng
    # Pending MQLs fill the SAL queue: most of the last few days' and a few
    # stale ones an SDR never got to (overdue under any SLA).
    recent = j.world.end - j.now < timedelta(days=MQL_PENDING_DAYS)
    if rng.random() < (0.7 if recent else 0.03):
        return
    if not j.hours(1, 30):
        return
    roll = rng.random()
    if student:
        j.move(Stage.DISQUALIFIED, "Student")
        return
    if roll >= accept:
        if roll < accept + (1 - accept) * 0.7:
            j.move(Stage.NURTURE, _REJECT_NURTURE.pick(rng))
            _recycle(j, recycle)
        else:
            j.move(Stage.DISQUALIFIED, _REJECT_DISQUALIFY.pick(rng))
        return
    j.move(Stage.SAL)
    j.owner = rng.choice(("sdr1", "sdr2"))
    if not j.later(2, 10):
        return
    roll = rng.random()
    if roll < 0.25:
        j.move(Stage.NURTURE, _SAL_NURTURE.pick(rng))
        _recycle(j, recycle)
        return
    if roll < 0.3:
        j.move(Stage.DISQUALIFIED, _SAL_DISQUALIFY.pick(rng))
        return
    if roll < 0.4:
        return  # still being worked
    j.move(Stage.SQL)
    j.owner = "rep1"
    if rng.random() < 0.4 and j.later(1, 5):
        j.page_view(rng.choice(("/pricing", "/security", "/integrations/salesforce")))
    if not j.later(3, 14):
        return
    roll = rng.random()
    if roll < 0.2:
        j.move(Stage.NURTURE, _SQL_NURTURE.pick(rng))
        return
    if roll < 0.35:
        return
    j.move(Stage.OPPORTUNITY)
    if not j.later(10, 35):
        return
    roll = rng.random()
    if roll < 0.4:
        j.move(Stage.CUSTOMER)
    elif roll < 0.7:
        j.move(Stage.NURTURE, _OPPORTUNITY_LOST.pick(rng))


def _recycle(j: _Journey, allowed: bool) -> None:
    """Some nurtured leads come back weeks later and re-qualify (once)."""
    if not allowed or j.rng.random() >= 0.15 or not j.later(10, 30):
        return
    j.pricing_view()
    if j.rng.random() < 0.5 and j.soon(1, 20):
        j.high_intent()
    if j.soon(5, 120):
        j.move(Stage.MQL)
        _sales_funnel(j, accept=0.5, student=False, recycle=False)


# ------------------------------------------------------------------------------
# Leads
# ------------------------------------------------------------------------------


@functools.cache
def _title_classes(title: str) -> tuple[str, str]:
    return seniority_from_title(title), department_from_title(title)


def _phone(rng: random.Random, country: _Country) -> str:
    template = rng.choice(country.phone)
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def _unique_email(world: _World, local: str, domain: str) -> str:
    """``local@domain``, or ``local2@domain``, ``local3@`` ... when taken."""
    email = f"{local}@{domain}"
    number = 1
    while email in world.used_emails:
        number += 1
        email = f"{local}{number}@{domain}"
    world.used_emails.add(email)
    return email


def _freemail_local(rng: random.Random, first: str, last: str) -> str:
    pattern = rng.randrange(5)
    if pattern == 0:
        return f"{first}.{last}"
    if pattern == 1:
        return f"{first}{last}"
    if pattern == 2:
        return f"{first}_{last}{rng.randint(1, 99)}"
    if pattern == 3:
        return f"{first[0]}{last}{rng.randint(70, 99) if rng.random() < 0.6 else ''}"
    return f"{first}.{last}{rng.randint(1960, 2005)}"


def _attributes(rng: random.Random, segment: str) -> dict:
    """A few free-form attributes from forms and enrichment (~25% of leads)."""
    if rng.random() >= (0.6 if segment == "hot" else 0.22):
        return {}
    attributes: dict = {}
    if rng.random() < 0.6:
        plans = ("starter", "growth", "enterprise")
        weights = (1, 3, 3) if segment == "hot" else (3, 3, 1)
        attributes["plan_interest"] = rng.choices(plans, weights)[0]
    if rng.random() < 0.5:
        attributes["tech_stack"] = rng.choice(_TECH_STACKS)
    if rng.random() < 0.35:
        attributes["team_size"] = rng.choice(("1-5", "6-20", "21-50", "51-200", "200+"))
    if rng.random() < 0.25:
        attributes["use_case"] = rng.choice(
            ("lead scoring", "mql handoff", "sla tracking", "attribution")
        )
    if not attributes:
        attributes["newsletter_opt_in"] = True
    return attributes


def _segment(rng: random.Random, seniority: str, freemail: bool) -> str:
    """How engaged this lead is: cold, warm, hot, or a job seeker."""
    hot, warm, job_seeker = 0.04, 0.20, 0.02
    if seniority in ("student", "entry"):
        hot, warm, job_seeker = 0.01, 0.12, 0.10
    elif seniority in ("executive", "vp", "director"):
        hot, warm = 0.06, 0.24
    if freemail:
        hot, job_seeker = hot / 2, job_seeker * 2
    roll = rng.random()
    if roll < hot:
        return "hot"
    if roll < hot + warm:
        return "warm"
    if roll < hot + warm + job_seeker:
        return "job_seeker"
    return "cold"


@dataclass
class _LeadPlan:
    lead: Lead
    touches: list[_Touch]
    transitions: list[StageTransition]


def _lead_plan(world: _World) -> _LeadPlan:
    """One lead (unsaved, stage history applied), its touchpoints and transitions."""
    rng = world.rng
    account: Account | None = None
    if rng.random() < FREEMAIL_SHARE:
        country = _COUNTRY_BY_CODE[_COUNTRY_CHOICE.pick(rng)]
    else:
        account = world.accounts[
            bisect.bisect_right(world.account_cum, rng.random() * world.account_cum[-1])
        ]
        code = account.country if rng.random() < 0.85 else _COUNTRY_CHOICE.pick(rng)
        country = _COUNTRY_BY_CODE[code]
    first_names, last_names = _NAME_POOLS[_choice(country.names).pick(rng)]
    first, last = rng.choice(first_names), rng.choice(last_names)
    first_slug, last_slug = _ascii(first), _ascii(last)
    if account is None:
        domain = _choice(_FREEMAIL_COMMON + country.freemail).pick(rng)
        email = _unique_email(
            world, _freemail_local(rng, first_slug, last_slug), domain
        )
        title = _FREEMAIL_TITLES.pick(rng)
    else:
        local = f"{first_slug}.{last_slug}"
        if rng.random() < 0.1:
            local = f"{first_slug[0]}{last_slug}"
        email = _unique_email(world, local, account.domain)
        title = _TITLES.pick(rng)
    seniority, department = _title_classes(title)
    segment = _segment(rng, seniority, account is None)

    # Leads arrive a little faster lately (a growing pipeline): skew to recent days.
    day_index = min(HISTORY_DAYS - 1, int(HISTORY_DAYS * rng.random() ** 0.8))
    day = world.start.date() + timedelta(days=day_index)
    if (moved := _workday(rng, day)) < world.end.date():
        day = moved
    journey = _Journey(
        world, _business_time(rng, day, country.utc_offset), country.utc_offset
    )
    student = seniority == "student"
    if segment == "hot":
        _journey_hot(journey, student=student)
    elif segment == "warm":
        _journey_warm(journey, student=student)
    elif segment == "job_seeker":
        _journey_job_seeker(journey)
    else:
        _journey_cold(journey, student=student)

    first_touch = journey.touches[0]
    source, utm_source, utm_medium, utm_campaign, utm_term, utm_content = _attribution(
        world, rng, first_touch
    )
    created_at = first_touch.at
    lead = Lead(
        email=email,
        first_name=first,
        last_name=last,
        job_title=title,
        seniority=seniority,
        department=department,
        phone=_phone(rng, country) if rng.random() < 0.35 else "",
        country=country.code,
        region=region_for_country(country.code),
        account=account,
        source=source,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        utm_term=utm_term,
        utm_content=utm_content,
        do_not_email=journey.unsubscribed,
        do_not_call=rng.random() < 0.03,
        attributes=_attributes(rng, segment),
        created_at=created_at,
        entered_lead_at=created_at,
        stage_changed_at=created_at,
    )
    transitions = history_replay(lead, journey.steps, system_actor=DEMO_SOURCE)
    if journey.owner is not None:
        lead.owner_id = world.users[journey.owner]
    return _LeadPlan(lead, journey.touches, transitions)


def _attribution(
    world: _World, rng: random.Random, first: _Touch
) -> tuple[str, str, str, str, str, str]:
    """Source and UTM fields of a lead, from the campaign of its first touchpoint."""
    if first.campaign is None:
        referrer = first.properties.get("referrer", "")
        source = _SOURCE_BY_REFERRER.get(referrer, Lead.Source.DIRECT)
        return source, "", "", "", "", ""
    campaign = world.campaigns[first.campaign]
    term = rng.choice(_SEARCH_TERMS) if campaign.channel == Channel.PAID_SEARCH else ""
    content = (
        rng.choice(_AD_VARIANTS) if campaign.channel == Channel.PAID_SOCIAL else ""
    )
    return (
        _SOURCE_BY_CHANNEL[campaign.channel],
        campaign.utm_source,
        campaign.utm_medium,
        campaign.utm_campaign,
        term,
        content,
    )


# ------------------------------------------------------------------------------
# Writes
# ------------------------------------------------------------------------------


def _leads_insert(leads: list[Lead]) -> None:
    # bulk_create sets the ids on SQLite (3.35+) and PostgreSQL (RETURNING).
    Lead.objects.bulk_create(leads, batch_size=INSERT_BATCH_SIZE)


def _touchpoints_insert(touchpoints: list[Touchpoint]) -> None:
    Touchpoint.objects.bulk_create(touchpoints, batch_size=INSERT_BATCH_SIZE)


def _transitions_insert(transitions: list[StageTransition]) -> None:
    StageTransition.objects.bulk_create(transitions, batch_size=INSERT_BATCH_SIZE)


def _chunk_write(world: _World, plans: list[_LeadPlan]) -> tuple[int, int]:
    """Insert one chunk of leads, then their touchpoints and transitions."""
    _leads_insert([plan.lead for plan in plans])
    campaign_ids = {key: c.id for key, c in world.campaigns.items()}
    touchpoints = [
        Touchpoint(
            lead_id=plan.lead.id,
            kind_id=touch.kind,
            occurred_at=touch.at,
            campaign_id=campaign_ids[touch.campaign] if touch.campaign else None,
            properties=touch.properties,
            source=DEMO_SOURCE,
            external_id=None,
            received_at=touch.received_at,
        )
        for plan in plans
        for touch in plan.touches
    ]
    _touchpoints_insert(touchpoints)
    transitions = [t for plan in plans for t in plan.transitions]
    # The transitions hold their (now saved) lead; bulk_create copies its id.
    _transitions_insert(transitions)
    return len(touchpoints), len(transitions)


def demo_data_counts() -> dict[str, int]:
    """How many leads, accounts and campaigns the database holds."""
    return {
        "leads": Lead.objects.count(),
        "accounts": Account.objects.count(),
        "campaigns": Campaign.objects.count(),
    }


def demo_data_delete() -> dict[str, int]:
    """Delete every touchpoint, stage transition, lead, account and campaign.

    Also the scores of leads and accounts and the chunks of bulk rescores
    (their id ranges name leads that are gone). Users (demo or not), groups,
    touchpoint kinds and scoring models stay. Deletes child
    tables first with one plain DELETE each, bypassing Django's collector,
    which would load every lead to cascade by hand. A later model that points
    at these tables must be added to the order here, before its parent.
    Call inside a transaction; returns the rows deleted per table.
    """
    deleted = {}
    for model in (
        Touchpoint,
        StageTransition,
        LeadScore,
        LeadScoreHistory,
        AccountScore,
        RescoreChunk,
        Lead,
        Account,
        Campaign,
    ):
        queryset = model.objects.all()
        deleted[model._meta.label] = queryset._raw_delete(queryset.db)
    logger.info("demo data deleted: %s", deleted)
    return deleted


@transaction.atomic
def demo_users_ensure() -> dict[str, int]:
    """Create or update the demo users; return their ids by username.

    Idempotent: each run sets names, e-mail, flags, the one role group and
    the password ``leadflow-demo`` of the users in DEMO_USERS, creating the
    missing ones. Other users are left alone. The role groups must exist
    (the ``crm`` migrations create them).
    """
    user_model = get_user_model()
    # One hash for all five: hashing is deliberately slow, the password is public.
    password = make_password(DEMO_PASSWORD)
    groups = {group.name: group for group in Group.objects.filter(name__in=roles.ROLES)}
    ids = {}
    for spec in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=spec.username)
        user.first_name = spec.first_name
        user.last_name = spec.last_name
        user.email = spec.email
        user.is_active = True
        user.is_staff = spec.is_staff
        user.is_superuser = spec.is_superuser
        user.password = password
        user.save()
        user.groups.set([groups[spec.role]])
        ids[spec.username] = user.id
    return ids


def demo_seed(
    *,
    leads: int = DEFAULT_LEADS,
    seed: int = DEFAULT_SEED,
    today: date,
    reset: bool = False,
    progress: Callable[[int], object] | None = None,
) -> DemoSummary:
    """Fill the database with a reproducible demo data set; return what was written.

    The same ``seed`` and ``today`` give the same rows (ids aside). Writes
    about one account per 8 leads, the demo campaigns, ``leads`` leads with
    90 days of touchpoints before ``today`` (UTC) and the stage history of
    those that moved, plus the demo users (``demo_users_ensure``). Everything
    happens in one transaction: on any error nothing is written.

    Raises DemoDataPresent (nothing written) when leads, accounts or
    campaigns exist, unless ``reset`` is true: then those and all
    touchpoints and transitions are deleted first (``demo_data_delete``),
    in the same transaction. Raises ValueError for ``leads`` outside
    1..MAX_LEADS or a negative ``seed``. ``progress`` is called with the
    number of leads written after each chunk. The history sends no signals
    and enqueues no tasks: it is past, it triggers no present-day work.

    Last, every lead is scored under the active scoring model as of the end
    of the history (00:00 UTC on ``today``) with the bulk path, so the demo
    opens with scores and breakdowns; leads that qualify move to ``mql``
    through the lifecycle (system actor ``scoring``), and those moves, being
    present-day, announce themselves after commit like any promotion.
    """
    if not 1 <= leads <= MAX_LEADS:
        raise ValueError(f"leads must be between 1 and {MAX_LEADS:,}, not {leads}.")
    if seed < 0:
        raise ValueError(f"seed must not be negative, not {seed}.")
    started = time.monotonic()
    with transaction.atomic():
        counts = demo_data_counts()
        if any(counts.values()):
            if not reset:
                raise DemoDataPresent(**counts)
            demo_data_delete()
        users = demo_users_ensure()
        summary = _seed(
            leads=leads, seed=seed, today=today, users=users, progress=progress
        )
    elapsed = round(time.monotonic() - started, 1)
    logger.info(
        "demo data seeded: seed %s, today %s, %s leads, %s touchpoints, "
        "%s transitions, %s MQLs from scoring in %.1f s",
        seed,
        today,
        summary.leads,
        summary.touchpoints,
        summary.transitions,
        summary.mqls_from_scoring,
        elapsed,
    )
    return dataclasses.replace(summary, elapsed_seconds=elapsed)


def _seed(
    *,
    leads: int,
    seed: int,
    today: date,
    users: dict[str, int],
    progress: Callable[[int], object] | None,
) -> DemoSummary:
    rng = random.Random(seed)
    end = datetime(today.year, today.month, today.day, tzinfo=UTC)
    start = end - timedelta(days=HISTORY_DAYS)

    keyed = _campaigns_build(rng, today)
    Campaign.objects.bulk_create([c for _, c in keyed])
    campaigns = dict(keyed)
    sends = _sends_build(campaigns, end)
    world = _World(
        rng=rng,
        start=start,
        end=end,
        year=today.year,
        campaigns=campaigns,
        sends=sends,
        send_times=[s.at for s in sends],
        users=users,
    )

    accounts = _accounts_build(rng, max(MIN_ACCOUNTS, leads // LEADS_PER_ACCOUNT))
    Account.objects.bulk_create(accounts, batch_size=INSERT_BATCH_SIZE)
    world.accounts = accounts
    # Bigger companies have more people who find us.
    world.account_cum = list(
        itertools.accumulate(
            1 + math.log(a.employee_count) if a.employee_count else 3.0
            for a in accounts
        )
    )

    stages: Counter[str] = Counter()
    touchpoint_count = transition_count = 0
    for chunk_start in range(0, leads, LEAD_CHUNK_SIZE):
        size = min(LEAD_CHUNK_SIZE, leads - chunk_start)
        plans = [_lead_plan(world) for _ in range(size)]
        stages.update(plan.lead.stage for plan in plans)
        touches, transitions = _chunk_write(world, plans)
        touchpoint_count += touches
        transition_count += transitions
        if progress is not None:
            progress(size)

    model = model_active()
    promoted = 0
    if model is not None:
        # As of the end of the history, so the same seed scores the same.
        model_rescore_all(model=model, now=end)
        moves = (
            StageTransition.objects.filter(system_actor=SCORING_ACTOR)
            .values_list("from_stage")
            .annotate(count=Count("id"))
            .order_by()
        )
        for from_stage, count in moves:
            stages[from_stage] -= count
            stages[Stage.MQL] += count
            promoted += count
    # After scoring: a lifecycle move stamps updated_at with the wall clock.
    _timestamps_fix(world, keyed)
    # Accounts with a deal in the works belong to the rep who works it.
    Account.objects.filter(
        leads__highest_stage__in=[Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
    ).update(owner_id=users["rep1"])
    return DemoSummary(
        accounts=len(accounts),
        leads=leads,
        campaigns=len(keyed),
        touchpoints=touchpoint_count,
        transitions=transition_count + promoted,
        leads_per_stage={stage.value: stages[stage.value] for stage in Stage},
        elapsed_seconds=0.0,
        scoring_model=str(model) if model is not None else "",
        mqls_from_scoring=promoted,
    )


def _timestamps_fix(world: _World, keyed: list[tuple[str, Campaign]]) -> None:
    """Replace the auto_now(_add) stamps of this run with dates from the story.

    bulk_create stamps created_at/updated_at with the wall clock, which would
    make two runs differ and put every account's creation after its leads.
    UPDATE does not touch auto_now fields, so set them here.
    """
    for _, campaign in keyed:
        day = campaign.starts_on - timedelta(days=7)
        Campaign.objects.filter(id=campaign.id).update(
            created_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        )
    first_lead = Subquery(
        Lead.objects.filter(account=OuterRef("pk"))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    created = Coalesce(first_lead, Value(world.start))
    Account.objects.update(created_at=created, updated_at=created)
    Lead.objects.update(updated_at=F("stage_changed_at"))
