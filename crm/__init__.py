"""Leadflow project package: settings, URLs, the Celery app, roles and screens."""

from crm.celery import app as celery_app

__all__ = ["celery_app"]
