"""Courses, items, enrolment, progress and quiz attempts over the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from sqlmodel import Session

from ecampus.accounts.sessions import Account
from ecampus.accounts.tokens import Claims
from ecampus.certificates import service as certificates
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, QuizContent
from ecampus.dbretry import Contention
from ecampus.learning import service as learning
from ecampus.learning.service import CourseState
from ecampus.progression import completion
from ecampus.quizzes import grading
from ecampus.quizzes import service as quizzes
from ecampus.web import items, views
from ecampus.web.deps import (
    ApiClaims,
    ApiCsrf,
    ApiUser,
    CatalogueDep,
    MaybeUser,
    SessionDep,
    accept_session,
    check_csrf_api,
    not_authenticated,
    principal_of,
    state_on_loop,
    token_claims,
    visible_course,
)
from ecampus.web.fastpath import handled
from ecampus.web.inputguard import check_request_text, is_json

router = APIRouter(prefix="/api/v1", tags=["courses"])


class CourseSummaryOut(BaseModel):
    id: str
    title: str
    language: str
    summary: str
    hours: float
    topics: list[str]
    translations: list[str]


class ProgressOut(BaseModel):
    course_id: str
    progress: int
    status: str
    score: float | None
    done: list[str]
    next_item: str | None
    completed_at: str | None = None
    certificate: str | None = None


class AttemptIn(BaseModel):
    answers: dict[str, Any]


def progress_out(course: CourseContent, state: CourseState, certificate: str | None) -> ProgressOut:
    return ProgressOut(
        course_id=course.id,
        progress=state.progress.percent,
        status=state.progress.status,
        score=state.progress.score,
        done=sorted(state.progress.done, key=course.positions.__getitem__),
        next_item=state.progress.next_item_id,
        completed_at=state.completed_at.isoformat() if state.completed_at else None,
        certificate=certificate,
    )


def other_languages(catalogue: Catalogue, course: CourseContent) -> list[str]:
    """Every translation of the course, declared on either side (published ones)."""
    return [v.id for v in catalogue.variants(course.id) if v.id != course.id and v.published]


def certificate_code(session: Session, user_id: int, course: CourseContent) -> str | None:
    current = certificates.current_for(
        session, user_id=user_id, kind="course", subject_id=course.id
    )
    return current.code if current else None


@router.get("/courses", response_model=list[CourseSummaryOut])
def list_courses(catalogue: CatalogueDep) -> list[dict[str, Any]]:
    """Published courses."""
    return [views.course_summary(c, other_languages(catalogue, c)) for c in catalogue.published()]


@router.get("/courses/{course_id}")
def get_course(
    course_id: str, request: Request, catalogue: CatalogueDep, principal: MaybeUser
) -> dict[str, Any]:
    """The outline: modules and items, never answers."""
    course = visible_course(course_id, request, catalogue, principal)
    return views.outline(course, other_languages(catalogue, course))


@router.post("/courses/{course_id}/enroll", dependencies=[ApiCsrf])
def enroll(
    course_id: str,
    request: Request,
    principal: ApiUser,
    catalogue: CatalogueDep,
    session: SessionDep,
) -> ProgressOut:
    """Enrol the caller (idempotent)."""
    course = visible_course(course_id, request, catalogue, principal)
    learning.enroll(session, user_id=principal.user_id, course_id=course.id)
    state = learning.course_state(session, user_id=principal.user_id, course=course)
    return progress_out(course, state, certificate_code(session, principal.user_id, course))


@router.get("/courses/{course_id}/progress")
def get_progress(
    course_id: str,
    request: Request,
    principal: ApiUser,
    catalogue: CatalogueDep,
    session: SessionDep,
) -> ProgressOut:
    course = visible_course(course_id, request, catalogue, principal)
    state = learning.course_state(session, user_id=principal.user_id, course=course)
    if not state.enrolled:
        raise items.not_enrolled()
    return progress_out(course, state, certificate_code(session, principal.user_id, course))


@router.get("/courses/{course_id}/items/{item_id}")
async def get_item(
    course_id: str, item_id: str, request: Request, claims: ApiClaims
) -> dict[str, Any]:
    """A lesson's rendered html, or a quiz's questions without answers or explanations."""
    # All its database work in one worker-thread turn, the session check folded into the
    # learner's state query (as the lesson page does): each turn and each dependency costs
    # more than the query itself.
    async with request.app.state.db_gate.slot():
        return await run_in_threadpool(_item_detail, request, claims, course_id, item_id)


_DETAIL = TypeAdapter(dict[str, Any])


async def item_fast_path(request: Request, course_id: str, item_id: str) -> Response | None:
    """The JSON item for a signed-in caller, called by `web/fastpath.LessonFastPath` ahead
    of the router and FastAPI's dependency and serialization layers, which cost more than
    the item itself; the same bytes as the route (FastAPI serializes a `dict[str, Any]`
    answer with this same pydantic adapter). None sends the request the normal way, which
    answers it exactly as before: no token, an error of any kind."""
    claims = token_claims(request)
    if claims is None:
        return None
    try:
        detail = await _item_detail_on_loop(request, claims, course_id, item_id)
        if detail is None:
            async with request.app.state.db_gate.slot():
                detail = await run_in_threadpool(_item_detail, request, claims, course_id, item_id)
        return Response(_DETAIL.dump_json(detail), media_type="application/json")
    except Exception:  # the normal path answers it, through the app's error handlers
        return None


async def _item_detail_on_loop(
    request: Request, claims: Claims, course_id: str, item_id: str
) -> dict[str, Any] | None:
    """`_item_detail` for a lesson, its query on the event loop's own reader (no worker
    thread: see dbfast.LoopReader); None for anything else (a quiz needs a connection for
    its attempts, an unknown course a separate check) or when that reader cannot serve."""
    course = request.app.state.catalogue.get(course_id)
    if course is None or course.quizzes.get(item_id) is not None:
        return None
    read = await state_on_loop(request, claims, course)
    if read is None:
        return None
    account, state = read
    return _detail_of(request, claims, course_id, account, state, item_id)


def _item_detail(request: Request, claims: Claims, course_id: str, item_id: str) -> dict[str, Any]:
    app = request.app.state
    catalogue: Catalogue = app.catalogue
    course = catalogue.get(course_id)
    if course is None:  # the caller's session is checked first, as for any other answer
        if principal_of(request) is None:
            raise not_authenticated()
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Course '{course_id}' not found")
    account, state = learning.page_state(
        app.engine, user_id=claims.user_id, session_id=claims.session_id, course=course
    )
    return _detail_of(request, claims, course_id, account, state, item_id)


def _detail_of(
    request: Request,
    claims: Claims,
    course_id: str,
    account: Account | None,
    state: learning.CourseState,
    item_id: str,
) -> dict[str, Any]:
    app = request.app.state
    catalogue: Catalogue = app.catalogue
    principal = accept_session(request, claims, account)
    if principal is None:
        raise not_authenticated()
    course = visible_course(course_id, request, catalogue, principal)
    item = items.course_item(course, item_id)
    if not state.enrolled:
        raise items.not_enrolled()
    detail = views.item_detail(course, item)
    if isinstance(item, QuizContent):
        # Autocommit: a read needs no BEGIN and ROLLBACK (round trips on PostgreSQL).
        engine = app.engine
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            used, granted = quizzes.attempt_counts(
                connection, user_id=principal.user_id, course_id=course.id, item_id=item.id
            )
        detail["attempts_used"] = used
        detail["attempts_granted"] = granted
        detail["attempts_left"] = quizzes.remaining(item, used, granted)
        detail["best_score"] = state.progress.best_scores.get(item.id)
    detail["done"] = item.id in state.progress.done
    return detail


BUSY: dict[int | str, dict[str, Any]] = {
    503: {"description": "The database stayed busy: nothing was saved; send it again later"}
}


def busy(exc: Contention, detail: str) -> HTTPException:
    """503 for a database still contended after retries: the request may simply be sent again."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": str(exc.retry_after)}
    )


