"""`menwei server …`: init, run (API + ingestion), ingest, import-residents, add-user, retention,
broker-files, provision-gate, publish-galleries.

Every command takes --config FILE (or $MENWEI_CONFIG) and the MENWEI_* environment (see
server/config.py); flags override both. Heavy imports stay inside handlers so `menwei --help` is
instant on a gate box.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from menwei.errors import MenweiError


class CliError(MenweiError):
    code = "cli"


def register(subparsers) -> None:
    p = subparsers.add_parser("server", help="the central server: registry, ingestion, REST API",
                              description="The central server: registry, ingestion, REST API, galleries.")
    sub = p.add_subparsers(dest="server_command", metavar="SUBCOMMAND", required=True)

    def common(sp, *, mqtt: bool = False, listen: bool = False):
        sp.add_argument("--config", help="settings file (YAML/JSON); default $MENWEI_CONFIG")
        sp.add_argument("--db", help="database URL, sqlite:///PATH or postgresql://… (default: config/env, "
                                     "else SQLite in the data dir)")
        sp.add_argument("--data-dir", help="where the SQLite database and the token secret live")
        if mqtt:
            sp.add_argument("--mqtt", help="broker URL mqtt://user:pass@host:1883 (run: omitted = in-process broker)")
        if listen:
            sp.add_argument("--listen", help="HOST:PORT of the API (default 127.0.0.1:8080)")
            sp.add_argument("--public-url", help="base URL gates use to download galleries")

    sp = sub.add_parser("init", help="create/upgrade the schema and the first admin",
                        description="Create or upgrade the database schema and create the first admin. The "
                                    "password is read from stdin (one line) or from --password-file.")
    common(sp)
    sp.add_argument("--admin", required=True, metavar="NAME", help="username of the first admin")
    sp.add_argument("--password-file", type=Path, help="read the admin password from this file")
    sp.add_argument("--json", action="store_true", help="print the result as JSON")
    sp.set_defaults(handler=cmd_init)

    sp = sub.add_parser("run", help="API + ingestion in one process",
                        description="Start the REST API (uvicorn) and the ingest worker. Without --mqtt (and no "
                                    "mqtt_url in config/env) an in-process amqtt broker is started on "
                                    "--embedded-broker.")
    common(sp, mqtt=True, listen=True)
    sp.add_argument("--embedded-broker", default="127.0.0.1:1883", metavar="HOST:PORT",
                    help="where the in-process broker listens when no --mqtt is given (default %(default)s)")
    sp.add_argument("--no-ingest", action="store_true", help="API only (ingestion runs elsewhere)")
    sp.add_argument("--no-retention", action="store_true", help="do not purge periodically in this process")
    sp.set_defaults(handler=cmd_run)

    sp = sub.add_parser("ingest", help="only the ingest worker (several may run with MQTT 5 shared subscriptions)")
    common(sp, mqtt=True)
    sp.add_argument("--client-id", help="fixed MQTT client id of this worker (its persistent session); "
                                        "default: a random id kept in the data dir")
    sp.add_argument("--retire", action="store_true",
                    help="do not run: end this worker's broker session (and its share of the shared "
                         "subscription) for good, then exit")
    sp.set_defaults(handler=cmd_ingest)

    sp = sub.add_parser("import-residents", help="import a residents CSV and enrol their photos",
                        description="Import residents from CSV (columns: resident_id, name, building, unit, "
                                    "household, status, valid_from, valid_until, phone) and enrol photos named "
                                    "<resident_id>.jpg/.png from --photos. Exit code 1 when some rows were "
                                    "rejected (all good rows are kept).")
    common(sp, mqtt=True)
    sp.add_argument("--site", required=True, help="compound id")
    sp.add_argument("csv", type=Path, metavar="FILE.csv")
    sp.add_argument("--photos", type=Path, metavar="DIR", help="folder of photos named by resident id")
    sp.add_argument("--create-units", action="store_true",
                    help="create buildings/units named in the CSV that are not in the registry yet")
    sp.add_argument("--as-user", default="cli", help="name recorded in the audit log (default %(default)s)")
    sp.add_argument("--json", action="store_true", help="print the per-row report as JSON")
    sp.set_defaults(handler=cmd_import)

    sp = sub.add_parser("add-user", help="add a user (password from stdin or --password-file)")
    common(sp)
    sp.add_argument("username")
    sp.add_argument("--role", required=True, choices=["guard", "property_manager", "community_officer", "admin"])
    sp.add_argument("--site", action="append", default=[], help="a compound the user sees (repeatable)")
    sp.add_argument("--password-file", type=Path)
    sp.set_defaults(handler=cmd_add_user)

    sp = sub.add_parser("retention", help="purge face crops/embeddings/rows past the retention policy")
    common(sp, mqtt=True)
    sp.add_argument("--dry-run", action="store_true", help="count only")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler=cmd_retention)

    sp = sub.add_parser("publish-galleries", help="build and announce every compound's gallery now")
    common(sp, mqtt=True)
    sp.add_argument("--site", action="append", help="only these compounds (repeatable)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler=cmd_publish)

    sp = sub.add_parser("broker-files", help="write Mosquitto password + ACL files for every gate",
                        description="Write passwd (0600) and acl for Mosquitto (password_file / acl_file); "
                                    "send Mosquitto SIGHUP afterwards to reload them.")
    common(sp)
    sp.add_argument("--out", type=Path, required=True, help="folder for passwd and acl")
    sp.add_argument("--server-user", help="MQTT account of the server (full access under menwei/v1/); "
                                          "may not start with 'gate.' (the gates' namespace)")
    sp.add_argument("--server-password-file", type=Path, help="its password")
    sp.add_argument("--gate-listener", metavar="HOST:PORT",
                    help="with --server-listener: also write menwei-listeners.conf, whose gate listener "
                         "binds client ids to user names")
    sp.add_argument("--server-listener", metavar="HOST:PORT", help="the listener of the API and ingest workers")
    sp.add_argument("--tls-cert", type=Path, metavar="FILE",
                    help="with --tls-key and both listeners: write a complete production mosquitto.conf "
                         "(TLS gate listener, persistence, limits; docs/DEPLOY.md) using this certificate")
    sp.add_argument("--tls-key", type=Path, metavar="FILE", help="the broker certificate's private key")
    sp.add_argument("--ca", type=Path, metavar="FILE",
                    help="check that --tls-cert was issued by this CA (the one in the gates' bundles)")
    sp.add_argument("--persistence-dir", type=Path, default=Path("/var/lib/mosquitto"), metavar="DIR",
                    help="mosquitto.conf: persistence_location (default %(default)s)")
    sp.add_argument("--pid-file", type=Path, metavar="FILE", help="mosquitto.conf: pid_file")
    sp.add_argument("--reload", type=Path, metavar="PIDFILE",
                    help="afterwards send SIGHUP to the Mosquitto whose pid is in PIDFILE (Debian: "
                         "/run/mosquitto/mosquitto.pid) so it rereads passwd and acl")
    sp.set_defaults(handler=cmd_broker_files)

    sp = sub.add_parser(
        "provision-gate", help="set a NEW MQTT password for a gate and write its install bundle",
        description="Sets a NEW MQTT password for GATE (only its hash is stored, as with POST "
                    "/gates/{id}/credentials): the gate's previous password stops working once the broker "
                    "files are rewritten (broker-files, or --broker-dir here) and Mosquitto is reloaded. "
                    "Writes one bundle for the technician (YAML, mode 0600; it holds the password: keep it "
                    "secret): the gate file and the broker's CA certificate, installed on the box by "
                    "`menwei edge install BUNDLE`. The gate must exist and be active.")
    common(sp, mqtt=True)
    sp.add_argument("gate", metavar="GATE", help="the gate id")
    sp.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the bundle")
    sp.add_argument("--force", action="store_true", help="replace --out if it exists")
    sp.add_argument("--broker", required=True, metavar="URL",
                    help="the broker as the gate reaches it, mqtts://HOST:8883 (no user or password)")
    sp.add_argument("--ca", type=Path, metavar="FILE",
                    help="CA certificate of the broker's TLS certificate (put into the bundle); without it "
                         "the gate trusts the system's CAs")
    sp.add_argument("--server-url", metavar="URL",
                    help="where the gate downloads galleries (default: public_url of the settings)")
    sp.add_argument("--direction", choices=["in", "out"], help="for a gate registered as 'both': this box's")
    sp.add_argument("--template", type=Path, metavar="FILE",
                    help="a gate file whose device sections (camera, thermal, door, page, ...) go into the "
                         "bundle; site, gate, direction, mqtt.url and server come from the registry")
    sp.add_argument("--allow-plain", action="store_true", help="accept an mqtt:// broker (labs only)")
    sp.add_argument("--broker-dir", type=Path, metavar="DIR",
                    help="also rewrite passwd and acl in DIR (as broker-files wrote them; other accounts "
                         "there are kept)")
    sp.add_argument("--reload", type=Path, metavar="PIDFILE",
                    help="with --broker-dir: send SIGHUP to the Mosquitto whose pid is in PIDFILE")
    sp.add_argument("--json", action="store_true", help="print the result as JSON (never the password)")
    sp.set_defaults(handler=cmd_provision_gate)


# ------------------------------------------------------------------------------------ helpers
def _settings(args):
    from server.config import load_settings

    over = {"db_url": getattr(args, "db", None), "mqtt_url": getattr(args, "mqtt", None),
            "listen": getattr(args, "listen", None), "public_url": getattr(args, "public_url", None),
            "data_dir": getattr(args, "data_dir", None)}
    settings = load_settings(args.config, **over)
    if args.db is None and _db_from_default(args, settings):
        # no database named anywhere: SQLite inside the data dir (not relative to the default path)
        settings = settings.model_copy(update={"db_url": f"sqlite:///{Path(settings.data_dir) / 'server.db'}"})
    return settings


def _db_from_default(args, settings) -> bool:
    import os

    from server.config import ENV_CONFIG_FILE, Settings

    if os.environ.get("MENWEI_DB_URL") or os.environ.get(ENV_CONFIG_FILE) or args.config:
        return False
    return settings.db_url == Settings.model_fields["db_url"].default


def _read_password(path: Path | None) -> str:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read password file {path}: {exc.strerror}") from None
    else:
        if sys.stdin.isatty():
            import getpass

            text = getpass.getpass("password: ")
        else:
            text = sys.stdin.readline()
    password = text.rstrip("\r\n")
    if not password:
        raise CliError("empty password (give it on stdin or with --password-file)")
    return password


def _open_db(settings, *, create: bool = False):
    from sqlalchemy.exc import SQLAlchemyError

    from server.db.session import DatabaseError, current_revision, make_engine, session_factory, upgrade

    engine = make_engine(settings.db_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        if create:
            upgrade(engine)
        elif current_revision(engine) is None:
            raise DatabaseError("the database has no schema yet: run `menwei server init` first")
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot open database: {str(exc).splitlines()[0]}") from None
    return engine, session_factory(engine)


def _publisher(settings, client_id: str):
    """A publisher on the configured broker, or a NullPublisher when none is configured."""
    from server.api.broker import NullPublisher, PahoPublisher

    if not settings.mqtt_url:
        return NullPublisher()
    from menwei.mqtt import SessionOptions, connect

    return PahoPublisher(connect(settings.mqtt_url, SessionOptions(client_id=client_id, persistent=False)))


def _gallery_service(settings, sessions, publisher, engine_holder=None):
    from edge.modelpack.manifest import load_manifest
    from server.api.settings import ApiSettings
    from server.gallery.links import LinkSigner, gate_generations
    from server.gallery.publish import GalleryService

    api = ApiSettings.from_server(settings)
    signer = LinkSigner(api.resolve_secret(), api.public_url, gate_generations(sessions))
    return GalleryService(sessions, publisher, signer, settings.pack,
                          lambda: load_manifest(settings.pack).embedding_dim,
                          masked_templates=settings.gallery_masked_templates)


def _client_id(kind: str) -> str:
    import os
    import socket

    return f"menwei-{kind}-{socket.gethostname()[:20]}-{os.getpid()}"


# ----------------------------------------------------------------------------------- commands
def cmd_init(args) -> int:
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.audit import Actor, record

    settings = _settings(args)
    password = _read_password(args.password_file)
    engine, sessions = _open_db(settings, create=True)
    try:
        with sessions() as s:
            user = create_user(s, args.admin, password, Role.ADMIN, [])
            record(s, Actor("cli:init"), "create", "user", user.id, None, {"username": args.admin, "role": "admin"})
            s.commit()
            uid = user.id
    finally:
        engine.dispose()
    result = {"db": _redact(settings.db_url), "admin": args.admin, "user_id": uid}
    print(json.dumps(result) if args.json else f"schema ready on {result['db']}; admin {args.admin!r} created")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_add_user(args) -> int:
    from server.api.roles import Role
    from server.api.routers.auth import create_user
    from server.audit import Actor, record

    settings = _settings(args)
    password = _read_password(args.password_file)
    engine, sessions = _open_db(settings)
    try:
        with sessions() as s:
            user = create_user(s, args.username, password, Role(args.role), args.site)
            record(s, Actor("cli"), "create", "user", user.id, None,
                   {"username": args.username, "role": args.role, "sites": args.site})
            s.commit()
    finally:
        engine.dispose()
    print(f"user {args.username!r} ({args.role}) created")
    return 0


def cmd_import(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from server.api.broker import BrokerUnavailable
    from server.audit import Actor
    from server.registry.faces import EngineHolder
    from server.registry.import_csv import DirPhotos, import_residents

    settings = _settings(args)
    try:
        data = args.csv.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.csv}: {exc.strerror}") from None
    photos = DirPhotos(args.photos, 10 * 1024 * 1024) if args.photos else None
    engine, sessions = _open_db(settings)
    console = Console(stderr=True)
    holder = EngineHolder(settings.pack)
    try:
        with console.status("loading the face engine…"):
            holder.get()
        progress = Progress(TextColumn("[bold]importing"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[last]}"), TimeRemainingColumn(), console=console,
                            transient=args.json)
        with progress:
            task = progress.add_task("import", total=None, last="")

            def tick(done: int, total: int, row) -> None:
                progress.update(task, completed=done, total=total, last=f"{row.resident_id}: {row.result}")

            report = import_residents(sessions, args.site, data, photos, holder, Actor(args.as_user),
                                      create_units=args.create_units, progress=tick)
        publisher = _publisher(settings, _client_id("import"))
        try:
            published = _gallery_service(settings, sessions, publisher).publish(args.site)
            gallery = {"version": published.version, "announced": published.announced}
        except BrokerUnavailable as exc:
            gallery = {"announced": 0, "note": exc.message}
        finally:
            close = getattr(publisher, "close", None)
            if close:
                close()
    finally:
        engine.dispose()
    out = report.as_dict() | {"gallery": gallery}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_report(console, report, gallery)
    return 0 if report.kept == len(report.rows) else 1


def _print_report(console, report, gallery) -> None:
    from rich.table import Table

    bad = [r for r in report.rows if not r.kept]
    if bad:
        t = Table(title="rows not imported", show_lines=False)
        for col in ("line", "resident_id", "result", "detail"):
            t.add_column(col)
        for r in bad:
            t.add_row(str(r.line), r.resident_id, r.result, (r.detail or "")[:100])
        console.print(t)
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    console.print(f"{report.kept} of {len(report.rows)} rows kept ({counts})")
    if "version" in gallery:
        console.print(f"gallery v{gallery['version']} announced to {gallery['announced']} gate(s)")
    else:
        console.print(f"gallery not announced: {gallery.get('note')}")


def cmd_retention(args) -> int:
    from server.retention import run_retention

    settings = _settings(args)
    report = run_retention(settings, dry_run=args.dry_run)
    out = report.as_dict()
    if report.sites_changed and not args.dry_run and settings.mqtt_url:
        out["galleries"] = _publish_sites(settings, report.sites_changed)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


def _publish_sites(settings, site_ids) -> dict:
    engine, sessions = _open_db(settings)
    publisher = _publisher(settings, _client_id("publish"))
    try:
        svc = _gallery_service(settings, sessions, publisher)
        return {sid: svc.publish(sid).version for sid in site_ids}
    finally:
        close = getattr(publisher, "close", None)
        if close:
            close()
        engine.dispose()


def cmd_publish(args) -> int:
    from sqlalchemy import select

    from server.db.models import Site

    settings = _settings(args)
    if not settings.mqtt_url:
        raise CliError("no MQTT broker: pass --mqtt or set mqtt_url")
    engine, sessions = _open_db(settings)
    with sessions() as s:
        sites = args.site or list(s.scalars(select(Site.id).order_by(Site.id)))
    engine.dispose()
    out = _publish_sites(settings, sites)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: v{v}" for k, v in out.items()))
    return 0


def _active_gate_accounts(sessions):
    from sqlalchemy import select

    from server.broker_auth import GateAccount
    from server.db.models import Gate

    with sessions() as s:
        return [GateAccount(g.site_id, g.id, g.mqtt_password_hash)
                for g in s.scalars(select(Gate).where(Gate.active.is_(True))) if g.mqtt_password_hash]


def _reload_broker(pid_file: Path) -> str:
    """SIGHUP to Mosquitto: it rereads passwd and acl (and drops connections whose login no longer holds)."""
    import os
    import signal

    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        raise CliError(f"cannot read a pid from {pid_file}; reload Mosquitto yourself "
                       "(systemctl reload mosquitto)") from None
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise CliError(f"no process {pid} (from {pid_file}): is Mosquitto running?") from None
    except PermissionError:
        raise CliError(f"not allowed to signal Mosquitto (pid {pid}); run as root or "
                       "`systemctl reload mosquitto`") from None
    return f"sent SIGHUP to Mosquitto (pid {pid})"


def cmd_broker_files(args) -> int:
    from server.broker_auth import check_server_user, hash_password, write_files
    from server.broker_conf import BrokerTls, Listener, check_tls, production_conf

    if args.server_user is not None:
        check_server_user(args.server_user)  # before asking for its password
    if bool(args.gate_listener) != bool(args.server_listener):
        raise CliError("--gate-listener and --server-listener go together")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise CliError("--tls-cert and --tls-key go together")
    conf = None
    if args.tls_cert:
        if not args.gate_listener:
            raise CliError("--tls-cert needs --gate-listener and --server-listener (e.g. 0.0.0.0:8883 and "
                           "127.0.0.1:1883)")
        tls = BrokerTls(args.tls_cert, args.tls_key)
        check_tls(tls, args.ca)
        conf = production_conf(args.out, Listener.parse(args.gate_listener), Listener.parse(args.server_listener),
                               tls, persistence_dir=args.persistence_dir, pid_file=args.pid_file)
    elif args.ca:
        raise CliError("--ca checks --tls-cert; give both")
    settings = _settings(args)
    engine, sessions = _open_db(settings)
    try:
        gates = _active_gate_accounts(sessions)
    finally:
        engine.dispose()
    server_hash = None
    if args.server_user:
        server_hash = hash_password(_read_password(args.server_password_file))
    pw, acl = write_files(args.out, gates, args.server_user, server_hash, gate_listener=args.gate_listener,
                          server_listener=args.server_listener, conf=conf)
    extra = [str(args.out / "menwei-listeners.conf")] if args.gate_listener else []
    extra += [str(args.out / "mosquitto.conf")] if conf else []
    conf_note = f" and {', '.join(extra)}" if extra else ""
    print(f"wrote {pw}, {acl}{conf_note} ({len(gates)} gate(s))")
    if args.reload:
        print(_reload_broker(args.reload))
    else:
        print("reload Mosquitto now (SIGHUP: systemctl reload mosquitto)"
              + ("; a new or changed mosquitto.conf needs a restart" if conf else ""))
    return 0


def cmd_provision_gate(args) -> int:
    import yaml

    from server.broker_auth import refresh_gate_accounts
    from server.provision import BundleSpec, provision_gate, read_ca

    if args.reload and not args.broker_dir:
        raise CliError("--reload goes with --broker-dir")
    settings = _settings(args)
    server_url = args.server_url or settings.public_url
    if not server_url:
        raise CliError("no server URL for the gate: pass --server-url https://HOST (or set public_url)")
    template = None
    if args.template:
        try:
            template = yaml.safe_load(args.template.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CliError(f"cannot read template {args.template}: {getattr(exc, 'strerror', None) or 'not YAML'}") from None
        if not isinstance(template, dict):
            raise CliError(f"template {args.template}: expected a gate file (a mapping)")
    spec = BundleSpec(broker=args.broker, server_url=server_url, ca_pem=read_ca(args.ca) if args.ca else None,
                      direction=args.direction, template=template, allow_plain=args.allow_plain)
    engine, sessions = _open_db(settings)
    lines = []
    try:
        done = provision_gate(sessions, args.gate, spec, args.out, force=args.force)
        lines.append(f"new MQTT password for {done.username} (gate {done.gate_id} of {done.site_id}); "
                     f"bundle written to {done.out} (0600, secret)")
        result = {"gate": done.gate_id, "site": done.site_id, "username": done.username, "bundle": str(done.out),
                  "broker_files": None, "reloaded": False, "gallery": None}
        if args.broker_dir:
            try:
                pw, acl = refresh_gate_accounts(args.broker_dir, _active_gate_accounts(sessions))
                result["broker_files"] = str(args.broker_dir)
                lines.append(f"rewrote {pw} and {acl}")
                if args.reload:
                    lines.append(_reload_broker(args.reload))
                    result["reloaded"] = True
            except MenweiError as exc:  # the new password is committed and in the bundle: say so
                raise CliError(f"bundle for {done.gate_id} written to {done.out} (new password), but the broker "
                               f"files were not updated: {exc.message}") from None
        result["gallery"] = _announce_gallery(settings, sessions, done.site_id, done.gate_id)
        lines.append(f"gallery link: {result['gallery']}")
    finally:
        engine.dispose()
    if not result["reloaded"]:
        lines.append("the old password works until the broker files are rewritten (menwei server broker-files) "
                     "and Mosquitto reloaded")
    print(json.dumps(result) if args.json else "\n".join(lines))
    return 0


def _announce_gallery(settings, sessions, site_id: str, gate_id: str) -> str:
    """The gallery link is signed for the gate's password hash: the old one died with it."""
    from menwei.mqtt import MqttError
    from server.api.broker import BrokerUnavailable

    if not settings.mqtt_url:
        return "not announced (no mqtt_url: the gate gets one with the next publish-galleries)"
    try:
        publisher = _publisher(settings, _client_id("provision"))
    except MqttError as exc:
        return f"not announced ({exc.message}); run publish-galleries later"
    try:
        announced = _gallery_service(settings, sessions, publisher).announce_gate(site_id, gate_id)
        return "announced, signed for the new password" if announced else "none yet (the compound has no gallery)"
    except BrokerUnavailable as exc:
        return f"not announced ({exc.message}); run publish-galleries later"
    finally:
        close = getattr(publisher, "close", None)
        if close:
            close()


