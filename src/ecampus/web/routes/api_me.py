"""The learner's own courses and certificates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ecampus.learning import service as learning
from ecampus.progression.mine import MyCourseOut, issued, my_courses
from ecampus.web.deps import ApiUser, CatalogueDep, SessionDep

router = APIRouter(prefix="/api/v1/me", tags=["learner"])


@router.get("/courses", response_model=list[MyCourseOut])
def list_my_courses(
    principal: ApiUser, session: SessionDep, catalogue: CatalogueDep
) -> list[MyCourseOut]:
    """Per enrolled course: progress (0-100), status, score, completion and certificate code."""
    return my_courses(session, user_id=principal.user_id, catalogue=catalogue)


@router.get("/certificates")
def list_my_certificates(
    principal: ApiUser, session: SessionDep, catalogue: CatalogueDep
) -> list[dict[str, Any]]:
    enrolments = learning.enrolments_of(session, user_id=principal.user_id)
    mine = issued(session, user_id=principal.user_id, catalogue=catalogue, enrolments=enrolments)
    return [
        {
            "code": c.code,
            "kind": c.kind,
            "subject_id": c.subject_id,
            "title": c.title,
            "hours": c.hours,
            "score": c.score,
            "issued_at": c.issued_at.isoformat(),
            "revoked": c.revoked_at is not None,
        }
        for c in mine
    ]
