"""Demo data: a realistic, reproducible data set for trying Leadflow.

``demo_seed`` fills an empty database with accounts, campaigns, leads, 90 days
of touchpoints and a lifecycle history for the leads that went somewhere. All
of it follows from one random seed and one "today": the same two give the same
rows (primary keys and the demo users aside). ``demo_users_ensure`` creates or
updates the demo logins (SDRs, reps, a manager and one per other role). The
``seed_demo`` management command is a thin caller of both.

The handoff side follows from the same journeys: SDR teams, business
calendars and SLAs; for every MQL in the history the handoffs an SDR worked
(contact attempts, the decision with its reason and feedback, breaches that
expired and were reassigned) and the sales outcomes after acceptance; and for
every lead that is an MQL at the end, one pending handoff opened through
``handoff.services.handoff_open``, so the SAL queue has work in it.

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
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from crm import roles
from handoff import assignment, business_hours
from handoff import services as handoff_services
from handoff.exceptions import NoServiceLevelAgreement
from handoff.models import (
    BusinessCalendar,
    ContactAttempt,
    Handoff,
    HandoffEvent,
    Holiday,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from handoff.selectors import sla_covers, sla_for_lead
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
from scoring.engine import ModelSpec, Touch, evaluate_touches
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, RescoreChunk
from scoring.selectors import (
    ACCOUNT_FACT_FIELDS,
    LEAD_FACT_FIELDS,
    facts_from_values,
    model_active,
    model_spec,
)
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
# Account domains per UPDATE of their owner: under SQLite's 999 parameters.
OWNER_UPDATE_BATCH = 500


@dataclass(frozen=True)
class DemoUser:
    """One demo login: a user in one role group."""

    username: str
    first_name: str
    last_name: str
    role: str
    is_staff: bool = False
    is_superuser: bool = False
    #: SalesProfile.is_manager: sees the SLA report and may decide any handoff.
    is_manager: bool = False

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@leadflow.example".lower()


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("marketer", "Maya", "Lindqvist", roles.MARKETING, is_staff=True),
    DemoUser("sdr1", "Jordan", "Reyes", roles.SDR),
    DemoUser("sdr2", "Priya", "Nair", roles.SDR),
    DemoUser("sdr3", "Marcus", "Bell", roles.SDR),
    DemoUser("sdr4", "Lena", "Hoffmann", roles.SDR),
    DemoUser("manager", "Rosa", "Delgado", roles.SDR, is_manager=True),
    DemoUser("rep1", "Daniel", "Okafor", roles.SALES),
    DemoUser("rep2", "Claire", "Dubois", roles.SALES),
    DemoUser("rep3", "Kenji", "Watanabe", roles.SALES),
    DemoUser(
        "admin", "Sam", "Whitfield", roles.ADMIN, is_staff=True, is_superuser=True
    ),
)
#: Sales reps who take SQLs; each account belongs to one of them.
DEMO_REPS = ("rep1", "rep2", "rep3")
#: The manager of the SDR teams: told when a handoff breaches a demo SLA.
DEMO_MANAGER = "manager"
#: The SDR on leave when the demo opens: away since a few days before today,
#: back a week after it, so the queue shows assignment skipping them.
DEMO_AWAY_SDR = "sdr4"
DEMO_AWAY_SINCE_DAYS = 3
DEMO_AWAY_FOR_DAYS = 7


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
    #: Every handoff status code with its number of handoffs (0 included).
    handoffs_per_status: dict[str, int] = field(default_factory=dict)
    contact_attempts: int = 0
    sales_outcomes: int = 0
    #: The SAL queue as of the end of the history (00:00 UTC on today):
    #: pending handoffs on track, at risk and overdue.
    queue: dict[str, int] = field(default_factory=dict)

    @property
    def handoffs(self) -> int:
        return sum(self.handoffs_per_status.values())


class DemoDataPresent(Exception):
    """The database already holds leads, accounts, campaigns or handoffs.

    Nothing was written.
    """

    def __init__(self, *, leads: int, accounts: int, campaigns: int, handoffs: int = 0):
        self.leads = leads
        self.handoffs = handoffs
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

# Why leads leave the funnel: the codes of the standard rejection reasons
# (handoff migration 0002). The reason's action decides the lead's next stage,
# as handoff.services does: recycle -> nurture, disqualify -> disqualified,
# account owner -> nurture (owned by the account's rep), reroute -> another
# SLA's team, which here disqualifies the lead as no fit.
_SDR_RECYCLE = _Choice(
    [
        ("no_budget", 25),
        ("not_decision_maker", 20),
        ("no_need", 15),
        ("bad_timing", 20),
        ("unable_to_reach", 20),
    ]
)
_SDR_DISQUALIFY = _Choice(
    [
        ("competitor_spam", 25),
        ("bad_contact_data", 25),
        ("existing_customer", 20),
        ("wrong_region", 15),
        ("no_fit", 15),
    ]
)
# Sales reasons (audience "sales") for a step back, by the stage left.
_SAL_BACK = _Choice(
    [
        ("sales_no_budget", 30),
        ("sales_went_dark", 30),
        ("sales_bad_timing", 25),
        ("sales_no_need", 15),
    ]
)
_SQL_BACK = _Choice([("sales_bad_timing", 50), ("sales_no_budget", 50)])
_OPPORTUNITY_LOST = _Choice(
    [
        ("sales_lost_competitor", 45),
        ("sales_other", 35),
        ("sales_lost_price", 20),
    ]
)

# Feedback an SDR or a rep writes with a reason: (share of decisions that
# carry feedback, texts). Reasons that require feedback always get one.
# "{first}" is the lead's first name, "{rep}" the account's rep: feedback is
# free text about a person, which is why the erasure blanks it.
_FEEDBACK: dict[str, tuple[float, tuple[str, ...]]] = {
    "no_budget": (
        0.6,
        (
            "Budget frozen until the next fiscal year.",
            "{first} liked the product tour but no tooling budget is approved.",
            "Spend is on hold after a reorganisation; revisit in Q3.",
        ),
    ),
    "not_decision_maker": (
        0.6,
        (
            "{first} is an individual contributor; the RevOps lead decides.",
            "Researching for their manager, who was not on the call.",
            "Intern collecting vendor information for a report.",
        ),
    ),
    "no_need": (
        0.5,
        (
            "Happy with the scoring in their current CRM.",
            "Needs a one-off clean-up of their lead list, not a scoring tool.",
            "Downloaded the e-book for a course, no project behind it.",
        ),
    ),
    "bad_timing": (
        0.6,
        (
            "Mid-migration to Salesforce; call back after go-live in two months.",
            "{first} asked us to reach out again next quarter.",
            "Hiring freeze; new tools only after the budget review.",
        ),
    ),
    "unable_to_reach": (
        0.3,
        (
            "Two calls and an e-mail, no reply.",
            "Voicemail full and the e-mail went unanswered.",
        ),
    ),
    "bad_contact_data": (
        0.5,
        (
            "Phone number disconnected and the e-mail bounced.",
            "Made-up name and number in the form.",
        ),
    ),
    "competitor_spam": (
        0.6,
        (
            "Works at a competitor; downloaded every asset in one afternoon.",
            "Student writing a thesis on lead scoring.",
            "Job seeker asking about SDR openings.",
            "Agency reselling lead lists.",
        ),
    ),
    "existing_customer": (
        0.5,
        (
            "The account is already a customer; {rep} owns the renewal.",
            "Open opportunity on this account; passed to {rep}.",
        ),
    ),
    "wrong_region": (
        0.5,
        (
            "Based outside our territory; rerouting for review.",
            "Subsidiary of a company another region covers.",
        ),
    ),
    "no_fit": (
        1.0,
        (
            "Company too small: three people and no sales team.",
            "Freelancer, no company behind the sign-up.",
            "Consumer use case; we only sell to B2B teams.",
        ),
    ),
    "sales_no_budget": (
        0.5,
        (
            "No budget until the new fiscal year.",
            "{first} could not get the spend approved.",
        ),
    ),
    "sales_went_dark": (
        0.4,
        ("No reply after the discovery call and two follow-ups.",),
    ),
    "sales_bad_timing": (
        0.5,
        (
            "Project postponed to next year.",
            "Re-platforming first; revisit after their CRM migration.",
        ),
    ),
    "sales_no_need": (0.4, ("Decided to keep scoring in spreadsheets for now.",)),
    "sales_lost_competitor": (
        0.7,
        (
            "Chose a competitor bundled with their marketing suite.",
            "Went with the incumbent vendor after a pilot.",
        ),
    ),
    "sales_lost_price": (0.6, ("Price above their budget by about a third.",)),
    "sales_no_fit": (
        1.0,
        (
            "Company too small for even the starter plan.",
            "Works for a competitor.",
            "Needs an on-premises product; we are cloud only.",
        ),
    ),
    "sales_other": (
        1.0,
        (
            "No decision: the project stalled after the champion left.",
            "No decision: procurement froze all new vendors.",
        ),
    ),
}
# Feedback on a student who reached MQL (their title says so).
_STUDENT = "Student, not a buyer: writing a thesis on lead scoring."
# Feedback of the territory team disqualifying a lead rerouted to it.
_OUTSIDE_MARKETS = "Outside the markets we serve; no partner covers it either."
# What a rep writes when moving a lead forward: (share with feedback, texts).
_FORWARD_FEEDBACK: dict[str, tuple[float, tuple[str, ...]]] = {
    Stage.SQL: (
        0.4,
        (
            "Budget confirmed, 15 seats, decision by the end of the quarter.",
            "{first} is the economic buyer; security review next.",
        ),
    ),
    Stage.OPPORTUNITY: (0.3, ("Proposal sent: growth plan, 25 seats.",)),
    Stage.CUSTOMER: (0.4, ("Signed a 12-month contract.",)),
}
# Contact attempts: outcome -> notes an SDR or rep might write.
_ATTEMPT_NOTES: dict[str, tuple[str, ...]] = {
    ContactAttempt.Outcome.CONNECTED: (
        "Spoke with {first}: evaluating tools this quarter, 5-10 seats.",
        "Short call with {first}; wants pricing for the growth plan.",
        "Discovery call: Salesforce shop, slow lead routing is the pain.",
    ),
    ContactAttempt.Outcome.MEETING: (
        "Demo booked for Thursday with {first} and their RevOps lead.",
        "Meeting set; {first} brings the marketing operations manager.",
    ),
    ContactAttempt.Outcome.VOICEMAIL: (
        "Left a voicemail, will try again tomorrow morning.",
        "Voicemail; mentioned the report they downloaded.",
    ),
    ContactAttempt.Outcome.NO_ANSWER: (
        "No answer at the main line.",
        "Rang out, no voicemail.",
    ),
    ContactAttempt.Outcome.SENT: (
        "Short intro e-mail with two time slots.",
        "Sent the SLA template they asked about.",
    ),
    ContactAttempt.Outcome.REPLIED: (
        "{first} replied: interested, asked for a call next week.",
    ),
    ContactAttempt.Outcome.BOUNCED: (
        "Number not in service.",
        "E-mail bounced: the mailbox does not exist.",
    ),
}
# The notes of the attempts before a rejection: the feedback says the rest.
_REJECTION_NOTES: dict[str, tuple[str, ...]] = {
    ContactAttempt.Outcome.CONNECTED: (
        "Spoke with {first}; see the feedback.",
        "Reached {first} on the second try.",
    ),
    ContactAttempt.Outcome.REPLIED: ("{first} replied by e-mail.",),
}
# How an owner follows up after accepting: (channel, outcome).
_FOLLOW_UPS = (
    (ContactAttempt.Channel.CALL, ContactAttempt.Outcome.MEETING),
    (ContactAttempt.Channel.CALL, ContactAttempt.Outcome.CONNECTED),
    (ContactAttempt.Channel.CALL, ContactAttempt.Outcome.VOICEMAIL),
    (ContactAttempt.Channel.EMAIL, ContactAttempt.Outcome.SENT),
    (ContactAttempt.Channel.EMAIL, ContactAttempt.Outcome.REPLIED),
)
#: Share of contact attempts with a note.
ATTEMPT_NOTE_SHARE = 0.5


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
    """Everything generation reads: the clock, campaigns, accounts, users, SLAs."""

    rng: random.Random
    start: datetime  # the first moment of the touchpoint window
    end: datetime  # midnight (UTC) starting "today": nothing happens from here on
    year: int
    campaigns: dict[str, Campaign]
    sends: list[_Send]
    send_times: list[datetime]
    users: dict[str, int]  # username -> id
    handoff: _HandoffWorld
    accounts: list[Account] = field(default_factory=list)
    account_cum: list[float] = field(default_factory=list)
    used_emails: set[str] = field(default_factory=set)
    #: MQLs undecided at the end, by lead id: when their handoff opened.
    waiting: dict[int, datetime] = field(default_factory=dict)

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

    def __init__(self, world: _World, start: datetime, utc_offset: float, lead: Lead):
        self.world = world
        self.rng = world.rng
        self.utc_offset = utc_offset
        self.lead = lead  # unsaved; its person and company fields are set
        self.now = start
        self.open = True
        self.touches: list[_Touch] = []
        self.steps: list[HistoryStep] = []
        # Per step: the demo user who made the move (None: the system) and the
        # handoff it decided, for the transition's actor and reason.
        self.step_meta: list[tuple[str | None, _HandoffPlan | None]] = []
        self.stage: str = Stage.LEAD
        self.owner: str | None = None
        # The handoffs worked in the history, and the one whose lead sales
        # is working now (sales outcomes attach to it).
        self.handoffs: list[_HandoffPlan] = []
        self.accepted: _HandoffPlan | None = None
        # An MQL nobody has decided by the end: when its handoff opened.
        self.waiting_since: datetime | None = None
        # A recycle cool-down started by the last move (any other move ends it).
        self.hold_until: datetime | None = None
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

    def move(
        self,
        to_stage: str,
        reason: str = "",
        *,
        actor: str | None = None,
        handoff: _HandoffPlan | None = None,
        hold_days: int = 0,
    ) -> None:
        """Record a stage move now, by ``actor`` (a demo username) or the system."""
        if self.open:
            self.steps.append(
                HistoryStep(to_stage=to_stage, at=self.now, reason=reason)
            )
            self.step_meta.append((actor, handoff))
            self.stage = to_stage
            self.waiting_since = None
            self.hold_until = (
                self.now + timedelta(days=hold_days) if hold_days else None
            )

    def wait(self) -> None:
        """The MQL stays undecided: its handoff opens a few minutes from now."""
        if self.open:
            delay = timedelta(seconds=self.rng.randint(*SYSTEM_DELAY_SECONDS))
            self.waiting_since = min(self.now + delay, self.world.end)

    def sla_facts(self) -> dict[str, Any]:
        """What an SLA condition tests (handoff.selectors.lead_sla_facts), now.

        From the lead's person and company fields and its latest touchpoint;
        the score facts are unknown in the history (conditions on them fail).
        """
        lead = self.lead
        account = None
        if lead.account is not None:
            account = {f: getattr(lead.account, f) for f in ACCOUNT_FACT_FIELDS}
        values = {f: getattr(lead, f) for f in (*LEAD_FACT_FIELDS, "attributes")}
        facts = facts_from_values(values, account, None)
        facts.update(
            grade="",
            score=None,
            fit_score=None,
            engagement_score=None,
            last_touchpoint_kind=self.touches[-1].kind if self.touches else "",
        )
        return facts


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
    """From MQL: the SDR's handoff and decision, then sales and the deal."""
    rng = j.rng
    # Pending MQLs fill the SAL queue: most of the last few days' and a few
    # stale ones an SDR never got to (overdue under any SLA).
    recent = j.world.end - j.now < timedelta(days=MQL_PENDING_DAYS)
    if rng.random() < (0.7 if recent else 0.03):
        j.wait()
        return
    roll = rng.random()
    feedback = None
    if student:
        code: str | None = "competitor_spam"
        feedback = _STUDENT
    elif roll >= accept:
        if roll < accept + (1 - accept) * 0.7:
            code = _SDR_RECYCLE.pick(rng)
        else:
            code = _SDR_DISQUALIFY.pick(rng)
            if code == "existing_customer" and j.lead.account is None:
                code = "no_fit"  # no account, so nobody else owns the person
    else:
        code = None
    handoff = _sdr_decides(j, code, feedback)
    if handoff is None:  # not decided by today: still in the SAL queue
        j.wait()
        return
    hw = j.world.handoff
    if code is None:
        j.move(
            Stage.SAL,
            "Accepted from a handoff",  # names the handoff once it has an id
            actor=handoff.decided_by,
            handoff=handoff,
        )
        _sales_cycle(j, handoff, recycle=recycle)
        return
    reason = hw.reasons[handoff.reason]
    label = f"Rejected by SDR: {reason.label}" + (
        f" ({handoff.feedback[:200]})" if handoff.feedback else ""
    )
    if reason.action == RejectionReason.Action.ACCOUNT_OWNER:
        rep = _account_rep(j)
        j.move(
            Stage.NURTURE,
            f"Existing customer or open deal: handed to {rep}",
            actor=handoff.decided_by,
        )
        j.owner = rep
    elif reason.action == RejectionReason.Action.DISQUALIFY:
        j.move(Stage.DISQUALIFIED, label, actor=handoff.decided_by)
    else:
        j.move(
            Stage.NURTURE,
            label,
            actor=handoff.decided_by,
            hold_days=reason.cooldown_days,
        )
        _recycle(j, recycle)


