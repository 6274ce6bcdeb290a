"""Thermal scene simulator: renders faces at known core temperatures into the *raw byte formats*
of the real sensors, so everything downstream runs through the real decoders.

Model (docs/THERMAL.md, "Simulator"): RGB and thermal pinhole cameras 3 cm apart; a face is an
ellipse 0.15 x 0.20 m of skin with warmer periorbital zones and inner-canthus hot spots; skin is
a grey body (emissivity 0.98) reflecting the room; the sensor integrates over each pixel
(supersampled), blurs slightly (lens), adds NETD noise and an optional offset drift.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.thermal import decoders
from edge.thermal.config import SensorProfile
from edge.thermal.errors import SensorTimeout, SensorUnavailable
from edge.thermal.estimate import apparent_from_true
from edge.thermal.frame import SensorState, ThermalFrame

FACE_W_M, FACE_H_M = 0.15, 0.20
ICD_M = 0.032  # inner-canthal distance, adult mean
EYE_Y_M = -0.015  # eye line above the face centre


def canthus_temperature(core_c: float, ambient_c: float) -> float:
    """Physiological model used by the simulator (and, as defaults, by the compensation):
    the inner canthus runs 0.40 °C under core at 24 °C and cools 0.04 °C per °C colder room."""
    return core_c - 0.40 - 0.04 * (24.0 - ambient_c)


def face_skin_temperature(core_c: float, ambient_c: float) -> float:
    """Cheek/forehead skin: well below core and much more ambient-dependent than the canthus."""
    return core_c - 2.2 - 0.15 * (24.0 - ambient_c)


def mlx_sim_eeprom() -> np.ndarray:
    data = json.loads((Path(__file__).parent / "data" / "mlx90640_sim_eeprom.json").read_text())
    return np.asarray(data["eeprom"], dtype=np.int64)


@dataclass(frozen=True)
class SimFace:
    distance_m: float = 1.0
    x_m: float = 0.0  # lateral offset of the face centre from the optical axis (right +)
    y_m: float = 0.0  # vertical offset (down +)
    core_c: float = 36.8
    canthus_c: float | None = None  # override the physiological model's skin temperatures
    skin_c: float | None = None
    # a cloth mask over nose, mouth and chin: its surface sits `mask_delta_c` from the skin
    # (cooler, -2.5 °C, for a dry cloth mask; positive for one warmed by breath)
    mask: bool = False
    mask_delta_c: float = -2.5


MASK_TOP_M = 0.005  # the mask's upper edge (nose bridge), below the face centre (v down +)

# what a presentation attack is made of (docs/FACE.md, "Liveness"): true surface temperature
# relative to the room, emissivity, and a warmer band where a hand holds it
SPOOF_KINDS = ("printed_photo", "phone_screen", "tablet_warm")


@dataclass(frozen=True)
class SimSpoof:
    """A flat presentation-attack instrument held up to the gate: a rectangle of uniform surface
    temperature (plus a gentle gradient, and a hand-warmed edge for paper) at a distance.

    * printed_photo: paper at the room temperature + 0.5 °C (it has sat in a pocket or a hand),
      ε 0.93, the bottom 12 % warmed 1.5 °C more by the hand that holds it;
    * phone_screen: glass over a lit display, evenly warm (default 31.5 °C), ε 0.90, 0.4 °C
      warmer at the top (the SoC);
    * tablet_warm: a tablet deliberately warmed to body temperature (default 36.0 °C), ε 0.90,
      larger than a face, uniform.
    """

    kind: str
    distance_m: float = 1.0
    x_m: float = 0.0  # centre of the rectangle, like SimFace
    y_m: float = 0.0
    width_m: float = 0.20
    height_m: float = 0.26
    surface_c: float | None = None  # None: the kind's default (above)

    def __post_init__(self):
        if self.kind not in SPOOF_KINDS:
            raise ValueError(f"SimSpoof.kind: {self.kind!r} is not one of {', '.join(SPOOF_KINDS)}")

    @property
    def emissivity(self) -> float:
        return 0.93 if self.kind == "printed_photo" else 0.90

    def base_c(self, ambient_c: float) -> float:
        if self.surface_c is not None:
            return self.surface_c
        return {"printed_photo": ambient_c + 0.5, "phone_screen": 31.5, "tablet_warm": 36.0}[self.kind]


@dataclass(frozen=True)
class SimBlackbody:
    region: tuple[int, int, int, int]  # x, y, w, h thermal pixels
    temperature_c: float = 35.0
    emissivity: float = 0.97


@dataclass(frozen=True)
class Scene:
    ambient_c: float = 22.0
    faces: tuple[SimFace, ...] = ()
    noise_c: float | None = None  # None: the profile's NETD
    drift_c: float = 0.0  # sensor offset drift added to every pixel
    blackbody: SimBlackbody | None = None
    skin_emissivity: float = 0.98
    ffc: str = "complete"  # lepton telemetry: "complete" | "in_progress" | "imminent"
    spoofs: tuple[SimSpoof, ...] = ()  # rendered after (in front of) the faces


@dataclass
class SimRig:
    """RGB + thermal pinhole cameras, the RGB one `baseline_m` beside the thermal one: the
    RGB→thermal map is a homography per depth (`homography_at`), i.e. it has parallax."""

    profile: SensorProfile
    rgb_size: tuple[int, int] = (1280, 720)
    rgb_hfov_deg: float = 70.0
    shift_px: tuple[float, float] = (1.5, -2.0)  # thermal principal point offset (mounting)
    roll_deg: float = 0.8  # small rotation between the two sensors
    # RGB camera position relative to the thermal camera (metres): the source of parallax
    baseline_m: tuple[float, float] = (0.03, 0.0)

    @property
    def thermal_size(self) -> tuple[int, int]:
        return tuple(self.profile.resolution)  # type: ignore[return-value]

    @property
    def f_rgb(self) -> float:
        return (self.rgb_size[0] / 2) / math.tan(math.radians(self.rgb_hfov_deg) / 2)

    @property
    def f_th(self) -> tuple[float, float]:
        w, h = self.thermal_size
        return ((w / 2) / math.tan(math.radians(self.profile.hfov_deg) / 2),
                (h / 2) / math.tan(math.radians(self.profile.vfov_deg) / 2))

    def _thermal_affine(self) -> np.ndarray:
        """World (X/Z, Y/Z) normalised coordinates → thermal pixel, as a 3x3 matrix."""
        w, h = self.thermal_size
        fx, fy = self.f_th
        c, s = math.cos(math.radians(self.roll_deg)), math.sin(math.radians(self.roll_deg))
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        k = np.array([[fx, 0, (w - 1) / 2 + self.shift_px[0]], [0, fy, (h - 1) / 2 + self.shift_px[1]], [0, 0, 1.0]])
        return k @ rot

    def _rgb_k(self) -> np.ndarray:
        w, h = self.rgb_size
        f = self.f_rgb
        return np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]])

    def homography_at(self, distance_m: float) -> np.ndarray:
        """The true RGB → thermal homography for points at this depth (exact on that plane)."""
        bx, by = self.baseline_m
        shift = np.array([[1, 0, bx / distance_m], [0, 1, by / distance_m], [0, 0, 1.0]])
        H = self._thermal_affine() @ shift @ np.linalg.inv(self._rgb_k())
        return H / H[2, 2]

    @property
    def homography(self) -> np.ndarray:
        return self.homography_at(1.0)

    def to_rgb(self, X, Y, Z) -> np.ndarray:
        bx, by = self.baseline_m
        p = self._rgb_k() @ np.array([(X - bx) / Z, (Y - by) / Z, 1.0])
        return p[:2] / p[2]

    def to_thermal(self, X, Y, Z) -> np.ndarray:
        p = self._thermal_affine() @ np.array([X / Z, Y / Z, 1.0])
        return p[:2] / p[2]

    def target_corners(self, distance_m: float = 1.0, size_m: float = 0.3, grid: int = 3):
        """Corner points of a heated calibration target as (rgb Nx2, thermal Nx2)."""
        xs = np.linspace(-size_m, size_m, grid) * distance_m
        pts = [(x, y) for x in xs for y in xs * 0.6]
        rgb = np.array([self.to_rgb(x, y, distance_m) for x, y in pts])
        th = np.array([self.to_thermal(x, y, distance_m) for x, y in pts])
        return rgb, th

    def observe(self, face: SimFace) -> tuple[tuple[float, float, float, float], tuple[tuple[float, float], ...]]:
        """What a face detector would report in RGB: box (x, y, w, h) and the two inner canthi."""
        z = face.distance_m
        tl = self.to_rgb(face.x_m - FACE_W_M / 2, face.y_m - FACE_H_M / 2, z)
        br = self.to_rgb(face.x_m + FACE_W_M / 2, face.y_m + FACE_H_M / 2, z)
        left = self.to_rgb(face.x_m - ICD_M / 2, face.y_m + EYE_Y_M, z)
        right = self.to_rgb(face.x_m + ICD_M / 2, face.y_m + EYE_Y_M, z)
        box = (float(tl[0]), float(tl[1]), float(br[0] - tl[0]), float(br[1] - tl[1]))
        return box, ((float(left[0]), float(left[1])), (float(right[0]), float(right[1])))

    def observe_thermal(self, face: SimFace) -> tuple[tuple[float, float, float, float], tuple[tuple[float, float], ...]]:
        """The ground truth in thermal pixels: the face ellipse's bounding box and the inner canthi."""
        z = face.distance_m
        corners = np.array([self.to_thermal(face.x_m + sx * FACE_W_M / 2, face.y_m + sy * FACE_H_M / 2, z)
                            for sx in (-1, 1) for sy in (-1, 1)])
        x0, y0 = corners.min(axis=0)
        x1, y1 = corners.max(axis=0)
        canthi = tuple(tuple(float(c) for c in self.to_thermal(face.x_m + sx * ICD_M / 2, face.y_m + EYE_Y_M, z))
                       for sx in (-1, 1))
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), canthi


