"""API fixtures: an app on a real database and the real Mosquitto, users of each role, photos."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# pytest puts tests/ on sys.path (tests/conftest.py is not in a package), where tests/server/ and
# tests/server/api/ would shadow the real `server` and `server.api` as namespace packages; with the
# repository itself on the path the regular package wins. If a namespace `server` was imported
# before this ran, point it at the real package (no module is imported twice).
_REPO = str(Path(__file__).resolve().parents[3])
if _REPO not in sys.path:
    sys.path.append(_REPO)
if "server" in sys.modules and getattr(sys.modules["server"], "__file__", None) is None:
    sys.modules["server"].__path__ = [str(Path(_REPO) / "server")]

import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import cv2  # noqa: E402
import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from server.api.app import create_app  # noqa: E402
from server.api.broker import PahoPublisher  # noqa: E402
from server.api.roles import Role  # noqa: E402
from server.api.routers.auth import create_user  # noqa: E402
from server.api.settings import ApiSettings  # noqa: E402
from server.db.models import Site  # noqa: E402
from server.db.session import make_engine, session_factory, upgrade  # noqa: E402
from server.registry.faces import EngineHolder  # noqa: E402

FACES = Path(os.environ.get("MENWEI_TESTDATA") or Path(_REPO) / "tests" / "data") / "faces"
TRAIN = FACES / "knn_examples" / "train"
PASSWORD = "s3cret-pass"


@pytest.fixture(scope="session")
def face_engine() -> EngineHolder:
    """One real engine for the whole session (loading it costs seconds)."""
    from edge.face.engine import FaceEngine

    holder = EngineHolder("dlib-resnet")
    holder.set(FaceEngine.load("dlib-resnet"))
    return holder


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> dict[str, bytes]:
    """Real photos: one face each, three faces, no face (a face-free part of a real photo), corrupt."""
    out = {
        "obama": (TRAIN / "obama" / "obama.jpg").read_bytes(),
        "obama2": (TRAIN / "obama" / "obama2.jpg").read_bytes(),
        "biden": (TRAIN / "biden" / "biden.jpg").read_bytes(),
        "kit": (TRAIN / "kit_harington" / "john1.jpeg").read_bytes(),
        "rose": (TRAIN / "rose_leslie" / "img1.jpg").read_bytes(),
        "alex": (TRAIN / "alex_lacamoire" / "img1.jpg").read_bytes(),
        "group": (FACES / "knn_examples" / "test" / "obama_and_biden.jpg").read_bytes(),
    }
    img = cv2.imread(str(FACES / "misc" / "obama-720p.jpg"))
    ok, buf = cv2.imencode(".png", img[:, :300])  # the left strip of the frame: wall, no face
    assert ok
    out["noface"] = buf.tobytes()
    out["corrupt"] = out["obama"][: len(out["obama"]) // 3]  # a truncated JPEG
    return out


@dataclass
class Api:
    client: TestClient
    app: object
    sessions: object
    url: str

    def token(self, username: str, password: str = PASSWORD) -> str:
        r = self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def as_user(self, username: str) -> dict:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def add_user(self, username: str, role: Role, sites: list[str]) -> dict:
        with self.sessions() as s:
            create_user(s, username, PASSWORD, role, sites, rounds=4)
            s.commit()
        return self.as_user(username)

    def add_site(self, site_id: str) -> None:
        with self.sessions() as s:
            s.add(Site(id=site_id, name=f"compound {site_id}"))
            s.commit()

    @property
    def state(self):
        return self.app.state.menwei


def build_api(url: str, tmp_path: Path, engine: EngineHolder | None, publisher=None) -> Iterator[Api]:
    upgrade(url)
    eng = make_engine(url)
    sessions = session_factory(eng)
    settings = ApiSettings(secret="t" * 40, bcrypt_rounds=4, gallery_debounce_s=0.0,
                           public_url="http://testserver", timezone="Asia/Shanghai")
    app = create_app(settings, sessions, publisher=publisher, engine=engine)
    with TestClient(app) as client:
        yield Api(client, app, sessions, url)
    eng.dispose()


@pytest.fixture
def mqtt_publisher(broker_url):
    from menwei.mqtt import SessionOptions, connect

    client = connect(broker_url, SessionOptions(client_id=f"api-test-{uuid.uuid4().hex[:8]}", persistent=False))
    pub = PahoPublisher(client)
    yield pub
    pub.close()


@pytest.fixture
def api(tmp_path, face_engine, mqtt_publisher) -> Iterator[Api]:
    """The app on SQLite (most API behaviour does not depend on the database)."""
    yield from build_api(f"sqlite:///{tmp_path / 'api.db'}", tmp_path, face_engine, mqtt_publisher)


@pytest.fixture
def api_any_db(db_url, tmp_path, face_engine, mqtt_publisher) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL (S1's db_url fixture: a fresh database per test)."""
    yield from build_api(db_url, tmp_path, face_engine, mqtt_publisher)
