"""WSGI entry point for any WSGI server: ``gunicorn server:app``.

Settings come from ``COMMUNIQUE_*`` environment variables; `communique serve` is the usual way.
"""

from communique.web.app import create_app

app = create_app()
