"""One error hierarchy for the whole project: each error carries its HTTP status.

Library code raises these and never prints or exits; the web layer turns them into one JSON
shape (``{"error": ..., "status": ...}``) or an HTML page, and the CLI into a message and an
exit status.
"""


class CommuniqueError(Exception):
    """Base of every error Communiqué reports to a user on purpose."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(CommuniqueError):
    status = 400
    title = "Bad Request"


class QuerySyntaxError(BadRequest):
    """A SPARQL query that does not parse; the message says where (line and column)."""

    title = "SPARQL Syntax Error"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


class ForbiddenOperation(BadRequest):
    """An operation the public endpoint refuses: update, LOAD, SERVICE, outside datasets."""

    title = "Operation Not Allowed"


class NotFound(CommuniqueError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(CommuniqueError):
    status = 405
    title = "Method Not Allowed"


class NotAcceptable(CommuniqueError):
    """No offered media type fits the request's Accept header or format parameter."""

    status = 406
    title = "Not Acceptable"

    def __init__(self, message: str, *, offered: list[str]):
        super().__init__(message)
        self.offered = offered


class PayloadTooLarge(CommuniqueError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(CommuniqueError):
    status = 415
    title = "Unsupported Media Type"


class ShapesViolation(CommuniqueError):
    """Data that does not conform to the SHACL shapes; it is never published."""

    status = 422
    title = "Data Does Not Conform"


class TooManyRequests(CommuniqueError):
    status = 429
    title = "Too Many Requests"


class HeaderTooLarge(CommuniqueError):
    status = 431
    title = "Request Header Fields Too Large"


class WorkerCrashed(CommuniqueError):
    """The process evaluating a query died; the service replaced it and goes on."""

    status = 500
    title = "Query Worker Crashed"


class UpstreamError(CommuniqueError):
    """A remote SPARQL endpoint (store, federation, enrichment) failed or answered garbage."""

    status = 502
    title = "Bad Gateway"


class QueryTimeout(CommuniqueError):
    """A query ran past its time limit and was stopped."""

    status = 503
    title = "Query Timeout"


class ServiceUnavailable(CommuniqueError):
    status = 503
    title = "Service Unavailable"


class SettingError(CommuniqueError):
    """A setting out of its range, or an environment variable that does not read as its type."""

    status = 400
    title = "Bad Setting"


class DataError(CommuniqueError):
    """Input data that cannot be read: a syntax error, a missing file, a bad reference.

    The message names the file and, where known, the line and column.
    """

    status = 400
    title = "Unreadable Data"
