from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Leadflow"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from crm import audit, checks

        worker_ready.connect(checks.warn_on_worker_start, dispatch_uid="crm.redis")
        audit.receivers_connect()
