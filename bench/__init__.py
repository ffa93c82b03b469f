"""Benchmarks of django-bearer-guard, and the Django project they measure (``bench.settings``)."""