def cmd_ingest(args) -> int:
    from server.ingest import run_ingest

    settings = _settings(args)
    if args.client_id:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(
            update={"client_id": args.client_id})})
    if args.retire:
        from menwei.mqtt import MqttError, end_session
        from server.ingest.identity import resolve_client_id

        if not settings.mqtt_url:
            raise CliError("no MQTT broker: pass --mqtt or set mqtt_url")
        client_id = resolve_client_id(settings)
        try:
            had = end_session(settings.mqtt_url, client_id)
        except MqttError as exc:
            raise CliError(f"cannot retire {client_id}: {exc.message}") from None
        print(f"ingest: session of {client_id} {'ended' if had else 'was not on the broker (nothing to end)'}")
        return 0
    counters = run_ingest(settings, on_started=lambda _w: print("ingest: running (Ctrl-C stops)", flush=True))
    print(json.dumps(counters, sort_keys=True))
    return 0


def cmd_run(args) -> int:
    from menwei.sdnotify import ServiceNotifier
    from server.api.runner import run_server

    settings = _settings(args)
    host, _, port = args.embedded_broker.rpartition(":")
    if not host or not port.isdigit():
        raise CliError("--embedded-broker must be HOST:PORT")
    return run_server(settings, embedded_broker=(host, int(port)), ingest=not args.no_ingest,
                      retention=not args.no_retention, notifier=ServiceNotifier.from_env())