@router.post(
    "/courses/{course_id}/items/{item_id}/complete",
    dependencies=[ApiCsrf],
    responses={**BUSY, 409: {"description": "The item is a quiz: it is completed by passing it"}},
)
async def complete_item(
    course_id: str, item_id: str, request: Request, claims: ApiClaims
) -> ProgressOut:
    """Mark a lesson as done; returns the course progress."""
    return await _lesson_done(request, claims, course_id, item_id)


async def _lesson_done(
    request: Request, claims: Claims, course_id: str, item_id: str
) -> ProgressOut:
    """A lesson done: on the event loop (completion.complete_lesson_on_loop), else with all
    its database work in one gated worker-thread turn; either way the caller's session
    check is folded into the write's first query (each turn costs more than a query)."""
    done = await _complete_item_on_loop(request, claims, course_id, item_id)
    if done is not None:
        return done
    async with request.app.state.db_gate.slot():
        return await run_in_threadpool(_complete_item, request, claims, course_id, item_id)


async def _complete_item_on_loop(
    request: Request, claims: Claims, course_id: str, item_id: str
) -> ProgressOut | None:
    """`_complete_item` on the event loop; None when it is left to a worker thread."""
    reader = getattr(request.app.state, "loop_reader", None)
    course: CourseContent | None = request.app.state.catalogue.get(course_id)
    if reader is None or course is None:  # an unknown course: the thread's way answers
        return None
    with _lesson_answers():
        state = await completion.complete_lesson_on_loop(
            reader,
            user_id=claims.user_id,
            session_id=claims.session_id,
            course=course,
            admit=_admit_lesson(request, claims, course_id, item_id),
        )
    return None if state is None else progress_out(course, state, None)


