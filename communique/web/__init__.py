"""The web layer, the only package importing Flask: `app.create_app` and one blueprint per surface."""
