"""The API against its own published schema (issue 8 item 13).

Schemathesis reads /openapi.json from the app in-process (ASGI, no socket) and sends generated
requests — valid and invalid — to every operation with an admin's token. Each answer must not be a
5xx, and its status code and body must be ones the schema declares for that operation: the
OpenAPI document tells clients the truth about errors, bounds and bodies.

Each operation is its own test: positive and negative cases from schemathesis' strategies, driven
by Hypothesis (derandomized, so a failure reproduces). Schemathesis' own pytest loader
(`from_fixture`) does not run on pytest 9, hence the plain parametrisation. The examples per
operation are bounded so the file takes about 50 s on a 2-core machine; MENWEI_FUZZ_EXAMPLES=200
for a deeper run, MENWEI_FUZZ_DB=postgresql to run it on PostgreSQL.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_kit import create_pg_database, drop_pg_database
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from server.api.app import create_app
from server.api.roles import Role
from server.api.routers.auth import create_user
from server.api.settings import ApiSettings
from server.db.session import make_engine, session_factory, upgrade

EXAMPLES = int(os.environ.get("MENWEI_FUZZ_EXAMPLES", "40"))
DB = os.environ.get("MENWEI_FUZZ_DB", "sqlite")
# an id the generator will practically never produce, so a fuzzed PATCH /users/{id} cannot disable
# or demote the account the run authenticates with
ADMIN_ID = 7_340_033
PASSWORD = "fuzz-pass-123"


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory, pg_admin_url_if_asked):
    """SQLite by default (MENWEI_FUZZ_DB=postgresql for a run on PostgreSQL)."""
    if pg_admin_url_if_asked is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'api.db'}"
        upgrade(url)
        yield url
        return
    url = create_pg_database(pg_admin_url_if_asked)
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(pg_admin_url_if_asked, url)


@pytest.fixture(scope="module")
def pg_admin_url_if_asked(request):
    return request.getfixturevalue("pg_admin_url") if DB == "postgresql" else None


@pytest.fixture(scope="module")
def fuzz_app(fuzz_db, face_engine):
    eng = make_engine(fuzz_db)
    sessions = session_factory(eng)
    settings_ = ApiSettings(secret="f" * 40, bcrypt_rounds=4, gallery_debounce_s=0.0,
                            public_url="http://testserver", timezone="Asia/Shanghai")
    app = create_app(settings_, sessions, engine=face_engine)
    yield app, sessions
    app.state.menwei.republisher.close()
    eng.dispose()


@pytest.fixture(scope="module")
def admin_headers(fuzz_app):
    app, sessions = fuzz_app
    with sessions() as s:
        user = create_user(s, "fuzz-admin", PASSWORD, Role.ADMIN, [], rounds=4)
        s.flush()
        user.id = ADMIN_ID
        s.commit()
    from fastapi.testclient import TestClient
    with TestClient(app) as c:
        r = c.post("/api/v1/auth/token", data={"username": "fuzz-admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app[0])


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the app publishes, read from an app on a throwaway database."""
    app = create_app(ApiSettings(secret="f" * 40, public_url="http://testserver"),
                     session_factory(make_engine("sqlite://")))
    app.state.menwei.republisher.close()
    return [(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops]


CASES = {"n": 0}


@pytest.fixture(scope="module", autouse=True)
def report_cases(request):
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None and CASES["n"]:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\nschema fuzz ({DB}): {CASES['n']} cases")


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda v: v)
def test_operation_answers_as_its_schema_says(api_schema, admin_headers, fuzz_app, method, path):
    op = api_schema[path][method]
    closing = fuzz_app[0].state.menwei.closing
    if path == "/api/v1/live/entries":
        # an SSE stream is endless and an in-process client never disconnects (each case took
        # its 9 s timeout): as at shutdown, the stream answers `ready` and ends, so its status,
        # headers and parameter checks are fuzzed with a finite body
        closing.set()
    cases = st.one_of(op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE))

    @given(cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case):
        CASES["n"] += 1
        case.call_and_validate(headers=admin_headers, checks=CHECKS)

    try:
        run()
    finally:
        closing.clear()
