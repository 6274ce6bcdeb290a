"""Synthetic gate scenes: real face photographs walking up to the camera over a plain background,
with ground-truth face boxes that do not come from any detector under test.

Each walker is a head-and-shoulders crop of a real photograph, pasted at a scale and position
that change with time (walking up, standing still, or staying far away); sensor noise is added to
every frame so motion detection meets what a real camera gives it. The face box in the photo is
hand-checked (tests/data/faces/face_boxes.json, or given with the walker); a frame's truth box is
that box moved by the same scale and translation as the pasted crop.

Used now by: any source spec "synthetic:NAME" (open_source, so `menwei edge run` with a gate file
whose camera is synthetic, and the gate tests in tests/server/gate_kit.py); `menwei bench gate`
(edge/pipeline/bench.py; its default scene is "demo", a mixed run of residents, a stranger, a
far face and a fever); the thermal simulator fed by a scene's truth (edge/agent/thermal.py,
`menwei edge replay --truth`); the pipeline, capture and vision tests; edge/benchmark.py
(WalkupScene). `make demo` does not use it: `menwei demo` identifies still photographs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from edge.capture.source import (
    BAD_SPEC,
    NOT_FOUND,
    OPEN_FAILED,
    UNREADABLE,
    Frame,
    FrameSource,
    Pacer,
    SourceError,
)
from edge.vision.boxes import Box

BOXES_FILE = "face_boxes.json"  # hand-checked face boxes, in the folder of the photographs

# face width as a fraction of the frame width (a 70 degree lens, a 15 cm face)
NEAR_FACE = (0.055, 0.20)  # about 2.5 m away down to 0.6 m
PAIR_FACE_MAX = 0.15  # two people side by side do not come as close
FAR_FACE = (0.045, 0.055)  # about 2 m: crosses the view without coming closer
STILL_FACE = 0.16  # standing about 0.8 m in front of the camera
MIN_VISIBLE = 0.5  # a face less than half inside the frame is not in the truth


@dataclass(frozen=True)
class Walker:
    photo: Path | np.ndarray  # a real test photograph
    label: str  # who it is (folder name in the gallery, or "unknown-...")
    enter_s: float  # when the walker appears
    duration_s: float  # how long until it leaves
    distance: Literal["near", "far"] = "near"  # far: the face stays small (about 2 m)
    still: bool = False  # stands still in front of the camera instead of walking up
    core_temperature_c: float = 36.8  # for the thermal simulator (fever: e.g. 38.6)
    # not a person: the photo held up as an attack, for the thermal simulator (edge/thermal/sim.py
    # SimSpoof kinds: printed_photo, phone_screen, tablet_warm); the camera sees the same face
    spoof: str | None = None
    face_box: Box | None = None  # the face in the photo; None: looked up in face_boxes.json


@dataclass(frozen=True)
class TruthFace:
    label: str
    box: Box  # (x, y, w, h) in the frame, moved from the photo's hand-checked box
    core_temperature_c: float
    spoof: str | None = None  # the walker's spoof kind (None: a live person)


@dataclass(frozen=True)
class Phone:
    """A phone held up to the camera showing a QR code (a visitor pass) from `from_s` to `until_s`."""

    text: str
    from_s: float
    until_s: float
    at: tuple[float, float] = (0.6, 0.25)  # top-left of the code, as fractions of the frame


def draw_phone(image: np.ndarray, text: str, at: tuple[int, int], module_px: int = 4) -> None:
    """The code on a phone screen (dark body, white screen), held flat to the camera, in place."""
    from edge.vision.qr import qr_image

    code = cv2.cvtColor(qr_image(text, module_px=module_px), cv2.COLOR_GRAY2BGR)
    h, w = code.shape[:2]
    x, y = at
    H, W = image.shape[:2]
    x, y = max(18, min(x, W - w - 18)), max(40, min(y, H - h - 60))
    cv2.rectangle(image, (x - 18, y - 40), (x + w + 18, y + h + 60), (25, 25, 25), -1)  # the phone
    image[y:y + h, x:x + w] = code


@dataclass(frozen=True)
class SceneFrame:
    frame: Frame
    faces: list[TruthFace]


# ---- hand-checked boxes
def default_faces_dir() -> Path:
    """The repository's test photographs (MENWEI_TESTDATA overrides, as in tests/conftest.py)."""
    env = os.environ.get("MENWEI_TESTDATA")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "tests" / "data"
    return base / "faces"


