"""The REST API (FastAPI): auth, roles and per-compound scoping, routers."""