def _face_true_temperature(u: np.ndarray, v: np.ndarray, face: SimFace, ambient: float) -> np.ndarray:
    """True surface temperature at face-plane offsets (u right, v down, metres); NaN off the face."""
    t_can = canthus_temperature(face.core_c, ambient) if face.canthus_c is None else face.canthus_c
    t_skin = face_skin_temperature(face.core_c, ambient) if face.skin_c is None else face.skin_c
    inside = (u / (FACE_W_M / 2)) ** 2 + (v / (FACE_H_M / 2)) ** 2 <= 1.0
    t = np.full(u.shape, t_skin)
    t += 0.3 * np.exp(-((v + 0.04) / 0.03) ** 2)  # forehead band a little warmer
    # periorbital warm zone (sigma 10 mm) and the canthus hot spot (sigma 4 mm) on each side;
    # together they peak exactly at the canthus temperature
    peri = 0.6 * (t_can - t_skin)
    spot = t_can - t_skin - peri
    for sx in (-1, 1):
        d2 = (u - sx * ICD_M / 2) ** 2 + (v - EYE_Y_M) ** 2
        t += peri * np.exp(-d2 / (2 * 0.010**2)) + spot * np.exp(-d2 / (2 * 0.004**2))
    if face.mask:
        t = np.where(v >= MASK_TOP_M, t_skin + face.mask_delta_c, t)
    return np.where(inside, t, np.nan)


