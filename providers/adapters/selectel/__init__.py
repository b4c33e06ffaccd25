"""Selectel: the provider's declaration (``spec``); the adapter and its simulator land here."""
