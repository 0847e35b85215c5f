"""The web layer, the only package importing Flask: `app.create_app`, one blueprint per surface."""
