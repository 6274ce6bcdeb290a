"""Calibrate the open-set threshold for masked probes (threshold_masked in the pack manifest) on
the calibration photos of bench/calibrate_threshold.py, never on the photos the identification
tests use (tests/face/test_calibration_set.py keeps them apart).

Templates: every enrolment-set photo (knn_examples/train) with its masked templates
(edge/face/masked.py, ENROL_TEXTURES). Probes: the same photos' faces and the stranger photos'
faces, painted with every mask texture (edge/face/masked_probes.py).
Genuine: a masked probe against the masked templates of the *other* photos of the same person
(never its own photo's templates: that would be the same face twice).
Impostor: a masked probe against the masked templates of every other person (strangers: of
everyone).
The score is the best row per identity, as Gallery.search reports it. Prints both distributions
and the midpoint between the highest impostor and the lowest genuine score when they separate.

    python bench/calibrate_masked.py [--genuine DIR] [--strangers DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.calibrate_threshold import GENUINE, STRANGERS, calibration_photos
from edge.face.mask_paint import TEXTURES

FACES = Path(__file__).resolve().parents[1] / "tests/data/faces"


def masked_scores(engine, genuine_dir: Path = GENUINE, strangers_dir: Path = STRANGERS,
                  probe_textures=TEXTURES) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) cosine scores of masked probes against masked templates."""
    from edge.face.gallery import Gallery
    from edge.face.image_io import load_image
    from edge.face.masked import ENROL_TEXTURES, masked_embeddings
    from edge.face.masked_probes import LabelledFace, detected_faces, probe_face, textures

    people, stranger_photos = calibration_photos(genuine_dir, strangers_dir)
    # one gallery identity per photo, so a probe can leave out its own photo's templates
    templates = Gallery(engine.pack, engine.dim)
    probes: list[tuple[LabelledFace, str, str | None]] = []  # face, photo key, person (None: stranger)
    for person, photo in people:
        image = load_image(photo)
        face = engine.enrol(image, name=str(photo))
        for vec in masked_embeddings(engine, image, face, ENROL_TEXTURES):
            templates.add(str(photo), vec, masked=True)
        probes.append((LabelledFace(photo, face.bbox, person, image), str(photo), person))
    probes += [(lf, str(lf.photo), None) for lf in detected_faces(engine, stranger_photos)]
    person_of = {str(photo): person for person, photo in people}
    row_person = np.asarray([person_of[r] for r in templates.row_ids], dtype=object)
    row_photo = np.asarray(templates.row_ids, dtype=object)

    genuine, impostor = [], []
    tex = textures(FACES, probe_textures)
    for lf, key, person in probes:
        for colour in probe_textures:
            face = probe_face(engine, lf, tex[colour])
            if face.embedding is None:
                continue
            sims = templates.scores(face.embedding[None])[0]
            for other in sorted(set(row_person)):
                rows = (row_person == other) & (row_photo != key)
                if not rows.any():
                    continue
                (genuine if other == person else impostor).append(float(sims[rows].max()))
    return np.asarray(genuine), np.asarray(impostor)


def main() -> None:
    from edge.face.engine import FaceEngine
    from edge.face.masked import ENROL_TEXTURES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genuine", type=Path, default=GENUINE, metavar="DIR")
    ap.add_argument("--strangers", type=Path, default=STRANGERS, metavar="DIR")
    args = ap.parse_args()
    engine = FaceEngine.load()
    genuine, impostor = masked_scores(engine, args.genuine, args.strangers)
    print(f"pack {engine.pack}: masked templates painted with {', '.join(ENROL_TEXTURES)}; "
          f"probes painted with {', '.join(TEXTURES)}")
    print(f"genuine  pairs {len(genuine):4d}: min {genuine.min():.4f} median {np.median(genuine):.4f}")
    print(f"impostor pairs {len(impostor):4d}: max {impostor.max():.4f} median {np.median(impostor):.4f} "
          f"p99 {np.percentile(impostor, 99):.4f}")
    if genuine.min() > impostor.max():
        print(f"separating threshold (midpoint): {(genuine.min() + impostor.max()) / 2:.4f}")
    else:
        print(f"genuine and impostor scores overlap on this set: "
              f"{int((genuine <= impostor.max()).sum())} genuine at or below the highest impostor, "
              f"{int((impostor >= genuine.min()).sum())} impostors at or above the lowest genuine")


if __name__ == "__main__":
    main()