@cache
def _boxes_file(path: Path) -> dict[str, list[tuple[str, Box]]]:
    data = json.loads(path.read_text())
    out: dict[str, list[tuple[str, Box]]] = {}
    for f in data["faces"]:
        out.setdefault(f["photo"], []).append((f["label"], tuple(int(v) for v in f["box"])))
    return out


def photo_boxes(photo: Path) -> list[tuple[str, Box]]:
    """(label, box) of every hand-checked face in `photo`, from the nearest face_boxes.json above it."""
    photo = Path(photo).resolve()
    for folder in photo.parents:
        f = folder / BOXES_FILE
        if f.is_file():
            return list(_boxes_file(f).get(photo.relative_to(folder).as_posix(), []))
    return []


# ---- portraits
@dataclass(frozen=True)
class _Portrait:
    image: np.ndarray  # BGR head-and-shoulders crop
    box: Box  # the face inside the crop


def _crop_around(shape: tuple[int, ...], box: Box, others: Sequence[Box]) -> tuple[int, int, int, int]:
    """A head-and-shoulders region (x0, y0, x1, y1) around `box` that leaves out the other faces of
    the photo (a half face at the crop's edge would be a face without ground truth)."""
    x, y, w, h = box
    H, W = shape[:2]
    r = [max(0, x - int(0.6 * w)), max(0, y - int(0.7 * h)), min(W, x + int(1.6 * w)), min(H, y + int(2.2 * h))]
    for ox, oy, ow, oh in others:
        if ox >= r[2] or ox + ow <= r[0] or oy >= r[3] or oy + oh <= r[1]:
            continue
        cuts = []  # each cut stops the crop just before the other face, if it keeps our own face
        if ox + ow <= x:
            cuts.append([ox + ow, r[1], r[2], r[3]])
        if ox >= x + w:
            cuts.append([r[0], r[1], ox, r[3]])
        if oy + oh <= y:
            cuts.append([r[0], oy + oh, r[2], r[3]])
        if oy >= y + h:
            cuts.append([r[0], r[1], r[2], oy])
        if not cuts:
            raise ValueError(f"face {box} overlaps another face {(ox, oy, ow, oh)} of the same photo")
        r = max(cuts, key=lambda c: (c[2] - c[0]) * (c[3] - c[1]))
    return r[0], r[1], r[2], r[3]