def _spoof_true_temperature(u: np.ndarray, v: np.ndarray, sp: SimSpoof, ambient: float) -> np.ndarray:
    """True surface temperature of a spoof at offsets from its centre; NaN off the rectangle."""
    hw, hh = sp.width_m / 2, sp.height_m / 2
    inside = (np.abs(u) <= hw) & (np.abs(v) <= hh)
    t = np.full(u.shape, sp.base_c(ambient))
    if sp.kind == "printed_photo":
        t = t + np.where(v >= hh - 0.12 * sp.height_m, 1.5, 0.0)  # the hand holding its lower edge
    elif sp.kind == "phone_screen":
        t = t + 0.4 * (0.5 - (v + hh) / sp.height_m)  # SoC at the top: +0.2 .. -0.2 °C
    return np.where(inside, t, np.nan)


def _render_patch(img: np.ndarray, rig: SimRig, A: np.ndarray, A_inv: np.ndarray, z: float, x_m: float,
                  y_m: float, half_w: float, half_h: float, true_fn, emissivity: float, amb: float) -> None:
    """Paint one object (true temperature `true_fn(u, v)`, NaN off it) into `img`: each thermal
    pixel of its bounding box integrates its footprint (supersampled)."""
    h, w = img.shape
    # thermal-pixel bounding box of the object
    pts = np.array([[x_m + sx * half_w, y_m + sy * half_h] for sx in (-1, 1) for sy in (-1, 1)]) / z
    tp = (A @ np.c_[pts, np.ones(4)].T).T
    tp = tp[:, :2] / tp[:, 2:3]
    x0, y0 = int(max(0, math.floor(tp[:, 0].min()) - 1)), int(max(0, math.floor(tp[:, 1].min()) - 1))
    x1, y1 = int(min(w, math.ceil(tp[:, 0].max()) + 2)), int(min(h, math.ceil(tp[:, 1].max()) + 2))
    if x1 <= x0 or y1 <= y0:
        return
    pixel_mm = 1000 * z / rig.f_th[0]
    s = int(min(16, max(3, math.ceil(pixel_mm / 1.0))))
    # supersample grid inside each pixel (pixel j spans [j-0.5, j+0.5))
    offs = (np.arange(s) + 0.5) / s - 0.5
    gx = (np.arange(x0, x1)[:, None] + offs[None, :]).ravel()
    gy = (np.arange(y0, y1)[:, None] + offs[None, :]).ravel()
    uu, vv = np.meshgrid(gx, gy)
    world = A_inv @ np.vstack([uu.ravel(), vv.ravel(), np.ones(uu.size)])
    X = world[0] / world[2] * z - x_m
    Y = world[1] / world[2] * z - y_m
    true_t = true_fn(X, Y).reshape(uu.shape)
    app = np.where(np.isnan(true_t), amb, apparent_from_true(np.nan_to_num(true_t, nan=amb), emissivity, amb))
    patch = app.reshape(y1 - y0, s, x1 - x0, s).mean(axis=(1, 3))
    img[y0:y1, x0:x1] = patch