def _known_course(request: Request, course_id: str) -> CourseContent:
    """The course, or, for an unknown one, 401 for a caller without a live session (whose
    session is checked first, as for any other answer) else 404."""
    course: CourseContent | None = request.app.state.catalogue.get(course_id)
    if course is None:
        if principal_of(request) is None:
            raise not_authenticated()
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Course '{course_id}' not found")
    return course


def _caller(request: Request, claims: Claims, account: Account | None, course_id: str) -> Any:
    """The caller's principal and the course they may see, once their session was read
    (401 without a live session, 404 for a course they may not see)."""
    principal = accept_session(request, claims, account)
    if principal is None:
        raise not_authenticated()
    return visible_course(course_id, request, request.app.state.catalogue, principal)


def _admit_lesson(request: Request, claims: Claims, course_id: str, item_id: str) -> Any:
    def admit(account: Account | None) -> Any:
        return items.lesson(_caller(request, claims, account, course_id), item_id)

    return admit


@contextmanager
def _lesson_answers() -> Iterator[None]:
    """A lesson done's errors as the API answers them."""
    try:
        yield
    except learning.NotEnrolled:
        raise items.not_enrolled() from None
    except Contention as exc:
        detail = "The server is busy: nothing was saved. Try again in a moment."
        raise busy(exc, detail) from None


def _complete_item(request: Request, claims: Claims, course_id: str, item_id: str) -> ProgressOut:
    catalogue: Catalogue = request.app.state.catalogue
    course = _known_course(request, course_id)
    with _lesson_answers():
        state, certificate = completion.complete_lesson(
            request.app.state.engine,
            user_id=claims.user_id,
            session_id=claims.session_id,
            course=course,
            item_id=item_id,
            catalogue=catalogue,
            admit=_admit_lesson(request, claims, course_id, item_id),
        )
    return progress_out(course, state, certificate.code if certificate else None)


def _admit_quiz(request: Request, claims: Claims, course_id: str, item_id: str) -> Any:
    def admit(account: Account | None) -> QuizContent:
        return items.quiz(_caller(request, claims, account, course_id), item_id)

    return admit


@contextmanager
def _attempt_answers() -> Iterator[None]:
    """An attempt's errors as the API answers them."""
    try:
        yield
    except learning.NotEnrolled:
        raise items.not_enrolled() from None
    except quizzes.NoAttemptsLeft:
        raise HTTPException(status.HTTP_409_CONFLICT, "No attempts left for this quiz") from None
    except Contention as exc:
        raise busy(
            exc,
            "The server is busy: this attempt was not counted and your answers were not "
            "lost. Try again in a moment.",
        ) from None
    except grading.AnswerError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def attempt_out(
    course: CourseContent,
    quiz: QuizContent,
    outcome: quizzes.AttemptOutcome,
    certificate: str | None,
) -> dict[str, Any]:
    questions = {q.id: q for q in quiz.questions}
    results = []
    for result in outcome.grade.results:
        entry: dict[str, Any] = {
            "question_id": result.question_id,
            "correct": result.correct,
            "given": result.given,
            "explanation": result.explanation,
            "feedback": list(result.feedback),
        }
        if outcome.reveal_answers:
            entry["answer"] = grading.correct_answer(questions[result.question_id])
        results.append(entry)
    return {
        "course_id": course.id,
        "item_id": quiz.id,
        "attempt": outcome.attempt.number,
        "score": outcome.grade.score,
        "passed": outcome.grade.passed,
        "pass_mark": outcome.grade.pass_mark,
        "attempts_left": outcome.attempts_left,
        "results": results,
        "progress": progress_out(course, outcome.state, certificate).model_dump(),
    }


