"""gunicorn settings for ``make run`` (``gunicorn -c python:portal.gunicorn_conf``): logs as JSON
lines, the access log on stdout without tokens or query strings (portal/logs.py)."""

accesslog = "-"
errorlog = "-"
logger_class = "portal.logs.GunicornLogger"
