"""`menwei models …`: list, fetch, verify and build model packs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch, verify and build face model packs",
                       description="Face model packs: manifests in models/, files in the local cache.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = msub.add_parser("list", help="list known packs and whether they are installed")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=_list)

    ft = msub.add_parser(
        "fetch", help="download a pack from its official URLs (resumable, size + sha256 checked)",
        description="Download a pack's files into the model cache: resumes an interrupted download, "
        "checks size and sha256 of every file (and of every member taken from a zip) and installs "
        "them only when all checks pass. MENWEI_MODELS_MIRROR=http://host:port replaces the "
        "scheme and host of every URL.")
    ft.add_argument("name", help="pack name (see `menwei models list`)")
    ft.add_argument("--force", action="store_true", help="download again even if the installed files verify")
    ft.add_argument("--trust-unpinned", action="store_true",
                    help="install files that have no published sha256 (checked on size alone)")
    ft.add_argument("--keep-archive", action="store_true",
                    help="keep the downloaded zip next to the extracted files")
    ft.add_argument("--no-progress", action="store_true", help="no progress bar")
    ft.add_argument("--json", action="store_true", help="machine-readable summary")
    ft.set_defaults(handler=_fetch)

    vf = msub.add_parser("verify", help="check sizes and sha256 of a pack's files")
    vf.add_argument("name")
    vf.add_argument("--json", action="store_true", help="machine-readable output")
    vf.set_defaults(handler=_verify)

    bd = msub.add_parser("build", help="build a pack's derived files (dlib-resnet: dlib .dat → ONNX)")
    bd.add_argument("name")
    bd.add_argument("--force", action="store_true", help="rebuild even if a verified build exists")
    bd.add_argument("--int8", action="store_true",
                    help="also build the optional int8 (static QDQ) network, calibrated on face photos")
    bd.add_argument("--calibration", type=Path, default=None, metavar="DIR",
                    help="face photographs for int8 calibration (default: the shared test photos, "
                    "else the insightface package's images)")
    bd.set_defaults(handler=_build)


def _list(args) -> int:
    from edge.modelpack.manifest import list_manifests
    from edge.modelpack.store import PackStore

    store = PackStore()
    rows = []
    for m in list_manifests():
        checks = [store.check_file(m, f, hash_it=False) for f in m.files if f.role != "archive"]
        rows.append({
            "name": m.name,
            "installed": all(c.ok for c in checks),
            "licence": m.licence.name,
            "commercial_use": m.licence.commercial_use,
            "accept_required": m.licence.accept_required,
            "threshold": m.threshold,
            "description": m.description,
        })
    if args.json:
        print(json.dumps({"packs": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Model packs")
    for col in ("name", "installed", "licence", "description"):
        table.add_column(col)
    for r in rows:
        lic = r["licence"] + ("" if r["commercial_use"] else "  [bold red](NON-COMMERCIAL)[/]")
        table.add_row(r["name"], "yes" if r["installed"] else "no", lic, r["description"])
    console = Console()
    console.print(table)
    restricted = [r["name"] for r in rows if not r["commercial_use"]]
    if restricted:
        console.print(f"[bold red]NON-COMMERCIAL:[/] {', '.join(restricted)} — research use only; loading them "
                      "needs accept_license: true in the config or --accept-license.")
    return 0


def _fetch(args) -> int:
    from edge.modelpack.fetch import Fetcher, NullProgress, RichProgress, print_licence_banner
    from edge.modelpack.manifest import FileSource, load_manifest

    m = load_manifest(args.name)
    if not any(f.source is FileSource.URL for f in m.files):
        print(f"pack {m.name}: nothing to download (its files ship in a Python package or are built "
              f"locally; see `menwei models verify {m.name}` and `menwei models build {m.name}`)")
        return 0
    print_licence_banner(m)
    progress = NullProgress() if (args.no_progress or args.json) else RichProgress()
    try:
        report = Fetcher(progress=progress, trust_unpinned=args.trust_unpinned,
                         keep_archive=args.keep_archive).fetch(m, force=args.force)
    finally:
        close = getattr(progress, "close", None)
        if close:
            close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for name in report.up_to_date:
            print(f"{name}: already installed and verified")
        for name in report.installed:
            print(f"{name}: installed")
        print(f"pack {m.name}: ready")
    return 0


def _verify(args) -> int:
    from edge.modelpack.manifest import load_manifest
    from edge.modelpack.store import PackStore

    m = load_manifest(args.name)
    checks = PackStore().verify(m)
    ok = all(c.ok for c in checks)
    if args.json:
        print(json.dumps({"pack": m.name, "ok": ok, "files": [c.__dict__ for c in checks]}, indent=2))
    else:
        for c in checks:
            print(f"{'ok ' if c.ok else 'BAD'}  {c.name}  {c.problem or ''}".rstrip())
        print(f"pack {m.name}: {'verified' if ok else 'NOT verified'}")
    return 0 if ok else 1


def _build(args) -> int:
    from edge.modelpack.build import build_file
    from edge.modelpack.manifest import FileSource, load_manifest
    from edge.modelpack.store import PackStore

    m = load_manifest(args.name)
    store = PackStore()
    built = [f for f in m.files if f.source is FileSource.BUILD and (args.int8 or not f.optional)]
    if not built:
        print(f"pack {m.name}: nothing to build")
        return 0
    for f in built:
        if not args.force and store.check_file(m, f).ok:
            print(f"{f.name}: up to date")
            continue
        out = build_file(store, m, f, progress=lambda msg: print(f"  {msg}", flush=True),
                         calibration=args.calibration)
        print(f"{f.name}: built → {out}")
    return 0