@router.post(
    "/courses/{course_id}/items/{item_id}/attempts",
    dependencies=[ApiCsrf],
    responses={**BUSY, 409: {"description": "The item is a lesson, or no attempts are left"}},
)
async def submit_attempt(
    course_id: str,
    item_id: str,
    request: Request,
    claims: ApiClaims,
    body: AttemptIn = Body(),
) -> dict[str, Any]:
    """Grade a quiz attempt on the server. 409 once `max_attempts` is used up; 503 with
    `Retry-After` when the database stays busy (the attempt was not counted)."""
    return await _attempt(request, claims, course_id, item_id, body.answers)


async def _attempt(
    request: Request, claims: Claims, course_id: str, item_id: str, answers: dict[str, Any]
) -> dict[str, Any]:
    """An attempt: on the event loop (completion.submit_attempt_on_loop), else with all its
    database work in one gated worker-thread turn; either way the caller's session check is
    folded into the submission's first query (each turn costs more than a query)."""
    result = await _submit_attempt_on_loop(request, claims, course_id, item_id, answers)
    if result is not None:
        return result
    async with request.app.state.db_gate.slot():
        return await run_in_threadpool(
            _submit_attempt, request, claims, course_id, item_id, answers
        )


async def _submit_attempt_on_loop(
    request: Request, claims: Claims, course_id: str, item_id: str, answers: dict[str, Any]
) -> dict[str, Any] | None:
    """`_submit_attempt` on the event loop; None when it is left to a worker thread."""
    reader = getattr(request.app.state, "loop_reader", None)
    course: CourseContent | None = request.app.state.catalogue.get(course_id)
    if reader is None or course is None:  # an unknown course: the thread's way answers
        return None
    with _attempt_answers():
        outcome = await completion.submit_attempt_on_loop(
            reader,
            user_id=claims.user_id,
            session_id=claims.session_id,
            course=course,
            item_id=item_id,
            answers=answers,
            admit=_admit_quiz(request, claims, course_id, item_id),
        )
    if outcome is None:
        return None
    return attempt_out(course, course.quizzes[item_id], outcome, None)


_PROGRESS = TypeAdapter(ProgressOut)


async def attempt_fast_path(request: Request, course_id: str, item_id: str) -> Response | None:
    """`submit_attempt` for a caller with a token or the session cookie, called by
    `web/fastpath.LessonFastPath` ahead of the router, with the same checks (the token, the
    cookie's CSRF token, no unusable text, the body as `AttemptIn`) and the same bytes.
    None, before anything is written, sends the request the normal way, which answers it
    exactly as before; an error of the write itself is answered by the app's handlers."""
    claims = await _fast_write_caller(request)
    if claims is None or not is_json(request.headers.get("content-type", "")):
        return None
    try:
        # The input guard has parsed it already (Starlette keeps it).
        body = AttemptIn.model_validate(await request.json())
    except Exception:  # the normal way answers it (422)
        return None
    try:
        result = await _attempt(request, claims, course_id, item_id, body.answers)
    except Exception as exc:
        return await handled(request, exc)
    return Response(_DETAIL.dump_json(result), media_type="application/json")


async def complete_fast_path(request: Request, course_id: str, item_id: str) -> Response | None:
    """`complete_item` ahead of the router, as `attempt_fast_path`."""
    claims = await _fast_write_caller(request)
    if claims is None:
        return None
    try:
        result = await _lesson_done(request, claims, course_id, item_id)
    except Exception as exc:
        return await handled(request, exc)
    return Response(_PROGRESS.dump_json(result), media_type="application/json")


async def _fast_write_caller(request: Request) -> Claims | None:
    """The caller's claims when the normal way's dependencies (the token, the cookie's CSRF
    token, the input guard) would let the request through to the route, else None."""
    claims = token_claims(request)
    if claims is None:
        return None
    try:
        await check_csrf_api(request)
        await check_request_text(request)
    except Exception:  # the normal way answers it (403, 422)
        return None
    return claims


def _submit_attempt(
    request: Request, claims: Claims, course_id: str, item_id: str, answers: dict[str, Any]
) -> dict[str, Any]:
    catalogue: Catalogue = request.app.state.catalogue
    course = _known_course(request, course_id)
    with _attempt_answers():
        outcome, certificate = completion.submit_attempt(
            request.app.state.engine,
            user_id=claims.user_id,
            session_id=claims.session_id,
            course=course,
            item_id=item_id,
            answers=answers,
            catalogue=catalogue,
            admit=_admit_quiz(request, claims, course_id, item_id),
        )
    quiz = course.quizzes[item_id]
    return attempt_out(course, quiz, outcome, certificate.code if certificate else None)
