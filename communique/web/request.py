"""The app's request class: URL parameters parsed strictly, once per request.

Werkzeug's ``request.args`` keeps invalid percent-encoded bytes and takes any number of
parameters. Here ``request.args`` is parsed by `parse_parameters`, which refuses both, and every
reader (the security checks, the SPARQL endpoint, the access log's query hash, the pages) shares
that one parse. The security hook reads it first, so a bad query string is refused before any
view runs. The parse of a recent query string is kept: percent-decoding a SPARQL query costs tens
of microseconds, and clients send the same URLs again and again.
"""

import functools
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property

from communique.errors import BadRequest

MAX_PARAMETERS = 256
KEPT_QUERY_STRING_BYTES = 16384
"""Query strings up to this size have their parse kept (the last 128: a few MiB at most)."""


def parse_parameters(raw: bytes, where: str) -> list[tuple[str, str]]:
    """``name=value`` pairs of a query string or form body (`where` names it in errors).

    >>> parse_parameters(b"query=ASK%20%7B%7D&format=json&x=", "URL")
    [('query', 'ASK {}'), ('format', 'json'), ('x', '')]

    :raises BadRequest: not UTF-8 once percent-decoded, or more than `MAX_PARAMETERS` pairs.
    """
    try:
        return parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except UnicodeDecodeError:
        raise BadRequest(f"the {where} is not valid UTF-8 once percent-decoded") from None
    except ValueError:
        raise BadRequest(f"the {where} has more than {MAX_PARAMETERS} parameters") from None


class CommuniqueRequest(Request):
    """``request.args`` from `parse_parameters` (raises BadRequest on a bad query string)."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:
        raw = self.query_string
        if len(raw) > KEPT_QUERY_STRING_BYTES:
            return ImmutableMultiDict(parse_parameters(raw, "query string"))
        return ImmutableMultiDict(_kept_query_string(raw))


@functools.lru_cache(maxsize=128)
def _kept_query_string(raw: bytes) -> tuple[tuple[str, str], ...]:
    return tuple(parse_parameters(raw, "query string"))
