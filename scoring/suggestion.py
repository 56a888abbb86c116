"""Suggested points: rules and their points fitted from the leads' outcomes.

Reads only; ``scoring.services.suggestions.model_suggest`` stores the result
as a draft. The steps:

1. The leads created before the cut-off (not erased), in the order they were
   created, and whether each reached the outcome stage (``highest_stage`` at
   or beyond ``sql`` or ``customer``). The first TRAIN_SHARE of them train,
   the later ones test, so the test asks what a real deployment asks: does
   a model fitted on the past rank the leads that came after? Every lead is
   scored as it stood OBSERVATION_DAYS after the day it was created, or at the
   cut-off if sooner (its touchpoints before then; recency counted back from
   then), leaving out what it did from the moment it reached the outcome on
   (the calls and meetings sales logs once a lead is qualified follow the
   outcome and do not foretell it). Its outcome is the furthest stage it
   reached (``highest_stage`` today): what was known then, and what came of
   it.
2. Candidate rules, each an ordinary rule of the rule language: a touchpoint
   kind done at least once, counted up to three times, done in the last
   RECENT_DAYS days; a page people visit (a frequent first path segment of
   the URL-valued properties of the latest touchpoints, such as /pricing);
   a lead or account field equal to one of its frequent values (country,
   region, seniority, department, source, industry), an employee-count
   band, a frequent value of a free-form attribute; each rule of the active
   model (fired or not). The engine scores every candidate with 1 point
   (``scoring.bulk.chunk_evaluate``), so a lead's features are exactly what
   the rules would give it, and the fitted coefficients become the rules'
   points without translation. Candidates that fire for fewer than
   MIN_SUPPORT training leads (or miss fewer), and those that give every
   training lead the same as an earlier one, are dropped.
3. An L2-regularised (ridge) logistic regression (scikit-learn, features in
   a sorted order, each divided by its standard deviation so that the
   penalty treats rare and common rules alike) on the training leads, the
   penalty chosen on the time-ordered validation: among REGULARISATION_CS,
   the one whose fit on the earliest 80% of the training leads ranks the
   latest 20% best, every training lead scored for this choice as if the
   cut-off were the end of the training period (so the latest validation
   leads are as young as the latest test leads, whose short history a
   weaker penalty reads better). An L2 penalty shares the weight of rules
   that mark the same leads (a demo request and repeated pricing-page views)
   between them; an L1 penalty keeps one and zeroes the other, which reads
   as "the other does not matter". Only rules with real support keep their
   coefficient (``supported``): the lift's 95% interval on the side of 1 the
   coefficient points to (at most MAX_RULES, the largest), and the
   regression is fitted again on just those until the rules kept are the
   rules fitted (a rule's points are then its weight among the rules the
   draft has). Those are scaled so that the linear score that best
   separates the training leads (highest F1) lands on the active model's
   MQL threshold, and rounded to whole points; a rule under one point is
   dropped.

Activity rules of a suggestion count touchpoints without decay (a half-life
of SUGGESTED_HALF_LIFE_DAYS): recency is a rule of its own, so its weight is
fitted rather than assumed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db.models import Min

from leads.lifecycle import stage_rank
from leads.models import Lead, Stage, StageTransition, Touchpoint
from scoring import selectors, store
from scoring.bulk import chunk_evaluate, chunk_leads, lead_id_ranges
from scoring.engine import (
    ACTIVITY_KINDS,
    DISQUALIFYING,
    ENGAGEMENT,
    FIT,
    NEGATIVE,
    ModelSpec,
    Rule,
)
from scoring.exceptions import SuggestionRefused
from scoring.validation import (
    NOTES_MAX,
    RULE_INPUT_FIELDS,
    RULE_POINTS_MAX,
    rule_clean,
)

if TYPE_CHECKING:
    from scipy import sparse

#: Told how a suggestion goes: the stage (a ``ModelSuggestion.Stage`` code),
#: how much of it is done and its total.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The progress of a suggestion nobody follows."""


#: The outcomes a suggestion can be fitted to (the stage a lead must reach).
OUTCOMES = ("sql", "customer")
#: Share of the leads (the earliest created) the regression is fitted on.
TRAIN_SHARE = 0.8
#: Fewest leads of each class (reached the outcome, did not) among the
#: training leads: below that a coefficient is mostly noise.
MIN_CLASS = 50
#: Fewest leads of each class among the test leads: an AUC needs both.
MIN_TEST_CLASS = 10
#: Fewest training leads a rule must fire for (and not fire for) to be kept:
#: a rule about fewer leads cannot be argued with.
MIN_SUPPORT = 30
#: Most rules a suggestion proposes (the largest coefficients): a model a
#: person can read, and an explanation that fits the model's notes.
MAX_RULES = 30
#: Most values of one free-form attribute, and of all of them, tried as rules.
ATTRIBUTE_VALUES_MAX = 10
ATTRIBUTE_CANDIDATES_MAX = 60
#: Latest touchpoints read for the pages worth a rule of their own.
PATH_SAMPLE = 50_000
PATH_SEGMENT_MAX = 60
#: Inverse strengths of the L2 penalty (scikit-learn's C, on standardised
#: columns) tried, strongest first: the one whose fit on the earlier training
#: leads ranks the later ones best is used, so that few successes get a
#: strong penalty (small points) and many get a weaker one.
REGULARISATION_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Most fits again on the rules kept (see ``suggestion_fit``); they agree
#: after one or two.
REFITS_MAX = 5
#: The normal quantile of the lift's 95% interval (see ``supported``).
LIFT_Z = 1.96
#: Leads are scored this many days after they were created (or at the cut-off
#: if sooner): the age at which most leads of a B2B funnel have shown what
#: they will, and before most of them reach SQL.
OBSERVATION_DAYS = 30
#: From the start of the day a lead was created to when it is scored.
OBSERVATION = dt.timedelta(days=OBSERVATION_DAYS + 1)
#: "Recently": a touchpoint in the last this many days before it is scored.
RECENT_DAYS = 7
#: Counted up to this many times ("3+ times" weighs as much as three).
REPEAT_CAP = 3
#: Half-life of the suggested activity rules: a billion days, so that a
#: touchpoint counts fully whatever its age (its decay factor rounds to
#: 1.000000 for any touchpoint younger than about two thousand years, so no
#: point moves by a cent); recency has rules of its own.
SUGGESTED_HALF_LIFE_DAYS = 1_000_000_000
#: Employee-count bands tried as fit rules: [low, high], high None for "and up".
EMPLOYEE_BANDS: tuple[tuple[int, int | None], ...] = (
    (1, 10),
    (11, 50),
    (51, 200),
    (201, 1000),
    (1001, 5000),
    (5001, None),
)
#: Lead and account fields whose frequent values are tried as fit rules:
#: (path in the rule language, column of scoring.bulk.chunk_leads, label).
VALUE_FIELDS = (
    ("country", "country", "Country"),
    ("region", "region", "Region"),
    ("seniority", "seniority", "Seniority"),
    ("department", "department", "Department"),
    ("source", "source", "Source"),
    ("account.industry", "account__industry", "Industry"),
)
#: Default cut-off: leads created this many days ago or earlier, so that each
#: had time to reach the outcome (most leads of a B2B funnel that reach SQL
#: do so within two months of arriving).
MATURITY_DAYS = 60
#: Fallback MQL threshold when no model is active.
DEFAULT_THRESHOLD = Decimal(60)


@dataclass(frozen=True)
class Candidate:
    """A candidate rule: the fields ``scoring.services.drafts.rule_create`` takes
    (points aside), where it came from, and a stable sort key."""

    key: str
    fields: dict[str, Any]
    origin: str  # "activity", "attribute" or "active"

    @property
    def is_activity(self) -> bool:
        return self.fields["kind"] in ACTIVITY_KINDS


@dataclass
class SuggestedRule:
    """A rule of the suggestion with its points and the figures that explain it."""

    fields: dict[str, Any]
    coefficient: float
    support: int
    rate_with: float
    rate_without: float

    @property
    def lift(self) -> float | None:
        return self.rate_with / self.rate_without if self.rate_without else None


@dataclass
class Population:
    """The leads of a suggestion, oldest first, split into train and test."""

    ids: list[int]
    outcomes: list[int]
    train: int  # the first ``train`` leads train, the rest test
    rows: dict[int, dict[str, Any]] = field(repr=False, default_factory=dict)
    #: When each lead is scored: OBSERVATION_DAYS after it was created, or at
    #: the cut-off if that comes first.
    seen_at: dict[int, dt.datetime] = field(repr=False, default_factory=dict)
    created_at: dict[int, dt.datetime] = field(repr=False, default_factory=dict)
    #: When a lead first reached the outcome stage or a later one.
    reached_at: dict[int, dt.datetime] = field(repr=False, default_factory=dict)

    @property
    def train_ids(self) -> list[int]:
        return self.ids[: self.train]

    @property
    def test_ids(self) -> list[int]:
        return self.ids[self.train :]


@dataclass
class Suggestion:
    """What the fit proposes, before it is stored as a draft."""

    outcome: str
    until: dt.datetime
    population: Population
    rules: list[SuggestedRule]
    disqualifying: list[dict[str, Any]]
    scale: float
    candidates: int
    threshold_reference: Decimal
    strength: float = REGULARISATION_CS[2]


def cut_off_time(day: dt.date | None) -> dt.datetime | None:
    """The start (UTC) of ``day``: leads created before it are fitted on."""
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def outcome_check(outcome: Any) -> str:
    """The outcome stage code, or SuggestionRefused saying which ones exist."""
    if outcome not in OUTCOMES:
        raise SuggestionRefused(
            f"Unknown outcome {outcome!r}: choose {' or '.join(OUTCOMES)} (the "
            "stage a lead must have reached to count as a success)."
        )
    return outcome


