"""gunicorn settings for ``make run`` (``gunicorn -c python:portal.gunicorn_conf``): logs as JSON
lines, the access log on stdout without tokens or query strings (portal/logs.py), and each worker's
start-up objects moved out of the garbage collector's way."""

import gc

accesslog = "-"
errorlog = "-"
logger_class = "portal.logs.GunicornLogger"


def post_worker_init(_worker) -> None:
    """Once the worker has loaded the app: the objects made at start-up (modules, templates,
    catalogs, SQLAlchemy's tables; about 200,000) live as long as the worker, so the collector
    stops looking at them. Otherwise each full collection walked them all, 20-50 ms that fell on
    whichever request was running (a list page met one every few hundred requests)."""
    gc.collect()
    gc.freeze()
