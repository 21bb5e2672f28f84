"""GET /api/v1/audit and the /admin/audit page: staff actions, filtered by local day, actor,
action and subject, as JSON, CSV and a page (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from ecampus.accounts.models import Role
from ecampus.audit.models import AuditEntry
from ecampus.audit.service import record
from tests import factories
from tests.web.test_pages import login


def entries_at(client: TestClient, *moments: tuple[datetime, str, str, str]) -> None:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        for at, actor, action, subject in moments:
            entry = record(session, actor, action, subject, {"note": "=cmd|' /C calc'!A0"})
            entry.at = at
        session.commit()


def test_staff_actions_are_listed_for_admins(client: TestClient) -> None:
    admin_profile = factories.profile()
    admin = factories.staff(client, Role.admin, **admin_profile)
    learner, _ = factories.learner(client)
    assert (
        client.post(
            "/api/v1/cohorts", headers=admin, json={"code": "c-1", "name": "Cohorte"}
        ).status_code
        == 201
    )
    assert (
        client.put(
            f"/api/v1/users/{learner['email']}/role", headers=admin, json={"role": "author"}
        ).status_code
        == 200
    )
    assert (
        client.post(f"/api/v1/users/{learner['email']}/deactivate", headers=admin).status_code
        == 200
    )
    assert (
        client.post(f"/api/v1/users/{learner['email']}/reactivate", headers=admin).status_code
        == 200
    )
    rows = client.get("/api/v1/audit", headers=admin).json()
    assert [r["action"] for r in rows] == [
        "account.reactivate",
        "account.deactivate",
        "account.role",
        "cohort.create",
    ]
    assert {r["actor"] for r in rows} == {admin_profile["email"]}
    role = rows[2]
    assert role["subject"] == learner["email"]
    assert role["detail"] == {"from": "learner", "to": "author"}
    assert role["at"].endswith("Z")
    assert rows[3]["subject"] == "c-1"
    assert (
        client.get("/api/v1/audit", headers=admin, params={"action": "account."}).json()[-1][
            "action"
        ]
        == "account.role"
    )
    assert (
        len(client.get("/api/v1/audit", headers=admin, params={"action": "account."}).json()) == 3
    )
    assert (
        client.get("/api/v1/audit", headers=admin, params={"actor": "nobody@example.org"}).json()
        == []
    )
    assert (
        len(
            client.get(
                "/api/v1/audit", headers=admin, params={"subject": learner["email"].upper()}
            ).json()
        )
        == 3
    )
    assert (
        len(client.get("/api/v1/audit", headers=admin, params={"limit": 2, "offset": 1}).json())
        == 2
    )


def test_day_filters_use_the_institutions_time_zone(client: TestClient) -> None:
    admin = factories.staff(client, Role.admin)
    # Guatemala is UTC-6: 03:00 UTC on 2 March is still 1 March there.
    entries_at(
        client,
        (datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "cli", "cohort.create", "early"),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "system", "cohort.create", "noon"),
    )
    first = client.get(
        "/api/v1/audit", headers=admin, params={"since": "2026-03-01", "until": "2026-03-01"}
    ).json()
    assert [r["subject"] for r in first] == ["early"]
    second = client.get("/api/v1/audit", headers=admin, params={"since": "2026-03-02"}).json()
    assert [r["subject"] for r in second] == ["noon"]
    assert (
        client.get("/api/v1/audit", headers=admin, params={"actor": "cli"}).json()[0]["subject"]
        == "early"
    )
    for bad in (
        {"since": "yesterday"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"format": "xml"},
        {"limit": 0},
    ):
        refused = client.get("/api/v1/audit", headers=admin, params=bad)
        assert refused.status_code == 422, bad


def test_csv_is_safe_to_open(client: TestClient) -> None:
    admin = factories.staff(client, Role.admin)
    entries_at(
        client,
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), "=evil@example.org", "cohort.create", "@sum"),
    )
    response = client.get("/api/v1/audit", headers=admin, params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["at", "actor", "action", "subject", "detail"]
    assert rows[1][0] == "2026-03-02T12:00:00Z"
    assert rows[1][1] == "'=evil@example.org"
    assert rows[1][3] == "'@sum"
    assert rows[1][4] == '{"note":"=cmd|\' /C calc\'!A0"}'


def test_only_admins_read_the_log(client: TestClient) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    _, learner = factories.learner(client)
    assert client.get("/api/v1/audit", headers=coordinator).status_code == 403
    assert client.get("/api/v1/audit", headers=learner).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401


def test_admin_page_filters_and_pages(client: TestClient) -> None:
    person = factories.profile(language="en")
    factories.staff(client, Role.admin, **person)
    entries_at(
        client,
        *[
            (datetime(2026, 3, 2, 12, i % 60, tzinfo=UTC), "cli", "cohort.create", f"c-{i:03}")
            for i in range(130)
        ],
        (datetime(2026, 3, 3, 12, 0, tzinfo=UTC), "cli", "account.role", "ana@example.org"),
    )
    login(client, person["email"], person["password"])
    page = client.get("/admin/audit")
    assert page.status_code == 200
    assert "131 entries" in page.text
    assert "page 1 of 2" in page.text
    assert "ana@example.org" in page.text  # newest first
    assert 'rel="next"' in page.text
    older = client.get("/admin/audit?page=2")
    assert older.text.count("<tr><td>") == 31
    only = client.get("/admin/audit", params={"action": "account.role"})
    assert "1 entry" in only.text
    assert 'href="/api/v1/audit?format=csv&amp;action=account.role"' in only.text
    assert client.get("/admin/audit", params={"since": "nope"}).status_code == 422
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert len(session.exec(select(AuditEntry)).all()) == 131
    client.cookies.clear()
    coordinator = factories.profile()
    factories.staff(client, Role.coordinator, **coordinator)
    login(client, coordinator["email"], coordinator["password"])
    assert client.get("/admin/audit").status_code == 403
