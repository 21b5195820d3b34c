"""The demo data and the synthetic data generator: the demo people, their cards' years of
history, the organisation directory and the patients a benchmark loads.

Nothing on the request path imports this package. The CLI's seed-demo command imports it inside
the command; the demo-mode views (off unless PORTAL_DEMO_MODE, refused in production) import only
``demo_mode`` and ``people``; ``bench/`` uses it for its loads.
"""
