"""`menwei edge …`: the gate from the command line: `run` (the agent), `check-config`, `install` (a
bundle from `menwei server provision-gate`), `status`, `replay`, `page-password` (the hash of the
status page's password for the gate file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="the gate pipeline: replay a video through detection, recognition, "
                       "thermal reading and the decision policy",
                       description="Run the gate's pipeline without a broker or a door.")
    esub = p.add_subparsers(dest="edge_command", metavar="ACTION", required=True)
    r = esub.add_parser(
        "replay", help="run the whole pipeline on a video file as fast as it goes",
        description="Every frame of VIDEO goes through detection, tracking, quality gating, embedding, "
        "1:N match against the folder gallery, thermal reading and the decision policy; each person gets "
        "one decision, printed as a table (or JSON with --json). Latency is processing time from the frame "
        "where the face was first detected to its decision.")
    r.add_argument("--source", required=True, metavar="VIDEO", type=Path,
                   help="a video file (or a folder of images, read in name order)")
    r.add_argument("--gallery", required=True, metavar="DIR", type=Path,
                   help="one sub-folder per identity with its enrolment photos (as for `menwei face match`)")
    r.add_argument("--thermal", choices=("sim", "none"), default="none",
                   help="sim: thermal frames rendered by the simulator from the scene's ground truth "
                   "(--truth); none: no thermal sensor (temperature unavailable)")
    r.add_argument("--truth", metavar="FILE", type=Path, default=None,
                   help="ground truth written by the synthetic scene (default: VIDEO with suffix .truth.json)")
    r.add_argument("--precision", choices=("fp32", "int8"), default="fp32", help="face network precision")
    r.add_argument("--json", action="store_true", help="print the machine-readable JSON contract")
    r.set_defaults(handler=_replay)

    run = esub.add_parser(
        "run", help="run the gate: camera, recognition, door, outbox and the link to the server",
        description="Runs the gate described by a gate file (YAML): every decision is committed to the durable "
        "outbox before the door acts and is sent to the server until its ack arrives; commands, the gallery and "
        "the config come back over MQTT. Stops on SIGINT/SIGTERM. See docs/GATE.md.")
    run.add_argument("--config", required=True, type=Path, metavar="FILE", help="the gate file")
    run.add_argument("--exit-when-drained", action="store_true",
                     help="with a file or folder source: exit 0 once it has ended and every event is acked")
    run.set_defaults(handler=_run)
    chk = esub.add_parser("check-config", help="validate a gate file (errors name the field)",
                          description="Reads the gate file and checks every key; prints 'ok' or one line per "
                          "problem and exits 2.")
    chk.add_argument("file", type=Path, metavar="FILE")
    chk.add_argument("--json", action="store_true", help="print the validated config as JSON")
    chk.set_defaults(handler=_check_config)
    ins = esub.add_parser(
        "install", help="install a gate bundle from `menwei server provision-gate` on this box",
        description="Puts the bundle's gate file (DIR/gate.yaml, 0600, owned by --user when run as root) and CA "
        "certificate (DIR/ca.pem) in place, pointing the broker URL at that CA; validates the gate file as "
        "check-config does; makes the data dir (0700); and connects to the broker once with the gate's "
        "credentials. One line per step; exit 0 when every step passed, 2 otherwise. Stop the agent first: "
        "the test connection uses the gate's own client id.")
    ins.add_argument("bundle", type=Path, metavar="BUNDLE")
    ins.add_argument("--dir", type=Path, help="where gate.yaml and ca.pem go (default /etc/menwei/<gate>, "
                     "which the unit menwei-gate@<gate> reads)")
    ins.add_argument("--data-dir", type=Path, help="the gate's data dir (default: the bundle's, "
                     "/var/lib/menwei/<gate>); one per gate")
    ins.add_argument("--user", default="menwei", help="as root: the service user who owns the gate file and data "
                     "dir (default %(default)s); not root: files stay yours")
    ins.add_argument("--force", action="store_true", help="replace an installed gate file (rotation, a box moved "
                     "to another gate)")
    ins.add_argument("--keep-devices", action="store_true", help="with --force: keep camera, thermal, door, page "
                     "... from the gate file being replaced; only identity, broker and server come from the bundle")
    ins.add_argument("--no-connect", action="store_true", help="skip the test connection to the broker")
    ins.add_argument("--json", action="store_true", help="print the steps as JSON")
    ins.set_defaults(handler=_install)
    st = esub.add_parser("status", help="the gate's outbox, seqs, gallery and link state from its data dir",
                         description="Reads the gate's data dir (works whether or not the agent runs).")
    st.add_argument("--config", required=True, type=Path, metavar="FILE", help="the gate file")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(handler=_status)
    pw = esub.add_parser("page-password", help="hash a password for the gate file's page.password_hash",
                         description="Reads the status page's password from stdin (asks for it on a terminal) "
                         "and prints its salted scrypt hash for `page: {password_hash: ...}`; the password "
                         "itself is stored nowhere.")
    pw.set_defaults(handler=_page_password)
    _register_door(esub)


def _register_door(esub) -> None:
    door = esub.add_parser("door", help="check the door wiring before the gate goes live (relay, Wiegand)",
                           description="Installer tools: switch the door relay once, or show the Wiegand frame "
                           "the gate would send for a card.")
    dsub = door.add_subparsers(dest="door_command", metavar="ACTION", required=True)
    pulse = dsub.add_parser("pulse", help="close the relay, wait, open it again, and print what was sent",
                            description="Sends the relay board's own commands (CH340/LCUS: A0 <channel> <on> <sum>) "
                            "and prints each frame in hex. The lock should release for --ms milliseconds.")
    pulse.add_argument("--driver", choices=("ch340",), required=True, help="the relay board")
    pulse.add_argument("--port", required=True, help="its serial device, e.g. /dev/ttyUSB0")
    pulse.add_argument("--channel", type=int, default=1, help="which relay of the board (1-4; default 1)")
    pulse.add_argument("--ms", type=int, default=500, help="how long the relay stays closed (default 500)")
    pulse.add_argument("--json", action="store_true", help="print the frames as JSON")
    pulse.set_defaults(handler=_door_pulse)
    wg = dsub.add_parser("wiegand", help="the Wiegand-26 frame for a facility code and card number",
                         description="Prints the 26 bits (even parity, 8-bit facility, 16-bit card, odd parity) "
                         "the gate would send to an access controller.")
    wg.add_argument("--facility", type=int, required=True, help="facility (site) code, 0-255")
    wg.add_argument("--card", type=int, required=True, help="card number, 0-65535")
    wg.add_argument("--json", action="store_true", help='print {"bits", "facility", "card"}')
    wg.set_defaults(handler=_door_wiegand)


def _door_pulse(args) -> int:
    import time

    from edge.door.ch340 import Ch340Relay

    if not 1 <= args.ms <= 60000:
        raise _fail("--ms: must be 1..60000")
    if not 1 <= args.channel <= 4:
        raise _fail("--channel: must be 1..4")
    relay = Ch340Relay(args.port, args.channel)
    try:
        sent = [("on", relay.set(True))]
        time.sleep(args.ms / 1000)
        sent.append(("off", relay.set(False)))
    finally:
        relay.close()
    if args.json:
        print(json.dumps({"port": args.port, "channel": args.channel, "ms": args.ms,
                          "sent": [{"state": state, "hex": data.hex(" ")} for state, data in sent]}))
    else:
        for state, data in sent:
            print(f"sent {data.hex(' ').upper()}  (relay {args.channel} {state})")
    return 0


def _door_wiegand(args) -> int:
    from edge.door.wiegand import encode_26

    try:
        bits = encode_26(args.facility, args.card)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if args.json:
        print(json.dumps({"bits": bits, "facility": args.facility, "card": args.card}))
    else:
        print(f"{bits}  (even parity {bits[0]}, facility {bits[1:9]}, card {bits[9:25]}, odd parity {bits[25]})")
    return 0


def _fail(message: str):
    from menwei.errors import MenweiError

    return MenweiError(message, "bad_input")


def _thermal(args, width: int, height: int):
    from edge.capture.synthetic import load_truth
    from edge.pipeline.thermal_reading import ThermalReader
    from edge.pipeline.thermal_sim import TrueFace, TruthThermalFrames

    path = args.truth or args.source.with_suffix(".truth.json")
    try:
        truth = load_truth(path)
    except FileNotFoundError:
        raise _fail(f"--truth: {path}: not found (--thermal sim renders the scene's ground truth)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(f"--truth: {path}: not a scene ground-truth file ({exc})") from None
    frames = TruthThermalFrames([[TrueFace(f.box, f.core_temperature_c) for f in faces] for faces in truth],
                                (width, height))
    return ThermalReader(frames, frames.gate_config(), frames.profile)


def _probe_size(source) -> tuple[int, int, int | None]:
    """(width, height, frame count or None) from the first frame; the source is left closed."""
    source.open()
    try:
        first = source.read()
        count = getattr(source, "frame_count", None)
    finally:
        source.close()
    if first is None:
        raise _fail(f"--source: {getattr(source, 'name', 'source')}: no frame could be decoded")
    h, w = first.image.shape[:2]
    return w, h, count


def _replay(args) -> int:
    from edge.capture.source import open_source
    from edge.face.engine import FaceEngine
    from edge.face.service import build_folder_gallery
    from edge.pipeline.loop import GatePipeline
    from edge.pipeline.replay import replay

    _quiet_opencv()
    source = open_source(str(args.source))
    width, height, count = _probe_size(source)  # bad video: one line before any model is loaded
    if not args.gallery.is_dir():
        raise _fail(f"--gallery: {args.gallery}: not a folder")
    engine = FaceEngine.load(precision=args.precision)
    gallery, problems = build_folder_gallery(engine, args.gallery)
    for err in problems:
        print(f"menwei: gallery: {err['image']}: {err['error']['message']}", file=sys.stderr)
    if len(gallery) == 0:
        raise _fail(f"--gallery: {args.gallery}: no photo could be enrolled (one sub-folder per identity)")
    thermal = _thermal(args, width, height) if args.thermal == "sim" else None
    pipeline = GatePipeline(engine, gallery, thermal=thermal)
    with _progress(count) as bar:
        task = bar.add_task("replay", total=count)
        result = replay(source, pipeline, on_frame=lambda _i: bar.advance(task))
    if args.json:
        json.dump(result.as_json(), sys.stdout)
        print()
    else:
        _print_table(result, args)
    return 0


def _quiet_opencv() -> None:
    """OpenCV's own warnings about an unreadable file would come before our one-line error."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _progress(total: int | None):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


