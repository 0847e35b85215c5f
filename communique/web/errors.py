"""The one error handler: every failure becomes the same JSON shape, or a small page for browsers.

``{"error": message, "status": code, "request_id": id}``, plus ``line`` and ``column`` for a
query syntax error and ``offered`` (media types) for a 406. `CommuniqueError` brings its status
and headers (``Retry-After``...); Werkzeug's HTTP errors (404, 405 with ``Allow``, 413...) take
the same shape; a body that stopped coming (the web worker's read timeout) is a 408, one that
gunicorn cannot parse when it is read (a bad chunk) a 400; anything else is a bug: logged with
its traceback and answered with a generic 500 that reveals nothing but the request id.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from gunicorn.http.errors import ParseException as MalformedRequest
from markupsafe import escape
from werkzeug.exceptions import ClientDisconnected, HTTPException

from communique.errors import CommuniqueError, NotAcceptable, QuerySyntaxError
from communique.http_worker import READ_TIMEOUT_SECONDS
from communique.negotiation import choose_format
from communique.web.http import request_id

log = logging.getLogger(__name__)

UNEXPECTED_MESSAGE = "internal error; the request id identifies it in the server log"
ERROR_FORMATS = ("json", "html")


@dataclass(frozen=True)
class ErrorReply:
    status: int
    title: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def register_error_handler(app: Flask) -> None:
    app.register_error_handler(Exception, handle_exception)


def handle_exception(error: Exception) -> Response:
    reply = _reply_for(error)
    if _wants_html():
        response = Response(_html_page(reply), reply.status, mimetype="text/html")
    else:
        response = Response(
            json.dumps(_json_body(reply), ensure_ascii=False),
            reply.status,
            content_type="application/json",
        )
    response.headers.update(reply.headers)
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


def _reply_for(error: Exception) -> ErrorReply:
    if isinstance(error, CommuniqueError):
        return ErrorReply(
            error.status, error.title, error.message, dict(error.headers), _details(error)
        )
    if isinstance(error, ClientDisconnected) and _timed_out(error):
        return ErrorReply(
            408,
            "Request Timeout",
            f"the request body stopped arriving: no part of it came for {READ_TIMEOUT_SECONDS} s",
        )
    if isinstance(error, MalformedRequest):
        return ErrorReply(400, "Bad Request", f"the request body is malformed: {error}")
    if isinstance(error, HTTPException):
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return ErrorReply(error.code or 500, error.name, error.description or error.name, headers)
    log.exception("unexpected error (request id %s)", request_id())
    return ErrorReply(500, "Internal Server Error", UNEXPECTED_MESSAGE)


def _timed_out(error: ClientDisconnected) -> bool:
    """Whether reading the body failed because the socket's read timeout passed."""
    return isinstance(error.__context__, (BlockingIOError, TimeoutError))


def _details(error: CommuniqueError) -> dict[str, Any]:
    if isinstance(error, QuerySyntaxError):
        where = {"line": error.line, "column": error.column}
        return {key: value for key, value in where.items() if value is not None}
    if isinstance(error, NotAcceptable):
        return {"offered": list(error.offered)}
    return {}


def _json_body(reply: ErrorReply) -> dict[str, Any]:
    return {
        "error": reply.message,
        "status": reply.status,
        "request_id": request_id(),
        **reply.details,
    }


def _wants_html() -> bool:
    """True when Accept ranks HTML above JSON; an error is never refused for its Accept."""
    try:
        return choose_format(request.headers.get("Accept"), ERROR_FORMATS, default="json") == "html"
    except NotAcceptable:
        return False


def _html_page(reply: ErrorReply) -> str:
    details = "".join(
        f"<dt>{escape(key)}</dt><dd>{escape(str(value))}</dd>"
        for key, value in reply.details.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{reply.status} {escape(reply.title)} · Communiqué</title></head><body>"
        f"<h1>{reply.status} {escape(reply.title)}</h1>"
        f"<pre>{escape(reply.message)}</pre>"
        f"<dl>{details}<dt>request id</dt><dd>{escape(request_id())}</dd></dl>"
        "</body></html>\n"
    )
