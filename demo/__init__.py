"""Demo data for development: a small catalog, a few articles and an admin login.

A plain package, not a Django app: it only orchestrates other apps' models.
`python manage.py load_demo_data` (in catalog/management/commands) runs it.
"""
