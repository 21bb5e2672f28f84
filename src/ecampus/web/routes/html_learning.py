"""Browser pages for learners: catalogue, course, lesson, quiz, my learning."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from sqlmodel import Session

from ecampus.accounts.tokens import Claims, Principal
from ecampus.certificates import service as certificates
from ecampus.courses import schema, search
from ecampus.courses.catalog import Catalogue
from ecampus.courses.content import CourseContent, LessonContent, QuizContent
from ecampus.dbretry import Contention
from ecampus.learning import service as learning
from ecampus.progression import completion
from ecampus.progression.mine import my_courses
from ecampus.progression.repair import repair_missing_certificates
from ecampus.quizzes import blocking, grading
from ecampus.quizzes import service as quizzes
from ecampus.quizzes.blocking import blocking_quiz
from ecampus.web import items
from ecampus.web.deps import (
    CatalogueDep,
    FormCsrf,
    LoginRequired,
    PageClaims,
    PageUser,
    SessionDep,
    TemplatesDep,
    accept_session,
    check_csrf_form,
    principal_of,
    read_on_loop,
    resolve_principal,
    state_on_loop,
    token_claims,
    visible_course,
)
from ecampus.web.fastpath import handled
from ecampus.web.inputguard import check_request_text
from ecampus.web.pages import error_page, page_language
from ecampus.web.templating import Templates, current_language
from ecampus.web.templating import gettext as _

router = APIRouter(include_in_schema=False)

LENGTHS = {"short": (0, 5), "medium": (5, 20), "long": (20, 100000)}


def _matches(course: CourseContent, language: str, topic: str, length: str) -> bool:
    if language and course.language != language:
        return False
    if topic and topic not in course.topics:
        return False
    if length in LENGTHS:
        low, high = LENGTHS[length]
        if not low <= course.hours < high:
            return False
    return True


@router.get("/", response_class=HTMLResponse)
async def catalogue_page(
    request: Request, q: str = "", language: str = "", topic: str = "", length: str = ""
) -> HTMLResponse:
    """Async, with no declared dependencies (each costs time on every request): the session
    middleware has found the caller already, in a worker thread. A signed-in visit without
    filters mostly comes through `catalogue_fast_path` instead."""
    if not hasattr(request.state, "principal"):  # its lookup failed: again, for the error
        await resolve_principal(request)
    return catalogue_response(request, q, language, topic, length)


async def catalogue_fast_path(request: Request) -> Response | None:
    """The catalogue for a signed-in browser, called by `web/fastpath.LessonFastPath`
    ahead of the router: it does what the session and language middlewares would (the
    caller's session check, in a worker thread; the page's language). None sends the
    request the normal way, which answers it exactly as the route does."""
    if token_claims(request) is None:
        return None
    try:
        await resolve_principal(request)
        _set_language(request)
        return catalogue_response(request, "", "", "", "")
    except Exception:  # the normal path answers it, through the app's error handlers
        return None


def _set_language(request: Request) -> None:
    language = page_language(request)
    request.state.language = language
    current_language.set(language)


# The unfiltered catalogue's context, by what it depends on (see catalogue_response).
_CATALOGUE_CONTEXTS: dict[tuple[Any, ...], dict[str, Any]] = {}


def catalogue_response(
    request: Request, q: str, language: str, topic: str, length: str
) -> HTMLResponse:
    catalogue: Catalogue = request.app.state.catalogue
    templates: Templates = request.app.state.templates
    reader = page_language(request)
    if q or language or topic or length:
        filtered = _catalogue_context(catalogue, reader, q, language, topic, length)
        return templates.render(request, "catalogue/index.html", filtered, block="results")
    # Unfiltered, the page depends only on the catalogue, the reader's language and the
    # caller's role: its context is made, and the page rendered, once for all (the CSRF
    # token aside).
    principal: Principal | None = request.state.principal
    courses = tuple((c.id, c.version, c.published) for c in catalogue.courses.values())
    key = (id(catalogue), catalogue.generation, courses, principal and principal.role)
    context = _CATALOGUE_CONTEXTS.get((*key, reader))
    if context is None:
        context = _catalogue_context(catalogue, reader, "", "", "", "")
        if len(_CATALOGUE_CONTEXTS) >= 64:
            _CATALOGUE_CONTEXTS.clear()
        _CATALOGUE_CONTEXTS[(*key, reader)] = context
    return templates.render(
        request, "catalogue/index.html", context, block="results", cache_key=key
    )


def _catalogue_context(
    catalogue: Catalogue, reader: str, q: str, language: str, topic: str, length: str
) -> dict[str, Any]:
    published = list(catalogue.published())
    found = search.search((c for c in published if _matches(c, language, topic, length)), q)
    shown, also = _one_per_translation(catalogue, [m.course for m in found], reader)
    return {
        "courses": shown,
        "also": also,
        "total": len(_one_per_translation(catalogue, published, reader)[0]),
        "programmes": list(catalogue.programmes.values()),
        "course_titles": {c.id: c.title for c in published},
        "course_languages": {c.id: c.language for c in published},
        "languages": sorted({c.language for c in published}),
        "topics": sorted({t for c in published for t in c.topics}),
        "filters": {"q": q, "language": language, "topic": topic, "length": length},
        # Lessons that hold the words, for courses whose description does not.
        "found_in": {m.course.id: m for m in found if m.lessons and not m.in_details},
    }


def _one_per_translation(
    catalogue: Catalogue, courses: list[CourseContent], language: str
) -> tuple[list[CourseContent], dict[str, list[CourseContent]]]:
    """Each course once: of a course and its translations, the one in the learner's
    language (else the first listed), with the others offered beside it."""
    shown: list[CourseContent] = []
    also: dict[str, list[CourseContent]] = {}
    placed: set[str] = set()
    candidates = {c.id for c in courses}
    for course in courses:
        if course.id in placed:
            continue
        group = [v for v in catalogue.variants(course.id) if v.id in candidates]
        first = next((v for v in group if v.language.split("-")[0] == language), course)
        shown.append(first)
        also[first.id] = [
            v for v in catalogue.variants(course.id) if v.id != first.id and v.published
        ]
        placed.update(v.id for v in group)
    return shown, also


_IN_A_THREAD: Any = object()  # the loop reader could not serve: read in a worker thread


def _course_context(request: Request, course_id: str) -> dict[str, Any]:
    """The course page's database work, in one worker-thread turn: the caller's session
    check folded into the learner's state query (as the lesson page does), then, only when
    the page shows them, the certificate and a quiz that blocks the course."""
    app = request.app.state
    catalogue: Catalogue = app.catalogue
    claims = token_claims(request)
    found = catalogue.get(course_id)
    principal: Principal | None = None
    state: learning.CourseState | None = None
    if claims is None:
        request.state.principal = None
    elif found is None:
        principal = principal_of(request)  # for the page's header, as before the 404
    else:
        account, state = learning.page_state(
            app.engine, user_id=claims.user_id, session_id=claims.session_id, course=found
        )
        principal = accept_session(request, claims, account)
        if principal is None:
            state = None
    # The account's own language, now known, wins over the token's hint (as it did when
    # the caller was looked up before the language was chosen).
    request.state.language = page_language(request)
    course = visible_course(course_id, request, catalogue, principal)
    certificate = None
    blocked = None
    if principal is not None and state is not None and state.enrolled:
        certificate, blocked = _course_extras(app, course, principal, state)
    return {"course": course, "state": state, "certificate": certificate, "blocked": blocked}


async def _course_context_on_loop(request: Request, course_id: str) -> dict[str, Any]:
    """`_course_context` for a signed-in caller, its reads on the event loop's own reader
    (no worker thread: see dbfast.LoopReader): the session check folded into the state
    query and, for a course with attempt limits, the learner's attempts at its quizzes
    in the same statement (quizzes.blocking; used only once the session is known live). A
    completed course's certificate (issued now if an earlier release left it out: a write)
    is read in a worker thread. `_IN_A_THREAD` when the reader cannot serve, or for a
    caller or course it has nothing to read for."""
    app = request.app.state
    catalogue: Catalogue = app.catalogue
    claims = token_claims(request)
    found = catalogue.get(course_id)
    if claims is None or found is None:
        return _IN_A_THREAD
    counts: tuple[dict[str, int], dict[str, int]] | None = None
    if blocking.may_limit(found):
        with_counts = await read_on_loop(
            request,
            lambda reader: blocking.page_state_and_counts_on_loop(
                reader, user_id=claims.user_id, session_id=claims.session_id, course=found
            ),
        )
        read = None if with_counts is None else with_counts[:2]
        counts = None if with_counts is None else with_counts[2]
    else:
        read = await state_on_loop(request, claims, found)
    if read is None:
        return _IN_A_THREAD
    account, state = read
    principal = accept_session(request, claims, account)
    # The account's own language, now known, wins over the token's hint.
    request.state.language = page_language(request)
    course = visible_course(course_id, request, catalogue, principal)
    if principal is None or not state.enrolled:
        return {"course": course, "state": None if principal is None else state,
                "certificate": None, "blocked": None}  # fmt: skip
    certificate = blocked = None
    if state.progress.completed:
        async with app.db_gate.slot():
            certificate, blocked = await run_in_threadpool(
                _course_extras, app, course, principal, state
            )
    elif counts is not None:
        blocked = blocking.blocking_from_counts(course, state.progress, counts)
    return {"course": course, "state": state, "certificate": certificate, "blocked": blocked}


def _course_extras(
    app: Any, course: CourseContent, principal: Principal, state: learning.CourseState
) -> tuple[Any, QuizContent | None]:
    """The certificate of a completed course (issued now if an earlier release left it
    out), or the quiz that keeps the learner from completing it."""
    if state.progress.completed:
        with Session(app.engine, expire_on_commit=False) as session:
            certificate = certificates.current_for(
                session, user_id=principal.user_id, kind="course", subject_id=course.id
            )
            if state.completed_at and course.certificate and not certificate:
                repair_missing_certificates(
                    session, catalogue=app.catalogue, user_id=principal.user_id
                )
                certificate = certificates.current_for(
                    session, user_id=principal.user_id, kind="course", subject_id=course.id
                )
            return certificate, None
    # Given the engine: one query on the pool's driver connection (ecampus.dbfast).
    blocked = blocking_quiz(
        app.engine, user_id=principal.user_id, course=course, progress=state.progress
    )
    return None, blocked


@router.get("/courses/{course_id}", response_class=HTMLResponse)
async def course_page(course_id: str, request: Request) -> HTMLResponse:
    """Async, with all its database work in one gated worker-thread turn, and no declared
    dependencies (each costs time on every request); the session middleware leaves the
    caller to it. A signed-in visit mostly comes through `course_fast_path` instead."""
    return await course_response(request, course_id)


async def course_fast_path(request: Request, course_id: str) -> Response | None:
    """The course page for a signed-in browser, ahead of the router (as the lesson page's
    `lesson_fast_path`); None sends the request the normal way."""
    if token_claims(request) is None:
        return None
    try:
        _set_language(request)
        return await course_response(request, course_id)
    except Exception:  # the normal path answers it, through the app's error handlers
        return None


async def course_response(request: Request, course_id: str) -> HTMLResponse:
    templates: Templates = request.app.state.templates
    context = await _course_context_on_loop(request, course_id)
    if context is _IN_A_THREAD:
        async with request.app.state.db_gate.slot():
            context = await run_in_threadpool(_course_context, request, course_id)
    course, state = context["course"], context["state"]
    principal: Principal | None = request.state.principal
    # Rendered once for everything it shows besides the CSRF token.
    progress = state.progress if state is not None else None
    key = (
        course.id,
        course.version,
        course.published,
        principal.role if principal else None,
        state.enrolled if state is not None else None,
        progress and (progress.percent, progress.status, progress.score, progress.done),
        progress and progress.next_item_id,
        context["certificate"].code if context["certificate"] else None,
        context["blocked"].id if context["blocked"] else None,
    )
    return templates.render(request, "courses/detail.html", context, cache_key=key)


@router.post("/courses/{course_id}/enroll", dependencies=[FormCsrf])
def enroll(
    course_id: str,
    request: Request,
    principal: PageUser,
    catalogue: CatalogueDep,
    session: SessionDep,
) -> Response:
    course = visible_course(course_id, request, catalogue, principal)
    learning.enroll(session, user_id=principal.user_id, course_id=course.id)
    state = learning.course_state(session, user_id=principal.user_id, course=course)
    target = state.progress.next_item_id or course.order[0]
    return RedirectResponse(f"/courses/{course.id}/items/{target}", status_code=303)


def _item_context(
    db: Session | Connection | None,
    principal: Principal,
    course: CourseContent,
    item_id: str,
    state: learning.CourseState | None = None,
) -> dict[str, Any]:
    """Everything an item page shows; all of its database work happens here."""
    item = items.course_item(course, item_id, page=True)
    if state is None:
        if db is None:
            raise TypeError("an item page without its course state needs a connection")
        state = learning.course_state(db, user_id=principal.user_id, course=course)
    previous, following = course.neighbours(item.id)
    context: dict[str, Any] = {
        "course": course,
        "item": item,
        "module": course.modules_by_id[item.module_id],
        "state": state,
        "previous": previous,
        "following": following,
        "outcome": None,
    }
    if isinstance(item, QuizContent):
        if db is None:
            raise TypeError("a quiz page needs a connection for its attempts")
        used, granted = quizzes.attempt_counts(
            db, user_id=principal.user_id, course_id=course.id, item_id=item.id
        )
        context["attempts_used"] = used
        context["attempts_left"] = quizzes.remaining(item, used, granted)
    return context


def _load_item(
    request: Request, claims: Claims, course: CourseContent, item_id: str
) -> dict[str, Any] | None:
    """The page's database work: the session check (live, active, role) and the learner's
    state in one query (a quiz adds its attempt count). None when the session is over."""
    app = request.app.state
    item = items.course_item(course, item_id, page=True)  # 404 before any database work
    account, state = learning.page_state(
        app.engine, user_id=claims.user_id, session_id=claims.session_id, course=course
    )
    principal = accept_session(request, claims, account)
    if principal is None:
        return None
    visible_course(course.id, request, app.catalogue, principal)
    if not isinstance(item, QuizContent):
        return _item_context(None, principal, course, item_id, state)
    # A quiz adds its attempt count. Autocommit: a read needs no BEGIN and ROLLBACK,
    # which on PostgreSQL are round trips.
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return _item_context(connection, principal, course, item_id, state)


async def _load_item_on_loop(
    request: Request, claims: Claims, course: CourseContent, item_id: str
) -> dict[str, Any] | None:
    """`_load_item` for a lesson, its query on the event loop's own reader (no worker
    thread: see dbfast.LoopReader); `_IN_A_THREAD` for a quiz (it needs a connection for
    its attempts) or when that reader cannot serve."""
    app = request.app.state
    item = items.course_item(course, item_id, page=True)  # 404 before any database work
    if isinstance(item, QuizContent):
        return _IN_A_THREAD
    read = await state_on_loop(request, claims, course)
    if read is None:
        return _IN_A_THREAD
    account, state = read
    principal = accept_session(request, claims, account)
    if principal is None:
        return None
    visible_course(course.id, request, app.catalogue, principal)
    return _item_context(None, principal, course, item_id, state)


@router.get("/courses/{course_id}/items/{item_id}", response_class=HTMLResponse)
async def item_page(course_id: str, item_id: str, request: Request, claims: PageClaims) -> Response:
    """The hot path: the token's signature checked without the database, content from
    memory, one query (the session and account checks folded in; in a worker thread, off
    the event loop), then a render of pre-rendered lesson HTML. It reads app.state
    directly: each declared dependency costs time on every request. Most requests for it
    never reach this route: `web/fastpath.py` calls `item_response` ahead of the router."""
    return await item_response(request, claims, course_id, item_id)


async def lesson_fast_path(request: Request, course_id: str, item_id: str) -> Response | None:
    """The item page for a signed-in browser, called by `web/fastpath.LessonFastPath`
    without the router, the dependency layer and the inner middlewares, which add nothing
    to this page but cost more than the page itself. It does what they would: the
    caller's claims from the cookie and the page's language (as LanguageMiddleware sets it);
    the rest is the route's own code. None sends the request the normal way, which then
    answers it exactly as the route does: no cookie, an error of any kind."""
    claims = token_claims(request)
    if claims is None:
        return None
    language = page_language(request)
    request.state.language = language
    current_language.set(language)
    try:
        return await item_response(request, claims, course_id, item_id)
    except Exception:  # the normal path answers it, through the app's error handlers
        return None


async def item_response(request: Request, claims: Claims, course_id: str, item_id: str) -> Response:
    state = request.app.state
    templates: Templates = state.templates
    course = state.catalogue.get(course_id)
    if course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Course '{course_id}' not found")
    context = await _load_item_on_loop(request, claims, course, item_id)
    if context is _IN_A_THREAD:
        async with state.db_gate.slot():
            context = await run_in_threadpool(_load_item, request, claims, course, item_id)
    if context is None:
        raise LoginRequired
    if not context["state"].enrolled:
        return items.enrol_first(course)
    item, progress = context["item"], context["state"].progress
    if item.type == "quiz":
        return templates.render(request, "learning/quiz.html", context, block="main")
    # A lesson page depends only on these (and the CSRF token): render it once for all.
    role = request.state.principal.role
    key = (course.id, course.version, item.id, progress.done, progress.percent, role)
    return templates.render(request, "learning/lesson.html", context, block="main", cache_key=key)


@router.post("/courses/{course_id}/items/{item_id}/complete", dependencies=[FormCsrf])
async def complete(course_id: str, item_id: str, request: Request, principal: PageUser) -> Response:
    """Async, with the whole write in one gated worker-thread turn (the session middleware
    has found the caller already). Most come through `complete_fast_path` instead."""
    course = visible_course(course_id, request, request.app.state.catalogue, principal)
    return await _complete(request, principal, course, items.lesson(course, item_id, page=True))


async def complete_fast_path(request: Request, course_id: str, item_id: str) -> Response | None:
    """A lesson marked done from its page, ahead of the router (see `_form_fast_path`)."""

    async def admit(
        principal: Principal, course: CourseContent
    ) -> Callable[[], Awaitable[Response]]:
        item = items.lesson(course, item_id, page=True)
        return lambda: _complete(request, principal, course, item)

    return await _form_fast_path(request, course_id, admit)


async def _form_fast_path(
    request: Request,
    course_id: str,
    admit: Callable[[Principal, CourseContent], Awaitable[Callable[[], Awaitable[Response]]]],
) -> Response | None:
    """A page's form post ahead of the router (web/fastpath.py `writes`): the caller, the
    language, the input guard and the form's CSRF token as the session and language
    middlewares and the route's dependencies would have them, then what the route checks
    before writing (`admit`, which gives the write). None, before anything is written,
    sends the request the normal way (which then refuses it or answers it as the route
    does). An error of the write is answered by the app's handlers."""
    principal = await _form_write_caller(request)
    if principal is None:
        return None
    try:
        course = visible_course(course_id, request, request.app.state.catalogue, principal)
        write = await admit(principal, course)
    except Exception:
        return None
    try:
        return await write()
    except Exception as exc:
        return await handled(request, exc)


