"""``GET /lookup?iri=…``: from an external identifier to our resource, through ``owl:sameAs``.

``iri`` is an absolute http(s) IRI or a prefixed name of a known prefix (``wd:Q22686``); the
common spellings of Wikidata and GeoNames IRIs (page URLs, https, without the final slash) are
read as the entity IRI (see `communique.external_links`). Answers: 303 to the local URL of our
resource linked to it (the first by IRI order when several are), 404 when none is, 400 when
``iri`` is missing, repeated or not an IRI.
"""

from flask import Blueprint, Flask, Response, request

from communique.errors import BadRequest, NotFound
from communique.external_links import resources_same_as, same_as_candidates
from communique.web.conditional import cacheable, client_has_current, etag_for, not_modified
from communique.web.page_support import page_store, url_builder

blueprint = Blueprint("lookup", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)


@blueprint.route("/lookup")
def lookup() -> Response:
    values = request.args.getlist("iri")
    if len(values) > 1:
        raise BadRequest(f"'iri' was given {len(values)} times; give it once")
    candidates = same_as_candidates(values[0] if values else "")
    etag = etag_for("lookup", candidates, request.script_root)
    if client_has_current(etag):
        return not_modified(etag)
    urls = url_builder()
    found = resources_same_as(page_store(), candidates, urls.is_ours)
    if not found:
        raise NotFound(f"no resource here is the same as <{candidates[0]}>")
    response = Response(status=303)
    response.headers["Location"] = urls.local_url(found[0])
    return cacheable(response, etag)
