"""The background half of issuing a certificate (``service.finish_issue``): rendering the PDF
takes a second or two of CPU, which no request waits for."""

from __future__ import annotations

from portal import tasks
from portal.certificates import service


@tasks.task(service.ISSUE_TASK)
def issue_job(request_id: int, registrar_id: int) -> None:
    try:
        service.finish_issue(request_id, registrar_id)
    finally:
        tasks.queue().done(service.issue_key(request_id))
