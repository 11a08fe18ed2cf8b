"""The small built-in actions: rules.check, data.set, email.send, human.review."""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.mail import send_mail

from . import expressions
from .errors import NeedsReview, PermanentError, TransientError
from .registry import ActionContext, ActionResult, expression_map_errors, register


def _no_config(config: dict[str, Any]) -> list[str]:
    extra = sorted(set(config) - {"note"})
    return (
        [f"rules.check takes no config besides `note` (found: {', '.join(extra)})."]
        if extra
        else []
    )


@register("rules.check", label="Check the step's bounds only", validate=_no_config)
def rules_check(ctx: ActionContext) -> ActionResult:
    # The engine checks every step's bounds before its action runs; this action adds nothing.
    return ActionResult()


def _validate_set(config: dict[str, Any]) -> list[str]:
    if "set" not in config:
        return ["`set` is required: an object of field: expression."]
    return expression_map_errors(config["set"], "set")


@register("data.set", label="Set case fields from expressions", validate=_validate_set)
def data_set(ctx: ActionContext) -> ActionResult:
    updates: dict[str, Any] = {}
    data = dict(ctx.data)
    for name, expr in ctx.config["set"].items():
        # Later fields may read earlier ones, as a person reading the config would expect.
        data[name] = updates[name] = expressions.evaluate(expr, data)
    return ActionResult(updates=updates)


def _validate_email(config: dict[str, Any]) -> list[str]:
    errors = []
    for key in ("to", "subject", "body"):
        if not isinstance(config.get(key), str) or not config[key].strip():
            errors.append(f"`{key}` is required text (it may use {{field}} placeholders).")
    return errors


def _fill(template: str, data: dict[str, Any]) -> str:
    try:
        return template.format_map(data)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise PermanentError(
            f"The template {template!r} could not be filled: {exc!r}", code="template_error"
        ) from exc


@register("email.send", label="Send an email", validate=_validate_email)
def email_send(ctx: ActionContext) -> ActionResult:
    recipients = [a.strip() for a in _fill(ctx.config["to"], ctx.data).split(",") if a.strip()]
    subject = _fill(ctx.config["subject"], ctx.data)
    try:
        sent = send_mail(subject, _fill(ctx.config["body"], ctx.data), None, recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"The mail server refused {recipients}.", code="smtp_refused") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientError(f"The mail server failed: {exc}", code="smtp_error") from exc
    return ActionResult(detail={"to": recipients, "subject": subject, "sent": sent})


def _validate_review(config: dict[str, Any]) -> list[str]:
    errors = []
    when = config.get("when", "True")
    if problem := expressions.syntax_error(when):
        errors.append(f"`when`: `{when}` {problem}.")
    if not isinstance(config.get("reason", ""), str):
        errors.append("`reason` must be text.")
    return errors


@register("human.review", label="Ask a person to decide", validate=_validate_review)
def human_review(ctx: ActionContext) -> ActionResult:
    when = ctx.config.get("when", "True")
    if expressions.evaluate(when, ctx.data):
        reason = ctx.config.get("reason") or f"The workflow asks for a review when `{when}`."
        raise NeedsReview(reason, code="manual_review")
    return ActionResult()
