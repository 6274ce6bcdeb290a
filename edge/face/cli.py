"""`menwei face embed|match`: the face engine from the command line (JSON contract for scripts)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("face", help="detect, embed and identify faces in photographs",
                       description="Run the face engine on image files.")
    fsub = p.add_subparsers(dest="face_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--pack", default=None, help="model pack (default: dlib-resnet); see `menwei models list`")
        q.add_argument("--accept-license", action="store_true",
                       help="accept the pack's licence (needed for the non-commercial insightface packs)")
        q.add_argument("--detector", choices=("blazeface", "hog"), default=None,
                       help="dlib-resnet: the face detector (default blazeface, which finds masked faces; "
                       "hog is dlib's, as before; docs/FACE.md compares them)")
        q.add_argument("--upsample", type=int, default=None,
                       help="dlib-resnet with --detector hog: upsample the image N times before detecting "
                       "(finds smaller faces)")
        q.add_argument("--json", action="store_true", help="print the machine-readable JSON contract")

    e = fsub.add_parser("embed", help="detect every face and print bbox, landmarks, quality (and embedding)",
                        description="Detect faces, measure quality and embed those that pass it. "
                        "Faces are listed largest first.")
    e.add_argument("images", nargs="+", metavar="IMAGE")
    e.add_argument("--with-embedding", action="store_true", help="include the L2-normalised embedding")
    common(e)
    e.set_defaults(handler=_embed)

    n = fsub.add_parser("enroll", help="enrol a folder of photos into a gallery file",
                        description="DIR holds one sub-folder per identity with one or more photos (each with "
                        "exactly one face). Every photo gives a plain template and masked templates (the face "
                        "painted with masks, docs/FACE.md \"Masks\"); the gallery file is the one gates load.")
    n.add_argument("directory", metavar="DIR", type=Path)
    n.add_argument("--out", required=True, metavar="FILE", type=Path, help="gallery file to write (.npz)")
    n.add_argument("--plain-only", action="store_true", help="no masked templates")
    common(n)
    n.set_defaults(handler=_enroll)

    m = fsub.add_parser("match", help="identify faces in probe photos against a folder gallery",
                        description="DIR holds one sub-folder per identity with one or more photos (each with "
                        "exactly one face). PATH is a photo or a folder searched recursively. Every face of every "
                        "probe is listed, largest first; identity is null below the threshold.")
    m.add_argument("--gallery", required=True, metavar="DIR", type=Path)
    m.add_argument("--probe", required=True, metavar="PATH", type=Path)
    m.add_argument("--threshold", type=float, default=None,
                   help="cosine threshold for every match (default: the pack's, one for plain and one for "
                   "masked templates)")
    m.add_argument("--plain-only", action="store_true", help="enrol the gallery without masked templates")
    common(m)
    m.set_defaults(handler=_match)


def _engine(args):
    from edge.face.engine import DEFAULT_PACK, FaceEngine

    options = {}
    if args.upsample is not None:
        options["upsample"] = args.upsample
    if args.detector is not None:
        options["detector"] = args.detector
    return FaceEngine.load(args.pack or DEFAULT_PACK, accept_license=args.accept_license, **options)


def _progress(total: int, label: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal or total < 3)


def _embed(args) -> int:
    from edge.face.service import embed_images

    engine = _engine(args)
    paths = [Path(p) for p in args.images]
    with _progress(len(paths), "embedding") as bar:
        task = bar.add_task("embed", total=len(paths))
        report = embed_images(engine, paths, with_embedding=args.with_embedding,
                              on_item=lambda: bar.advance(task))
    if args.json:
        json.dump(report, sys.stdout)
        print()
    else:
        _print_embed_table(report)
    return 0


def _templates(args) -> tuple[str, ...]:
    from edge.face.masked import ENROL_TEXTURES

    return () if args.plain_only else ENROL_TEXTURES


def _enroll(args) -> int:
    from edge.face.service import build_folder_gallery

    engine = _engine(args)
    gallery, problems = build_folder_gallery(engine, args.directory, masked_templates=_templates(args))
    for err in problems:
        print(f"menwei: {err['image']}: {err['error']['message']}", file=sys.stderr)
    gallery.save(args.out)
    masked = sum(gallery.row_masked)
    report = {"pack": engine.pack, "gallery": str(args.out), "identities": len(gallery.identities),
              "photos": len(gallery) - masked, "masked_templates": masked, "errors": problems}
    if args.json:
        json.dump(report, sys.stdout)
        print()
    else:
        print(f"{args.out}: {report['identities']} identities, {report['photos']} photos, "
              f"{masked} masked templates ({len(problems)} photos refused)")
    return 0 if len(gallery) else 1


def _match(args) -> int:
    from edge.face.service import build_folder_gallery, match_probes

    engine = _engine(args)
    gallery, gallery_errors = build_folder_gallery(engine, args.gallery, masked_templates=_templates(args))
    for err in gallery_errors:
        print(f"menwei: gallery: {err['image']}: {err['error']['message']}", file=sys.stderr)
    from edge.face.image_io import iter_image_files

    probes = iter_image_files(args.probe)
    with _progress(len(probes), "matching") as bar:
        task = bar.add_task("match", total=len(probes))
        report = match_probes(engine, gallery, probes, threshold=args.threshold,
                              on_item=lambda: bar.advance(task))
    report["gallery"] = {"identities": len(gallery.identities), "photos": gallery.row_masked.count(False),
                         "masked_templates": sum(gallery.row_masked), "errors": gallery_errors}
    if args.json:
        json.dump(report, sys.stdout)
        print()
    else:
        _print_match_table(report)
    return 0


def _print_embed_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"faces (pack {report['pack']})")
    for col in ("image", "bbox", "score", "quality"):
        t.add_column(col)
    for r in report["results"]:
        if r["error"] and not r["faces"]:
            t.add_row(r["image"], "-", "-", f"[red]{r['error']['code']}[/]: {r['error']['message']}")
        for f in r["faces"]:
            q = f["quality"]
            t.add_row(r["image"], str(f["bbox"]), f"{f['score']:.2f}",
                      "ok" if q["ok"] else "[yellow]" + ", ".join(q["problems"]) + "[/]")
    Console().print(t)


def _print_match_table(report: dict) -> None:
    import os

    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"identification (pack {report['pack']}, threshold {report['threshold']:.3f}, "
                    f"masked {report['threshold_masked']:.3f})")
    for col in ("probe", "bbox", "identity", "score", "mask"):
        t.add_column(col)
    names = [r["probe"] for r in report["results"]]
    root = os.path.dirname(os.path.commonpath(names)) if len(names) > 1 else os.path.dirname(names[0]) if names else ""
    for r in report["results"]:
        probe = os.path.relpath(r["probe"], root) if root else r["probe"]
        if r["error"]:
            t.add_row(probe, "-", f"[red]{r['error']['code']}[/]", r["error"]["message"])
        for f in r["faces"]:
            score = "-" if f["score"] is None else f"{f['score']:.3f}"
            ident = f["identity"] or "[yellow]unknown[/]"
            if f.get("quality_problems"):
                ident += f" [dim]({', '.join(f['quality_problems'])})[/]"
            t.add_row(probe, str(f["bbox"]), ident, score, {True: "yes", False: "no"}.get(f.get("masked"), "-"))
    Console().print(t)
