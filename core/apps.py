from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: tenants, access and audit"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from core import auth_events  # noqa: F401  (login/logout/failed-login audit receivers)
        from core.schedules import ensure_platform_schedules

        # post_migrate is the one signal we use: schedules exist wherever the schema does.
        post_migrate.connect(ensure_platform_schedules, sender=self, dispatch_uid="schedules")
