"""A gallery rebuild scheduled for a compound that is deleted before it runs is cancelled with the
compound, and one that runs anyway says the compound is gone instead of failing on a foreign key
(issue 8 item 13). On SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from server.api.roles import Role
from server.db.models import GalleryVersion, Site
from server.gallery.publish import Republisher, SiteGone


@pytest.fixture
def slow_republisher(api_any_db):
    """The app's republisher replaced by one whose quiet period outlasts the test's requests."""
    fast = api_any_db.state.republisher
    slow = Republisher(api_any_db.state.gallery, debounce_s=30.0)
    api_any_db.state.republisher = slow
    yield slow
    slow.close()
    api_any_db.state.republisher = fast


def test_rebuild_scheduled_before_the_compound_is_deleted_is_cancelled(api_any_db, slow_republisher, uid,
                                                                       caplog):
    api = api_any_db
    admin = api.add_user("root", Role.ADMIN, [])
    site = f"s{uid}"
    assert api.client.post("/api/v1/sites", json={"id": site, "name": "Lotus"}, headers=admin).status_code == 201
    b = api.client.post(f"/api/v1/sites/{site}/buildings", json={"name": "1"}, headers=admin).json()
    # a rename is shown by gates: it schedules a rebuild, due only after the quiet period
    assert api.client.patch(f"/api/v1/buildings/{b['id']}", json={"name": "1A"}, headers=admin).status_code == 200
    calls = []
    real = api.state.gallery.publish
    api.state.gallery.publish = lambda site_id, **kw: calls.append(site_id) or real(site_id, **kw)
    try:
        with caplog.at_level(logging.INFO, logger="server.gallery.publish"):
            assert api.client.delete(f"/api/v1/sites/{site}", headers=admin).status_code == 204
            assert slow_republisher.flush(10)  # runs whatever is still pending, now
    finally:
        api.state.gallery.publish = real
    assert calls == []  # cancelled with the compound, not attempted
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    with api.sessions() as s:
        assert s.scalar(select(func.count()).select_from(GalleryVersion).where(GalleryVersion.site_id == site)) == 0


def test_publish_for_a_deleted_compound_says_it_is_gone(api_any_db, uid):
    api = api_any_db
    site = f"s{uid}"
    api.add_site(site)
    with api.sessions() as s:
        s.delete(s.get(Site, site))
        s.commit()
    with pytest.raises(SiteGone, match=site):
        api.state.gallery.publish(site)
