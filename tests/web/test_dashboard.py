"""The coordinator dashboard: figures counted by the database, exact on a hand-built set of
enrolments, on SQLite and PostgreSQL; withdrawn enrolments left out; completions grouped
by the institution's months and weeks; filters as selects; SVG charts with a table behind.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session

from ecampus.accounts.models import Role, User
from ecampus.certificates.models import Certificate
from ecampus.learning.models import Cohort, Enrollment
from tests import factories

COURSE = "demo-course"  # in the fixture programme demo-programme
OTHER = "other-course"  # not in the catalogue: shown by its id
NOW = datetime.now(UTC)


def _user(n: int, country: str, kind: str) -> dict[str, Any]:
    return {
        "email": f"dash{n}@example.org",
        "password_hash": "!",
        "full_name": f"Participante {n}",
        "institution": "Institución",
        "institution_type": kind,
        "country": country,
        "language": "es",
        "role": "learner",
        "is_active": True,
        "session_version": 0,
        "created_at": NOW,
    }


def build(client: TestClient) -> dict[str, int]:
    """Five learners, six enrolments (one withdrawn), two cohorts, certificates."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        users = [
            _user(1, "GT", "government"),
            _user(2, "GT", "academia"),
            _user(3, "HN", "civil_society"),
            _user(4, "SV", "government"),  # only a withdrawn enrolment
            _user(5, "", "other"),
        ]
        ids = {}
        for n, user in enumerate(users, start=1):
            ids[n] = session.execute(insert(User).values(**user).returning(User.id)).scalar_one()
        cohort_a = session.execute(
            insert(Cohort).values(code="DIP-A", name="Diplomado A", created_at=NOW)
            .returning(Cohort.id)
        ).scalar_one()  # fmt: skip
        cohort_b = session.execute(
            insert(Cohort).values(code="DIP-B", name="Diplomado B", created_at=NOW)
            .returning(Cohort.id)
        ).scalar_one()  # fmt: skip

        def enrol(user: int, course: str, cohort: int | None, status: str, **more: Any) -> None:
            values = {
                "user_id": ids[user], "course_id": course, "cohort_id": cohort,
                "enrolled_at": datetime(2025, 12, 1, tzinfo=UTC), "status": status,
                "progress": 100 if status == "completed" else 0,
            }  # fmt: skip
            session.execute(insert(Enrollment).values(**values, **more))

        # 03:00 UTC on 1 March 2026 is still 28 February in Guatemala (UTC-6).
        enrol(1, COURSE, cohort_a, "completed", score=80.0,
              completed_at=datetime(2026, 3, 1, 3, 0, tzinfo=UTC),
              last_activity_at=NOW - timedelta(days=5))  # fmt: skip
        enrol(2, COURSE, cohort_a, "in_progress", score=60.0,
              last_activity_at=NOW - timedelta(days=40))  # fmt: skip
        enrol(3, COURSE, cohort_b, "completed", score=90.0,
              completed_at=datetime(2026, 3, 15, 12, 0, tzinfo=UTC),
              last_activity_at=NOW - timedelta(days=1))  # fmt: skip
        enrol(1, OTHER, cohort_b, "not_started")
        enrol(4, COURSE, cohort_a, "completed", score=100.0,
              completed_at=datetime(2026, 4, 20, 12, 0, tzinfo=UTC),
              last_activity_at=NOW - timedelta(days=3),
              withdrawn_at=NOW - timedelta(days=2))  # fmt: skip
        enrol(5, OTHER, None, "completed", score=70.0,
              completed_at=datetime(2026, 1, 10, 18, 0, tzinfo=UTC),
              last_activity_at=NOW - timedelta(days=2))  # fmt: skip

        def certificate(n: int, user: int, kind: str, subject: str, **more: Any) -> None:
            session.execute(
                insert(Certificate).values(
                    code=f"DASH-{n:04d}", user_id=ids[user], kind=kind, subject_id=subject,
                    learner_name=f"Participante {user}", title=subject, hours=1.0,
                    issued_at=NOW, **more,
                )
            )  # fmt: skip

        certificate(1, 1, "course", COURSE)
        certificate(2, 3, "course", COURSE)
        certificate(3, 3, "programme", "demo-programme")  # a valid diploma
        certificate(4, 1, "programme", "demo-programme", revoked_at=NOW, revoked_reason="error")
        certificate(5, 4, "programme", "demo-programme")  # withdrawn: not a participant
        session.commit()
    return ids


def figures(line: dict[str, Any]) -> tuple[Any, ...]:
    return (
        line["enrolled"],
        line["active"],
        line["completed"],
        line["completion_rate"],
        line["average_score"],
    )