def _print_table(result, args) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"decisions ({args.source.name}, thermal {args.thermal})")
    for col in ("track", "identity", "score", "decision", "reasons", "temperature", "frames", "latency ms"):
        t.add_column(col)
    colour = {"granted": "green", "denied": "red", "alert": "yellow"}
    for d in result.decisions:
        temp = f"{d.temperature_c:.1f} °C" if d.temperature_c is not None else d.temperature_status
        t.add_row(str(d.track_id), d.identity or "[yellow]unknown[/]", "-" if d.score is None else f"{d.score:.3f}",
                  f"[{colour.get(d.decision, 'white')}]{d.decision}[/]", ", ".join(d.reasons), temp,
                  f"{d.first_frame}→{d.decided_frame}", f"{d.latency_ms:.1f}")
    console = Console()
    console.print(t)
    j = result.as_json()
    p50, p95 = j["latency_ms"]["p50"], j["latency_ms"]["p95"]
    console.print(f"{result.frames} frames at {result.fps:.1f} fps ({result.corrupt} corrupt skipped); "
                  f"{len(result.decisions)} decisions; latency p50 {p50 if p50 is not None else '-'} ms, "
                  f"p95 {p95 if p95 is not None else '-'} ms")


def _run(args) -> int:
    import signal

    from edge.agent.agent import GateAgent
    from edge.agent.config import load_gate_config
    from menwei.sdnotify import ServiceNotifier

    cfg = load_gate_config(args.config)
    _quiet_opencv()
    agent = GateAgent(cfg, notifier=ServiceNotifier.from_env())

    def _stop(_sig, _frame):
        agent.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    page = None
    if cfg.page is not None:
        from edge.page.serve import start_page

        page = start_page(agent, cfg.page)
    try:
        return agent.run(exit_when_drained=args.exit_when_drained)
    finally:
        if page is not None:
            page.stop()


