"""The `menwei` command: one entry point; each part registers its own sub-commands.

Each module listed in COMMAND_GROUPS exposes ``register(subparsers)`` and keeps heavy imports
inside its handlers, so ``menwei --help`` stays instant on a gate box.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from menwei import __version__
from menwei.errors import MenweiError

COMMAND_GROUPS = [
    "edge.face.cli",
    "edge.cli",
    "edge.modelpack.cli",
    "edge.thermal.cli",
    "server.cli",
    "menwei.bench",
    "menwei.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="menwei",
        description="Menwei (門衛) — gatekeeper for residential-compound entrances: face recognition, "
        "thermal screening, durable entry logging and the central registry.",
    )
    parser.add_argument("--version", action="version", version=f"menwei {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # a part not built yet (or stripped from a slim gate image) simply has no commands
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from edge.runtime import configure_opencv

    configure_opencv()  # one place decides thread counts for the box (edge/runtime.py)
    try:
        return int(args.handler(args) or 0)
    except MenweiError as exc:
        print(f"menwei: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("menwei: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `menwei ... | head`: the reader left; nothing to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
