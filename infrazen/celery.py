"""The Celery application: workers and beat (django-celery-beat's DatabaseScheduler)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infrazen.settings.base")

app = Celery("infrazen")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