async def _form_write_caller(request: Request) -> Principal | None:
    """The caller of a page's form post, when the normal way would let it through to the
    route: a live session, no unusable text, the form's CSRF token."""
    if token_claims(request) is None:
        return None
    try:
        principal = await resolve_principal(request)
        if principal is None:
            return None
        _set_language(request)  # the account's own, as LanguageMiddleware finds it
        await check_request_text(request)
        await check_csrf_form(request)
    except Exception:
        return None
    return principal


async def _complete(
    request: Request, principal: Principal, course: CourseContent, item: LessonContent
) -> Response:
    app = request.app.state
    catalogue: Catalogue = app.catalogue
    try:
        # On the event loop (no worker thread) unless it completes the course or the
        # database is busy: then in one gated worker-thread turn.
        on_loop = await completion.complete_lesson_on_loop(
            app.loop_reader,
            user_id=principal.user_id,
            session_id=None,
            course=course,
            admit=lambda _account: item,
        )
        if on_loop is not None:
            state = on_loop
        else:
            async with app.db_gate.slot():
                state, _certificate = await run_in_threadpool(
                    lambda: completion.complete_lesson(
                        app.engine,
                        user_id=principal.user_id,
                        session_id=None,
                        course=course,
                        item_id=item.id,
                        catalogue=catalogue,
                        admit=lambda _account: item,
                    )
                )
    except learning.NotEnrolled:
        return items.enrol_first(course)
    except Contention as exc:
        busy = error_page(request, status.HTTP_503_SERVICE_UNAVAILABLE, "")
        busy.headers["Retry-After"] = str(exc.retry_after)
        return busy
    _previous, following = course.neighbours(item.id)
    target = f"/courses/{course.id}/items/{following.id}" if following else f"/courses/{course.id}"
    if state.progress.completed:
        target = f"/courses/{course.id}"
    return RedirectResponse(target, status_code=303)


