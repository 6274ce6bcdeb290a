"""The error body is what /openapi.json says it is, on every operation, and a constraint the
database enforced is reported as what it was: a duplicate is a 409, a missing reference or value a
422 — never "already exists" for everything (issue 8 item 13)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from server.api.deps import Ctx
from server.api.roles import Principal, Role
from server.api.routers._registry import commit_unique
from server.db.constraints import Violation, violation_of
from server.db.models import Site, Unit
from server.registry.service import Conflict, InvalidInput

DECLARED = ("400", "401", "403", "404", "409", "422")


def _refs(schema: dict) -> set[str]:
    if "$ref" in schema:
        return {schema["$ref"].rsplit("/", 1)[1]}
    return {r for s in schema.get("anyOf", []) for r in _refs(s)}


def test_every_operation_declares_the_error_body(api):
    spec = api.client.get("/openapi.json").json()
    body = spec["components"]["schemas"]["ErrorBody"]
    assert body["properties"]["detail"]["type"] == "string"
    assert body["properties"]["code"]["type"] == "string"
    assert set(body["required"]) == {"detail", "code"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    operations = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 59
    for method, path, op in operations:
        for status in DECLARED:
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert "ErrorBody" in _refs(schema), (method, path, status)


def test_a_body_that_cannot_be_parsed_is_400_with_the_error_body(api):
    admin = api.add_user("root", Role.ADMIN, [])
    r = api.client.post("/api/v1/sites", content=b'{"id": "\xff\xfe"}',
                        headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail", "code"} and r.json()["code"] == "bad_request"


def _ctx(sessions) -> Ctx:
    return Ctx(Principal(1, "root", Role.ADMIN, None), sessions(), None, None)


def test_a_missing_reference_is_not_reported_as_a_duplicate(sessions):
    ctx = _ctx(sessions)
    ctx.s.add(Unit(building_id=999_999, name="1"))  # no such building
    with pytest.raises(InvalidInput, match="does not exist") as caught:
        commit_unique(ctx, "unit 1")
    assert "already exists" not in caught.value.message


def test_a_duplicate_is_still_a_conflict(sessions):
    with sessions() as s:
        s.add(Site(id="a", name="A"))
        s.commit()
    ctx = _ctx(sessions)
    ctx.s.add(Site(id="a", name="again"))
    with pytest.raises(Conflict, match="site a already exists"):
        commit_unique(ctx, "site a")


@pytest.mark.parametrize(("row", "kind"), [
    (lambda: Unit(building_id=999_999, name="1"), Violation.FOREIGN_KEY),
    (lambda: Site(id="b", name=None), Violation.NOT_NULL),
])
def test_violations_are_told_apart_on_both_databases(sessions, row, kind):
    with sessions() as s:
        s.add(row())
        with pytest.raises(IntegrityError) as caught:
            s.commit()
    assert violation_of(caught.value) is kind
