"""The demo organisation and traffic (``manage.py seed_demo``, ``make demo``)."""