def _portrait(walker: Walker) -> _Portrait:
    if isinstance(walker.photo, np.ndarray):
        photo, known = walker.photo, []
    else:
        path = Path(walker.photo)
        photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if photo is None:
            raise SourceError(f"walker {walker.label}: {path} is not a readable image", UNREADABLE)
        known = photo_boxes(path)
    box = walker.face_box
    if box is None:
        mine = [b for label, b in known if label == walker.label]
        if len(mine) != 1:
            raise SourceError(f"walker {walker.label}: no hand-checked face box for {walker.label!r} in "
                              f"{walker.photo} ({BOXES_FILE} has {[label for label, _ in known]})", NOT_FOUND)
        box = mine[0]
    others = [b for _, b in known if b != tuple(box)]
    x0, y0, x1, y1 = _crop_around(photo.shape, box, others)
    x, y, w, h = box
    return _Portrait(photo[y0:y1, x0:x1].copy(), (x - x0, y - y0, w, h))


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A plain gate scene: a wall gradient, a door frame and a floor."""
    ramp = np.linspace(90, 150, width, dtype=np.float32)[None, :, None]
    bg = np.repeat(np.repeat(ramp, height, 0), 3, 2) * np.array([1.0, 0.95, 0.85], np.float32)
    bg[int(height * 0.78) :] *= 0.6
    cv2.rectangle(bg, (int(width * 0.3), int(height * 0.05)), (int(width * 0.7), int(height * 0.78)),
                  (60, 60, 70), thickness=max(4, width // 120))
    bg += rng.normal(0, 3, bg.shape).astype(np.float32)  # fixed texture
    return np.clip(bg, 0, 255).astype(np.uint8)


# ---- scenes
class Scene:
    """Frames of `walkers` at `fps`, `width`x`height`, with ground truth; deterministic for a seed.

    `face_px` (min, max) overrides the face width range of near walkers in pixels; `noise` is the
    sensor noise sigma in grey levels; `tail_s` of empty gate follow the last walker."""

    def __init__(self, walkers: Sequence[Walker], *, width: int = 1280, height: int = 720, fps: float = 25.0,
                 seed: int = 0, noise: float = 2.0, face_px: tuple[int, int] | None = None, tail_s: float = 0.5,
                 phones: Sequence[Phone] = ()):
        if not walkers and not phones:
            raise ValueError("a scene needs at least one walker")
        if width < 64 or height < 64 or not fps > 0:
            raise ValueError(f"scene: width and height must be >= 64 and fps > 0 (got {width}x{height} at {fps})")
        for w in walkers:
            if w.enter_s < 0 or not w.duration_s > 0:
                raise ValueError(f"walker {w.label}: enter_s must be >= 0 and duration_s > 0")
        self.walkers = list(walkers)
        self.phones = list(phones)
        self.width, self.height, self.fps = width, height, float(fps)
        self.seed, self.noise = seed, noise
        self.face_px = face_px
        end = max([w.enter_s + w.duration_s for w in walkers] + [p.until_s for p in phones])
        self.n_frames = max(1, math.ceil((end + tail_s) * fps))
        self._portraits = [_portrait(w) for w in self.walkers]
        self._lanes = self._assign_lanes()
        self.background = _background(width, height, np.random.default_rng(seed))

    def __len__(self) -> int:
        return self.n_frames

    def _overlaps(self, a: Walker, b: Walker) -> bool:
        return a.enter_s < b.enter_s + b.duration_s and b.enter_s < a.enter_s + a.duration_s

    def _assign_lanes(self) -> list[int]:
        """0 = the middle of the gate for someone alone; -1/+1 (left/right) for people side by side."""
        lanes: list[int | None] = [None] * len(self.walkers)
        for k in sorted(range(len(self.walkers)), key=lambda i: self.walkers[i].enter_s):
            busy = {lanes[j] for j in range(len(self.walkers))
                    if j != k and lanes[j] is not None and self._overlaps(self.walkers[k], self.walkers[j])}
            shared = any(self._overlaps(self.walkers[k], w) for j, w in enumerate(self.walkers) if j != k)
            options = (-1, 1, 0) if shared else (0,)
            free = [lane for lane in options if lane not in busy]
            if not free:
                raise ValueError(f"walker {self.walkers[k].label}: more than 3 people at once do not fit")
            lanes[k] = free[0]
        return [int(v) for v in lanes]

    def _pose(self, k: int, t: float) -> tuple[float, float, float]:
        """Face width (px) and face centre (x, y) of walker k at scene time t."""
        w, W, H = self.walkers[k], self.width, self.height
        u = min(1.0, max(0.0, (t - w.enter_s) / w.duration_s))
        lane = self._lanes[k]
        home = W / 2 + lane * 0.25 * W
        side = lane if lane else (-1 if k % 2 else 1)  # alone: alternate the side people come from
        if w.still:
            return STILL_FACE * W, home + 0.004 * W * math.sin(2 * math.pi * (t - w.enter_s) / 3.0), 0.38 * H
        if w.distance == "far":
            size = (FAR_FACE[0] + (FAR_FACE[1] - FAR_FACE[0]) * u) * W
            return size, home + side * (0.2 - 0.4 * u) * W, 0.45 * H
        lo, hi = (NEAR_FACE[0] * W, (PAIR_FACE_MAX if lane else NEAR_FACE[1]) * W)
        if self.face_px is not None:
            lo, hi = self.face_px
        start = home + side * (0.1 if lane else 0.22) * W
        return lo + (hi - lo) * u, start + (home - start) * u, (0.42 - 0.08 * u) * H

    def _placement(self, k: int, t: float) -> tuple[float, int, int]:
        """(scale, x0, y0): how walker k's portrait is resized and where its top-left goes."""
        size, cx, cy = self._pose(k, t)
        p = self._portraits[k]
        scale = size / p.box[2]
        fx, fy, fw, fh = (c * scale for c in p.box)
        return scale, int(round(cx - fx - fw / 2)), int(round(cy - fy - fh / 2))

    def _truth_box(self, k: int, scale: float, x0: int, y0: int) -> Box | None:
        bx, by, bw, bh = self._portraits[k].box
        x, y = x0 + bx * scale, y0 + by * scale
        w, h = bw * scale, bh * scale
        X0, Y0 = max(0.0, x), max(0.0, y)
        X1, Y1 = min(float(self.width), x + w), min(float(self.height), y + h)
        if X1 <= X0 or Y1 <= Y0 or MIN_VISIBLE * w * h > (X1 - X0) * (Y1 - Y0):
            return None
        return (int(round(X0)), int(round(Y0)), int(round(X1 - X0)), int(round(Y1 - Y0)))

    def _active(self, t: float) -> list[int]:
        return [k for k, w in enumerate(self.walkers) if w.enter_s <= t < w.enter_s + w.duration_s]

    def _faces(self, t: float, image: np.ndarray | None = None) -> list[TruthFace]:
        """The faces at time t; with `image`, the walkers are pasted into it (in order of entry)."""
        out = []
        for k in self._active(t):
            placement = self._placement(k, t)
            if image is not None:
                self._paste(image, k, *placement)
            box = self._truth_box(k, *placement)
            if box is not None:
                w = self.walkers[k]
                out.append(TruthFace(w.label, box, w.core_temperature_c, w.spoof))
        return out

    def truth(self) -> list[list[TruthFace]]:
        """Per frame, the faces in it (no rendering)."""
        return [self._faces(i / self.fps) for i in range(self.n_frames)]

    def _paste(self, image: np.ndarray, k: int, scale: float, x0: int, y0: int) -> None:
        src = self._portraits[k].image
        ph, pw = src.shape[:2]
        img = cv2.resize(src, (max(1, int(round(pw * scale))), max(1, int(round(ph * scale)))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        h, w = img.shape[:2]
        X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(self.width, x0 + w), min(self.height, y0 + h)
        if X1 > X0 and Y1 > Y0:
            image[Y0:Y1, X0:X1] = img[Y0 - y0 : Y1 - y0, X0 - x0 : X1 - x0]

    def __iter__(self) -> Iterator[SceneFrame]:
        rng = np.random.default_rng(self.seed + 1)  # a fresh stream: iterating twice gives the same frames
        bank = self._noise_bank() if self.noise else []
        pick = 0
        for i in range(self.n_frames):
            t = i / self.fps
            image = self.background.copy()
            faces = self._faces(t, image)
            for p in self.phones:
                if p.from_s <= t < p.until_s:
                    draw_phone(image, p.text, (int(p.at[0] * self.width), int(p.at[1] * self.height)))
            if bank:
                pick = (pick + 1 + int(rng.integers(len(bank) - 1))) % len(bank)  # never the same twice in a row
                up, down = bank[pick]
                cv2.add(image, up, dst=image)  # saturating, like a sensor
                cv2.subtract(image, down, dst=image)
            yield SceneFrame(Frame(image, i, t), faces)

    def _noise_bank(self, size: int = 16) -> list[tuple[np.ndarray, np.ndarray]]:
        """Gaussian sensor noise, split into its positive and negative parts. Drawn once and picked
        at random per frame: fresh noise for every 1280x720 frame would cost more than a detector."""
        rng = np.random.default_rng(self.seed + 2)
        bank = []
        for _ in range(size):
            n = rng.normal(0, self.noise, (self.height, self.width, 3)).round()
            bank.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
        return bank

    def write_video(self, path: Path) -> Path:
        """Write the frames to `path` (.avi: Motion JPEG, which OpenCV reads back anywhere; .mp4: mp4v)."""
        path = Path(path)
        fourcc = {".avi": "MJPG", ".mp4": "mp4v"}.get(path.suffix.lower())
        if fourcc is None:
            raise SourceError(f"{path}: write .avi or .mp4", BAD_SPEC)
        out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), self.fps, (self.width, self.height))
        if not out.isOpened():
            raise SourceError(f"{path}: OpenCV cannot write a {fourcc} video here", OPEN_FAILED)
        try:
            for sf in self:
                out.write(sf.frame.image)
        finally:
            out.release()
        return path

    def save_truth(self, path: Path) -> None:
        """JSON beside the video: the scene's geometry, its walkers and per frame the TruthFace list."""
        walkers = [{"label": w.label, "photo": w.photo.name if isinstance(w.photo, Path) else None,
                    "enter_s": w.enter_s, "duration_s": w.duration_s, "distance": w.distance, "still": w.still,
                    "core_temperature_c": w.core_temperature_c, "spoof": w.spoof} for w in self.walkers]
        frames = [[{**asdict(f), "box": list(f.box)} for f in faces] for faces in self.truth()]
        Path(path).write_text(json.dumps({"width": self.width, "height": self.height, "fps": self.fps,
                                          "frames": self.n_frames, "walkers": walkers, "truth": frames}))


