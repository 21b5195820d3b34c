"""Helpers for the PDFs made by background jobs: run what the queue holds (Huey's own
``dequeue`` and ``execute``, as a consumer does), and fetch a PDF the way a browser without
JavaScript does: the «готовится» page, the job, the page again."""

from __future__ import annotations

from portal import tasks


def run_jobs(app) -> int:
    """Run every job waiting on ``app``'s queue; how many ran."""
    return tasks.queue(app).run_pending()


def queued(app) -> int:
    return tasks.queue(app).pending_jobs()


def fetch_pdf(app, client, url: str, **kwargs):
    """GET ``url``: the «готовится» page (202) and one job queued; run it; GET again: the file."""
    first = client.get(url, **kwargs)
    assert first.status_code == 202, first.status_code
    assert "Refresh the page" in first.get_data(as_text=True) or "Обновить страницу" in first.get_data(as_text=True)
    assert run_jobs(app) == 1
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    return response
