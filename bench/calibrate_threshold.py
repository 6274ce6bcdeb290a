"""Calibrate a pack's open-set threshold on photos kept apart from the identification tests.

Genuine pairs: two enrolment photos of the same person (knn_examples/train/<name>/*).
Impostor pairs: enrolment photos of different people, and the strangers of insightface/ (group photo
t1.jpg, Tom_Hanks) against every enrolment photo. knn_examples/test and misc/ (the probes the tests
check) are not used. Prints both distributions and the threshold halfway between the highest
impostor and the lowest genuine score in cosine (when they separate).

    python bench/calibrate_threshold.py [--pack dlib-resnet] [--faces tests/data/faces]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from edge.face.engine import FaceEngine
from edge.face.image_io import iter_image_files, load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="dlib-resnet")
    ap.add_argument("--accept-license", action="store_true")
    ap.add_argument("--faces", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/faces")
    args = ap.parse_args()
    engine = FaceEngine.load(args.pack, accept_license=args.accept_license)

    enrolled: list[tuple[str, np.ndarray]] = []
    for person in sorted((args.faces / "knn_examples/train").iterdir()):
        for photo in iter_image_files(person):
            enrolled.append((person.name, engine.enrol(load_image(photo)).embedding))
    strangers = []
    for photo in iter_image_files(args.faces / "insightface"):
        strangers += [f.embedding for f in engine.analyse(load_image(photo)) if f.embedding is not None]

    genuine, impostor = [], []
    for (a, ea), (b, eb) in itertools.combinations(enrolled, 2):
        (genuine if a == b else impostor).append(float(ea @ eb))
    impostor += [float(s @ e) for s in strangers for _, e in enrolled]
    genuine, impostor = np.array(genuine), np.array(impostor)
    print(f"pack {engine.pack}: {len(enrolled)} enrolment photos, {len(strangers)} stranger faces")
    print(f"genuine  pairs {len(genuine):4d}: min {genuine.min():.4f} median {np.median(genuine):.4f}")
    print(f"impostor pairs {len(impostor):4d}: max {impostor.max():.4f} median {np.median(impostor):.4f} "
          f"p99 {np.percentile(impostor, 99):.4f}")
    if genuine.min() > impostor.max():
        print(f"separating threshold (midpoint): {(genuine.min() + impostor.max()) / 2:.4f}")
    else:
        print("genuine and impostor scores overlap on this set")


if __name__ == "__main__":
    main()
