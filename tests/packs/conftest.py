"""The installed insightface package as the reference the pack tests compare with."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def insightface_ref():
    """insightface's own SCRFD, ArcFaceONNX and face_align (installed --no-deps as the tests' reference).

    Its package __init__ pulls in download helpers whose dependencies (requests, tqdm) are not installed;
    the modules we compare with need none of them, so they are imported with empty parent packages.
    """
    spec = importlib.util.find_spec("onnx")
    root = Path(spec.origin).parents[1] / "insightface"
    if not root.is_dir():
        pytest.fail("insightface is not installed in the venv (the Makefile installs it with --no-deps)")
    saved = {k: sys.modules.get(k) for k in ("insightface", "insightface.model_zoo", "insightface.utils")}
    for name, sub in (("insightface", ""), ("insightface.model_zoo", "model_zoo"), ("insightface.utils", "utils")):
        if name not in sys.modules or not hasattr(sys.modules[name], "__path__"):
            mod = types.ModuleType(name)
            mod.__path__ = [str(root / sub) if sub else str(root)]
            # a real package spec: the stub lives until the session ends, and other tests' code
            # (menwei demo's packaged images) asks importlib.util.find_spec("insightface")
            mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
            mod.__spec__.submodule_search_locations = mod.__path__
            sys.modules[name] = mod
    ns = types.SimpleNamespace(
        scrfd=importlib.import_module("insightface.model_zoo.scrfd"),
        arcface=importlib.import_module("insightface.model_zoo.arcface_onnx"),
        face_align=importlib.import_module("insightface.utils.face_align"),
    )
    yield ns
    for k, v in saved.items():
        if v is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = v
