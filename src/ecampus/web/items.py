"""The course item a learner's request names: one lookup for the API and the pages, so both
answer alike.

- An item the course does not have: 404.
- The wrong kind for what is asked (completing a quiz, which is done by passing it; an
  attempt at a lesson): 409.
- A learner not enrolled in the course: the API answers 403 `Enrol in this course first`
  (docs/api.md); a page sends the learner to the course page (303), where the enrol button is.

API messages are English, as every API detail is; pages get them in the reader's language.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.responses import RedirectResponse

from ecampus.courses.content import CourseContent, ItemContent, LessonContent, QuizContent
from ecampus.web.templating import gettext as _

ENROL_FIRST = "Enrol in this course first"


def course_item(course: CourseContent, item_id: str, *, page: bool = False) -> ItemContent:
    """The item `item_id` of `course`, lesson or quiz."""
    return _find(course, item_id, None, page)


def lesson(course: CourseContent, item_id: str, *, page: bool = False) -> LessonContent:
    """A lesson to complete; 409 for a quiz (completed by passing it)."""
    item = _find(course, item_id, "lesson", page)
    if not isinstance(item, LessonContent):
        detail = (
            _("This is a quiz: it is completed by passing it.")
            if page
            else "A quiz is completed by passing it: POST an attempt"
        )
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    return item


def quiz(course: CourseContent, item_id: str, *, page: bool = False) -> QuizContent:
    """A quiz to attempt; 409 for a lesson."""
    item = _find(course, item_id, "quiz", page)
    if not isinstance(item, QuizContent):
        detail = _("This is a lesson, not a quiz.") if page else "This item is a lesson, not a quiz"
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    return item


def _find(course: CourseContent, item_id: str, kind: str | None, page: bool) -> ItemContent:
    item = course.items.get(item_id)
    if item is None:
        if not page:
            detail = f"Item '{item_id}' not found in this course"
        elif kind == "quiz":
            detail = _("This quiz does not exist.")
        else:
            detail = _("This lesson does not exist.")
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
    return item


def not_enrolled() -> HTTPException:
    """The API's answer to a learner not enrolled in the course."""
    return HTTPException(status.HTTP_403_FORBIDDEN, ENROL_FIRST)


def enrol_first(course: CourseContent) -> RedirectResponse:
    """A page's answer to a learner not enrolled: the course page, to enrol."""
    return RedirectResponse(f"/courses/{course.id}", status_code=status.HTTP_303_SEE_OTHER)
