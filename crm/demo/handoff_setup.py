"""Teams, calendars, SLAs and sales profiles written before the leads."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q

from crm.common import roles
from crm.demo.catalogue import (
    _OPPORTUNITY_LOST,
    _SAL_BACK,
    _SDR_DISQUALIFY,
    _SDR_RECYCLE,
    _SQL_BACK,
)
from crm.demo.defaults import (
    DEMO_AWAY_FOR_DAYS,
    DEMO_AWAY_SDR,
    DEMO_AWAY_SINCE_DAYS,
    DEMO_MANAGER,
    DEMO_REPS,
    DEMO_USERS,
)
from crm.demo.handoff_plans import _HandoffWorld
from crm.demo.teams import (
    DEFAULT_TEAM_MEMBERS,
    DEMO_CALENDARS,
    DEMO_SALES_TEAM,
    DEMO_SLAS,
    DEMO_TEAMS,
)
from handoff import services as handoff_services
from handoff.models import (
    BusinessCalendar,
    Holiday,
    RejectionReason,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from scoring.selectors import model_active, model_spec


def _handoff_setup(
    *, today: date, start: datetime, end: datetime, users: dict[str, int]
) -> _HandoffWorld:
    """Create the demo calendars, teams and SLAs; read what the history needs.

    The demo SLAs hand an accepted lead to its account's owner, else to the
    demo reps' sales team (round robin), as the history does.

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
    sales_team = Team.objects.create(
        name=DEMO_SALES_TEAM, strategy=Team.Strategy.ROUND_ROBIN
    )
    TeamMember.objects.bulk_create(
        TeamMember(team=sales_team, user_id=users[name])
        for name in DEMO_REPS
        if name in users
    )
    manager_email = next(u.email for u in DEMO_USERS if u.username == DEMO_MANAGER)
    for spec in DEMO_SLAS:
        sla = ServiceLevelAgreement(
            name=spec.name,
            priority=spec.priority,
            conditions=[dict(c) for c in spec.conditions],
            team=teams[spec.team] if spec.team else default.team,
            calendar=calendars[spec.calendar] if spec.calendar else default.calendar,
            sales_team=sales_team,
            sales_routing=ServiceLevelAgreement.SalesRouting.ACCOUNT_OWNER,
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
        model_id=model.id if model is not None else None,
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


def _handoff_config_delete() -> dict[str, int]:
    """Delete the demo calendars, teams, SLAs and the demo SDRs' memberships.

    The migration's reasons, default calendar, team and SLAs stay. Raises
    ProtectedError when something else (a reason rerouting to a demo SLA, a
    non-demo SLA of a demo team) still uses them.
    """
    usernames = [u.username for u in DEMO_USERS]
    team_names = [spec.name for spec in DEMO_TEAMS] + [DEMO_SALES_TEAM]
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
