"""Beget: the provider's declaration (``spec``) and the hosting API's envelope decoder; the
adapter and its simulator land here."""
