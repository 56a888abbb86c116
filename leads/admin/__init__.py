"""Django admin of the leads app: accounts, leads, campaigns, touchpoints.

The admin is a thin caller like every other screen: a lead is created and
changed through ``leads.services`` and moved through ``leads.lifecycle``, so
the admin can never set a stage. Touchpoints and stage transitions are
records of what happened and are shown read-only.

Django autodiscovers this package, so it imports every module that registers
a model admin.
"""

from leads.admin import accounts, campaigns, history, leads, touchpoints

__all__ = [
    "accounts",
    "campaigns",
    "history",
    "leads",
    "touchpoints",
]