def population_read(*, outcome: str, until: dt.datetime) -> Population:
    """The leads created before ``until`` (not erased), oldest first, with their
    outcome; refuses (SuggestionRefused) a window too thin to fit on."""
    rank = stage_rank(outcome)
    rows = list(
        Lead.objects.filter(created_at__lt=until, erased_at__isnull=True)
        .order_by("created_at", "id")
        .values_list("id", "highest_stage", "created_at")
    )
    day = f"{until:%Y-%m-%d}"
    if not rows:
        raise SuggestionRefused(
            f"No leads were created before {day}: choose a later cut-off date."
        )
    ids = [lead_id for lead_id, _, _ in rows]
    outcomes = [int(stage_rank(stage) >= rank) for _, stage, _ in rows]
    train = int(len(ids) * TRAIN_SHARE)
    if sum(outcomes) == 0:
        raise SuggestionRefused(
            f"None of the {len(ids):,} leads created before {day} reached "
            f"{outcome}: choose another cut-off date"
            + (", or the outcome sql." if outcome != "sql" else ".")
        )
    easier = " or the outcome sql (more leads reach it)" if outcome != "sql" else ""
    for part, share, low, advice in (
        (outcomes[:train], "earliest 80%", MIN_CLASS, "a later cut-off date"),
        (
            outcomes[train:],
            "latest 20%",
            MIN_TEST_CLASS,
            "an earlier cut-off date (the latest leads had no time to get there)",
        ),
    ):
        won = sum(part)
        lost = len(part) - won
        if won < low or lost < low:
            raise SuggestionRefused(
                f"Of the {share} of the {len(ids):,} leads created before {day}, "
                f"{won:,} reached {outcome} and {lost:,} did not; a suggestion "
                f"needs at least {low} of each there. Choose {advice}{easier}."
            )
    population = Population(ids=ids, outcomes=outcomes, train=train)
    population.created_at = {lead_id: created for lead_id, _, created in rows}
    population.reached_at = outcome_moments(outcome=outcome, until=until)
    population.seen_at = seen_times(population, population.ids, until)
    return population


def seen_times(
    population: Population, lead_ids: Iterable[int], until: dt.datetime
) -> dict[int, dt.datetime]:
    """When each of ``lead_ids`` is scored, with ``until`` as the cut-off:
    OBSERVATION_DAYS after the day it was created, or at ``until`` if that
    comes first. Whole UTC days, so that a chunk's leads are scored in a few
    groups."""
    return {
        lead_id: min(
            cut_off_time(population.created_at[lead_id].date()) + OBSERVATION, until
        )
        for lead_id in lead_ids
    }


def activity_end(population: Population, lead_id: int) -> dt.datetime | None:
    """When the lead reached the outcome: what it did from then on (the calls
    and meetings sales logs once a lead is qualified) follows the outcome and
    does not foretell it, so it is not counted. None when the lead did not
    reach it, or when its history puts the outcome at the moment it was
    created (an import that gave no stage dates): nothing says when then."""
    moment = population.reached_at.get(lead_id)
    if moment is None or moment <= population.created_at[lead_id]:
        return None
    return moment


def outcome_moments(*, outcome: str, until: dt.datetime) -> dict[int, dt.datetime]:
    """When each lead created before ``until`` first reached the outcome stage
    or a later one (its earliest such stage transition), for the leads whose
    history says so (one query)."""
    later = [
        stage for stage in Stage.values if stage_rank(stage) >= stage_rank(outcome)
    ]
    return dict(
        StageTransition.objects.filter(
            to_stage__in=later,
            lead__created_at__lt=until,
            lead__erased_at__isnull=True,
        )
        .values("lead_id")
        .annotate(first=Min("at"))
        .values_list("lead_id", "first")
    )


def _rows_read(population: Population, progress: Progress = no_progress) -> None:
    """Read the fact columns of the population's leads (chunk by chunk)."""
    wanted = set(population.ids)
    total = len(wanted)
    progress("reading", 0, total)
    for low, high in lead_id_ranges():
        for row in chunk_leads(low=low, high=high):
            if row["id"] in wanted:
                population.rows[row["id"]] = row
        progress("reading", len(population.rows), total)


def _text(value: Any) -> str:
    return str(value).strip().lower()


