"""`menwei demo`: the whole system on one machine (menwei/demo_system.py), or with --photos the
face engine alone on still photographs.

--photos enrols the train folders of the test photographs, identifies the test photos and prints
a table. Where that folder is absent it builds a small open-set demo from the images shipped in
the installed insightface package (faces cut from a group photo, one left out as a stranger).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from menwei import demo_system

    p = sub.add_parser("demo", help="the whole system on this machine: server, web UI and a simulated gate",
                       description=demo_system.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8080, help="the web UI and API port (default 8080)")
    p.add_argument("--broker-port", type=int, default=18830, help="the in-process MQTT broker's port (default 18830)")
    p.add_argument("--data-dir", help="keep the demo's database and logs here (default: a temporary folder, removed)")
    p.add_argument("--password", help="the demo users' password (default: a random one, printed)")
    p.add_argument("--loops", type=int, default=None, help="play the gate's video this many times (default: until Ctrl-C)")
    p.add_argument("--photos", action="store_true", help="only the face engine on still photographs (no server)")
    p.add_argument("--faces", type=Path, default=None,
                   help="--photos: folder with knn_examples/train and knn_examples/test (default: tests/data/faces)")
    p.add_argument("--json", action="store_true", help="--photos: print the match report as JSON")
    p.set_defaults(handler=lambda args: _run(args) if args.photos else demo_system.run(args))


def _default_faces() -> Path | None:
    here = Path(__file__).resolve().parents[1]
    for cand in (here / "tests" / "data" / "faces", here / "testdata" / "faces"):
        if (cand / "knn_examples" / "train").is_dir():
            return cand
    return None


def _packaged_demo(workdir: Path) -> tuple[Path, Path]:
    """Gallery and probe built from insightface's bundled group photo (t1.jpg, six people)."""
    import cv2

    from edge.face.engine import FaceEngine
    from edge.face.image_io import load_image

    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("menwei: demo: no test photographs found and insightface's images are not installed")
    photo = Path(list(spec.submodule_search_locations)[0]) / "data" / "images" / "t1.jpg"
    img = load_image(photo)
    faces = [f for f in FaceEngine.load().analyse(img) if f.embedding is not None]
    gallery, probes = workdir / "gallery", workdir / "probe"
    probes.mkdir(parents=True)
    for i, f in enumerate(faces[:-1]):  # the last (smallest) face stays out: the stranger
        x, y, w, h = f.bbox
        m = w // 2
        crop = img[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
        (gallery / f"person-{i + 1}").mkdir(parents=True)
        cv2.imwrite(str(gallery / f"person-{i + 1}" / "enrol.jpg"), crop)
    cv2.imwrite(str(probes / "t1_mirrored.jpg"), cv2.flip(img, 1))
    return gallery, probes


def _run(args) -> int:
    from edge.face.cli import _print_match_table
    from edge.face.engine import FaceEngine
    from edge.face.image_io import iter_image_files
    from edge.face.service import build_folder_gallery, match_probes

    if args.faces is not None and not (args.faces / "knn_examples" / "train").is_dir():
        from menwei.errors import MenweiError

        raise MenweiError(f"{args.faces}: no knn_examples/train folder in it")
    faces = args.faces or _default_faces()
    with tempfile.TemporaryDirectory() as tmp:
        if faces is not None:
            gallery_dir, probe_dir = faces / "knn_examples" / "train", faces / "knn_examples" / "test"
            source = str(faces)
        else:
            gallery_dir, probe_dir = _packaged_demo(Path(tmp))
            source = "insightface's bundled t1.jpg (no test photographs found)"
        engine = FaceEngine.load()
        print(f"menwei demo: pack {engine.pack}, photographs from {source}", file=sys.stderr)
        gallery, problems = build_folder_gallery(engine, gallery_dir)
        for p in problems:
            print(f"menwei: gallery: {p['image']}: {p['error']['message']}", file=sys.stderr)
        print(f"enrolled {len(gallery)} photos of {len(gallery.identities)} people", file=sys.stderr)
        report = match_probes(engine, gallery, iter_image_files(probe_dir))
    if args.json:
        print(json.dumps(report))
    else:
        _print_match_table(report)
    return 0