def load_truth(path: Path) -> list[list[TruthFace]]:
    """The per-frame truth written by Scene.save_truth."""
    data = json.loads(Path(path).read_text())
    return [[TruthFace(f["label"], tuple(f["box"]), f["core_temperature_c"], f.get("spoof")) for f in faces]
            for faces in data["truth"]]


# ---- named scenes: walk photos are never the enrolment photos (knn_examples/train)
RESIDENT_PHOTOS = {
    "alex_lacamoire": "knn_examples/test/alex_lacamoire1.jpg",
    "biden": "knn_examples/test/obama_and_biden.jpg",
    "kit_harington": "knn_examples/test/johnsnow_test1.jpg",
    "obama": "knn_examples/test/obama1.jpg",
    "rose_leslie": "knn_examples/test/kit_with_rose.jpg",
}
UNKNOWN_PHOTO = ("insightface/t1.jpg", "unknown-t1-b")  # a face in no gallery
FEVER_C = 38.6
WALK_S, GAP_S, LEAD_S = 2.5, 0.8, 0.5


def resident_walkers(faces_dir: Path) -> list[Walker]:
    """The 5 residents one after another (the "walkup" scene's walkers)."""
    return [Walker(faces_dir / photo, label, LEAD_S + k * (WALK_S + GAP_S), WALK_S)
            for k, (label, photo) in enumerate(sorted(RESIDENT_PHOTOS.items()))]


