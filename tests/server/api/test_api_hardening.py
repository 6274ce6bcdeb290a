"""Issue 8 item 7: SQL parameters out of tracebacks, formula cells in exports, GET /users audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.roles import Role
from server.api.routers.entries import _cell
from server.db.models import AuditLog, Site
from server.db.session import make_engine, session_factory, upgrade


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", " =1+1", "\t=1", "\r=1",
                                  "＝1+1", "＋1", "－1", "＠SUM(A1)"])
def test_export_cell_neutralises_formula_starters(text):
    # OWASP CSV injection: spreadsheets trim a leading space and read full-width signs as formulas
    assert _cell(text) == "'" + text


@pytest.mark.parametrize("text", ["张伟", "Alice", "1-2", ""])
def test_export_cell_leaves_plain_text(text):
    assert _cell(text) == text


def test_sql_parameters_stay_out_of_error_messages(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    eng = make_engine(url)
    secret_name = "Secret Resident Name 13800138000"
    try:
        sessions = session_factory(eng)
        with sessions() as s:
            s.add(Site(id="dup", name="first"))
            s.commit()
        with sessions() as s:
            s.add(Site(id="dup", name=secret_name))
            with pytest.raises(IntegrityError) as info:
                s.commit()
        assert secret_name not in str(info.value)
    finally:
        eng.dispose()


def test_listing_users_is_audited(api):
    admin = api.add_user("root", Role.ADMIN, [])
    assert api.client.get("/api/v1/users", headers=admin).status_code == 200
    with api.sessions() as s:
        rows = s.execute(select(AuditLog.username, AuditLog.action, AuditLog.object_type)).all()
    assert ("root", "read", "user") in rows
