"""Who may use the scoring API: model permissions, publishing needs ``change``."""

from __future__ import annotations

from leads.api.permissions import RoleModelPermissions


class PublishPermission(RoleModelPermissions):
    """Publishing changes the model: it needs ``change``, not ``add``."""

    perms_map = {
        **RoleModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }
