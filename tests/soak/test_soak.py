"""The soak in CI: 50 simulated learners for a minute against a live server, killed with -9
in the middle and restarted (`make soak` is the 200-learner, 5-minute form).

Passes when no request got a server error (5xx other than 503), every completion a learner
was told about is in the database with its certificate (those told before the kill included),
every completed learner has a certificate, and SQLite's integrity check is ok after the kill
and at the end. On a slow machine the run goes on (at most a minute more) until the kill has
found completions to lose and the restarted server has acknowledged new ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak import SoakConfig, run_soak
from tests.conftest import fresh_postgres_database

pytestmark = pytest.mark.soak


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None  # the soak makes its own SQLite file
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_soak_with_a_kill_loses_nothing_acknowledged(kind: str, tmp_path: Path) -> None:
    with database(kind) as url:
        report = run_soak(
            SoakConfig(
                learners=50,
                seconds=60,
                spawn_rate=5,
                wait=(0.5, 1.5),
                kill=True,
                kill_after_completions=10,
                kill_at=40,
                database_url=url,
                workdir=tmp_path,
            )
        )
    print(report.summary())
    assert report.problems() == [], report.summary() + "\n" + report_samples(report, tmp_path)
    assert report.kill is not None
    assert report.kill.acknowledged_before >= 1, "the kill came before any completion"
    assert report.kill.present_after_restart == report.kill.acknowledged_before
    assert report.acknowledged > report.kill.acknowledged_before, "nothing completed after"
    assert report.completions_in_database >= report.acknowledged
    assert report.requests >= 500


def report_samples(report: object, workdir: Path) -> str:
    samples = getattr(report, "samples", [])
    log = (workdir / "server.log").read_text(errors="replace")[-3000:]
    return f"samples: {samples}\nserver log:\n{log}"