def _sales_cycle(j: _Journey, handoff: _HandoffPlan, *, recycle: bool) -> None:
    """After acceptance: the SDR qualifies the SAL, a rep works the deal."""
    rng = j.rng
    j.owner = handoff.decided_by
    j.accepted = handoff
    _follow_up_plan(j, handoff)
    if not j.later(2, 10):
        return
    roll = rng.random()
    if roll < 0.25:
        _sales_back(j, _SAL_BACK.pick(rng), recycle=recycle)
        return
    if roll < 0.3:
        _sales_back(j, "sales_no_fit", recycle=recycle)
        return
    if roll < 0.4:
        return  # still being worked
    _sales_forward(j, Stage.SQL)
    j.owner = _account_rep(j)
    if rng.random() < 0.4 and j.later(1, 5):
        j.page_view(rng.choice(("/pricing", "/security", "/integrations/salesforce")))
    if not j.later(3, 14):
        return
    roll = rng.random()
    if roll < 0.2:
        _sales_back(j, _SQL_BACK.pick(rng), recycle=False)
        return
    if roll < 0.35:
        return
    _sales_forward(j, Stage.OPPORTUNITY)
    if not j.later(10, 35):
        return
    roll = rng.random()
    if roll < 0.4:
        _sales_forward(j, Stage.CUSTOMER)
    elif roll < 0.7:
        _sales_back(j, _OPPORTUNITY_LOST.pick(rng), recycle=False)


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
    handoffs: list[_HandoffPlan] = field(default_factory=list)
    #: Transitions to SAL with the handoff whose acceptance they record.
    accepted_steps: list[tuple[StageTransition, _HandoffPlan]] = field(
        default_factory=list
    )
    #: For an MQL undecided at the end: when its handoff opened.
    waiting_since: datetime | None = None
    touchpoints: list[Touchpoint] = field(default_factory=list)  # once built