def render_scene(scene: Scene, rig: SimRig, rng: np.random.Generator) -> np.ndarray:
    """Apparent temperatures (emissivity-1 camera) as the sensor's pixel grid sees them."""
    import cv2

    w, h = rig.thermal_size
    amb = scene.ambient_c
    img = np.full((h, w), amb, dtype=np.float64)
    A = rig._thermal_affine()
    A_inv = np.linalg.inv(A)
    for face in scene.faces:
        _render_patch(img, rig, A, A_inv, face.distance_m, face.x_m, face.y_m, FACE_W_M / 2, FACE_H_M / 2,
                      lambda X, Y, f=face: _face_true_temperature(X, Y, f, amb), scene.skin_emissivity, amb)
    for sp in scene.spoofs:
        _render_patch(img, rig, A, A_inv, sp.distance_m, sp.x_m, sp.y_m, sp.width_m / 2, sp.height_m / 2,
                      lambda X, Y, p=sp: _spoof_true_temperature(X, Y, p, amb), sp.emissivity, amb)
    img = cv2.GaussianBlur(img, (0, 0), 0.5)  # lens MTF
    if scene.blackbody is not None:
        bx, by, bw, bh = scene.blackbody.region
        img[by:by + bh, bx:bx + bw] = apparent_from_true(scene.blackbody.temperature_c,
                                                         scene.blackbody.emissivity, amb)
    noise = rig.profile.netd_c if scene.noise_c is None else scene.noise_c
    if noise > 0:
        img = img + rng.normal(0.0, noise, img.shape)
    return img + scene.drift_c


class SceneEncoder:
    """Renders a scene into one raw frame of the profile's format (MLX: two subpage frames)."""

    def __init__(self, profile: SensorProfile, rig: SimRig | None = None, seed: int = 0):
        self.profile = profile
        self.rig = rig or SimRig(profile)
        self.rng = np.random.default_rng(seed)
        self._counter = 0
        self._uptime_ms = 120_000
        self._mlx_params = None
        if profile.format == "mlx90640":
            from edge.thermal import mlx90640

            self.mlx_eeprom = mlx_sim_eeprom()
            self._mlx_params = mlx90640.extract_parameters(self.mlx_eeprom)

    def fpa_c(self, scene: Scene) -> float | None:
        off = self.profile.fpa_minus_ambient_c
        return None if off is None else scene.ambient_c + off

    def encode(self, scene: Scene) -> list[bytes]:
        """Raw frames as the device delivers them (one for UVC formats, two subpages for MLX)."""
        img = render_scene(scene, self.rig, self.rng)
        self._counter += 1
        self._uptime_ms += int(1000 / self.profile.frame_rate_hz)
        fmt = self.profile.format
        if fmt == "lepton-y16":
            ffc = {"complete": 3, "in_progress": 2, "imminent": 1}[scene.ffc]
            state = SensorState(fpa_c=self.fpa_c(scene), housing_c=scene.ambient_c + 2,
                                frame_counter=self._counter, uptime_ms=self._uptime_ms, ms_since_ffc=60_000)
            return [decoders.encode_lepton_y16(img, state, telemetry=self.profile.telemetry or "footer",
                                               status_ffc=ffc)]
        if fmt == "p2pro":
            return [decoders.encode_p2pro(img)]
        from edge.thermal import mlx90640

        ta = self.fpa_c(scene)
        ta = scene.ambient_c + 8.0 if ta is None else ta
        # the MLX90640's raw counts are coarse (~0.2 K); the NETD noise added by render_scene
        # dithers them, like the real sensor's own noise does
        return [mlx90640.write_dump(self.mlx_eeprom, [mlx90640.encode_subpage(self._mlx_params, img, ta, sp)
                                                      for sp in (0, 1)])]