def answers_from_form(quiz: QuizContent, form: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in quiz.questions:
        if isinstance(question, schema.MultipleQuestion):
            answers[question.id] = [str(v) for v in form.getlist(question.id)]
        else:
            value = form.get(question.id)
            answers[question.id] = str(value) if value is not None else None
    return answers


@router.post("/courses/{course_id}/items/{item_id}/attempts", dependencies=[FormCsrf])
async def attempt(
    course_id: str,
    item_id: str,
    request: Request,
    principal: PageUser,
    catalogue: CatalogueDep,
) -> Response:
    """Grading, storing and the page in one gated worker-thread turn (the session middleware
    has found the caller already). Most come through `attempt_fast_path` instead."""
    course = visible_course(course_id, request, catalogue, principal)
    item = items.quiz(course, item_id, page=True)
    answers = answers_from_form(item, await request.form())
    return await _attempt(request, principal, course, item, answers)


async def attempt_fast_path(request: Request, course_id: str, item_id: str) -> Response | None:
    """A quiz's form posted from its page, ahead of the router (see `_form_fast_path`)."""

    async def admit(
        principal: Principal, course: CourseContent
    ) -> Callable[[], Awaitable[Response]]:
        item = items.quiz(course, item_id, page=True)
        answers = answers_from_form(item, await request.form())
        return lambda: _attempt(request, principal, course, item, answers)

    return await _form_fast_path(request, course_id, admit)


async def _attempt(
    request: Request,
    principal: Principal,
    course: CourseContent,
    item: QuizContent,
    answers: dict[str, Any],
) -> Response:
    app = request.app.state
    try:
        # On the event loop (no worker thread) unless it completes the course or the
        # database is busy. What it refuses (no attempts left, an answer it cannot read...)
        # wrote nothing: the worker thread's way runs it again and answers it.
        outcome = await completion.submit_attempt_on_loop(
            app.loop_reader,
            user_id=principal.user_id,
            session_id=None,
            course=course,
            item_id=item.id,
            answers=answers,
            admit=lambda _account: item,
        )
    except (learning.NotEnrolled, quizzes.NoAttemptsLeft, grading.AnswerError):
        outcome = None
    if outcome is not None:
        return _quiz_answer(
            request, app.templates, course, item, answers, _graded_context(course, item, outcome),
            outcome=outcome,
        )  # fmt: skip
    async with app.db_gate.slot():
        return await run_in_threadpool(
            _grade_and_render, request, principal, app.catalogue, app.templates, course, item,
            answers,
        )  # fmt: skip


def _graded_context(
    course: CourseContent, quiz: QuizContent, outcome: quizzes.AttemptOutcome
) -> dict[str, Any]:
    """The quiz page after an attempt was stored, from what storing it knew (as
    `_item_context` would read it again)."""
    previous, following = course.neighbours(quiz.id)
    return {
        "course": course,
        "item": quiz,
        "module": course.modules_by_id[quiz.module_id],
        "state": outcome.state,
        "previous": previous,
        "following": following,
        "outcome": None,
        "attempts_used": outcome.attempt.number,
        "attempts_left": outcome.attempts_left,
    }


def _grade_and_render(
    request: Request,
    principal: Principal,
    catalogue: Catalogue,
    templates: Any,
    course: CourseContent,
    quiz: QuizContent,
    answers: dict[str, Any],
) -> Response:
    engine = request.app.state.engine
    error = None
    outcome = None
    certificate = None
    status_code = 200
    headers = None
    try:
        outcome, certificate = completion.submit_attempt(
            engine,
            user_id=principal.user_id,
            session_id=None,
            course=course,
            item_id=quiz.id,
            answers=answers,
            catalogue=catalogue,
            admit=lambda _account: quiz,
        )
    except learning.NotEnrolled:
        return items.enrol_first(course)
    except quizzes.NoAttemptsLeft:
        error = _("You have used all the attempts for this quiz.")
        status_code = 409
    except Contention as exc:
        # The form comes back with the answers filled in, so sending it again is one click.
        error = _(
            "The server is busy, your answers were not lost: this attempt was not counted. "
            "Please try again in a moment."
        )
        status_code = 503
        headers = {"Retry-After": str(exc.retry_after)}
    except grading.AnswerError as exc:
        position = next(
            (n for n, q in enumerate(quiz.questions, 1) if q.id == exc.question_id), None
        )
        error = (
            _("The answer to question %(n)s could not be read: please check it.", n=position)
            if position
            else _("Some answers could not be read: please check them.")
        )
        status_code = 422
    if outcome is not None:
        context = _graded_context(course, quiz, outcome)
    else:  # nothing was stored: the page as it stands (autocommit: a read needs no BEGIN)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            context = _item_context(connection, principal, course, quiz.id)
    return _quiz_answer(
        request, templates, course, quiz, answers, context,
        outcome=outcome, certificate=certificate, error=error, status_code=status_code,
        headers=headers,
    )  # fmt: skip


def _quiz_answer(
    request: Request,
    templates: Any,
    course: CourseContent,
    quiz: QuizContent,
    answers: dict[str, Any],
    context: dict[str, Any],
    *,
    outcome: quizzes.AttemptOutcome | None,
    certificate: Any = None,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The quiz's part of the page after a submission: graded, or with what went wrong."""
    context.update(
        {
            "outcome": outcome,
            "error": error,
            "given": answers,
            "certificate": certificate,
            "results": {r.question_id: r for r in outcome.grade.results} if outcome else {},
            "correct_answers": (
                grading.answer_key(quiz) if outcome and outcome.reveal_answers else {}
            ),
        }
    )
    return templates.render(
        request,
        "learning/quiz.html",
        context,
        status_code=status_code,
        block="main",
        headers=headers,
    )


@router.get("/me", response_class=HTMLResponse)
def my_learning(
    request: Request,
    principal: PageUser,
    catalogue: CatalogueDep,
    session: SessionDep,
    templates: TemplatesDep,
) -> HTMLResponse:
    return templates.render(
        request,
        "learning/my.html",
        {
            "courses": my_courses(session, user_id=principal.user_id, catalogue=catalogue),
            "certificates": certificates.of_user(session, user_id=principal.user_id),
        },
    )
