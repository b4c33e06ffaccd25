"""The allocation app's portal pages (registered in ``infrazen/portal_urls.py``)."""
