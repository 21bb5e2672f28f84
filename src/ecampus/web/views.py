"""JSON shapes of course content for the API: what a learner may see, never the answers."""

from __future__ import annotations

from typing import Any

from ecampus.courses import schema
from ecampus.courses.content import CourseContent, ItemContent, QuizContent


def course_summary(course: CourseContent, translations: list[str] | None = None) -> dict[str, Any]:
    """The catalogue fields; translations are the ids of the course's other languages."""
    return {
        "id": course.id,
        "title": course.title,
        "language": course.language,
        "summary": course.summary,
        "hours": course.hours,
        "topics": list(course.topics),
        "translations": translations if translations is not None else list(course.translations),
    }


def outline(course: CourseContent, translations: list[str] | None = None) -> dict[str, Any]:
    return {
        **course_summary(course, translations),
        "published": course.published,
        "certificate": course.certificate,
        "version": course.version,
        "modules": [
            {
                "id": module.id,
                "title": module.title,
                "items": [
                    {"id": i.id, "type": i.type, "title": i.title, "minutes": i.minutes}
                    for i in module.items
                ],
            }
            for module in course.modules
        ],
    }


def public_questions(quiz: QuizContent) -> list[dict[str, Any]]:
    """Questions as a learner sees them before submitting: no answers, no explanations."""
    shown = []
    for question in quiz.questions:
        entry: dict[str, Any] = {
            "id": question.id,
            "type": question.type,
            "prompt": question.prompt,
            "prompt_html": quiz.prompts_html[question.id],
        }
        if isinstance(question, schema.SingleQuestion | schema.MultipleQuestion):
            entry["options"] = [{"id": o.id, "text": o.text} for o in question.options]
        shown.append(entry)
    return shown


def item_detail(course: CourseContent, item: ItemContent) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": item.id,
        "type": item.type,
        "title": item.title,
        "module_id": item.module_id,
        "minutes": item.minutes,
        "course_id": course.id,
        "version": course.version,
    }
    if isinstance(item, QuizContent):
        base["pass_mark"] = item.pass_mark
        base["max_attempts"] = item.max_attempts
        base["questions"] = public_questions(item)
    else:
        base["html"] = item.html
    return base
