from core.admin import registrations  # noqa: F401  (registers every core admin)
