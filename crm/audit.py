"""Audit rows for what happens outside the apps' services: roles and tokens.

The writer is ``leads.audit.audit_record`` (the apps call it too; they may
not import from ``crm``). This module adds what only the project knows:

- ``AuditActorMiddleware`` keeps the current request in a context variable,
  so a receiver below can name who acted (DRF copies the token-authenticated
  user onto the Django request, so API calls are covered too). Add it to
  ``MIDDLEWARE`` after ``AuthenticationMiddleware``.
- Role changes: users and groups are Django's models with no service of
  ours in front of them (the admin, ``createsuperuser``, the demo data all
  write them directly), so a ``m2m_changed`` receiver on ``User.groups`` and
  ``pre_save``/``post_save`` receivers on the user's staff flags write
  ``role_change``. One edit is one row: ``groups.set()`` sends a remove and
  an add, and the admin saves the flags and the groups in one transaction,
  so the signals of one transaction for one user fold into one row.
- Token issue: a ``post_save`` receiver on DRF's Token (created only; a
  token is never put in the details).

These are the only model-signal receivers in the project, on purpose: the
models are not ours, and the rows must be written whichever path changed
them. They write the audit row and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import m2m_changed, post_save, pre_save

from leads.audit import audit_record
from leads.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest, HttpResponse

_current_request: ContextVar[HttpRequest | None] = ContextVar(
    "audit_request", default=None
)

#: The staff flags whose change is a role change (roles themselves are groups).
ROLE_FLAGS = ("is_staff", "is_superuser")


class AuditActorMiddleware:
    """Remember the request being served, for receivers that need its user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def request_actor() -> AbstractBaseUser | None:
    """The signed-in user of the request being served, or None (none, anonymous)."""
    request = _current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


# Role changes
# ------------------------------------------------------------------------------

_open = threading.local()


def _open_events() -> dict[tuple[str, int], tuple[int, Callable[[], None], list]]:
    if not hasattr(_open, "events"):
        _open.events = {}
    return _open.events


def _savepoints(connection: Any) -> list[str]:
    # atomic(savepoint=False) blocks (groups.set(), Model.save) leave a None.
    return [sid for sid in connection.savepoint_ids if sid]


def _role_change(user_id: int, *, alias: str, **change: Any) -> None:
    """Write the user's role_change row, or fold ``change`` into this
    transaction's row for them.

    The row's on-commit marker tells whether it belongs to the transaction
    still open: Django drops the marker when the transaction (or the
    savepoint that wrote the row) rolls back and runs it on commit, which
    forgets the row. Within one transaction, only changes made at the same
    savepoint depth fold together (an admin save is one ``atomic`` block; a
    caller's outer transaction around two saves still gets two rows).
    """
    key = (alias, user_id)
    events = _open_events()
    connection = transaction.get_connection(alias)
    if key in events:
        event_id, marker, savepoints = events[key]
        if savepoints == _savepoints(connection) and any(
            func is marker for _, func, _ in connection.run_on_commit
        ):
            event = AuditEvent.objects.using(alias).get(id=event_id)
            details = event.details
            for name in ("groups_added", "groups_removed"):
                if name in change:
                    details[name] = sorted({*details.get(name, []), *change[name]})
            for flag in ROLE_FLAGS:
                if flag in change:
                    before = details.get(flag, change[flag])[0]
                    details[flag] = [before, change[flag][1]]
            event.save(update_fields=["details"])
            return
        del events[key]
    event = audit_record(
        actor=request_actor(),
        action=AuditEvent.Action.ROLE_CHANGE,
        details={"user_id": user_id, **change},
    )
    if not connection.in_atomic_block:
        return

    def forget() -> None:
        events.pop(key, None)

    events[key] = (event.id, forget, _savepoints(connection))
    transaction.on_commit(forget, using=alias)


def _group_names(ids: set[int] | list[int]) -> list[str]:
    from django.contrib.auth.models import Group

    return sorted(Group.objects.filter(id__in=ids).values_list("name", flat=True))


def groups_changed(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    model: Any,
    pk_set: set[int] | None,
    using: str,
    **kwargs: Any,
) -> None:
    """``m2m_changed`` on ``User.groups``: a group added to or taken from a user."""
    if action == "pre_clear":
        # post_clear names no ids: remember what is about to go.
        related = instance.groups if not reverse else instance.user_set
        instance._audit_cleared = set(related.values_list("id", flat=True))
        return
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    ids = pk_set if action != "post_clear" else getattr(instance, "_audit_cleared", [])
    if not ids:
        return
    key = "groups_added" if action == "post_add" else "groups_removed"
    if not reverse:
        _role_change(instance.pk, alias=using, **{key: _group_names(ids)})
    else:  # group.user_set.add(user, ...): one row per user
        for user_id in sorted(ids):
            _role_change(user_id, alias=using, **{key: [instance.name]})


def user_flags_remember(
    sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    """``pre_save`` on the user: read the staff flags as stored, before the save."""
    if instance.pk is None or (
        update_fields is not None and not set(ROLE_FLAGS) & set(update_fields)
    ):
        instance._audit_flags = None  # last_login and the like: no role change
        return
    stored = sender.objects.filter(pk=instance.pk).values_list(*ROLE_FLAGS).first()
    instance._audit_flags = stored or (False, False)


def user_flags_changed(
    sender: Any, instance: Any, created: bool, using: str, **kwargs: Any
) -> None:
    """``post_save`` on the user: a changed staff or superuser flag is a role change."""
    before = (False, False) if created else getattr(instance, "_audit_flags", None)
    if before is None:
        return
    change = {
        flag: [old, getattr(instance, flag)]
        for flag, old in zip(ROLE_FLAGS, before, strict=True)
        if old != getattr(instance, flag)
    }
    if change:
        _role_change(instance.pk, alias=using, **change)


# Tokens
# ------------------------------------------------------------------------------


def token_created(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """``post_save`` on DRF's Token: a new token is a token issue (key not kept)."""
    if created:
        audit_record(
            actor=request_actor(),
            action=AuditEvent.Action.TOKEN_ISSUE,
            details={"user_id": instance.user_id},
        )


def receivers_connect() -> None:
    """Connect the receivers above; called once from ``CrmConfig.ready``."""
    from rest_framework.authtoken.models import Token, TokenProxy

    user_model = get_user_model()
    m2m_changed.connect(
        groups_changed, sender=user_model.groups.through, dispatch_uid="audit.groups"
    )
    pre_save.connect(
        user_flags_remember, sender=user_model, dispatch_uid="audit.flags.pre"
    )
    post_save.connect(
        user_flags_changed, sender=user_model, dispatch_uid="audit.flags.post"
    )
    # The admin saves tokens through DRF's proxy model, which signals as itself.
    for model in (Token, TokenProxy):
        post_save.connect(
            token_created, sender=model, dispatch_uid=f"audit.{model.__name__}"
        )
