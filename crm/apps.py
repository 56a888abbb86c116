from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Leadflow"

    def ready(self) -> None:
        from celery.signals import beat_init, worker_ready

        from crm import audit, checks

        worker_ready.connect(checks.warn_on_worker_start, dispatch_uid="crm.redis")
        worker_ready.connect(checks.warn_if_debug, dispatch_uid="crm.debug.worker")
        beat_init.connect(checks.warn_if_debug, dispatch_uid="crm.debug.beat")
        audit.receivers_connect()
