from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: tenants, access and audit"

    def ready(self) -> None:
        from core import auth_events  # noqa: F401  (login/logout/failed-login audit receivers)