def _lead_plan(world: _World) -> _LeadPlan:
    """One lead (unsaved, stage history applied), its touchpoints and transitions.

    Also the handoffs its MQL episodes went through (unsaved plans).
    """
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
    # The person and company fields come first: SLA conditions test them
    # when the journey reaches MQL. Source and UTM keys follow the journey.
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
        do_not_call=rng.random() < 0.03,
        attributes=_attributes(rng, segment),
    )

    # Leads arrive a little faster lately (a growing pipeline): skew to recent days.
    day_index = min(HISTORY_DAYS - 1, int(HISTORY_DAYS * rng.random() ** 0.8))
    day = world.start.date() + timedelta(days=day_index)
    if (moved := _workday(rng, day)) < world.end.date():
        day = moved
    journey = _Journey(
        world, _business_time(rng, day, country.utc_offset), country.utc_offset, lead
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
    _handoffs_finish(journey)

    first_touch = journey.touches[0]
    (
        lead.source,
        lead.utm_source,
        lead.utm_medium,
        lead.utm_campaign,
        lead.utm_term,
        lead.utm_content,
    ) = _attribution(world, rng, first_touch)
    lead.do_not_email = journey.unsubscribed
    lead.created_at = lead.entered_lead_at = lead.stage_changed_at = first_touch.at
    transitions = history_replay(lead, journey.steps, system_actor=DEMO_SOURCE)
    accepted_steps = []
    for transition, (actor, handoff) in zip(
        transitions, journey.step_meta, strict=True
    ):
        if actor is not None:
            # A person's move, as lead_move records it: the actor, no system.
            transition.actor_id = world.users[actor]
            transition.system_actor = ""
        if handoff is not None:
            accepted_steps.append((transition, handoff))
    if journey.owner is not None:
        lead.owner_id = world.users[journey.owner]
    # A rejection or a step back with a cool-down holds the lead in nurture.
    if lead.stage == Stage.NURTURE:
        lead.recycle_until = journey.hold_until
    return _LeadPlan(
        lead,
        journey.touches,
        transitions,
        handoffs=journey.handoffs,
        accepted_steps=accepted_steps,
        waiting_since=journey.waiting_since if lead.stage == Stage.MQL else None,
    )


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
# Handoffs: teams, calendars, SLAs and the SDRs' work
# ------------------------------------------------------------------------------

#: Seconds between a lead becoming an MQL and its handoff opening (the task
#: that opens it runs after the lifecycle's commit).
SYSTEM_DELAY_SECONDS = (20, 240)
#: The escalation ladder's beat task runs once a minute.
BEAT_INTERVAL = timedelta(minutes=1)
#: Share of handoffs an SDR lets breach (expired, escalated and reassigned);
#: an SLA of at most FAST_SLA_HOURS is missed more often.
BREACH_SHARE = 0.12
FAST_SLA_BREACH_SHARE = 0.25
FAST_SLA_HOURS = Decimal(2)
#: Share of accepted handoffs whose owner follows up after the follow-up SLA.
FOLLOW_UP_LATE_SHARE = 0.15
#: Of the MQLs the history leaves undecided, every this-many-th (the most
#: recent first) has its handoff opened late, so it is at risk today.
LATE_OPEN_EVERY = 3
#: Volume commitments sit this far above what each demo SLA received per
#: month (rounded up to a multiple of 5), so the pacing report has a gap.
COMMITMENT_HEADROOM = 1.15


@dataclass(frozen=True)
class _CalendarSpec:
    name: str
    time_zone: str
    day_start: time_of_day
    day_end: time_of_day
    #: The holidays of a year: (local date, name).
    holidays: Callable[[int], list[tuple[date, str]]]


@dataclass(frozen=True)
class _TeamSpec:
    name: str
    members: tuple[str, ...]  # demo usernames, in membership order


@dataclass(frozen=True)
class _SlaSpec:
    name: str
    priority: int
    team: str  # a demo team, or "" for the default SLA's team
    calendar: str  # a demo calendar, or "" for the default SLA's calendar
    accept_within_hours: Decimal
    at_risk_percent: int
    follow_up_within_hours: Decimal
    conditions: tuple[dict[str, Any], ...]
    notes: str


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of a month; ``n = -1``: the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Easter Sunday of the Gregorian calendar (the Meeus/Jones/Butcher method)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * shift) // 451
    month, day = divmod(h + shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _us_holidays(year: int) -> list[tuple[date, str]]:
    return [
        (date(year, 1, 1), "New Year's Day"),
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (date(year, 6, 19), "Juneteenth"),
        (date(year, 7, 4), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]


def _german_holidays(year: int) -> list[tuple[date, str]]:
    easter = _easter(year)
    return [
        (date(year, 1, 1), "New Year's Day"),
        (easter - timedelta(days=2), "Good Friday"),
        (easter + timedelta(days=1), "Easter Monday"),
        (date(year, 5, 1), "Labour Day"),
        (easter + timedelta(days=39), "Ascension Day"),
        (easter + timedelta(days=50), "Whit Monday"),
        (date(year, 10, 3), "German Unity Day"),
        (date(year, 12, 25), "Christmas Day"),
        (date(year, 12, 26), "Boxing Day"),
    ]


DEMO_CALENDARS: tuple[_CalendarSpec, ...] = (
    _CalendarSpec(
        "North America business days",
        "America/New_York",
        time_of_day(9),
        time_of_day(17),
        _us_holidays,
    ),
    _CalendarSpec(
        "EMEA business days",
        "Europe/Berlin",
        time_of_day(9),
        time_of_day(17),
        _german_holidays,
    ),
)
DEMO_TEAMS: tuple[_TeamSpec, ...] = (
    _TeamSpec("SDR North America", ("sdr1", "sdr3")),
    _TeamSpec("SDR EMEA", ("sdr2", "sdr4")),
)
#: The migration's team, behind the default SLA and the demo-request lane,
#: takes what no regional SLA covers: every SDR is in it.
DEFAULT_TEAM_MEMBERS = ("sdr1", "sdr2", "sdr3", "sdr4")
_EUROPE = {"attribute": "region", "operator": "equals", "value": "europe"}
DEMO_SLAS: tuple[_SlaSpec, ...] = (
    _SlaSpec(
        "Demo requests",
        10,
        "",
        "",
        Decimal(1),
        50,
        Decimal(4),
        (
            {
                "attribute": "last_touchpoint_kind",
                "operator": "one_of",
                "value": ["demo_request", "trial_signup"],
            },
        ),
        "Hand-raisers first: a demo request or trial sign-up gets a call "
        "within the business hour.",
    ),
    _SlaSpec(
        "Enterprise EMEA",
        20,
        "SDR EMEA",
        "EMEA business days",
        Decimal(4),
        75,
        Decimal(8),
        (
            _EUROPE,
            {
                "attribute": "account.employee_count",
                "operator": "at_least",
                "value": 1000,
            },
        ),
        "European companies of 1,000 people or more.",
    ),
    _SlaSpec(
        "EMEA",
        50,
        "SDR EMEA",
        "EMEA business days",
        Decimal(8),
        75,
        Decimal(16),
        (_EUROPE,),
        "Every other MQL from Europe.",
    ),
    _SlaSpec(
        "North America",
        50,
        "SDR North America",
        "North America business days",
        Decimal(8),
        75,
        Decimal(16),
        ({"attribute": "region", "operator": "equals", "value": "north_america"},),
        "MQLs from the United States and Canada.",
    ),
)


@dataclass
class _Attempt:
    user: str
    channel: str
    outcome: str
    note: str
    at: datetime


@dataclass
class _Outcome:
    from_stage: str
    to_stage: str
    reason: str  # a sales reason code, "" for a forward move
    feedback: str
    actor: str
    at: datetime


@dataclass(eq=False)
class _HandoffPlan:
    """One handoff of the history, as the services would have left it."""

    sla: ServiceLevelAgreement
    team_id: int
    assigned_to: str | None
    assign_detail: str
    previous: _HandoffPlan | None
    mql_at: datetime
    created_at: datetime
    due_at: datetime
    at_risk_at: datetime
    status: str = Handoff.Status.PENDING
    reminded_at: datetime | None = None
    expired_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str = ""  # a rejection reason code
    feedback: str = ""
    follow_up_due_at: datetime | None = None
    follow_up_at: datetime | None = None  # when the owner means to follow up
    followed_up_at: datetime | None = None
    follow_up_breached_at: datetime | None = None
    attempts: list[_Attempt] = field(default_factory=list)
    outcomes: list[_Outcome] = field(default_factory=list)
    row: Handoff | None = None  # once inserted

    @property
    def sequence(self) -> int:
        return self.previous.sequence + 1 if self.previous else 1


@dataclass
class _HandoffWorld:
    """What the history of handoffs reads, and the round robin it keeps."""

    #: Active SLAs in matching order (as handoff.selectors.sla_for_lead).
    slas: list[ServiceLevelAgreement]
    default: ServiceLevelAgreement
    calendars: dict[int, business_hours.Calendar]  # by calendar id
    teams: dict[int, Team]
    members: dict[int, list[str]]  # team id -> usernames, in membership order
    reasons: dict[str, RejectionReason]
    users: dict[str, int]
    away: dict[str, tuple[datetime, datetime]]  # username -> [from, until)
    spec: ModelSpec | None
    model_name: str
    # Round robin as handoff.assignment keeps it: each team's turn counter,
    # each member's count, last turn and last assignment time.
    turn: dict[int, int] = field(default_factory=dict)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    last_turn: dict[tuple[int, str], int] = field(default_factory=dict)
    last_at: dict[tuple[int, str], datetime] = field(default_factory=dict)
    #: Account domain -> the rep who owns the account.
    account_reps: dict[str, str] = field(default_factory=dict)
    rep_turn: int = 0

    def match(self, facts: dict[str, Any]) -> ServiceLevelAgreement:
        for sla in self.slas:
            if not sla.is_default and not sla.reroute_only and sla_covers(sla, facts):
                return sla
        return self.default

    def calendar(self, sla: ServiceLevelAgreement) -> business_hours.Calendar:
        if sla.calendar_id not in self.calendars:
            self.calendars[sla.calendar_id] = sla.calendar.spec()
        return self.calendars[sla.calendar_id]

    def state(self) -> tuple[dict, ...]:
        """The round-robin counters, to restore when an episode is dropped."""
        return (
            dict(self.turn),
            dict(self.counts),
            dict(self.last_turn),
            dict(self.last_at),
        )

    def restore(self, state: tuple[dict, ...]) -> None:
        self.turn, self.counts, self.last_turn, self.last_at = state

    def assign(
        self, team_id: int, at: datetime, exclude: tuple[str | None, ...] = ()
    ) -> tuple[str | None, str]:
        """The SDR who gets a handoff opened at ``at``, and the event's detail.

        The same choice as handoff.services on the same counters: the team's
        strategy, skipping people away then and, if anyone else can take it,
        the ones in ``exclude``.
        """
        team = self.teams[team_id]
        names = self.members.get(team_id, [])
        candidates = [
            assignment.Candidate(
                member_id=position,
                user_id=self.users[name],
                weight=1,
                assigned_count=self.counts.get((team_id, name), 0),
                last_turn=self.last_turn.get((team_id, name), 0),
                open_count=0,
                today_count=0,
                daily_cap=None,
                open_cap=None,
                away=name in self.away
                and self.away[name][0] <= at < self.away[name][1],
            )
            for position, name in enumerate(names)
        ]
        chosen = assignment.choose(
            team.strategy,
            candidates,
            exclude_user_ids=[self.users[name] for name in exclude if name],
        )
        skipped = [
            f"{c.user_id}: {assignment.skip_reason(c)}"
            for c in candidates
            if assignment.skip_reason(c)
        ]
        if chosen is None:
            why = "; ".join(skipped) or "empty"
            return None, f"Nobody in {team} can take it ({why})"
        name = names[chosen.member_id]
        key = (team_id, name)
        self.turn[team_id] = self.turn.get(team_id, 0) + 1
        self.counts[key] = self.counts.get(key, 0) + 1
        self.last_turn[key] = self.turn[team_id]
        self.last_at[key] = max(at, self.last_at.get(key, at))
        detail = f"{team.get_strategy_display().lower()} in {team}"
        if skipped:
            detail += f"; skipped user {', user '.join(skipped)}"
        return name, detail


def _next_beat(at: datetime) -> datetime:
    """The first run of the once-a-minute beat task at or after ``at``."""
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + BEAT_INTERVAL


def _sla_time(
    j: _Journey, sla: ServiceLevelAgreement, start: datetime, hours: float
) -> datetime:
    """``hours`` business hours of the SLA's calendar after ``start``.

    For the moments people act (attempts, decisions): to the whole second.
    """
    at = business_hours.add_business_hours(start, hours, j.world.handoff.calendar(sla))
    return at.replace(microsecond=0)


def _text(j: _Journey, options: tuple[float, tuple[str, ...]], *, rep: str) -> str:
    share, texts = options
    if not texts or j.rng.random() >= share:
        return ""
    return j.rng.choice(texts).format(first=j.lead.first_name, rep=rep)


def _feedback(j: _Journey, code: str) -> str:
    """Feedback with a reason: always when the reason requires it."""
    options = _FEEDBACK.get(code, (0.0, ()))
    if j.world.handoff.reasons[code].feedback_required:
        options = (1.0, options[1] or ("See the call notes.",))
    return _text(j, options, rep=_account_rep(j, record=False))


def _note(j: _Journey, outcome: str, *, rejecting: bool = False) -> str:
    notes = _ATTEMPT_NOTES[outcome]
    if rejecting:
        notes = _REJECTION_NOTES.get(outcome, notes)
    return _text(j, (ATTEMPT_NOTE_SHARE, notes), rep="")


def _account_rep(j: _Journey, *, record: bool = True) -> str:
    """The rep who owns the lead's account; free-mail leads go round the reps."""
    hw = j.world.handoff
    account = j.lead.account
    if account is None:
        rep = DEMO_REPS[hw.rep_turn % len(DEMO_REPS)]
        hw.rep_turn += record
        return rep
    # crc32, not hash(): the same account gets the same rep in every run.
    rep = DEMO_REPS[zlib.crc32(account.domain.encode()) % len(DEMO_REPS)]
    if record:
        hw.account_reps[account.domain] = rep
    return rep


def _handoff_open_plan(
    j: _Journey,
    *,
    sla: ServiceLevelAgreement,
    mql_at: datetime,
    created_at: datetime,
    previous: _HandoffPlan | None = None,
) -> _HandoffPlan:
    """A handoff opened at ``created_at``: assigned, with its due times."""
    hw = j.world.handoff
    exclude = (previous.assigned_to,) if previous else ()
    assigned_to, detail = hw.assign(sla.team_id, created_at, exclude)
    # The same arithmetic as handoff.services._create.
    calendar = hw.calendar(sla)
    hours = Decimal(sla.accept_within_hours)
    return _HandoffPlan(
        sla=sla,
        team_id=sla.team_id,
        assigned_to=assigned_to,
        assign_detail=detail,
        previous=previous,
        mql_at=mql_at,
        created_at=created_at,
        due_at=business_hours.add_business_hours(created_at, hours, calendar),
        at_risk_at=business_hours.add_business_hours(
            created_at, hours * sla.at_risk_percent / 100, calendar
        ),
    )


def _attempts_before(
    j: _Journey,
    plan: _HandoffPlan,
    script: list[tuple[str, str]],
    *,
    user: str,
    within: float,
    rejecting: bool = False,
) -> None:
    """Log ``script`` (channel, outcome) in the first ``within`` business hours."""
    shares = sorted(j.rng.uniform(0.05, 0.95) for _ in script)
    for share, (channel, outcome) in zip(shares, script, strict=True):
        at = _sla_time(j, plan.sla, plan.created_at, within * share)
        note = _note(j, outcome, rejecting=rejecting)
        plan.attempts.append(_Attempt(user, channel, outcome, note, at))


def _attempt_script(j: _Journey, code: str | None) -> list[tuple[str, str]]:
    """The contact attempts an SDR logs before accepting or rejecting (``code``)."""
    rng = j.rng
    call, email = ContactAttempt.Channel.CALL, ContactAttempt.Channel.EMAIL
    outcome = ContactAttempt.Outcome
    if code is None:
        before = rng.choice(
            ((), ((call, outcome.NO_ANSWER),), ((email, outcome.SENT),))
        )
        last = (call, rng.choice((outcome.CONNECTED, outcome.MEETING)))
        script = [*before, last]
    elif code == "bad_contact_data":
        script = [rng.choice(((call, outcome.BOUNCED), (email, outcome.BOUNCED)))]
    elif code in ("competitor_spam", "existing_customer", "wrong_region", "no_fit"):
        # Decided from the record itself, sometimes after a short reply.
        script = [(email, outcome.REPLIED)] if rng.random() < 0.3 else []
    elif code == "unable_to_reach":
        script = [(call, outcome.NO_ANSWER), (call, outcome.VOICEMAIL)]
    else:  # they talked: budget, authority, need or timing came up
        script = rng.choice(
            (
                [(call, outcome.CONNECTED)],
                [(call, outcome.NO_ANSWER), (call, outcome.CONNECTED)],
                [(email, outcome.SENT), (email, outcome.REPLIED)],
            )
        )
    if code is not None:
        needed = j.world.handoff.reasons[code].min_attempts
        script += [(email, outcome.SENT)] * max(0, needed - len(script))
    return script


def _handoff_decide(
    j: _Journey, plan: _HandoffPlan, code: str | None, feedback: str | None = None
) -> None:
    """The assigned SDR logs attempts, then accepts (``code`` None) or rejects."""
    rng = j.rng
    hours = float(plan.sla.accept_within_hours)
    # Most decisions come early in the window; unable-to-reach takes tries.
    if code == "unable_to_reach":
        share = rng.uniform(0.6, 0.95)
    else:
        share = min(0.95, max(0.02, rng.betavariate(1.3, 3.0)))
    decider = plan.assigned_to or DEMO_MANAGER
    _attempts_before(
        j,
        plan,
        _attempt_script(j, code),
        user=decider,
        within=hours * share,
        rejecting=code is not None,
    )
    plan.decided_at = _sla_time(j, plan.sla, plan.created_at, hours * share)
    plan.decided_by = decider
    if _next_beat(plan.at_risk_at) < plan.decided_at:
        plan.reminded_at = _next_beat(plan.at_risk_at)
    if code is None:
        plan.status = Handoff.Status.ACCEPTED
        return
    plan.status = Handoff.Status.REJECTED
    plan.reason = code
    plan.feedback = _feedback(j, code) if feedback is None else feedback


def _handoff_expire(j: _Journey, plan: _HandoffPlan) -> None:
    """Nobody decided in time: reminded, then expired and escalated by the beat."""
    if j.rng.random() < 0.3 and plan.assigned_to:
        script = [(ContactAttempt.Channel.CALL, ContactAttempt.Outcome.NO_ANSWER)]
        within = float(plan.sla.accept_within_hours) * plan.sla.at_risk_percent / 100
        _attempts_before(j, plan, script, user=plan.assigned_to, within=within)
    plan.expired_at = _next_beat(plan.due_at)
    if _next_beat(plan.at_risk_at) < plan.expired_at:
        plan.reminded_at = _next_beat(plan.at_risk_at)
    plan.status = Handoff.Status.EXPIRED


def _sdr_decides(
    j: _Journey, code: str | None, feedback: str | None = None
) -> _HandoffPlan | None:
    """Open the new MQL's handoff and play the SDRs' work up to the decision.

    ``code`` is the rejection reason, None to accept; ``feedback`` the SDR's
    (None: drawn for the reason). The handoff goes to the first SLA that
    covers the lead (as ``handoff_open`` does) and the team's next SDR. A
    breach expires it at the beat after its due time, escalates it and
    reassigns the lead to another SDR, as the escalation ladder does; a
    wrong-region rejection reroutes the lead to the reason's SLA, whose team
    disqualifies it as no fit. Returns the deciding handoff, with the chain
    recorded on the journey and its clock at the decision, or None (nothing
    recorded, counters restored) when the decision falls after today.
    """
    hw = j.world.handoff
    rng = j.rng
    state = hw.state()
    mql_at = j.now
    sla = hw.match(j.sla_facts())
    created_at = mql_at + timedelta(seconds=rng.randint(*SYSTEM_DELAY_SECONDS))
    chain = [_handoff_open_plan(j, sla=sla, mql_at=mql_at, created_at=created_at)]
    fast = sla.accept_within_hours <= FAST_SLA_HOURS
    if rng.random() < (FAST_SLA_BREACH_SHARE if fast else BREACH_SHARE):
        late = chain[-1]
        _handoff_expire(j, late)
        chain.append(
            _handoff_open_plan(
                j, sla=sla, mql_at=mql_at, created_at=late.expired_at, previous=late
            )
        )
    if code == "wrong_region":
        first = chain[-1]
        _handoff_decide(j, first, code)
        target = hw.reasons[code].reroute_sla
        chain.append(
            _handoff_open_plan(
                j,
                sla=target,
                mql_at=mql_at,
                created_at=first.decided_at,
                previous=first,
            )
        )
        code, feedback = "no_fit", _OUTSIDE_MARKETS
    last = chain[-1]
    _handoff_decide(j, last, code, feedback)
    if last.decided_at >= j.world.end:
        hw.restore(state)
        return None
    j.handoffs.extend(chain)
    j._move_to(last.decided_at)
    return last


def _follow_up_plan(j: _Journey, handoff: _HandoffPlan) -> None:
    """Start the follow-up clock and plan when the owner follows up.

    Whether the planned attempt happens (or a sales move comes first) is
    settled when the journey is over (``_handoffs_finish``).
    """
    rng = j.rng
    hours = float(handoff.sla.follow_up_within_hours)
    # As handoff_accept computes it.
    handoff.follow_up_due_at = business_hours.add_business_hours(
        handoff.decided_at,
        Decimal(handoff.sla.follow_up_within_hours),
        j.world.handoff.calendar(handoff.sla),
    )
    late = rng.random() < FOLLOW_UP_LATE_SHARE
    share = rng.uniform(1.1, 2.5) if late else rng.uniform(0.05, 0.8)
    handoff.follow_up_at = _sla_time(j, handoff.sla, handoff.decided_at, hours * share)


_FORWARD_LABELS = {
    Stage.SQL: "Qualified by sales",
    Stage.OPPORTUNITY: "Opportunity opened",
    Stage.CUSTOMER: "Closed won",
}


def _sales_forward(j: _Journey, to_stage: str) -> None:
    """The lead's owner moves it one funnel stage on (lead_sales_move)."""
    if not j.open or j.accepted is None:
        return
    feedback = _text(j, _FORWARD_FEEDBACK[to_stage], rep="")
    j.accepted.outcomes.append(
        _Outcome(j.stage, to_stage, "", feedback, j.owner or DEMO_MANAGER, j.now)
    )
    j.move(to_stage, _FORWARD_LABELS[to_stage], actor=j.owner or DEMO_MANAGER)


def _sales_back(j: _Journey, code: str, *, recycle: bool) -> None:
    """The lead's owner sends it back with a sales reason (lead_sales_move)."""
    if not j.open or j.accepted is None:
        return
    reason = j.world.handoff.reasons[code]
    feedback = _feedback(j, code)
    label = f"Sent back by sales: {reason.label}" + (
        f" ({feedback[:200]})" if feedback else ""
    )
    actor = j.owner or DEMO_MANAGER
    if reason.action == RejectionReason.Action.DISQUALIFY:
        to_stage, hold_days = Stage.DISQUALIFIED, 0
    else:
        to_stage, hold_days = Stage.NURTURE, reason.cooldown_days
    j.accepted.outcomes.append(
        _Outcome(j.stage, to_stage, code, feedback, actor, j.now)
    )
    j.move(to_stage, label, actor=actor, hold_days=hold_days)
    if to_stage == Stage.NURTURE:
        _recycle(j, recycle)


def _handoffs_finish(j: _Journey) -> None:
    """Settle the follow-ups of the accepted handoffs once the journey is over.

    The owner's planned attempt stops the follow-up clock unless a sales move
    came first (which stops it too); a clock still running a minute after
    its due time was breached, as the escalation ladder records it.
    """
    end = j.world.end
    for plan in j.handoffs:
        if plan.status != Handoff.Status.ACCEPTED or plan.follow_up_due_at is None:
            continue
        first_move = plan.outcomes[0].at if plan.outcomes else None
        planned = plan.follow_up_at
        if (
            planned is not None
            and planned < end
            and (first_move is None or planned < first_move)
        ):
            channel, outcome = j.rng.choice(_FOLLOW_UPS)
            owner = plan.decided_by or DEMO_MANAGER
            plan.attempts.append(
                _Attempt(owner, channel, outcome, _note(j, outcome), planned)
            )
            plan.followed_up_at = planned
        elif first_move is not None:
            plan.followed_up_at = first_move
        breach = _next_beat(plan.follow_up_due_at)
        if breach < end and (
            plan.followed_up_at is None or plan.followed_up_at > breach
        ):
            plan.follow_up_breached_at = breach


def _handoff_setup(
    *, today: date, start: datetime, end: datetime, users: dict[str, int]
) -> _HandoffWorld:
    """Create the demo calendars, teams and SLAs; read what the history needs.

    The migration's reasons, default calendar, team and SLAs stay as they
    are; the demo SDRs join the default SLA's team. Leftovers of an earlier
    demo configuration are replaced. Raises RuntimeError when the default SLA
    or a standard rejection reason the history uses is missing.
    """
    default = (
        ServiceLevelAgreement.objects.filter(is_default=True, is_active=True)
        .select_related("team", "calendar")
        .first()
    )
    if default is None:
        raise RuntimeError(
            "The demo needs an active default SLA (the handoff migrations create "
            "'Standard MQL'); mark one SLA as the default and run seed_demo again."
        )
    reasons = {reason.code: reason for reason in RejectionReason.objects.all()}
    needed = {
        code
        for choice in (
            _SDR_RECYCLE,
            _SDR_DISQUALIFY,
            _SAL_BACK,
            _SQL_BACK,
            _OPPORTUNITY_LOST,
        )
        for code in choice.values
    } | {"no_fit", "sales_no_fit", "wrong_region"}
    missing = sorted(needed - set(reasons))
    if missing or reasons["wrong_region"].reroute_sla_id is None:
        raise RuntimeError(
            "The demo needs the standard rejection reasons (handoff migration "
            f"0002); missing or changed: {', '.join(missing) or 'wrong_region'}."
        )
    _handoff_config_delete()

    calendars = {}
    holidays = []
    for spec in DEMO_CALENDARS:
        calendar = BusinessCalendar(
            name=spec.name,
            time_zone=spec.time_zone,
            day_start=spec.day_start,
            day_end=spec.day_end,
        )
        calendar.full_clean()
        calendar.save()
        calendars[spec.name] = calendar
        holidays += [
            Holiday(calendar=calendar, date=day, name=name)
            for year in (today.year - 1, today.year, today.year + 1)
            for day, name in spec.holidays(year)
        ]
    Holiday.objects.bulk_create(holidays)

    teams = {}
    for spec in DEMO_TEAMS:
        teams[spec.name] = Team.objects.create(
            name=spec.name, strategy=Team.Strategy.ROUND_ROBIN
        )
    manager_email = next(u.email for u in DEMO_USERS if u.username == DEMO_MANAGER)
    for spec in DEMO_SLAS:
        sla = ServiceLevelAgreement(
            name=spec.name,
            priority=spec.priority,
            conditions=[dict(c) for c in spec.conditions],
            team=teams[spec.team] if spec.team else default.team,
            calendar=calendars[spec.calendar] if spec.calendar else default.calendar,
            accept_within_hours=spec.accept_within_hours,
            at_risk_percent=spec.at_risk_percent,
            follow_up_within_hours=spec.follow_up_within_hours,
            escalation_email=manager_email,
            volume_period=ServiceLevelAgreement.Period.MONTH,
            notes=spec.notes,
        )
        sla.full_clean()  # checks the conditions as the admin would
        sla.save()

    user_model = get_user_model()
    demo_sdrs = {
        user.username: user
        for user in user_model.objects.filter(
            username__in=[u.username for u in DEMO_USERS if u.role == roles.SDR]
        )
    }
    for username, user in sorted(demo_sdrs.items()):
        away = username == DEMO_AWAY_SDR
        handoff_services.availability_set(
            user=user,
            is_away=away,
            away_until=today + timedelta(days=DEMO_AWAY_FOR_DAYS) if away else None,
        )
    away_since = end - timedelta(days=DEMO_AWAY_SINCE_DAYS)

    model = model_active()
    members = {
        team.id: list(spec.members)
        for spec, team in zip(DEMO_TEAMS, teams.values(), strict=True)
    }
    members[default.team_id] = list(DEFAULT_TEAM_MEMBERS)
    slas = list(
        ServiceLevelAgreement.objects.filter(is_active=True)
        .select_related("team", "calendar")
        .order_by("priority", "id")
    )
    reroute = reasons["wrong_region"].reroute_sla
    return _HandoffWorld(
        slas=slas,
        default=default,
        calendars={},
        teams={
            team.id: team
            for team in Team.objects.filter(
                id__in=[*members, reroute.team_id, *(s.team_id for s in slas)]
            )
        },
        members=members,
        reasons=reasons,
        users=users,
        away={DEMO_AWAY_SDR: (away_since, end + timedelta(days=DEMO_AWAY_FOR_DAYS))},
        spec=model_spec(model) if model is not None else None,
        model_name=str(model)[:120] if model is not None else "",
    )


def _team_members_write(hw: _HandoffWorld) -> None:
    """Add the demo SDRs to their teams with the history's round-robin counters.

    So the present-day assignments (``handoff_open``) continue the round
    robin where the history left it.
    """
    rows = [
        TeamMember(
            team_id=team_id,
            user_id=hw.users[name],
            assigned_count=hw.counts.get((team_id, name), 0),
            last_turn=hw.last_turn.get((team_id, name), 0),
            last_assigned_at=hw.last_at.get((team_id, name)),
        )
        for team_id, names in hw.members.items()
        for name in names
    ]
    TeamMember.objects.bulk_create(rows)
    for team_id in hw.members:
        Team.objects.filter(id=team_id).update(turn=hw.turn.get(team_id, 0))


def _score_snapshot(
    hw: _HandoffWorld, lead: Lead, touchpoints: list[Touchpoint], at: datetime
) -> dict[str, Any]:
    """The lead's score at ``at`` under the active model, as a handoff keeps it."""
    if hw.spec is None:
        return {}
    account = None
    if lead.account is not None:
        account = {f: getattr(lead.account, f) for f in ACCOUNT_FACT_FIELDS}
    values = {f: getattr(lead, f) for f in (*LEAD_FACT_FIELDS, "attributes")}
    touches = [
        Touch(
            id=tp.id,
            kind=tp.kind_id,
            occurred_at=tp.occurred_at,
            properties=tp.properties,
        )
        for tp in touchpoints
        if tp.occurred_at <= at
    ]
    result = evaluate_touches(
        hw.spec, facts_from_values(values, account, None), touches, at
    )
    return {
        "score": result.total,
        "fit_score": result.fit_score,
        "engagement_score": result.engagement_score,
        "grade": result.grade,
        "score_breakdown": result.items,
        "scoring_model": hw.model_name,
    }


def _handoff_events(plan: _HandoffPlan, users: dict[str, int]) -> list[HandoffEvent]:
    """The audit trail the services would have written, in time order."""
    kind = HandoffEvent.Kind
    row = plan.row

    def event(
        at: datetime, what: str, actor: str | None = None, detail: str = ""
    ) -> HandoffEvent:
        return HandoffEvent(
            handoff=row,
            kind=what,
            at=at,
            actor_id=users[actor] if actor else None,
            detail=detail[:300],
        )

    events = [event(plan.created_at, kind.ASSIGNED, detail=plan.assign_detail)]
    if plan.reminded_at:
        events.append(event(plan.reminded_at, kind.REMINDED))
    for attempt in plan.attempts:
        channel = ContactAttempt.Channel(attempt.channel).label
        outcome = ContactAttempt.Outcome(attempt.outcome).label
        events.append(
            event(attempt.at, kind.ATTEMPT, attempt.user, f"{channel}: {outcome}")
        )
    if plan.expired_at:
        late = plan.assigned_to or "nobody (unassigned)"
        events += [
            event(
                plan.expired_at,
                kind.EXPIRED,
                detail=f"Not decided by {plan.due_at:%Y-%m-%d %H:%M} UTC by {late}",
            ),
            event(
                plan.expired_at,
                kind.ESCALATED,
                detail=plan.sla.escalation_email or "no escalation contact",
            ),
        ]
    if plan.status == Handoff.Status.ACCEPTED:
        events.append(event(plan.decided_at, kind.ACCEPTED, plan.decided_by))
    elif plan.status == Handoff.Status.REJECTED:
        events.append(
            event(plan.decided_at, kind.REJECTED, plan.decided_by, plan.reason)
        )
    if plan.follow_up_breached_at:
        events.append(event(plan.follow_up_breached_at, kind.FOLLOW_UP_BREACHED))
    events.sort(key=lambda e: e.at)
    return events


def _handoffs_insert(world: _World, plans: list[_LeadPlan]) -> None:
    """Insert the chunk's handoffs, predecessors first, then their children.

    Needs the leads' and touchpoints' ids (the score snapshot names its
    touchpoints); names the accepting handoff in its stage transition.
    """
    hw = world.handoff
    users = hw.users
    by_sequence: dict[int, list[Handoff]] = {}
    for plan in plans:
        for h in plan.handoffs:
            reason = hw.reasons[h.reason] if h.reason else None
            h.row = Handoff(
                lead_id=plan.lead.id,
                sla_id=h.sla.id,
                team_id=h.team_id,
                assigned_to_id=users[h.assigned_to] if h.assigned_to else None,
                status=h.status,
                previous=h.previous.row if h.previous else None,
                sequence=h.sequence,
                mql_at=h.mql_at,
                created_at=h.created_at,
                due_at=h.due_at,
                at_risk_at=h.at_risk_at,
                reminded_at=h.reminded_at,
                expired_at=h.expired_at,
                first_attempt_at=min((a.at for a in h.attempts), default=None),
                decided_at=h.decided_at,
                decided_by_id=users[h.decided_by] if h.decided_by else None,
                reason=reason,
                feedback=h.feedback,
                owner_id=users[h.decided_by]
                if h.status == Handoff.Status.ACCEPTED
                else None,
                follow_up_due_at=h.follow_up_due_at,
                followed_up_at=h.followed_up_at,
                follow_up_breached_at=h.follow_up_breached_at,
                **_score_snapshot(hw, plan.lead, plan.touchpoints, h.created_at),
            )
            by_sequence.setdefault(h.sequence, []).append(h.row)
    # A handoff points at the one it replaced, so that one needs its id first.
    for sequence in sorted(by_sequence):
        Handoff.objects.bulk_create(by_sequence[sequence], batch_size=INSERT_BATCH_SIZE)
    for plan in plans:
        for transition, h in plan.accepted_steps:
            transition.reason = f"Accepted from handoff {h.row.id} ({h.sla})"


def _handoff_children_insert(world: _World, plans: list[_LeadPlan]) -> tuple[int, int]:
    """Insert the attempts, events and sales outcomes of the chunk's handoffs."""
    hw = world.handoff
    users = hw.users
    attempts: list[ContactAttempt] = []
    events: list[HandoffEvent] = []
    outcomes: list[SalesOutcome] = []
    for plan in plans:
        for h in plan.handoffs:
            attempts += [
                ContactAttempt(
                    handoff=h.row,
                    user_id=users[a.user],
                    channel=a.channel,
                    outcome=a.outcome,
                    note=a.note,
                    at=a.at,
                )
                for a in h.attempts
            ]
            events += _handoff_events(h, users)
            outcomes += [
                SalesOutcome(
                    lead_id=plan.lead.id,
                    handoff=h.row,
                    from_stage=o.from_stage,
                    to_stage=o.to_stage,
                    reason=hw.reasons[o.reason] if o.reason else None,
                    feedback=o.feedback,
                    actor_id=users[o.actor],
                    at=o.at,
                )
                for o in h.outcomes
            ]
    ContactAttempt.objects.bulk_create(attempts, batch_size=INSERT_BATCH_SIZE)
    HandoffEvent.objects.bulk_create(events, batch_size=INSERT_BATCH_SIZE)
    SalesOutcome.objects.bulk_create(outcomes, batch_size=INSERT_BATCH_SIZE)
    return len(attempts), len(outcomes)


def _handoffs_open_present(world: _World) -> int:
    """Give every MQL its pending handoff through ``handoff_open``; return how many.

    The real path: the lead's SLA, the team's next SDR (skipping the one who
    is away) and business-hours due times. Those scoring promoted open at the
    end of the history (on track). A lead that became an MQL in the history
    opens as of then (a few minutes after), so most are overdue at the end;
    every LATE_OPEN_EVERY-th of those, the most recent first, opens later
    instead, as the reconciler would open one whose task was lost, at the
    moment that leaves it at risk at the end. So the SAL queue shows all
    three states. Opened in time order, so the round robin runs as it would.
    """
    end = world.end
    mqls = list(
        Lead.objects.filter(stage=Stage.MQL).select_related("account").order_by("id")
    )
    opens = {
        lead.id: world.waiting.get(lead.id) or lead.stage_changed_at or end
        for lead in mqls
    }
    late = [
        (lead, at_risk)
        for lead in sorted(mqls, key=lambda lead: (opens[lead.id], lead.id))
        if opens[lead.id] < end
        and (at_risk := _at_risk_open(world, lead)) is not None
        and opens[lead.id] < at_risk
    ]
    for lead, at_risk in late[::-LATE_OPEN_EVERY]:
        opens[lead.id] = at_risk
    opened = 0
    for open_at, lead_id in sorted((at, lead_id) for lead_id, at in opens.items()):
        try:
            handoff = handoff_services.handoff_open(lead_id=lead_id, now=open_at)
        except NoServiceLevelAgreement:
            logger.warning("demo MQL lead %s: no SLA covers it", lead_id)
            continue
        opened += handoff is not None
    return opened


def _at_risk_open(world: _World, lead: Lead) -> datetime | None:
    """When to open the lead's handoff so that it is at risk at the end.

    Halfway between the SLA's at-risk point and its due time, in the
    business hours of the SLA that covers the lead; None without an SLA.
    """
    sla = sla_for_lead(lead)
    if sla is None:
        return None
    calendar = world.handoff.calendar(sla)
    share = (1 + sla.at_risk_percent / 100) / 2
    wanted = float(sla.accept_within_hours) * share * 3600
    # business_seconds_between(t, end) falls as t rises: bisect for it.
    low, high = world.end - timedelta(days=HISTORY_DAYS), world.end
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if business_hours.business_seconds_between(middle, world.end, calendar) >= (
            wanted
        ):
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0)


def _commitments_set(world: _World) -> None:
    """Commit each demo SLA to a little more than the MQLs it got per month."""
    for spec in DEMO_SLAS:
        received = Handoff.objects.filter(
            sla__name=spec.name, previous__isnull=True, created_at__gte=world.start
        ).count()
        monthly = received * 30 / HISTORY_DAYS * COMMITMENT_HEADROOM
        ServiceLevelAgreement.objects.filter(name=spec.name).update(
            volume_commitment=max(5, math.ceil(monthly / 5) * 5)
        )


def _handoff_config_delete() -> dict[str, int]:
    """Delete the demo calendars, teams, SLAs and the demo SDRs' memberships.

    The migration's reasons, default calendar, team and SLAs stay. Raises
    ProtectedError when something else (a reason rerouting to a demo SLA, a
    non-demo SLA of a demo team) still uses them.
    """
    usernames = [u.username for u in DEMO_USERS]
    team_names = [spec.name for spec in DEMO_TEAMS]
    # Few rows: Django's collector is fine here, and it honours PROTECT.
    deleted: Counter[str] = Counter()
    for queryset in (
        TeamMember.objects.filter(
            Q(team__name__in=team_names) | Q(user__username__in=usernames)
        ),
        ServiceLevelAgreement.objects.filter(name__in=[s.name for s in DEMO_SLAS]),
        Team.objects.filter(name__in=team_names),
        BusinessCalendar.objects.filter(name__in=[c.name for c in DEMO_CALENDARS]),
    ):
        deleted.update(queryset.delete()[1])
    return dict(deleted)


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
    """Insert one chunk of leads, their touchpoints, handoffs and transitions."""
    _leads_insert([plan.lead for plan in plans])
    campaign_ids = {key: c.id for key, c in world.campaigns.items()}
    for plan in plans:
        plan.touchpoints = [
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
            for touch in plan.touches
        ]
    touchpoints = [tp for plan in plans for tp in plan.touchpoints]
    _touchpoints_insert(touchpoints)
    # Before the transitions: an acceptance's transition names its handoff.
    _handoffs_insert(world, plans)
    transitions = [t for plan in plans for t in plan.transitions]
    # The transitions hold their (now saved) lead; bulk_create copies its id.
    _transitions_insert(transitions)
    _handoff_children_insert(world, plans)
    for plan in plans:
        if plan.waiting_since is not None:
            world.waiting[plan.lead.id] = plan.waiting_since
        plan.touchpoints = []  # the chunk is written; let it go
    return len(touchpoints), len(transitions)


def demo_data_counts() -> dict[str, int]:
    """How many leads, accounts, campaigns and handoffs the database holds."""
    return {
        "leads": Lead.objects.count(),
        "accounts": Account.objects.count(),
        "campaigns": Campaign.objects.count(),
        "handoffs": Handoff.objects.count(),
    }


def demo_data_delete() -> dict[str, int]:
    """Delete every touchpoint, stage transition, lead, account and campaign.

    Also the scores of leads and accounts and the chunks of bulk rescores
    (their id ranges name leads that are gone), every handoff with its
    contact attempts, events and sales outcomes, and the demo's calendars,
    teams and SLAs with the demo SDRs' team memberships. Users (demo or not)
    and their sales profiles, groups, touchpoint kinds, scoring models and
    what the handoff migrations create (reasons, the default calendar, team
    and SLAs) stay. Deletes child tables first with one plain DELETE each,
    bypassing Django's collector, which would load every lead to cascade by
    hand. A later model that points at these tables must be added to the
    order here, before its parent. Call inside a transaction; returns the
    rows deleted per table.
    """
    deleted = {}
    for model in (
        HandoffEvent,
        ContactAttempt,
        SalesOutcome,
        Handoff,
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
    deleted.update(_handoff_config_delete())
    logger.info("demo data deleted: %s", deleted)
    return deleted


@transaction.atomic
def demo_users_ensure() -> dict[str, int]:
    """Create or update the demo users; return their ids by username.

    Idempotent: each run sets names, e-mail, flags, the one role group and
    the password ``leadflow-demo`` of the users in DEMO_USERS, creating the
    missing ones, and the manager flag of the SDRs' and reps' sales profiles
    (whether someone is away is demo data: ``demo_seed`` sets it). Other
    users are left alone. The role groups must exist (the ``crm`` migrations
    create them).
    """
    user_model = get_user_model()
    # One hash for all: hashing is deliberately slow, the password is public.
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
        if spec.role in (roles.SDR, roles.SALES):
            SalesProfile.objects.update_or_create(
                user=user, defaults={"is_manager": spec.is_manager}
            )
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
    those that moved, plus the demo users (``demo_users_ensure``). The
    handoff side: the demo calendars, SDR teams and SLAs (``DEMO_SLAS``,
    next to the migration's), one SDR away, and for every MQL of the history
    its handoffs with contact attempts, events, the decision and the sales
    outcomes after acceptance, as the handoff services would have recorded
    them. Everything happens in one transaction: on any error nothing is
    written.

    Raises DemoDataPresent (nothing written) when leads, accounts, campaigns
    or handoffs exist, unless ``reset`` is true: then those and all
    touchpoints, transitions and handoffs are deleted first
    (``demo_data_delete``), in the same transaction. Raises ValueError for
    ``leads`` outside 1..MAX_LEADS or a negative ``seed``, RuntimeError when
    the handoff migrations' default SLA or standard reasons are missing.
    ``progress`` is called with the number of leads written after each
    chunk. The history sends no signals and enqueues no tasks: it is past,
    it triggers no present-day work.

    Last, every lead is scored under the active scoring model as of the end
    of the history (00:00 UTC on ``today``) with the bulk path, so the demo
    opens with scores and breakdowns; leads that qualify move to ``mql``
    through the lifecycle (system actor ``scoring``), and those moves, being
    present-day, announce themselves after commit like any promotion. Then
    every MQL gets its one pending handoff through ``handoff_open`` (as of
    the end of the history for the ones scoring promoted, as of when they
    became MQLs for the older ones, so the SAL queue holds work on track, at
    risk and overdue); the handoff task the promotions enqueue after commit
    finds it and opens none.
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

    handoff_world = _handoff_setup(today=today, start=start, end=end, users=users)
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
        handoff=handoff_world,
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
    _team_members_write(world.handoff)
    # Accounts with a deal in the works (or whose lead an SDR handed over)
    # belong to the rep who works them.
    _account_owners_write(world)

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
    # After scoring, so each MQL's handoff keeps its score.
    _handoffs_open_present(world)
    _commitments_set(world)
    # After scoring: a lifecycle move stamps updated_at with the wall clock.
    _timestamps_fix(world, keyed)
    statuses = dict(
        Handoff.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
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
        handoffs_per_status={
            status: statuses.get(status, 0) for status in Handoff.Status.values
        },
        contact_attempts=ContactAttempt.objects.count(),
        sales_outcomes=SalesOutcome.objects.count(),
        queue=_queue_counts(end),
    )


def _account_owners_write(world: _World) -> None:
    """Give each account a rep worked with its owner (``_account_rep``)."""
    by_rep: dict[str, list[str]] = {}
    for domain, rep in world.handoff.account_reps.items():
        by_rep.setdefault(rep, []).append(domain)
    for rep, domains in sorted(by_rep.items()):
        for low in range(0, len(domains), OWNER_UPDATE_BATCH):
            Account.objects.filter(
                domain__in=domains[low : low + OWNER_UPDATE_BATCH]
            ).update(owner_id=world.users[rep])


def _queue_counts(now: datetime) -> dict[str, int]:
    """Pending handoffs by how they stand at ``now``: on track, at risk, overdue."""
    pending = Handoff.objects.filter(status=Handoff.Status.PENDING)
    return {
        "on track": pending.filter(at_risk_at__gt=now).count(),
        "at risk": pending.filter(at_risk_at__lte=now, due_at__gt=now).count(),
        "overdue": pending.filter(due_at__lte=now).count(),
    }


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
    # The demo SLAs were agreed a week before the history starts.
    agreed = world.start - timedelta(days=7) + timedelta(hours=9)
    ServiceLevelAgreement.objects.filter(
        name__in=[spec.name for spec in DEMO_SLAS]
    ).update(created_at=agreed, updated_at=agreed)