def walker(faces_dir: Path, label: str, enter_s: float, **kw) -> Walker:
    """A named scene's walker: a resident's test photo (or the unknown visitor's) entering at `enter_s`."""
    photo = UNKNOWN_PHOTO[0] if label == UNKNOWN_PHOTO[1] else RESIDENT_PHOTOS[label]
    return Walker(faces_dir / photo, label, enter_s, kw.pop("duration_s", WALK_S), **kw)


def _scene_walkers(name: str, d: Path) -> list[Walker]:
    step = WALK_S + GAP_S
    if name == "walkup":
        return resident_walkers(d)
    if name == "pair":
        return [walker(d, "obama", LEAD_S), walker(d, "biden", LEAD_S + 0.3)]
    if name == "unknown":
        return [walker(d, UNKNOWN_PHOTO[1], LEAD_S)]
    if name == "still":
        return [walker(d, "kit_harington", LEAD_S, still=True, duration_s=4.0)]
    if name == "far":
        return [walker(d, "obama", LEAD_S, distance="far", duration_s=3.0)]
    if name == "fever":
        return [walker(d, "alex_lacamoire", LEAD_S, core_temperature_c=FEVER_C)]
    if name == "demo":
        return [walker(d, "alex_lacamoire", LEAD_S),
                walker(d, UNKNOWN_PHOTO[1], LEAD_S + step),
                walker(d, "obama", LEAD_S + 2 * step), walker(d, "rose_leslie", LEAD_S + 2 * step + 0.3),
                walker(d, "kit_harington", LEAD_S + 3 * step + 0.3, distance="far", duration_s=3.0),
                walker(d, "biden", LEAD_S + 4 * step + 0.8, core_temperature_c=FEVER_C)]
    raise SourceError(f"scene {name!r}: unknown (known: {', '.join(SCENES)})", BAD_SPEC)