def _page_password(_args) -> int:
    import getpass

    from edge.page.password import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("page password: ")
        if getpass.getpass("again: ") != password:
            raise _fail("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise _fail("the page password needs at least 8 characters")
    print(hash_password(password))
    return 0


def _check_config(args) -> int:
    from edge.agent.config import load_gate_config
    from menwei.mqtt import redact_url

    cfg = load_gate_config(args.file)
    if args.json:
        data = json.loads(cfg.model_dump_json())
        data["mqtt"]["url"] = redact_url(data["mqtt"]["url"])  # the gate's password stays in its file
        print(json.dumps(data, indent=2))
    else:
        print(f"ok: gate {cfg.gate} of {cfg.site} ({cfg.direction}), camera {cfg.camera.source}, "
              f"thermal {cfg.thermal.sensor}, door {cfg.door.driver}")
    return 0


def _install(args) -> int:
    from edge.install import Options, install

    opts = Options(directory=args.dir, data_dir=args.data_dir, user=args.user, force=args.force,
                   keep_devices=args.keep_devices, connect=not args.no_connect)

    def show(step) -> None:
        print(f"{'ok  ' if step.ok else 'FAIL'} {step.step}: {step.detail}", flush=True)

    report = install(args.bundle, opts, None if args.json else show)
    if args.json:
        print(json.dumps(report.as_dict()))
    return 0 if report.ok else 2


def _status(args) -> int:
    from edge.agent.config import load_gate_config
    from edge.agent.status import gate_status

    status = gate_status(load_gate_config(args.config))
    if args.json:
        print(json.dumps(status, default=str))
        return 0
    ob = status["outbox"]
    print(f"gate {status['gate']} of {status['site']}: {'online' if status['online'] else 'offline'}"
          f"{'' if status['agent_running'] else ' (agent not running)'}")
    oldest = f" from seq {ob['oldest_seq']}" if ob["oldest_seq"] else ""
    print(f"  seq {status['last_seq']}, acked {status['acked_seq']}, outbox {ob['depth']} waiting{oldest}")
    print(f"  gallery v{status['gallery_version']}, config v{status['config_version']}")
    return 0
