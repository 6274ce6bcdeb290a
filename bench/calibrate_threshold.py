"""Calibrate a pack's open-set threshold on photos kept apart from what the tests check.

Genuine pairs: two photos of the same person in --genuine DIR (DIR/<name>/*; default the
enrolment photos, knn_examples/train: the tests use them as the gallery but never as probes).
Impostor pairs: photos of different people there, and every face in --strangers DIR (default
tests/data/calibration/strangers: a photo no test uses) against every one of them. The probes and strangers
the tests check (knn_examples/test, misc/, insightface/: Tom Hanks and the group photo t1.jpg are
the tests' unknown people) are never used; tests/face/test_calibration_set.py keeps it so.
Prints both distributions and the threshold halfway between the highest impostor and the lowest
genuine cosine score (when they separate).

    python bench/calibrate_threshold.py [--pack dlib-resnet] [--genuine DIR] [--strangers DIR]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from edge.face.image_io import iter_image_files

FACES = Path(__file__).resolve().parents[1] / "tests/data/faces"
GENUINE = FACES / "knn_examples/train"
# outside faces/: everything there also calibrates the int8 network (quantize.py), which must not change
STRANGERS = FACES.parent / "calibration/strangers"


def calibration_photos(genuine: Path = GENUINE, strangers: Path = STRANGERS) -> tuple[list[tuple[str, Path]], list[Path]]:
    """(person, photo) of every genuine-set photo, and the stranger photos."""
    people = [(p.name, photo) for p in sorted(genuine.iterdir()) if p.is_dir() for photo in iter_image_files(p)]
    return people, list(iter_image_files(strangers))


def main() -> None:
    from edge.face.engine import FaceEngine
    from edge.face.image_io import load_image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="dlib-resnet")
    ap.add_argument("--accept-license", action="store_true")
    ap.add_argument("--genuine", type=Path, default=GENUINE, metavar="DIR",
                    help="one sub-folder per person, two or more photos each for genuine pairs")
    ap.add_argument("--strangers", type=Path, default=STRANGERS, metavar="DIR",
                    help="photos of people in no sub-folder of --genuine (every face is an impostor)")
    args = ap.parse_args()
    engine = FaceEngine.load(args.pack, accept_license=args.accept_license)
    people, stranger_photos = calibration_photos(args.genuine, args.strangers)

    enrolled = [(name, engine.enrol(load_image(photo)).embedding) for name, photo in people]
    strangers = [f.embedding for photo in stranger_photos for f in engine.analyse(load_image(photo))
                 if f.embedding is not None]

    genuine, impostor = [], []
    for (a, ea), (b, eb) in itertools.combinations(enrolled, 2):
        (genuine if a == b else impostor).append(float(ea @ eb))
    impostor += [float(s @ e) for s in strangers for _, e in enrolled]
    genuine, impostor = np.array(genuine), np.array(impostor)
    print(f"pack {engine.pack}: {len(enrolled)} photos of {len({n for n, _ in people})} people, "
          f"{len(strangers)} stranger faces")
    print(f"genuine  pairs {len(genuine):4d}: min {genuine.min():.4f} median {np.median(genuine):.4f}")
    print(f"impostor pairs {len(impostor):4d}: max {impostor.max():.4f} median {np.median(impostor):.4f} "
          f"p99 {np.percentile(impostor, 99):.4f}")
    if genuine.min() > impostor.max():
        print(f"separating threshold (midpoint): {(genuine.min() + impostor.max()) / 2:.4f}")
    else:
        print("genuine and impostor scores overlap on this set")


if __name__ == "__main__":
    main()
