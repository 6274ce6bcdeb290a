"""`menwei models …`: list, fetch, verify and build model packs."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch, verify and build face model packs",
                       description="Face model packs: manifests in models/, files in the local cache.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = msub.add_parser("list", help="list known packs and whether they are installed")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=_list)

    vf = msub.add_parser("verify", help="check sizes and sha256 of a pack's files")
    vf.add_argument("name")
    vf.add_argument("--json", action="store_true", help="machine-readable output")
    vf.set_defaults(handler=_verify)

    bd = msub.add_parser("build", help="build a pack's derived files (dlib-resnet: dlib .dat → ONNX)")
    bd.add_argument("name")
    bd.add_argument("--force", action="store_true", help="rebuild even if a verified build exists")
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
    Console().print(table)
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
    built = [f for f in m.files if f.source is FileSource.BUILD]
    if not built:
        print(f"pack {m.name}: nothing to build")
        return 0
    for f in built:
        if not args.force and store.check_file(m, f).ok:
            print(f"{f.name}: up to date")
            continue
        out = build_file(store, m, f, progress=lambda msg: print(f"  {msg}", flush=True))
        print(f"{f.name}: built → {out}")
    return 0
