"""Demo data for development: a small catalog, a few articles and an admin login.

An app only so that it can own its management command: `python manage.py load_demo_data`.
It has no models; it fills other apps' models.
"""