def candidates_build(
    *, population: Population, active: ModelSpec | None, kinds: dict[str, str]
) -> list[Candidate]:
    """Every candidate rule (see the module's docstring), sorted by key, each
    valid for scoring.validation (those that are not are left out)."""
    found: list[Candidate] = []
    for code, name in sorted(kinds.items()):
        activity = {
            "touchpoint_kind": code,
            "half_life_days": SUGGESTED_HALF_LIFE_DAYS,
        }
        found += [
            Candidate(
                f"a:{code}:1",
                {**activity, "label": f"{name}: at least once", "max_occurrences": 1},
                "activity",
            ),
            Candidate(
                f"a:{code}:3",
                {
                    **activity,
                    "label": f"{name}: each time, up to {REPEAT_CAP}",
                    "max_occurrences": REPEAT_CAP,
                },
                "activity",
            ),
            Candidate(
                f"a:{code}:r",
                {
                    **activity,
                    "label": f"{name} in the last {RECENT_DAYS} days",
                    "max_occurrences": 1,
                    "lookback_days": RECENT_DAYS,
                },
                "activity",
            ),
        ]
    found += _path_candidates(kinds)
    train_rows = [population.rows[i] for i in population.train_ids]
    for path, column, name in VALUE_FIELDS:
        counts = Counter(
            _text(row[column]) for row in train_rows if row.get(column) not in NO_VALUE
        )
        for value, count in sorted(counts.items()):
            if MIN_SUPPORT <= count <= len(train_rows) - MIN_SUPPORT:
                found.append(
                    Candidate(
                        f"f:{path}:{value}",
                        _equals(path, value, f"{name} is {value}"),
                        "attribute",
                    )
                )
    for low, high in EMPLOYEE_BANDS:
        label = f"Employees {low:,}-{high:,}" if high else f"Employees {low:,} or more"
        rule = {
            "kind": FIT,
            "label": label,
            "attribute": "account.employee_count",
            "operator": "between" if high else "at_least",
            "value": [low, high] if high else low,
        }
        found.append(Candidate(f"f:employees:{low:09d}", rule, "attribute"))
    found += _attribute_candidates(train_rows)
    if active is not None:
        for position, rule in enumerate(active.rules, start=1):
            if rule.kind == DISQUALIFYING:
                continue
            fields = {
                name: getattr(rule, name)
                for name in RULE_INPUT_FIELDS
                if name not in ("kind", "points")
            }
            fields["label"] = f"{rule.label} (as in the active model)"[:200]
            if rule.kind in ACTIVITY_KINDS:
                # "Fired or not": at least once, within its own window.
                fields["max_occurrences"] = 1
                fields["half_life_days"] = SUGGESTED_HALF_LIFE_DAYS
                if rule.property_name:
                    # Its touchpoints (a page, a form) at any age, as the
                    # kinds above: a look-back measured from the cut-off
                    # misses what older leads did.
                    found += _ever(f"m:{position:04d}", fields, rule.label)
            found.append(Candidate(f"m:{position:04d}", fields, "active"))
    valid = []
    kind_codes = set(kinds)
    for candidate in found:
        kind = ENGAGEMENT if "touchpoint_kind" in candidate.fields else FIT
        if candidate.fields.get("touchpoint_kind") == "":
            kind = FIT
        fields = {**candidate.fields, "kind": kind, "points": 1}
        try:
            cleaned = rule_clean(fields, touchpoint_kinds=kind_codes)
        except ValidationError:
            continue
        valid.append(Candidate(candidate.key, cleaned, candidate.origin))
    return sorted(valid, key=lambda c: c.key)


NO_VALUE = (None, "", [], {})


def _path_candidates(kinds: dict[str, str]) -> list[Candidate]:
    """Pages as rules: for the URL-valued properties of a sample of the latest
    touchpoints (PATH_SAMPLE), their frequent first path segments ("/pricing"),
    as "at least once" and "up to 3 times" rules with a property condition."""
    counts: Counter[tuple[str, str, str]] = Counter()
    sample = Touchpoint.objects.order_by("-id").values_list("kind_id", "properties")[
        :PATH_SAMPLE
    ]
    for kind, properties in sample:
        for name, value in (properties or {}).items():
            if not isinstance(value, str) or "." in name or not name.strip():
                continue
            path = urlsplit(value.strip()).path if "://" in value else ""
            segment = path.strip("/").split("/")[0].lower()
            if segment and len(segment) <= PATH_SEGMENT_MAX:
                counts[(kind, name, f"/{segment}")] += 1
    per_kind_property: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for (kind, name, segment), count in counts.items():
        if count >= MIN_SUPPORT:
            per_kind_property[(kind, name)].append((count, segment))
    found = []
    for (kind, name), segments in sorted(per_kind_property.items()):
        segments.sort(key=lambda cs: (-cs[0], cs[1]))
        for _, segment in segments[:ATTRIBUTE_VALUES_MAX]:
            fields = {
                "touchpoint_kind": kind,
                "property_name": name,
                "property_operator": "contains",
                "property_value": segment,
                "half_life_days": SUGGESTED_HALF_LIFE_DAYS,
            }
            what = f"{kinds.get(kind, kind)} of {segment}"
            found += _ever(f"p:{kind}:{name}:{segment}", fields, what)
    return found


def _ever(key: str, fields: dict[str, Any], label: str) -> list[Candidate]:
    """An activity rule without a look-back: once, and up to 3 times."""
    ever = {**fields, "lookback_days": None}
    return [
        Candidate(
            f"{key}:1",
            {**ever, "label": f"{label}: at least once", "max_occurrences": 1},
            "active",
        ),
        Candidate(
            f"{key}:3",
            {
                **ever,
                "label": f"{label}: each time, up to {REPEAT_CAP}",
                "max_occurrences": REPEAT_CAP,
            },
            "active",
        ),
    ]


def _equals(path: str, value: str, label: str) -> dict[str, Any]:
    return {
        "kind": FIT,
        "label": label[:200],
        "attribute": path,
        "operator": "equals",
        "value": value,
    }


