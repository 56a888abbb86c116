"""What the handoff screens show: queue rows, pipeline cards and their messages.

Rows and cards wrap a handoff or lead with what its template needs (attempt
count, touchpoints, who may act, the state of its forms after a failed
POST); the ``*_text`` functions word the confirmation after a move.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.humanize.templatetags.humanize import (
    NaturalTimeFormatter,
    naturaltime,
)
from django.http import HttpRequest
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince

from crm.common.dates import zone_name
from crm.common.money import money_text
from handoff import clock, selectors, services
from handoff.models import (
    ContactAttempt,
    Handoff,
    RejectionReason,
    SalesOutcome,
    ServiceLevelAgreement,
)
from handoff.routing import TeamRoutes, sales_route
from handoff.templatetags.handoff_tags import (
    NONE,
    Clock,
    follow_up_badge,
    follow_up_reading,
    moved_by,
    person,
    reason_effect,
    reason_needs,
    sla_badge,
    top_reasons,
    working_day_seconds,
)
from leads.geo import country_name
from leads.models import Lead, OwnerChange, Stage
from scoring.selectors import model_active, rule_sentences
from scoring.templatetags.scoring_tags import score, score_signed

FORWARD_LABELS = {
    Stage.SAL: "Qualify (SQL)",
    Stage.SQL: "Open opportunity",
    Stage.OPPORTUNITY: "Closed won",
}
STAGE_TITLES = {
    Stage.SAL: "Accepted (SAL)",
    Stage.SQL: "Qualified (SQL)",
    Stage.OPPORTUNITY: "Opportunity",
}
#: The fields of each form, so a message lands next to its field; a message
#: for any other field is shown at the top of the form.
FORM_FIELDS = {
    "reject": ("reason", "feedback", "duplicate_of"),
    "attempt": ("channel", "outcome", "note"),
    "back": ("reason", "feedback"),
    "forward": ("amount", "expected_close_on"),
    "accept": ("owner",),
    "reassign": ("to_user", "reason"),
}


@dataclass
class FormState:
    """What to show again in the forms of a row: the failed one open, its input."""

    open: str = ""
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    note: str = ""
    tone: str = "ok"

    @classmethod
    def failed(
        cls, form: str, errors: dict[str, str], request: HttpRequest
    ) -> FormState:
        fields = FORM_FIELDS[form]
        placed = {k: v for k, v in errors.items() if k in fields}
        other = [v for k, v in errors.items() if k not in fields]
        if other:
            placed["form"] = " ".join(other)
        values = {name: request.POST.get(name, "") for name in fields}
        return cls(open=form, errors={form: placed}, values={form: values})


@dataclass(frozen=True)
class AcceptChoice:
    """The accept form's rep picker: the SLA's suggestion and its rule."""

    #: The rep preselected (the routing's pick), or None.
    suggested_id: int | None
    #: The SLA's rule and what it picks, e.g. "Round robin in West picks Sam Rep".
    rule: str
    #: The empty choice's label: what an accept without a rep does.
    blank: str


#: What a row without a grade shows in its place (an en dash).
NO_GRADE = "\u2013"


@dataclass(frozen=True)
class QueueRowText:
    """What a queue row prints, worded once in Python: the row's template
    then reads plain values, with no filter, tag or include per row (the
    filters and ``{% url %}`` cost most of the queue's rendering)."""

    #: The handoff's id as text (an int would go through number formatting).
    id: str
    name: str
    grade: str
    grade_class: str
    score: str
    #: "Title · Account · Country", as the row's second line reads.
    who: str
    sla: str
    #: The clock badge's tooltip, "Due Mon 7 Dec, 17:00 CET", or "".
    clock_title: str
    #: Who has the handoff, shown on rows that are not one's own.
    assigned: str
    #: The largest reasons as (points, rule label, what the rule tests).
    reasons: list[tuple[str, Any, str]]
    #: The latest touchpoints as (kind, how long ago).
    touchpoints: list[tuple[str, str]]
    attempts: str
    #: The row's links: its handoff page, the forms it fetches, the claim.
    detail_url: str
    accept_form_url: str
    reject_form_url: str
    attempt_form_url: str
    claim_url: str


class UrlPattern:
    """One view's URL for many ids, reversed once and filled with each id:
    ``reverse`` costs about 0.1 ms a call, and a list of 40 rows or 60
    cards links several times from each."""

    #: An id no URL holds otherwise, replaced by each row's own.
    _MARK = "2147483647"

    def __init__(self, name: str, *args: str) -> None:
        self._url = reverse(name, args=[self._MARK, *args])

    def of(self, id_: int) -> str:
        return self._url.replace(self._MARK, str(id_))


class _Unit:
    """A ``timesince`` unit that answers with its name and count instead of
    translated words, so ``timesince`` tells which wording a moment needs."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __mod__(self, values: dict[str, int]) -> str:
        return f"{self.name}={values['num']}"


_UNITS = {name: _Unit(name) for name in NaturalTimeFormatter.past_substrings}


class AgoWords:
    """``naturaltime``'s words ("3 days ago", "an hour ago") for many past
    moments against one ``now``, each distinct wording translated once.

    ``naturaltime`` translates its words on every call (about 0.1 ms, a
    tenth of a queue of 40 rows with their touchpoints), while a list says
    the same few things again and again; the unit and count that decide the
    words are found as ``naturaltime`` finds them (``timesince`` over the same
    two moments, its units only named), and the words come from the same
    translated strings. A moment not in the past goes to ``naturaltime``.
    """

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._words: dict[Any, str] = {}

    def __call__(self, value: dt.datetime) -> str:
        now = self.now
        if not value < now:
            return str(naturaltime(value))
        delta = now - value
        strings = NaturalTimeFormatter.time_strings
        if delta.days != 0:
            key: Any = timesince(value, now, time_strings=_UNITS)
        elif delta.seconds == 0:
            key = "now"
        elif delta.seconds < 60:
            key = ("past-second", delta.seconds)
        elif delta.seconds // 60 < 60:
            key = ("past-minute", delta.seconds // 60)
        else:
            key = ("past-hour", delta.seconds // 60 // 60)
        words = self._words.get(key)
        if words is None:
            if delta.days != 0:
                words = strings["past-day"] % {
                    "delta": timesince(
                        value, now, time_strings=NaturalTimeFormatter.past_substrings
                    )
                }
            elif key == "now":
                words = strings["now"]
            else:
                words = strings[key[0]] % {"count": key[1]}
            words = self._words[key] = str(words)
        return words


#: The views every queue row links to, with its handoff's id.
QUEUE_ROW_LINKS = ("detail", "accept_form", "reject_form", "attempt_form", "claim")


def _who(lead: Lead) -> str:
    parts = [lead.job_title or "No title"]
    if lead.account_id is not None:
        parts.append(lead.account.name)
    if lead.country:
        parts.append(country_name(lead.country))
    return " · ".join(parts)


def _assigned(h: Handoff) -> str:
    if h.assigned_to_id is None:
        return "Unassigned: nobody in the team could take it yet"
    return f"Assigned to {person(h.assigned_to)}"


class DueWords:
    """A clock badge's tooltip, "Due Mon 7 Dec, 17:00 CET": what the ``date``
    filter's ``"D j M, H:i e"`` says in the current time zone, with the
    translated day and month names worded once per day of a list."""

    def __init__(self) -> None:
        self._days: dict[dt.date, str] = {}

    def __call__(self, badge: Clock | None) -> str:
        if badge is None or not badge.due_at:
            return ""
        local = timezone.localtime(badge.due_at)
        day = self._days.get(local.date())
        if day is None:
            day = self._days[local.date()] = date_filter(local, "D j M")
        return f"Due {day}, {local:%H:%M} {zone_name(local)}"


def queue_row_text(
    row: QueueRow, urls: dict[str, UrlPattern], ago: AgoWords, due: DueWords
) -> QueueRowText:
    """``row`` worded as its template prints it; ``ago`` words how long ago
    its touchpoints were, ``due`` its clock's tooltip."""
    h, lead = row.handoff, row.handoff.lead
    return QueueRowText(
        id=str(h.id),
        name=lead.full_name or lead.email,
        grade=h.grade or NO_GRADE,
        grade_class=str(h.grade).lower(),
        score=score(h.score),
        who=_who(lead),
        sla=h.sla.name,
        clock_title=due(row.clock),
        assigned="" if row.mine else _assigned(h),
        reasons=[
            (score_signed(item["points"]), item.get("label", ""), item["sentence"])
            for item in row.reasons
        ],
        touchpoints=[(t.kind_label, ago(t.occurred_at)) for t in row.touchpoints],
        attempts=(
            f"{row.attempt_count} contact attempt{pluralize(row.attempt_count)} logged"
        ),
        detail_url=urls["detail"].of(h.id),
        accept_form_url=urls["accept_form"].of(h.id),
        reject_form_url=urls["reject_form"].of(h.id),
        attempt_form_url=urls["attempt_form"].of(h.id),
        claim_url=urls["claim"].of(h.id) if row.can_claim else "",
    )


@dataclass
class QueueRow:
    handoff: Handoff
    touchpoints: list[Any]
    attempt_count: int
    can_decide: bool
    mine: bool
    can_claim: bool = False
    state: FormState = field(default_factory=FormState)
    #: The largest positive items of the score breakdown, with what each
    #: rule tests (``handoff_tags.top_reasons``).
    reasons: list[dict[str, Any]] = field(default_factory=list)
    #: The accept form's rep picker, when the row shows that form open (a
    #: refused accept); otherwise the form is fetched when opened.
    accept: AcceptChoice | None = None
    #: Why a lead scoring below today's MQL threshold is queued, or "".
    queued_note: str = ""
    #: The SLA clock's badge (``handoff_tags.sla_badge``).
    clock: Clock | None = None
    #: What the row prints (``queue_row_text``).
    text: QueueRowText | None = None


@dataclass
class QueueSection:
    key: str
    title: str
    description: str
    empty: str
    rows: list[QueueRow]
    total: int
    #: Which page of the section the rows are (``selectors.QueuePage``).
    page: Any = None
    #: The query strings of the previous and next pages ("" on the first and
    #: last), the other sections staying on their pages (``link_pages``).
    previous_query: str = ""
    next_query: str = ""

    def link_pages(self, pages: dict[str, int]) -> None:
        """Set the neighbouring pages' query strings; ``pages`` holds every
        section's page number by key."""
        number = self.page.number
        if number > 1:
            self.previous_query = urlencode({**pages, self.key: number - 1})
        if number < self.page.pages:
            self.next_query = urlencode({**pages, self.key: number + 1})


@dataclass(frozen=True)
class CardText:
    """What a pipeline card prints of its lead and handoff, worded once in
    Python, as ``QueueRowText`` is for a queue row: the card's template reads
    plain values, with no filter or include per card."""

    #: The lead's id as text (an int would go through number formatting).
    id: str
    name: str
    grade: str
    grade_class: str
    score: str
    #: "Title · Account", as the card's second line reads.
    who: str
    #: The follow-up clock badge's tooltip, "Due Mon 7 Dec, 17:00 CET", or "".
    clock_title: str
    #: "2 attempts logged", or "" without an accepted handoff.
    attempts: str
    handoff_id: str


def card_text(card: PipelineCard, due: DueWords) -> CardText:
    """``card`` worded as its template prints it; ``due`` words its clock's
    tooltip."""
    lead, handoff = card.lead, card.handoff
    who = lead.job_title or "No title"
    if lead.account:
        who += f" · {lead.account.name}"
    n = card.attempt_count
    return CardText(
        id=str(lead.id),
        name=lead.full_name or lead.email,
        grade=lead.grade or NO_GRADE,
        grade_class=str(lead.grade).lower(),
        score=score(lead.score),
        who=who,
        clock_title=due(card.clock),
        attempts=f"{n} attempt{pluralize(n)} logged" if handoff else "",
        handoff_id=str(handoff.id) if handoff else "",
    )


@dataclass
class PipelineCard:
    lead: Lead
    handoff: Handoff | None
    attempt_count: int
    state: FormState = field(default_factory=FormState)
    #: The follow-up clock's badge (``handoff_tags.follow_up_badge``).
    clock: Clock = field(default_factory=lambda: Clock("No accepted handoff", "none"))
    #: Shown again after a POST rather than in its column's order: the
    #: column's "Show more" leaves it out of the next pages.
    replaced: bool = False
    #: An opportunity's opening move: its deal amount and expected close date.
    deal: SalesOutcome | None = None
    #: The card's links by name (``CARD_LINKS``), filled once for all cards.
    links: dict[str, str] = field(default_factory=dict)
    #: What the card prints (``card_text``).
    text: CardText | None = None

    @property
    def owner_text(self) -> str:
        """Who owns the lead, as the team pipeline's cards say it."""
        return person(self.lead.owner)

    @property
    def deal_text(self) -> str:
        """The open deal as its card shows it, e.g. "$25,000 · closes 15 Jan 2027"."""
        return deal_text(self.deal) if self.deal is not None else ""

    @property
    def forward_values(self) -> dict[str, str]:
        """The forward form's input: what was posted, else the amount won
        pre-filled with the deal amount."""
        values = self._form("forward", "values")
        if "forward" not in self.state.values and self.deal is not None:
            values["amount"] = amount_input(self.deal.amount)
        return values

    @property
    def forward_label(self) -> str:
        return FORWARD_LABELS.get(self.lead.stage, "")

    @property
    def next_stage(self) -> str:
        return services.SALES_FORWARD.get(self.lead.stage, "")

    def _form(self, name: str, kind: str) -> dict[str, str]:
        """A form's errors or values with every field present (blank if none)."""
        given = getattr(self.state, kind).get(name, {})
        return {key: given.get(key, "") for key in (*FORM_FIELDS[name], "form")}

    @property
    def forward_errors(self) -> dict[str, str]:
        return self._form("forward", "errors")

    @property
    def back_errors(self) -> dict[str, str]:
        return self._form("back", "errors")

    @property
    def back_values(self) -> dict[str, str]:
        return self._form("back", "values")

    @property
    def attempt_errors(self) -> dict[str, str]:
        return self._form("attempt", "errors")

    @property
    def attempt_values(self) -> dict[str, str]:
        return self._form("attempt", "values")

    @property
    def reassign_errors(self) -> dict[str, str]:
        return self._form("reassign", "errors")

    @property
    def reassign_values(self) -> dict[str, str]:
        return self._form("reassign", "values")


@dataclass(frozen=True)
class ReasonChoice:
    """A sales send-back reason as the card's picker shows it."""

    code: str
    label: str
    action: str
    effect: str


def form_choices() -> dict[str, Any]:
    """The channel and outcome choices of the attempt form."""
    return {
        "channels": ContactAttempt.Channel.choices,
        "outcomes": ContactAttempt.Outcome.choices,
    }


def accept_choices(
    handoffs: list[Handoff], *, now: dt.datetime
) -> dict[int, AcceptChoice]:
    """Each handoff's rep suggestion, by handoff id.

    The routing depends only on the SLA and, when the SLA routes to the
    account's owner, on that owner, so each such pair is worked out once
    however many rows share it; a sales team's pick once for every SLA that
    routes to it in the same time zone.
    """
    routes: dict[tuple[int, int | None], AcceptChoice] = {}
    team_routes = TeamRoutes()
    choices = {}
    for h in handoffs:
        account = h.lead.account
        by_owner = (
            h.sla.sales_routing == ServiceLevelAgreement.SalesRouting.ACCOUNT_OWNER
        )
        owner_id = account.owner_id if account is not None and by_owner else None
        key = (h.sla_id, owner_id)
        if key not in routes:
            route = sales_route(h, now=now, team_routes=team_routes)
            routes[key] = AcceptChoice(
                suggested_id=route.rep.pk if route.rep is not None else None,
                rule=route.rule,
                blank=(
                    "No rep: the SDR keeps the lead"
                    if route.keeps_with_sdr
                    else "Choose a rep"
                ),
            )
        choices[h.id] = routes[key]
    return choices


def _day(at: dt.datetime) -> str:
    return date_format(timezone.localtime(at), "j M Y")


def _moved_note(h: Handoff, move: Any, now_text: str) -> str:
    """Why a lead that did not qualify by its score is an MQL: its move."""
    if move is None:
        how = f"Became an MQL on {_day(h.mql_at)} with no score stored from then"
    elif move.actor_id:
        how = (
            f"Moved to MQL by {person(move.actor)} on {_day(move.at)}, not by its score"
        )
    else:
        how = (
            f"Moved to MQL by {moved_by(move)} on {_day(move.at)}, with no score "
            "stored from then"
        )
    return f"{how}; {now_text}."


def queued_notes(handoffs: list[Handoff], *, model: Any) -> dict[int, str]:
    """Why each queued lead whose score is below the active model's MQL
    threshold is in the queue, in plain words with the numbers, by handoff id.

    From the lead's score history: the score it qualified at and under which
    model (another model now scores it lower, or the same one after decay or
    a change of its details); from its stage transitions when no score stored
    then reached the threshold (moved by a person, an import, the demo).
    """
    if model is None:
        return {}
    below = [h for h in handoffs if h.lead.score < model.mql_threshold]
    if not below:
        return {}
    threshold = score(model.mql_threshold)
    scored = {
        handoff_id: row
        for handoff_id, row in selectors.scores_when_qualified(below).items()
        if row.total >= row.model.mql_threshold
    }
    moves = selectors.mql_transitions([h for h in below if h.id not in scored])
    notes = {}
    for h in below:
        lead, past = h.lead, scored.get(h.id)
        now = score(lead.score)
        if past is None:
            text = f"now {now}, below the MQL threshold of {threshold}"
            notes[h.id] = _moved_note(h, moves.get(h.id), text)
        elif past.model_id != model.id:
            notes[h.id] = (
                f"Qualified at {score(past.total)} under {past.model}; {model} "
                f"scores it {now}, below its MQL threshold of {threshold}."
            )
        elif lead.fit_score < past.fit_score:
            notes[h.id] = (
                f"Qualified at {score(past.total)} under {past.model}; now {now} "
                f"as its fit fell from {score(past.fit_score)} to "
                f"{score(lead.fit_score)}, below the MQL threshold of {threshold}."
            )
        else:
            notes[h.id] = (
                f"Qualified at {score(past.total)} under {past.model}; now {now} "
                f"after decay, below the MQL threshold of {threshold}."
            )
    return notes


def _sla_clocks(
    handoffs: list[Handoff], now: dt.datetime, seconds_left: dict[int, float]
) -> dict[int, Clock]:
    """Each handoff's SLA clock badge at ``now``, by id; the time left is
    counted (each calendar's spec made once) unless ``seconds_left`` has it."""
    specs: dict[int, Any] = {}
    clocks = {}
    for h in handoffs:
        if h.status != Handoff.Status.PENDING:
            clocks[h.id] = Clock(h.get_status_display(), NONE)
            continue
        calendar = h.sla.calendar
        if h.id not in seconds_left and calendar.id not in specs:
            specs[calendar.id] = calendar.spec()
        reading = clock.sla_clock(
            now=now,
            due_at=h.due_at,
            at_risk_at=h.at_risk_at,
            calendar=specs.get(calendar.id),
            seconds_left=seconds_left.get(h.id),
        )
        clocks[h.id] = sla_badge(reading)
    return clocks


def queue_rows(
    handoffs: list[Handoff],
    *,
    user: Any,
    manager: bool,
    now: dt.datetime | None = None,
    seconds_left: dict[int, float] | None = None,
) -> list[QueueRow]:
    """The queue's rows of ``handoffs`` at ``now``; ``seconds_left`` holds
    the business time left on their SLA clocks when the page's order counted
    it already (``selectors.QueuePage``)."""
    now = now or timezone.now()
    touchpoints = selectors.queue_touchpoints(handoffs, brief=True)
    attempts = selectors.attempt_counts(h.id for h in handoffs)
    sentences = rule_sentences(
        item.get("rule")
        for h in handoffs
        for item in h.score_breakdown or []
        if isinstance(item, dict)
    )
    can_decide = {h.id: manager or h.assigned_to_id == user.pk for h in handoffs}
    unassigned = [h for h in handoffs if h.assigned_to_id is None]
    # Who may take a handoff nobody has: the team's active members, managers.
    teams = selectors.team_ids_active(user=user) if unassigned and not manager else ()
    clocks = _sla_clocks(handoffs, now, seconds_left or {})
    notes = queued_notes(handoffs, model=model_active()) if handoffs else {}
    rows = [
        QueueRow(
            handoff=h,
            touchpoints=touchpoints.get(h.lead_id, []),
            attempt_count=attempts.get(h.id, 0),
            can_decide=can_decide[h.id],
            mine=h.assigned_to_id == user.pk,
            can_claim=h.assigned_to_id is None and (manager or h.team_id in teams),
            reasons=top_reasons(h.score_breakdown, sentences),
            queued_note=notes.get(h.id, ""),
            clock=clocks[h.id],
        )
        for h in handoffs
    ]
    urls = {name: UrlPattern(f"handoff:{name}") for name in QUEUE_ROW_LINKS}
    ago, due = AgoWords(now), DueWords()
    for row in rows:
        row.text = queue_row_text(row, urls, ago, due)
    return rows


#: The views a pipeline card links to with its lead's id; the link to its
#: handoff's page is ``links["handoff"]``.
CARD_LINKS = {
    "lead": ("crm:lead_detail",),
    "forward": ("handoff:pipeline_form", "forward"),
    "back": ("handoff:pipeline_form", "back"),
    "attempt": ("handoff:pipeline_form", "attempt"),
    "reassign": ("handoff:reassign_form",),
}


def pipeline_cards(
    leads: list[Lead], *, now: dt.datetime | None = None
) -> list[PipelineCard]:
    """Each lead's card: its latest accepted handoff, attempts and follow-up
    clock at ``now`` (each SLA calendar read once for the page)."""
    now = now or timezone.now()
    handoffs = selectors.handoffs_accepted_latest([lead.id for lead in leads])
    attempts = selectors.attempt_summaries(h.id for h in handoffs.values())
    deals = selectors.deals_open(
        lead.id for lead in leads if lead.stage == Stage.OPPORTUNITY
    )
    calendars: dict[int, Any] = {}
    links = {key: UrlPattern(*view) for key, view in CARD_LINKS.items()}
    links_handoff = UrlPattern("handoff:detail")
    cards = []
    for lead in leads:
        handoff = handoffs.get(lead.id)
        card = PipelineCard(
            lead=lead,
            handoff=handoff,
            attempt_count=0,
            deal=deals.get(lead.id),
            links={key: url.of(lead.id) for key, url in links.items()},
        )
        if handoff is not None:
            count, last_attempt = attempts.get(handoff.id, (0, None))
            card.attempt_count = count
            card.clock = _follow_up_clock(handoff, now, last_attempt, calendars)
            card.links["handoff"] = links_handoff.of(handoff.id)
        cards.append(card)
    due = DueWords()
    for card in cards:
        card.text = card_text(card, due)
    return cards


def _follow_up_clock(
    handoff: Handoff,
    now: dt.datetime,
    last_attempt: dt.datetime | None,
    calendars: dict[int, Any],
) -> Clock:
    calendar_row = handoff.sla.calendar
    if calendar_row.id not in calendars:
        calendars[calendar_row.id] = calendar_row.spec()
    calendar = calendars[calendar_row.id]
    reading = follow_up_reading(handoff, now, calendar)
    return follow_up_badge(
        reading,
        now,
        day_seconds=working_day_seconds(calendar),
        last_contact_at=last_attempt or reading.done_at,
    )


def sales_reason_choices(reasons: list[RejectionReason]) -> list[ReasonChoice]:
    """The send-back picker's options, worded once for every card."""
    choices = []
    for reason in reasons:
        needs = reason_needs(reason)
        choices.append(
            ReasonChoice(
                code=reason.code,
                label=f"{reason.label} ({needs})" if needs else reason.label,
                action=reason.action,
                effect=reason_effect(reason),
            )
        )
    return choices


def accepted_text(handoff: Handoff, user: Any) -> str:
    lead = handoff.lead
    if handoff.owner_id == user.pk:
        return f"Accepted — {lead} is now your SAL."
    return f"Accepted — {lead} is now a SAL owned by {person(handoff.owner)}."


def rejected_text(handoff: Handoff) -> str:
    lead = selectors.lead_get_for_message(lead_id=handoff.lead_id)
    return (
        f"Rejected: {handoff.reason.label} — {lead} is now "
        f"{Stage(lead.stage).label.lower()}."
    )


def attempt_text(attempt: ContactAttempt) -> str:
    return (
        f"Logged: {attempt.get_channel_display()}, "
        f"{attempt.get_outcome_display().lower()}."
    )


def moved_text(outcome: SalesOutcome) -> str:
    lead = outcome.lead
    if outcome.reason_id:
        return (
            f"Sent back: {outcome.reason.label} — {lead} is now "
            f"{Stage(outcome.to_stage).label.lower()}."
        )
    return {
        Stage.SQL: f"Qualified — {lead} is now an SQL.",
        Stage.OPPORTUNITY: f"Opportunity opened for {lead}: {deal_text(outcome)}.",
        Stage.CUSTOMER: (
            f"Closed won — {lead} is a customer ({money_text(outcome.amount)})."
        ),
    }.get(outcome.to_stage, f"{lead} moved to {outcome.to_stage}.")


def deal_text(outcome: SalesOutcome) -> str:
    """A move's deal in words: "$25,000 · closes 15 Jan 2027", or the
    amount alone when it names no close date."""
    text = money_text(outcome.amount)
    if outcome.expected_close_on is not None:
        text += f" · closes {date_format(outcome.expected_close_on, 'j M Y')}"
    return text


def amount_input(amount: Any) -> str:
    """An amount as a form field holds it: 25000, or 25000.50 with cents."""
    if amount is None:
        return ""
    whole = amount.to_integral_value()
    return f"{whole:f}" if whole == amount else f"{amount:.2f}"


def reassigned_text(change: OwnerChange) -> str:
    return f"Handed over — {change.lead} is now {person(change.to_owner)}'s lead."
