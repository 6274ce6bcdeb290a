"""``python -m server.ingest [--config FILE] [--db URL] [--mqtt URL] [--client-id ID] [--site S]…``

The same worker as ``menwei server ingest``; kept runnable on its own so tests can kill -9 it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from menwei.errors import MenweiError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m server.ingest", description=__doc__.splitlines()[0])
    p.add_argument("--config", help="settings file (YAML/JSON); default $MENWEI_CONFIG")
    p.add_argument("--db", help="database URL (default from config/env)")
    p.add_argument("--mqtt", help="broker URL mqtt://user:pass@host:port")
    p.add_argument("--client-id", help="fixed MQTT client id of this worker (persistent session)")
    p.add_argument("--site", action="append", help="only this compound's topics (repeatable)")
    p.add_argument("--shared-group", help="MQTT 5 shared-subscription group")
    p.add_argument("--no-rematch", action="store_true", help="no district re-match of unknown faces")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from server.config import load_settings
    from server.ingest import run_ingest

    try:
        ingest = {k: v for k, v in {"client_id": args.client_id, "sites": args.site,
                                     "shared_group": args.shared_group}.items() if v is not None}
        settings = load_settings(args.config, db_url=args.db, mqtt_url=args.mqtt, ingest=ingest or None)
        counters = run_ingest(settings, rematch=False if args.no_rematch else None,
                              on_started=lambda _w: print("ready", flush=True))
    except MenweiError as exc:
        print(f"menwei: error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(counters, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