def decode_raw(profile: SensorProfile, raw: bytes) -> ThermalFrame:
    """Decode one raw frame of the profile's format (MLX: a dump) through the real decoders."""
    if profile.format == "lepton-y16":
        return decoders.decode_lepton_y16(raw, telemetry=profile.telemetry or "footer")
    if profile.format == "p2pro":
        return decoders.decode_p2pro(raw)
    from edge.thermal import mlx90640

    return mlx90640.decode_dump(raw)


@dataclass
class _Faults:
    unplugged: bool = False
    stalled: bool = False
    garbage: int = 0  # number of garbage frames still to deliver


class SimSource:
    """A ThermalSource producing simulated frames at the profile's frame rate, with faults that
    tests (and the demo) can inject: unplug/replug, stall, garbage bytes."""

    def __init__(self, profile: SensorProfile, scene: Scene | None = None, rig: SimRig | None = None,
                 seed: int = 0, fps: float | None = None):
        self.profile = profile
        self.name = f"sim:{profile.name}"
        self.encoder = SceneEncoder(profile, rig, seed)
        self._scene = scene or Scene()
        self.fps = fps or profile.frame_rate_hz
        self.faults = _Faults()
        self._lock = threading.Lock()
        self._open = False
        self._next_t = 0.0
        self.opens = 0

    @property
    def rig(self) -> SimRig:
        return self.encoder.rig

    def set_scene(self, scene: Scene) -> None:
        with self._lock:
            self._scene = scene

    def scene(self) -> Scene:
        with self._lock:
            return self._scene

    # fault injection
    def unplug(self) -> None:
        self.faults.unplugged = True

    def replug(self) -> None:
        self.faults.unplugged = False

    def stall(self, on: bool = True) -> None:
        self.faults.stalled = on

    def inject_garbage(self, frames: int = 1) -> None:
        self.faults.garbage += frames

    # ThermalSource
    def open(self) -> None:
        if self.faults.unplugged:
            raise SensorUnavailable(f"{self.name}: device not present")
        self._open = True
        self.opens += 1
        self._next_t = time.monotonic()

    def close(self) -> None:
        self._open = False

    def read_raw(self, timeout: float = 1.0) -> bytes:
        if not self._open:
            raise SensorUnavailable(f"{self.name}: not open")
        if self.faults.unplugged:
            self._open = False
            raise SensorUnavailable(f"{self.name}: device disconnected")
        if self.faults.stalled:
            time.sleep(timeout)
            raise SensorTimeout(f"{self.name}: no frame within {timeout:.2f} s")
        wait = self._next_t - time.monotonic()
        if wait > timeout:
            time.sleep(timeout)
            raise SensorTimeout(f"{self.name}: no frame within {timeout:.2f} s")
        if wait > 0:
            time.sleep(wait)
        self._next_t = max(self._next_t + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        raw = self.encoder.encode(self.scene())[0]
        if self.faults.garbage > 0:
            self.faults.garbage -= 1
            return raw[: len(raw) // 3]  # a torn USB transfer
        return raw

    def read(self, timeout: float = 1.0) -> ThermalFrame:
        return decode_raw(self.profile, self.read_raw(timeout))


# how big each attack is, in face widths/heights of the face it shows: a printed photo shows head
# and shoulders, a phone's screen is filled by the face across and is taller, a tablet is larger
SPOOF_SIZE = {"printed_photo": (1.4, 1.5), "phone_screen": (1.15, 1.6), "tablet_warm": (1.8, 1.8)}


def spoof_for_face(kind: str, face: SimFace, surface_c: float | None = None) -> SimSpoof:
    """The attack that shows `face` at the face's place (what the RGB camera takes for that face)."""
    if kind not in SPOOF_SIZE:
        raise ValueError(f"spoof kind {kind!r} is not one of {', '.join(SPOOF_KINDS)}")
    fw, fh = SPOOF_SIZE[kind]
    return SimSpoof(kind, face.distance_m, face.x_m, face.y_m, FACE_W_M * fw, FACE_H_M * fh, surface_c)


def with_faces(scene: Scene, *faces: SimFace) -> Scene:
    return replace(scene, faces=tuple(faces))


__all__ = ["Scene", "SimFace", "SimSpoof", "SPOOF_KINDS", "spoof_for_face", "SimBlackbody", "SimRig", "SimSource", "SceneEncoder", "decode_raw",
           "render_scene", "canthus_temperature", "face_skin_temperature", "with_faces"]