def _attribute_candidates(rows: Sequence[dict[str, Any]]) -> list[Candidate]:
    """Frequent values of the free-form attributes (scalar values, keys without
    dots), at most ATTRIBUTE_VALUES_MAX per key, ATTRIBUTE_CANDIDATES_MAX in all."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        for key, value in (row.get("attributes") or {}).items():
            if not isinstance(key, str) or "." in key or key != key.strip() or not key:
                continue
            if isinstance(value, str | int | float | bool) and _text(value):
                counts[(key, _text(value))] += 1
    per_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for (key, value), count in counts.items():
        if MIN_SUPPORT <= count <= len(rows) - MIN_SUPPORT:
            per_key[key].append((count, value))
    chosen: list[tuple[int, str, str]] = []
    for key, values in per_key.items():
        values.sort(key=lambda cv: (-cv[0], cv[1]))
        chosen += [
            (count, key, value) for count, value in values[:ATTRIBUTE_VALUES_MAX]
        ]
    chosen.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [
        Candidate(
            f"f:attributes.{key}:{value}",
            _equals(f"attributes.{key}", value, f"{key} is {value}"),
            "attribute",
        )
        for _, key, value in chosen[:ATTRIBUTE_CANDIDATES_MAX]
    ]


def spec_of(
    rules: Sequence[dict[str, Any]], *, like: ModelSpec | None, spec_id: int = 0
) -> ModelSpec:
    """An unsaved spec of these rule fields (ids 1, 2, ...) for the engine."""
    return ModelSpec(
        id=spec_id,
        mql_threshold=like.mql_threshold if like else DEFAULT_THRESHOLD,
        min_fit_score=None,
        default_half_life_days=like.default_half_life_days if like else 30,
        grade_a_min=Decimal(40),
        grade_b_min=Decimal(25),
        grade_c_min=Decimal(10),
        rules=tuple(
            Rule(
                id=position,
                points=Decimal(str(fields["points"])),
                **{
                    name: fields.get(name)
                    for name in RULE_INPUT_FIELDS
                    if name != "points"
                },
            )
            for position, fields in enumerate(rules, start=1)
        ),
    )


def scores_evaluate(
    *,
    spec: ModelSpec,
    population: Population,
    lead_ids: Iterable[int],
    progress: Callable[[int], None] | None = None,
    seen_at: dict[int, dt.datetime] | None = None,
) -> dict[int, Any]:
    """Each lead's ``scoring.engine.ScoreResult`` under ``spec`` as it stood
    when it is observed (``seen_at``, by default ``population.seen_at``):
    the bulk path's own evaluation (``chunk_evaluate``) of the touchpoints
    before that moment and before it reached the outcome
    (``activity_end``), with recency and decay counted back from that
    moment. Every lead is scored at the same age, so a rule means the same
    for old and new leads, and nothing a lead did later (a meeting once it
    converted) predicts its outcome. One touchpoint
    read per chunk, after which ``progress`` hears how many leads are scored
    so far; stores nothing."""
    wanted = set(lead_ids)
    seen_at = population.seen_at if seen_at is None else seen_at
    results: dict[int, Any] = {}
    for low, high in lead_id_ranges():
        leads = [
            population.rows[i]
            for i in range(low, high)
            if i in wanted and i in population.rows
        ]
        if not leads:
            continue
        touches = store.touches_by_lead(spec, low, high)
        groups: dict[dt.datetime, list[dict[str, Any]]] = defaultdict(list)
        for lead in leads:
            groups[seen_at[lead["id"]]].append(lead)
        for moment, group in sorted(groups.items()):
            before = {}
            for lead in group:
                end = activity_end(population, lead["id"])
                end = moment if end is None else min(end, moment)
                before[lead["id"]] = [
                    t for t in touches.get(lead["id"], ()) if t.occurred_at < end
                ]
            results.update(
                chunk_evaluate(
                    spec=spec,
                    leads=group,
                    low=low,
                    high=high,
                    now=moment,
                    touches=before,
                )
            )
        if progress is not None:
            progress(len(results))
    return results


def features_read(
    *,
    candidates: list[Candidate],
    population: Population,
    lead_ids: Sequence[int] | None = None,
    seen_at: dict[int, dt.datetime] | None = None,
    progress: Callable[[int], None] | None = None,
) -> sparse.csr_matrix:
    """The leads x candidates matrix: what each candidate gives each lead at
    1 point (rows in the order of ``lead_ids``, by default the population's),
    scored when ``seen_at`` says (by default ``population.seen_at``), from
    the engine. ``progress`` hears how many leads are scored so far."""
    import numpy as np  # the numeric stack loads (1.5 s) only when fitting
    from scipy import sparse

    lead_ids = population.ids if lead_ids is None else lead_ids
    spec = spec_of([{**c.fields, "points": 1} for c in candidates], like=None)
    results = scores_evaluate(
        spec=spec,
        population=population,
        lead_ids=lead_ids,
        progress=progress,
        seen_at=seen_at,
    )
    row_of = {lead_id: n for n, lead_id in enumerate(lead_ids)}
    rows, cols, values = [], [], []
    for lead_id, result in results.items():
        for item in result.items:
            rows.append(row_of[lead_id])
            cols.append(item["rule"] - 1)
            values.append(float(item["points"]))
    return sparse.csr_matrix(
        (values, (rows, cols)),
        shape=(len(lead_ids), len(candidates)),
        dtype=np.float64,
    )


def validation_plan(population: Population) -> tuple[dict[int, dt.datetime], list[int]]:
    """How the training leads are scored when the penalty is chosen: as if the
    cut-off were the moment the first test lead was created (``seen_times``),
    so that the latest training leads are seen as young as the latest test
    leads are; and which training leads that moves (the rest keep their
    scores)."""
    boundary = population.created_at[population.ids[population.train]]
    seen = seen_times(population, population.train_ids, boundary)
    moved = [i for i in population.train_ids if seen[i] != population.seen_at[i]]
    return seen, moved


def rows_replace(matrix: Any, positions: Sequence[int], rows: Any) -> Any:
    """``matrix`` with its rows at ``positions`` replaced by the rows of
    ``rows``, in order (sparse)."""
    import numpy as np  # see features_read
    from scipy import sparse

    height = matrix.shape[0]
    keep = np.ones(height)
    keep[list(positions)] = 0.0
    place = sparse.csr_matrix(
        (np.ones(len(positions)), (list(positions), list(range(len(positions))))),
        shape=(height, len(positions)),
    )
    return (sparse.diags(keep) @ matrix + place @ rows).tocsr()


def best_f1_threshold(scores: Sequence[Any], outcomes: Sequence[int]) -> Any:
    """The score cut (qualify at or above it) with the highest F1; of equally
    good cuts the highest, which hands over fewer leads for the same F1."""
    order = sorted(zip(scores, outcomes, strict=True), key=lambda so: -so[0])
    positives = sum(outcomes)
    best, best_cut, caught, taken = -1.0, order[0][0] if order else 0.0, 0, 0
    n = 0
    while n < len(order):
        cut = order[n][0]
        while n < len(order) and order[n][0] == cut:
            caught += order[n][1]
            taken += 1
            n += 1
        f1 = 2 * caught / (taken + positives) if positives else 0.0
        if f1 > best:
            best, best_cut = f1, cut
    return best_cut


def f1_at(scores: Sequence[Any], outcomes: Sequence[int], cut: Any) -> float:
    caught = sum(o for s, o in zip(scores, outcomes, strict=True) if s >= cut)
    taken = sum(1 for s in scores if s >= cut)
    positives = sum(outcomes)
    return 2 * caught / (taken + positives) if taken + positives else 0.0


def auc(outcomes: Sequence[int], scores: Sequence[float]) -> float:
    """ROC AUC of ``scores`` for ``outcomes`` (0.5: no better than chance)."""
    from sklearn.metrics import roc_auc_score  # see features_read

    return float(roc_auc_score(outcomes, scores))


def _regression(strength: float) -> Any:
    from sklearn.linear_model import LogisticRegression  # see features_read

    return LogisticRegression(
        C=strength, l1_ratio=0.0, solver="lbfgs", random_state=0, max_iter=2000
    )


def _spread(features: Any) -> Any:
    """Each column's standard deviation (1 for a constant column): the fit runs
    on columns divided by it, so that the penalty weighs a rule's effect per
    standard deviation, the same for a rare rule and a common one."""
    import numpy as np  # see features_read

    mean = np.asarray(features.mean(axis=0)).ravel()
    square = np.asarray(features.multiply(features).mean(axis=0)).ravel()
    spread = np.sqrt(np.maximum(square - mean * mean, 0.0))
    spread[spread == 0] = 1.0
    return spread


def coefficients_fit(features: Any, outcomes: Any, strength: float) -> Any:
    """The L2-regularised logistic regression's coefficients on ``features``
    standardised (see _spread), given back per unit of each column: a rule's
    log-odds per point."""
    from scipy import sparse

    spread = _spread(features)
    scaled = features @ sparse.diags(1.0 / spread)
    regression = _regression(strength).fit(scaled, outcomes)
    return regression.coef_.ravel() / spread


def _penalty_choose(
    features: Any, outcomes: Any, progress: Callable[[int], None] | None = None
) -> float:
    """The C of REGULARISATION_CS whose fit on the earliest 80% of the training
    leads ranks the rest best (ROC AUC); the stronger penalty on a tie.
    ``features`` are the training leads as seen with the end of the training
    period as cut-off (``validation_plan``): the validation asks what the
    test asks, of leads as young as the test's latest. Falls
    back to the middle one when that part lacks either class. ``progress``
    hears the number of fits done."""
    cut = int(features.shape[0] * TRAIN_SHARE)
    later = outcomes[cut:]
    if len(set(outcomes[:cut].tolist())) < 2 or len(set(later.tolist())) < 2:
        return REGULARISATION_CS[len(REGULARISATION_CS) // 2]
    best, best_auc = REGULARISATION_CS[0], -1.0
    for done, strength in enumerate(REGULARISATION_CS):
        if progress is not None:
            progress(done)
        weights = coefficients_fit(features[:cut], outcomes[:cut], strength)
        score = auc(later.tolist(), (features[cut:] @ weights).tolist())
        if score > best_auc + 1e-9:
            best, best_auc = strength, score
    return best


def lift_interval(
    won_with: int, count_with: int, won_without: int, count_without: int
) -> tuple[float, float] | None:
    """The 95% interval (log method) of the lift: the outcome rate of the leads
    a rule fires for over that of the others; None when either rate is 0."""
    if not (won_with and won_without and count_with and count_without):
        return None
    lift = (won_with / count_with) / (won_without / count_without)
    spread = math.sqrt(
        1 / won_with - 1 / count_with + 1 / won_without - 1 / count_without
    )
    return lift * math.exp(-LIFT_Z * spread), lift * math.exp(LIFT_Z * spread)


def supported(coefficient: float, interval: tuple[float, float] | None) -> bool:
    """Whether a rule's coefficient has real support: the leads it fires for
    surely reach the outcome more often (positive points) or less often
    (negative points) than the others, the lift's 95% interval lying wholly
    on that side of 1. (The penalty shrinks every coefficient, so their size
    is no test; a rule whose points round to 0 is dropped later.)"""
    if coefficient == 0 or interval is None:
        return False
    low, high = interval
    return low > 1 if coefficient > 0 else high < 1


def suggestion_fit(
    *,
    outcome: str,
    until: dt.datetime,
    active: ModelSpec | None,
    progress: Progress = no_progress,
) -> Suggestion:
    """Fit the suggestion (see the module's docstring) on the leads created
    before ``until``; refuses (SuggestionRefused) what cannot be fitted.
    ``progress`` hears each stage: reading, candidates (leads scored),
    fitting (fits done)."""
    import numpy as np  # see features_read

    outcome = outcome_check(outcome)
    progress("reading", 0, 0)
    population = population_read(outcome=outcome, until=until)
    _rows_read(population, progress)
    kinds = dict(selectors.touchpoint_kind_choices())
    candidates = candidates_build(population=population, active=active, kinds=kinds)
    seen_early, moved = validation_plan(population)
    total = len(population.ids) + len(moved)
    progress("candidates", 0, total)
    matrix = features_read(
        candidates=candidates,
        population=population,
        progress=lambda done: progress("candidates", done, total),
    )
    scored = len(population.ids)
    early = features_read(
        candidates=candidates,
        population=population,
        lead_ids=moved,
        seen_at=seen_early,
        progress=lambda done: progress("candidates", scored + done, total),
    )
    train = matrix[: population.train]
    position = {lead_id: n for n, lead_id in enumerate(population.train_ids)}
    train_early = rows_replace(train, [position[i] for i in moved], early)
    y = np.array(population.outcomes[: population.train])
    fired = np.asarray((train > 0).sum(axis=0)).ravel()
    kept = []
    # Two candidates that give every training lead the same (a page rule of
    # the active model and the same page found in the touchpoints) would
    # split one weight between them: keep the first, by key.
    columns = train.tocsc()
    seen: set[tuple[bytes, bytes]] = set()
    for n in range(len(candidates)):
        if not MIN_SUPPORT <= fired[n] <= population.train - MIN_SUPPORT:
            continue
        column = columns[:, n]
        signature = (column.indices.tobytes(), column.data.tobytes())
        if signature not in seen:
            seen.add(signature)
            kept.append(n)
    if not kept:
        raise SuggestionRefused(
            f"No candidate rule fires for at least {MIN_SUPPORT} of the training "
            "leads (and misses as many): choose a later cut-off date."
        )
    fits = len(REGULARISATION_CS) + 1 + REFITS_MAX
    strength = _penalty_choose(
        train_early[:, kept], y, lambda done: progress("fitting", done, fits)
    )
    # Each rule's training leads and how many of them reached the outcome.
    fires = (columns > 0).astype(np.float64)
    count_with = np.asarray(fires.sum(axis=0)).ravel()
    won_with = np.asarray(fires.T @ y.astype(np.float64)).ravel()
    won = int(y.sum())

    def backed(n: int, coefficient: float) -> bool:
        return supported(
            coefficient,
            lift_interval(
                int(won_with[n]),
                int(count_with[n]),
                won - int(won_with[n]),
                population.train - int(count_with[n]),
            ),
        )

    # Fit, keep the rules with real support (the MAX_RULES largest), and fit
    # again on just those, until the rules kept are the rules fitted: the
    # points are then the fit of the rules the draft has, not shares of a
    # fit whose other rules were dropped.
    fitted = kept
    chosen: list[tuple[int, float]] = []
    for refit in range(REFITS_MAX + 1):
        progress("fitting", len(REGULARISATION_CS) + refit, fits)
        coefficients = coefficients_fit(train[:, fitted], y, strength)
        chosen = sorted(
            (
                (n, float(c))
                for n, c in zip(fitted, coefficients, strict=True)
                if backed(n, float(c))
            ),
            key=lambda nc: (-abs(nc[1]), candidates[nc[0]].key),
        )[:MAX_RULES]
        if not chosen or sorted(n for n, _ in chosen) == sorted(fitted):
            break
        fitted = [n for n, _ in chosen]
    progress("fitting", fits, fits)
    if not chosen:
        raise SuggestionRefused(
            f"No rule changes the odds of reaching {outcome} enough to propose "
            "points: choose a later cut-off date (more leads) or the outcome sql."
        )
    reference = active.mql_threshold if active else DEFAULT_THRESHOLD
    weights = np.zeros(len(candidates))
    for n, c in chosen:
        weights[n] = c
    linear = train @ weights
    cut = best_f1_threshold(linear.tolist(), y.tolist())
    if cut <= 0:
        cut = float(np.max(linear)) or 1.0
    scale = float(reference) / cut
    rules = []
    outcome_of = y.astype(bool)
    for n, c in chosen:
        points = round(c * scale)
        points = max(-int(RULE_POINTS_MAX), min(int(RULE_POINTS_MAX), points))
        if points == 0:
            continue
        fields = dict(candidates[n].fields)
        if candidates[n].is_activity:
            fields["kind"] = ENGAGEMENT if points > 0 else NEGATIVE
        fields["points"] = Decimal(points)
        has = np.asarray(train[:, n].todense()).ravel() > 0
        rules.append(
            SuggestedRule(
                fields=fields,
                coefficient=c,
                support=int(has.sum()),
                rate_with=float(outcome_of[has].mean()) if has.any() else 0.0,
                rate_without=float(outcome_of[~has].mean()) if (~has).any() else 0.0,
            )
        )
    if not rules:
        raise SuggestionRefused(
            f"No rule weighs at least one point on the scale of the threshold "
            f"{reference}: choose a later cut-off date (more leads)."
        )
    disqualifying = []
    if active is not None:
        for rule in active.rules:
            if rule.kind == DISQUALIFYING:
                disqualifying.append(
                    {
                        name: getattr(rule, name)
                        for name in RULE_INPUT_FIELDS
                        if name != "points"
                    }
                )
    return Suggestion(
        outcome=outcome,
        until=until,
        population=population,
        rules=rules,
        disqualifying=disqualifying,
        scale=scale,
        candidates=len(kept),
        threshold_reference=reference,
        strength=strength,
    )


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def explanation_text(
    *,
    suggestion: Suggestion,
    threshold: Decimal,
    train_f1: float,
    auc_active: float | None,
    auc_suggested: float,
    active_name: str | None,
) -> str:
    """The suggestion in plain words, stored as the draft's notes."""
    p = suggestion.population
    train_won = sum(p.outcomes[: p.train])
    test_won = sum(p.outcomes[p.train :])
    day = f"{suggestion.until:%Y-%m-%d}"
    lines = [
        f"Suggested points for reaching {Stage(suggestion.outcome).label} (or beyond), "
        "from the "
        f"{len(p.ids):,} leads created before {day}.",
        f"Fitted on the earliest {p.train:,} ({train_won:,} reached it); tested "
        f"on the {len(p.ids) - p.train:,} created after them ({test_won:,} "
        "reached it).",
        "Ranking of the test leads (ROC AUC, 0.5 is chance, 1 is perfect): "
        f"this suggestion {auc_suggested:.3f}"
        + (
            f", the active model {active_name} {auc_active:.3f}."
            if auc_active is not None
            else " (no active model to compare with)."
        ),
        f"MQL threshold {threshold}: the score that best separates the training "
        f"leads (highest F1, {train_f1:.2f}); the points are scaled so that it "
        f"sits near today's threshold of {suggestion.threshold_reference}.",
        f"Each lead is scored as it stood {OBSERVATION_DAYS} days after it was "
        "created (or at the cut-off, if sooner), with what it did until then; "
        "what it did from the moment it reached the outcome on (sales' calls "
        "and meetings) does not count.",
        "Method: L2-regularised (ridge) logistic regression over "
        f"{suggestion.candidates} candidate rules that fire for at least "
        f"{MIN_SUPPORT} training leads, each standardised, with the penalty "
        f"C={suggestion.strength} chosen on the time-ordered validation (fitted "
        "on the earliest 80% of the training leads, it ranked the latest 20% "
        "best). Unlike an L1 penalty, it shares the weight of rules that mark "
        "the same leads instead of keeping one of them. A rule is kept only if "
        "the 95% interval of its lift lies on the side of 1 its points say and "
        "it weighs at least one point, and the kept rules are fitted again on "
        "their own; points are coefficient x "
        f"{suggestion.scale:.1f}, rounded. Activity rules never decay (a "
        "half-life of a billion days); recency has rules of its own.",
        "",
        "Rules (points; why; leads; outcome rate with vs without):",
    ]
    for rule in suggestion.rules:
        points = int(rule.fields["points"])
        odds = f"multiplies the odds by {math.exp(rule.coefficient):.2f}"
        cap = rule.fields.get("max_occurrences") or 1
        when = f"each time (up to {cap})" if cap > 1 else "when it applies"
        lift = f", lift {rule.lift:.1f}x" if rule.lift is not None else ""
        lines.append(
            f"- {rule.fields['label']}: {points:+d} points. Coefficient "
            f"{rule.coefficient:+.2f}: {when} it {odds}. {rule.support:,} leads; "
            f"{_percent(rule.rate_with)} of them reached {suggestion.outcome} "
            f"vs {_percent(rule.rate_without)} of the others{lift}."
        )
    # The notes hold NOTES_MAX characters: long labels (free-form values)
    # could pass it; the rule list on the page shows every rule anyway.
    shown = len(lines)
    while len("\n".join(lines)) > NOTES_MAX - 200 and len(lines) > shown - len(
        suggestion.rules
    ):
        lines.pop()
    if len(lines) < shown:
        lines.append(f"... and {shown - len(lines)} more rules: see the rules below.")
    if suggestion.disqualifying:
        lines.append(
            f"Kept from the active model: {len(suggestion.disqualifying)} "
            "disqualifying rule(s)."
        )
    return "\n".join(lines)
