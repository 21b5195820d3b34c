"""Numbers no database column can hold, in an address or a page key: an id in the path is an
ordinary 404 and a page key is a 400, never a 500 from the database's overflow."""

from __future__ import annotations

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from portal.database import db
from portal.notify.models import Notification
from tests.conftest import csrf_token

HUGE = (2**63, 10**30, 2**31)


def new_notification(app, account_id: int) -> int:
    from portal.database import write_transaction
    from portal.notify import inbox

    with app.app_context(), write_transaction():
        return inbox.post(account_id, "result_new").id


def addresses(app, value: int):
    """Every route with a number in it, with ``value`` put in each of its numbers in turn."""
    for rule in app.url_map.iter_rules():
        numbers = [name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)]
        others = {}
        for name, conv in rule._converters.items():
            if isinstance(conv, AnyConverter):
                others[name] = sorted(conv.items)[0]
            elif name not in numbers:
                others[name] = "x"
        for name in numbers:
            values = {n: 1 for n in numbers} | others | {name: value}
            path = rule.build(values, append_unknown=False)[1]
            method = "GET" if "GET" in rule.methods else "POST"
            yield rule, method, path


def test_every_route_with_an_id_answers_404_for_numbers_past_the_database(app, demo, login):
    clients = {"visitor": app.test_client(), "patient": login(demo["patient"]), "registrar": login(demo["registrar"])}
    tokens = {who: csrf_token(client) for who, client in clients.items()}
    seen = 0
    for value in HUGE:
        for rule, method, path in addresses(app, value):
            for who, client in clients.items():
                if method == "GET":
                    status = client.get(path).status_code
                else:
                    status = client.post(path, data={"csrf_token": tokens[who], "before": "1"}).status_code
                assert status == 404, f"{who} {method} {path} ({rule.endpoint}) answered {status}"
                seen += 1
    assert seen > 100  # the walk found the routes


@pytest.mark.parametrize("key", [str(2**63), str(10**30), str(2**31), "abc", "-1", "0", "1e3", "٣"])
def test_page_keys_that_are_not_ids_are_a_bad_request(app, demo, login, key):
    patient = login(demo["patient"])
    card = demo["patient"].patient_id
    for path in (
        f"/notifications?before={key}",
        f"/card/{card}/access-log?before={key}",
        f"/card/{card}/results?after=2024-01-01_{key}",
        f"/card/{card}/visits?after=2024-01-01T10:00:00_{key}",
        f"/card/{card}/documents?after=2024-01-01_{key}",
        f"/clinics?after={key}",
    ):
        assert patient.get(path).status_code == 400, path
    registrar = login(demo["registrar"])
    assert registrar.get(f"/clinic/verifications?after={key}").status_code == 400
    # a POST on the inbox carries the page it was sent from
    note = new_notification(app, demo["patient"].id)
    token = csrf_token(patient, "/notifications")
    answer = patient.post(f"/notifications/{note}/read", data={"csrf_token": token, "before": key})
    assert answer.status_code == 400
    with app.app_context():
        assert db.session.get(Notification, note).read_at is None  # refused before anything was marked


def test_good_page_keys_still_page(app, demo, login):
    patient = login(demo["patient"])
    card = demo["patient"].patient_id
    for path in (
        "/notifications?before=5",
        f"/card/{card}/access-log?before=5",
        f"/card/{card}/results?after=2024-01-01_{2**31 - 1}",
        f"/card/{card}/documents?after=2024-01-01_3",
        "/clinics?after=1",
    ):
        assert patient.get(path).status_code == 200, path
    assert login(demo["registrar"]).get("/clinic/verifications?after=1").status_code == 200


def test_the_demo_sign_in_refuses_an_account_number_past_the_database(app_factory, demo_factory):
    app = app_factory(DEMO_MODE=True)
    demo_factory(app)
    client = app.test_client()
    token = csrf_token(client, "/auth/sign-in")
    for value in HUGE:
        answer = client.post("/auth/demo-sign-in", data={"csrf_token": token, "account": str(value)})
        assert answer.status_code == 404
