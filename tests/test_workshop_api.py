"""The workshop JSON API: a partner raises a challenge with a bearer token; roles and bad input
are refused by the server with clear JSON errors; every action is in the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from totalplace.api.workshop_routes import register_workshop_api
from totalplace.workshop import WorkshopService


@pytest.fixture()
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'w.db'}"
    svc = WorkshopService.from_url(url, migrate=True)
    issued = svc.create_workshop("Kent", ["E07000105"], "2010-11", None, "Facilitator")
    partner = svc.issue_token(issued.token, "partner", "Partner A")
    observer = svc.issue_token(issued.token, "observer", "Observer")
    app = Flask(__name__)
    register_workshop_api(app, lambda: svc)
    yield app.test_client(), issued.token, partner.token, observer.token
    svc.close()


CHALLENGE = {
    "place": "Kent",
    "year": "2010-11",
    "agency_type": "Councils",
    "function": "9. Education",
    "text": "schools spend looks low",
    "amount_gbp": 1250.5,
}


def test_a_partner_challenges_and_the_audit_trail_shows_it(setup) -> None:  # type: ignore[no-untyped-def]
    client, facilitator, partner, _ = setup
    res = client.post(
        "/api/workshop/v1/challenges",
        json=CHALLENGE,
        headers={"Authorization": f"Bearer {partner}"},
    )
    assert res.status_code == 201, res.json
    assert res.json["proposed_amount_pence"] == 125050 and res.json["status"] == "open"
    listed = client.get(
        "/api/workshop/v1/challenges", headers={"Authorization": f"Bearer {facilitator}"}
    ).json
    assert [c["id"] for c in listed] == [res.json["id"]]
    events = client.get(
        "/api/workshop/v1/audit", headers={"Authorization": f"Bearer {facilitator}"}
    ).json
    assert any(e["action"] == "challenge.create" and e["actor"] == "Partner A" for e in events)


def test_roles_tokens_and_bad_input_are_refused_by_the_server(setup) -> None:  # type: ignore[no-untyped-def]
    client, _, partner, observer = setup
    res = client.post(
        "/api/workshop/v1/challenges",
        json=CHALLENGE,
        headers={"Authorization": f"Bearer {observer}"},
    )
    assert res.status_code == 403 and "error" in res.json
    res = client.post("/api/workshop/v1/challenges", json=CHALLENGE)
    assert res.status_code == 403 and "Bearer" in res.json["error"]
    res = client.post(
        "/api/workshop/v1/challenges",
        json=CHALLENGE,
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert res.status_code == 403
    bad = {k: v for k, v in CHALLENGE.items() if k != "text"}
    res = client.post(
        "/api/workshop/v1/challenges", json=bad, headers={"Authorization": f"Bearer {partner}"}
    )
    assert res.status_code == 400 and "text" in res.json["error"]
    res = client.post(
        "/api/workshop/v1/challenges",
        data="not json",
        headers={"Authorization": f"Bearer {partner}"},
    )
    assert res.status_code == 400


def test_an_implausible_challenge_is_refused_with_the_bound(tmp_path: Path) -> None:
    import pandas as pd

    count = pd.DataFrame(
        {
            "agency_type": ["Councils", "NHS and health"],
            "function": ["9. Education", "7. Health"],
            "amount_pence": [2_000_000_000_00, 1_000_000_000_00],  # £2bn, £1bn
        }
    )
    svc = WorkshopService.from_url(
        f"sqlite:///{tmp_path / 'w.db'}", migrate=True, figures=lambda place, year: count
    )
    issued = svc.create_workshop("Kent", ["E07000105"], "2010-11", None, "Facilitator")
    partner = svc.issue_token(issued.token, "partner", "Partner A").token
    app = Flask(__name__)
    register_workshop_api(app, lambda: svc)
    client = app.test_client()
    try:
        body = {**CHALLENGE, "amount_gbp": 1_000_000_000_000_000}  # £1,000,000bn
        res = client.post(
            "/api/workshop/v1/challenges", json=body, headers={"Authorization": f"Bearer {partner}"}
        )
        assert res.status_code == 400
        assert "at most £20,000,000,000.00" in res.json["error"]  # 10× the £2bn cell
        assert svc.list_challenges(partner) == []
        body = {**CHALLENGE, "amount_gbp": 3_000_000_000}  # £3bn on a £2bn cell: plausible
        res = client.post(
            "/api/workshop/v1/challenges", json=body, headers={"Authorization": f"Bearer {partner}"}
        )
        assert res.status_code == 201, res.json
    finally:
        svc.close()


def test_an_oversized_body_is_refused_before_it_is_read(setup) -> None:  # type: ignore[no-untyped-def]
    client, _, partner, _ = setup
    res = client.post(
        "/api/workshop/v1/challenges",
        json={**CHALLENGE, "text": "x" * 70_000},
        headers={"Authorization": f"Bearer {partner}"},
    )
    assert res.status_code == 413 and "65,536 bytes" in res.json["error"]
