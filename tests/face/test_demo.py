from __future__ import annotations

import argparse
import json

from menwei import demo


def test_demo_without_test_photographs_uses_packaged_images(monkeypatch, capsys):
    """A fresh machine without ../shared still gets an open-set demo from the installed packages."""
    monkeypatch.setattr(demo, "_default_faces", lambda: None)
    assert demo._run(argparse.Namespace(faces=None, json=True, photos=True)) == 0
    report = json.loads(capsys.readouterr().out)
    faces = report["results"][0]["faces"]
    named = [f["identity"] for f in faces if f["identity"]]
    assert len(named) == len(set(named)) >= 4  # the enrolled people, each found once in the mirrored photo
    assert any(f["identity"] is None for f in faces)  # the one left out stays unknown