def by_key(lines: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {line["key"]: figures(line) for line in lines}


DASHBOARD = "/api/v1/reports/dashboard"


def test_figures_are_exact_and_leave_withdrawn_out(client: TestClient) -> None:
    build(client)
    coordinator = factories.staff(client, Role.coordinator)
    data = client.get(DASHBOARD, headers=coordinator).json()

    assert figures(data["total"]) == (5, 3, 3, 60.0, 75.0)
    assert by_key(data["courses"]) == {
        COURSE: (3, 2, 2, 66.67, 76.67),
        OTHER: (2, 1, 1, 50.0, 70.0),
    }
    assert {c["key"]: c["label"] for c in data["courses"]}[COURSE] == "Curso de prueba"
    # Participants (distinct learners) and valid diplomas; the revoked diploma and the
    # withdrawn learner's are not counted.
    assert by_key(data["programmes"]) == {"demo-programme": (3, 2, 1, 33.33, 76.67)}
    assert by_key(data["cohorts"]) == {
        "DIP-A": (2, 1, 1, 50.0, 70.0),
        "DIP-B": (2, 1, 1, 50.0, 90.0),
        "": (1, 1, 1, 100.0, 70.0),
    }
    assert {c["key"]: c["label"] for c in data["cohorts"]}["DIP-A"] == "Diplomado A"
    assert by_key(data["countries"]) == {
        "GT": (3, 1, 1, 33.33, 70.0),
        "HN": (1, 1, 1, 100.0, 90.0),
        "": (1, 1, 1, 100.0, 70.0),
    }
    assert by_key(data["institution_types"]) == {
        "government": (2, 1, 1, 50.0, 80.0),
        "academia": (1, 0, 0, 0.0, 60.0),
        "civil_society": (1, 1, 1, 100.0, 90.0),
        "other": (1, 1, 1, 100.0, 70.0),
    }
    # Months of the institution's calendar (America/Guatemala): the 1 March 03:00 UTC
    # completion is February's; the withdrawn April completion is not there.
    assert data["period"] == "month"
    assert data["completions_over_time"] == [
        {"start": "2026-01-01", "completed": 1},
        {"start": "2026-02-01", "completed": 1},
        {"start": "2026-03-01", "completed": 1},
    ]
    weeks = client.get(DASHBOARD, params={"period": "week"}, headers=coordinator).json()
    over_time = weeks["completions_over_time"]
    assert over_time[0] == {"start": "2026-01-05", "completed": 1}  # Saturday 10 January
    assert over_time[-1] == {"start": "2026-03-09", "completed": 1}  # Sunday 15 March
    assert {"start": "2026-02-23", "completed": 1} in over_time  # Saturday 28 February, local
    assert len(over_time) == 10
    assert sum(b["completed"] for b in over_time) == 3


def test_filters_narrow_every_figure(client: TestClient) -> None:
    build(client)
    coordinator = factories.staff(client, Role.coordinator)

    def get(**params: str) -> dict[str, Any]:
        response = client.get(DASHBOARD, params=params, headers=coordinator)
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert figures(get(country="gt")["total"]) == (3, 1, 1, 33.33, 70.0)
    assert figures(get(cohort="DIP-B")["total"]) == (2, 1, 1, 50.0, 90.0)
    assert figures(get(institution_type="academia")["total"]) == (1, 0, 0, 0.0, 60.0)
    programme = get(programme="demo-programme")
    assert figures(programme["total"]) == (3, 2, 2, 66.67, 76.67)
    assert [c["key"] for c in programme["courses"]] == [COURSE]
    march = get(date_field="completed_at", since="2026-03-01", until="2026-03-31")
    assert figures(march["total"]) == (1, 1, 1, 100.0, 90.0)  # the Feb 28 (local) one is out
    assert march["completions_over_time"] == [{"start": "2026-03-01", "completed": 1}]
    assert figures(get(status="completed")["total"]) == (3, 3, 3, 100.0, 80.0)
    assert figures(get(status="withdrawn")["total"]) == (0, 0, 0, None, None)  # never counted
    empty = get(country="MX")
    assert figures(empty["total"]) == (0, 0, 0, None, None)
    assert empty["courses"] == []
    assert empty["completions_over_time"] == []
    for bad in ({"programme": "nope"}, {"period": "year"}, {"country": "Ho"}):
        assert client.get(DASHBOARD, params=bad, headers=coordinator).status_code == 422, bad
        assert client.get("/coordinator", params=bad, headers=coordinator).status_code == 422


def _select(page: str, name: str) -> str:
    found = re.search(rf'<select id="[^"]+" name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select named {name}"
    return found.group(1)


def test_page_draws_charts_with_tables_and_selects(client: TestClient) -> None:
    build(client)
    coordinator = factories.staff(client, Role.coordinator)
    response = client.get("/coordinator", headers={**coordinator, "accept-language": "es"})
    assert response.status_code == 200
    page = response.text

    # Every filter is a select of names; the form has no free text box.
    form = page.split('<form class="filters"', 1)[1].split("</form>", 1)[0]
    assert not re.search(r'<input(?![^>]*type="date")', form)
    assert ">Programa de prueba</option>" in _select(page, "programme")
    assert '<option value="DIP-A">Diplomado A</option>' in _select(page, "cohort")
    assert '<option value="HN">Honduras</option>' in _select(page, "country")
    assert ">Sociedad civil</option>" in _select(page, "institution_type")
    assert '<option value="week">' in _select(page, "period")

    # Six charts (over time, course, programme, cohort, country, institution type), each an
    # image with a title and a description, and a table with a caption behind each.
    charts = re.findall(
        r'<svg class="chart" id="([^"]+)" role="img" aria-labelledby="([^"]+)"', page
    )
    assert [c[0] for c in charts] == [
        "chart-over-time", "chart-courses", "chart-programmes", "chart-cohorts",
        "chart-countries", "chart-institution-types",
    ]  # fmt: skip
    for chart_id, labelled_by in charts:
        assert labelled_by == f"{chart_id}-title {chart_id}-desc"
        assert f'<title id="{chart_id}-title">' in page
        assert f'<desc id="{chart_id}-desc">' in page
    assert page.count("<caption") == 7  # six charts' tables and the enrolments
    assert '<th scope="col">Tasa de finalización</th>' in page

    # The numbers in the tables, written the Spanish way.
    row = re.search(r'<tr><th scope="row" lang="es">Curso de prueba</th>(.*?)</tr>', page)
    assert row, "no row for the course"
    assert re.findall(r"<td>(.*?)</td>", row.group(1)) == [
        "3", "2", "2", "67\xa0%", "77\xa0%",
    ]  # fmt: skip
    honduras = re.search(r'<tr><th scope="row">Honduras</th>(.*?)</tr>', page)
    assert honduras
    assert re.findall(r"<td>(.*?)</td>", honduras.group(1))[:3] == ["1", "1", "1"]
    assert '<time datetime="2026-02-01">feb 2026</time>' in page

    # Withdrawn: neither counted nor listed; El Salvador has no line.
    assert "dash4@example.org" not in page
    assert "dash1@example.org" in page
    assert '<th scope="row">El Salvador</th>' not in page

    english = client.get("/coordinator", params={"lang": "en"}, headers=coordinator).text
    assert "By institution type" in english
    assert "Completion rate" in english


@pytest.mark.parametrize("language", ["es", "en"])
def test_an_empty_dashboard_says_so(client: TestClient, language: str) -> None:
    coordinator = factories.staff(client, Role.coordinator)
    page = client.get("/coordinator", params={"lang": language}, headers=coordinator).text
    nothing = {"es": "No hay finalizaciones en esta selección.",
               "en": "No completions in this selection."}[language]  # fmt: skip
    assert nothing in page
    assert page.count("<caption") == 7


@pytest.mark.parametrize("past", [False, True])
def test_programmes_counted_per_learner_as_by_the_grouped_query(
    client: TestClient, past: bool
) -> None:
    """SQLite counts programmes in its one pass per learner (up to PER_LEARNER_PROGRAMMES)
    and by the grouped query past that; both must give the same lines as the grouped
    query, here with programmes sharing courses, one of a course nobody took, and
    filters."""
    from ecampus.reports import dashboard
    from ecampus.reports.queries import Filters

    build(client)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    programmes = {
        "demo-programme": (COURSE,),
        "both": (COURSE, OTHER),
        "other": (OTHER,),
        "nobody": ("no-such-course",),
        "again": (OTHER, COURSE),
        **{f"more-{n}": (COURSE,) for n in range(dashboard.PER_LEARNER_PROGRAMMES)},
    }
    count = dashboard.PER_LEARNER_PROGRAMMES + (1 if past else 0)
    chosen = dict(list(programmes.items())[:count])
    for filters in (Filters(), Filters(country="GT"), Filters(status="completed")):
        with Session(engine) as session:
            where = dashboard._conditions(filters, None)
            since = NOW - timedelta(days=dashboard.ACTIVE_DAYS)
            grouped = dashboard._programmes(session, filters, where, chosen, since, None)
            counted = dashboard.compute(session, filters, programmes=chosen, now=NOW).programmes
        assert sorted(grouped, key=lambda line: line.key) == sorted(
            counted, key=lambda line: line.key
        ), filters
        assert {line.key for line in grouped} <= set(chosen) - {"nobody"}
