"""«Кто смотрел мою карту» gives, for each line, a proof that the event is in a signed tree head:
a page that says what it means and a JSON file that docs/audit.md's snippet checks offline."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature

from portal.audit.models import AuditEvent
from portal.audit.sealer import seal_pending
from portal.config import ROOT
from portal.database import db

SNIPPET = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "audit.md").read_text(), re.S).group(1)


def offline_checker():
    """docs/audit.md's snippet, exactly as printed, as a reader would save and run it."""
    namespace: dict = {"__name__": "check_proof"}
    exec(compile(SNIPPET, "docs/audit.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["check_proof"]


def proof_links(client, patient_id: int) -> list[str]:
    html = client.get(f"/card/{patient_id}/access-log").get_data(as_text=True)
    return re.findall(rf'href="(/card/{patient_id}/access-log/\d+/proof)"', html)


def last_event_id(app, patient_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.max(AuditEvent.id)).where(
                AuditEvent.patient_id == patient_id, AuditEvent.action.like("card.%")
            )
        )


def test_a_downloaded_proof_verifies_offline_and_fails_for_another_event(app, demo, login):
    patient_id = demo["patient"].patient_id
    doctor, owner = login(demo["doctor"]), login(demo["patient"])
    assert doctor.get(f"/card/{patient_id}").status_code == 200
    with app.app_context():
        seal_pending()
    owner.set_cookie("lang", "en")
    links = proof_links(owner, patient_id)
    assert links, "each line of the log links to its proof"
    page = owner.get(links[-1]).get_data(as_text=True)  # the oldest line on the page
    assert "This record is sealed: it is in the signed log below." in page
    assert "Fingerprint of the log (root hash)" in page
    download = re.search(r'href="([^"]+/proof\.json)"', page).group(1)
    response = owner.get(download)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    proof = json.loads(response.data)
    published = owner.get("/audit/public-key").get_json()["public_key"]
    assert proof["public_key"] == published
    assert proof["root_hash"] in page

    check_proof = offline_checker()
    event = check_proof(proof, published)
    assert event["patient_id"] == patient_id and f"/access-log/{event['id']}/proof" in links[-1]

    # The same proof for an event it is not about, or with another signature, or another key: refused.
    other = dict(proof, event=proof["event"].replace('"outcome":"success"', '"outcome":"denied"'))
    assert other["event"] != proof["event"]
    with pytest.raises(ValueError, match="not in the signed tree"):
        check_proof(other, published)
    moved = dict(proof, leaf_index=proof["leaf_index"] + 1)
    with pytest.raises(ValueError):
        check_proof(moved, published)
    forged = dict(proof, signed_at_ms=proof["signed_at_ms"] + 1)
    with pytest.raises(InvalidSignature):
        check_proof(forged, published)
    with pytest.raises(ValueError, match="another key"):
        check_proof(proof, "A" * 43 + "=")


def test_a_proof_covers_every_line_and_a_later_tree(app, demo, login):
    """Proofs are against the newest signed head: an event sealed long ago is proven in today's tree."""
    patient_id = demo["patient"].patient_id
    owner = login(demo["patient"])
    check_proof = offline_checker()
    for _ in range(3):
        assert owner.get(f"/card/{patient_id}/results").status_code == 200
        with app.app_context():
            seal_pending()
    assert len(proof_links(owner, patient_id)) == 3  # the log shows what was read before it opened
    links = proof_links(owner, patient_id)  # ... so its own first reading is a line of the next
    with app.app_context():
        seal_pending()
    assert len(links) == 4
    published = owner.get("/audit/public-key").get_json()["public_key"]
    sizes = set()
    for link in links:
        proof = json.loads(owner.get(f"{link}.json").data)
        assert check_proof(proof, published)["id"] == int(link.split("/")[-2])
        sizes.add(proof["tree_size"])
    assert len(sizes) == 1 or max(sizes) - min(sizes) < 3  # each reading of the log is one more event


def test_an_event_not_yet_sealed_says_so_and_offers_a_refresh(app, demo, login):
    patient_id = demo["patient"].patient_id
    owner = login(demo["patient"])
    owner.set_cookie("lang", "en")
    assert owner.get(f"/card/{patient_id}").status_code == 200
    event_id = last_event_id(app, patient_id)
    path = f"/card/{patient_id}/access-log/{event_id}/proof"
    page = owner.get(path).get_data(as_text=True)
    assert "This record is not sealed yet." in page
    assert f'href="{path}"' in page and "Refresh the page" in page
    assert "proof.json" not in page
    assert owner.get(f"{path}.json").status_code == 404
    with app.app_context():
        seal_pending()
    assert "This record is sealed" in owner.get(path).get_data(as_text=True)


def test_a_proof_of_anything_but_a_line_of_this_cards_log_is_not_found(app, demo, login):
    patient_id, child = demo["patient"].patient_id, demo["child_9"].id
    owner, guardian = login(demo["patient"]), login(demo["guardian"])
    assert guardian.get(f"/card/{child}").status_code == 200  # an event on the child's card
    assert owner.get(f"/card/{patient_id}").status_code == 200
    with app.app_context():
        seal_pending()
        childs = last_event_id(app, child)
        sign_in = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)).where(AuditEvent.patient_id.is_(None)))
        missing = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) + 1000
    mine = last_event_id(app, patient_id)
    for event_id in (childs, sign_in, missing):
        for suffix in ("", ".json"):
            response = owner.get(f"/card/{patient_id}/access-log/{event_id}/proof{suffix}")
            assert response.status_code == 404, (event_id, suffix)
            assert "Дарья" not in response.get_data(as_text=True)
    # The child's event through the child's card, by her guardian: found; the owner's through it: not.
    assert guardian.get(f"/card/{child}/access-log/{childs}/proof").status_code == 200
    assert guardian.get(f"/card/{child}/access-log/{mine}/proof").status_code == 404
    assert guardian.get(f"/card/{patient_id}/access-log/{mine}/proof").status_code == 404


def test_looking_at_a_proof_is_audited_as_reading_the_access_log(app, demo, login):
    patient_id = demo["patient"].patient_id
    owner = login(demo["patient"])
    assert owner.get(f"/card/{patient_id}").status_code == 200
    event_id = last_event_id(app, patient_id)
    assert owner.get(f"/card/{patient_id}/access-log/{event_id}/proof").status_code == 200
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.section, event.actor_id) == ("card.read", "access_log", demo["patient"].id)
