"""The server's database: SQLAlchemy 2 models for every table, Alembic migrations, session helpers.

Works on SQLite (embedded default) and PostgreSQL (production). Import models from
``server.db.models`` and engines/sessions from ``server.db.session``.
"""
