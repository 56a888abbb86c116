"""Placeholder: the SLA report is being written."""

from handoff.views import _todo

sla_report = _todo