SCENES = ("walkup", "pair", "unknown", "still", "far", "fever", "demo")


def named_scene(name: str, faces_dir: Path | None = None, **kw) -> Scene:
    """One of SCENES, walking with the photographs in `faces_dir` (default: tests/data/faces);
    `kw` goes to Scene (width, height, fps, seed, ...)."""
    return Scene(_scene_walkers(name, Path(faces_dir) if faces_dir else default_faces_dir()), **kw)


class SyntheticSource(FrameSource):
    """A scene as a frame source (media time index / fps)."""

    def __init__(self, scene: Scene, *, realtime: bool = False, name: str = "synthetic"):
        self.scene = scene
        self.name = name
        self.fps = scene.fps
        self.corrupt = 0
        self._pacer = Pacer(realtime)
        self._it: Iterator[SceneFrame] | None = None

    @classmethod
    def from_spec(cls, spec: str, *, realtime: bool = False, width: int | None = None, height: int | None = None,
                  fps: float | None = None, faces_dir: Path | None = None) -> SyntheticSource:
        name = spec.removeprefix("synthetic:")
        kw = {k: v for k, v in (("width", width), ("height", height), ("fps", fps)) if v is not None}
        try:
            scene = named_scene(name, faces_dir, **kw)
        except ValueError as exc:
            raise SourceError(f"{spec}: {exc}", BAD_SPEC) from None
        return cls(scene, realtime=realtime, name=spec)

    def open(self) -> None:
        self._it = iter(self.scene)
        self._pacer.reset()

    def read(self) -> Frame | None:
        if self._it is None:
            raise SourceError(f"{self.name}: read before open", OPEN_FAILED)
        sf = next(self._it, None)
        if sf is None:
            return None
        self._pacer.wait(sf.frame.timestamp)
        return sf.frame

    def close(self) -> None:
        self._it = None


# ---- the older API (tests/vision, edge/benchmark): people one after another, boxes as tuples
@dataclass(frozen=True)
class SyntheticFrame:
    index: int
    timestamp: float  # seconds since the start of the scene
    image: np.ndarray  # BGR
    faces: list[Box] = field(default_factory=list)  # ground truth (x, y, w, h)
    names: list[str] = field(default_factory=list)


class WalkupScene(Scene):
    """`visitors` walking up one after another: `gap_s` of empty gate, then `approach_s` of walk."""

    def __init__(self, visitors: Sequence[Walker], *, width: int = 1280, height: int = 720, fps: float = 25.0,
                 approach_s: float = 3.0, gap_s: float = 1.5, face_px: tuple[int, int] = (70, 260),
                 noise: float = 2.0, seed: int = 0):
        if not visitors:
            raise ValueError("a walk-up scene needs at least one visitor")
        walkers = [replace(v, enter_s=k * (gap_s + approach_s) + gap_s, duration_s=approach_s, distance="near",
                           still=False) for k, v in enumerate(visitors)]
        super().__init__(walkers, width=width, height=height, fps=fps, seed=seed, noise=noise, face_px=face_px,
                         tail_s=0.0)

    def frames(self) -> Iterator[SyntheticFrame]:
        for sf in self:
            f = sf.frame
            yield SyntheticFrame(f.index, f.timestamp, f.image, [t.box for t in sf.faces], [t.label for t in sf.faces])
