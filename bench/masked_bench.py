"""Recognition through masks: masked residents named, masked strangers refused.

Residents are enrolled from their unmasked photos (knn_examples/train), with and without masked
templates (edge/face/masked.py). Probes are the identification tests' photos, never the
calibration ones: the hand-checked, labelled faces of tests/data/faces/face_boxes.json
(knn_examples/test, misc/two_people.jpg, the six faces of insightface/t1.jpg) and the aligned
Tom Hanks crop (a stranger), each plain and painted with every mask texture
(edge/face/masked_probes.py: the detector is left out, bench/detector_bench.py measures it).

For each probe kind and gallery: residents' closed-set rank-1 and open-set "named" (rank-1 and
above the threshold of the matched row's kind), strangers refused, how often the mask flag of
residents' best match (Match.masked, what the gate reports) is right, and how often a stranger's
best row is a masked one (why the gate reports no mask for strangers). --detect adds the whole
engine, detector included, on the painted photos.

    python bench/masked_bench.py [--detect] [--search] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.face.mask_paint import TEXTURES

FACES = Path(__file__).resolve().parents[1] / "tests/data/faces"


def evaluate(engine, gallery, probes, texture) -> dict:
    """Figures for one gallery and one probe kind (texture None: plain probes)."""
    from edge.face.masked_probes import probe_face

    res = {"residents": 0, "rank1": 0, "named": 0, "wrong_named": 0, "strangers": 0, "refused": 0,
           "flag_right": 0, "stranger_masked_row": 0, "embedded": 0, "not_embedded": 0}
    for lf in probes:
        face = probe_face(engine, lf, texture)
        if face.embedding is None:
            res["not_embedded"] += 1
            continue
        res["embedded"] += 1
        best = gallery.search(face.embedding[None], k=1)[0][0]
        accepted = engine.accepts(best)
        if lf.identity is None:
            res["strangers"] += 1
            res["refused"] += not accepted
            res["stranger_masked_row"] += best.masked
        else:
            res["residents"] += 1
            res["flag_right"] += best.masked == (texture is not None)  # the flag the gate reports
            res["rank1"] += best.identity == lf.identity
            res["named"] += accepted and best.identity == lf.identity
            res["wrong_named"] += accepted and best.identity != lf.identity
    return res


def evaluate_detected(engine, gallery, probes, texture) -> dict:
    """The same through the whole engine: every face of a photo masked, the photo detected and
    identified (FaceEngine.identify); a labelled face is found by a detection with IoU >= 0.5."""
    from edge.face.masked_probes import by_photo, painted_photo
    from edge.vision.boxes import iou

    res = {"residents": 0, "named": 0, "wrong_named": 0, "strangers": 0, "refused": 0, "not_found": 0}
    for faces in by_photo(probes).values():
        idents = engine.identify(painted_photo(engine, faces, texture), gallery)
        for lf in faces:
            hit = max(idents, key=lambda i: iou(i.face.bbox, lf.box), default=None)
            if hit is None or iou(hit.face.bbox, lf.box) < 0.5 or hit.face.embedding is None:
                res["not_found"] += 1  # missed, or found but refused by the quality check
                continue
            got = hit.match.identity if hit.match else None
            if lf.identity is None:
                res["strangers"] += 1
                res["refused"] += got is None
            else:
                res["residents"] += 1
                res["named"] += got == lf.identity
                res["wrong_named"] += got is not None and got != lf.identity
    return res


def search_cost(rows_per_identity: int, identities: int = 50000) -> dict:
    """Search time (median ms) and gallery file size for one photo per identity, plain only and
    with its masked templates."""
    import numpy as np

    from edge.benchmark import search_timings
    from edge.face.gallery import Gallery

    out = {}
    for label, r in (("plain", 1), ("with masked templates", rows_per_identity)):
        n = identities * r
        g = Gallery.from_arrays("bench", [f"r{i // r:06d}" for i in range(n)],
                                np.ones((n, 128), np.float32), masked=[i % r != 0 for i in range(n)])
        out[label] = {"rows": n, "search_ms": round(search_timings((identities,), rows_per_identity=r)[str(identities)], 2),
                      "file_mb": round(len(g.to_bytes()) / 1e6, 1)}
    return out


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f} %)" if d else "-"


def main() -> None:
    from edge.face.engine import FaceEngine
    from edge.face.masked import ENROL_TEXTURES
    from edge.face.masked_probes import detected_faces, enrol_folder, labelled_faces, textures

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--search", action="store_true",
                    help="also time 1:N search and the file size for 50,000 identities, with and without "
                    "masked templates")
    ap.add_argument("--detect", action="store_true",
                    help="also run the whole engine (detector included) on the painted photos")
    args = ap.parse_args()
    engine = FaceEngine.load()
    galleries = {"with masked templates": enrol_folder(engine, FACES / "knn_examples/train", ENROL_TEXTURES),
                 "plain templates only": enrol_folder(engine, FACES / "knn_examples/train", ())}
    residents = galleries["plain templates only"].identities
    probes = labelled_faces(FACES, residents) + detected_faces(engine, [FACES / "insightface/Tom_Hanks_54745.png"])
    tex = textures(FACES, TEXTURES)
    kinds = {"plain": None, **{f"mask_{c}": tex[c] for c in TEXTURES}}
    out = {"pack": engine.pack, "threshold": engine.threshold, "threshold_masked": engine.threshold_masked,
           "enrol_textures": list(ENROL_TEXTURES), "results": {}}
    for gname, gallery in galleries.items():
        out["results"][gname] = {k: evaluate(engine, gallery, probes, t) for k, t in kinds.items()}
        masked = [out["results"][gname][k] for k in kinds if k != "plain"]
        out["results"][gname]["all masked"] = {key: sum(r[key] for r in masked) for key in masked[0]}
    if args.detect:
        gallery = galleries["with masked templates"]
        out["detected"] = {k: evaluate_detected(engine, gallery, probes, t) for k, t in kinds.items()}
        masked = [out["detected"][k] for k in kinds if k != "plain"]
        out["detected"]["all masked"] = {key: sum(r[key] for r in masked) for key in masked[0]}
    if args.search:
        out["search_50000"] = search_cost(1 + len(ENROL_TEXTURES))
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"pack {engine.pack}: threshold {engine.threshold} (plain rows), {engine.threshold_masked} (masked rows); "
          f"templates painted with {', '.join(ENROL_TEXTURES)}")
    for gname, rows in out["results"].items():
        print(f"\n{gname}:")
        print(f"{'probes':<12} {'rank-1':<14} {'named':<14} {'wrongly named':<14} {'strangers refused':<18} "
              f"{'mask flag right':<16} {'strangers: best row masked':<27} not embedded")
        for k, r in rows.items():
            print(f"{k:<12} {_pct(r['rank1'], r['residents']):<14} {_pct(r['named'], r['residents']):<14} "
                  f"{r['wrong_named']:<14} {_pct(r['refused'], r['strangers']):<18} "
                  f"{_pct(r['flag_right'], r['residents']):<16} "
                  f"{_pct(r['stranger_masked_row'], r['strangers']):<27} {r['not_embedded']}")
    for label, r in out.get("search_50000", {}).items():
        print(f"\n50,000 identities, {label}: {r['rows']} rows, search {r['search_ms']} ms, file {r['file_mb']} MB",
              end="")
    if "search_50000" in out:
        print()
    if "detected" in out:
        print("\nwhole engine (detector, landmarks, quality, masked templates):")
        print(f"{'probes':<12} {'named':<14} {'wrongly named':<14} {'strangers refused':<18} "
              "not found or refused by quality")
        for k, r in out["detected"].items():
            print(f"{k:<12} {_pct(r['named'], r['residents']):<14} {r['wrong_named']:<14} "
                  f"{_pct(r['refused'], r['strangers']):<18} {r['not_found']}")


if __name__ == "__main__":
    main()
