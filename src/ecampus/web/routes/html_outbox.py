"""The outbox page for admins: what mail waits, what went, what the SMTP server refused
(with its answer), and "retry now"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecampus.accounts.manage import Staff
from ecampus.accounts.tokens import Principal
from ecampus.audit.service import record
from ecampus.mail import outbox
from ecampus.web.deps import FormCsrf, SessionDep, SettingsDep, TemplatesDep, require_page_roles

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[Principal, Depends(require_page_roles("admin"))]
SHOWN = 200


@router.get("/admin/mail", response_class=HTMLResponse)
def outbox_page(
    request: Request,
    principal: AdminPage,
    session: SessionDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    status: str = "",
) -> HTMLResponse:
    chosen = status if status in outbox.STATUSES else ""
    return templates.render(
        request,
        "coordination/outbox.html",
        {
            "counts": outbox.counts(session),
            "mails": outbox.list_mail(session, status=chosen or None, limit=SHOWN),
            "status": chosen,
            "shown": SHOWN,
            "configured": bool(settings.smtp_url),
            "retried": request.query_params.get("retried", ""),
        },
    )


@router.post("/admin/mail/retry", dependencies=[FormCsrf])
def retry(
    principal: AdminPage,
    session: SessionDep,
    mail: Annotated[str, Form(max_length=20)] = "",
    status: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Make one message (`mail`), or every failing one (`mail=all`), due at once: the
    sender picks it up within seconds."""
    if mail == "all":
        count = outbox.retry_all(session)
        subject = "failing"
    # ASCII digits only ('²' is a digit int() refuses), few enough for the column.
    elif (
        mail.isascii()
        and mail.isdigit()
        and len(mail) <= 9
        and outbox.retry_now(session, mail_id=int(mail))
    ):
        count, subject = 1, f"mail {mail}"
    else:
        count, subject = 0, f"mail {mail[:20]}"
    if count:
        record(
            session,
            Staff(principal.user_id, principal.email, principal.role),
            "mail.retry",
            subject,
            {"messages": count},
        )
        session.commit()
    back = f"&status={status}" if status in outbox.STATUSES else ""
    return RedirectResponse(f"/admin/mail?retried={count}{back}", status_code=303)
