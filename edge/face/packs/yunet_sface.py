"""OpenCV Zoo pack (yunet-sface): YuNet detector + SFace embedder on onnxruntime.

YuNet decoding reproduces cv::FaceDetectorYN (opencv/modules/objdetect/src/face_detect.cpp): the BGR
frame, raw 0..255, padded to a multiple of 32; per stride s in (8, 16, 32) and grid cell (row r,
col c): score = sqrt(clamp(cls) * clamp(obj)); box centre ((c + dx) * s, (r + dy) * s), size
(exp(dw) * s, exp(dh) * s); landmark k at ((kx + c) * s, (ky + r) * s); then NMS on integer boxes.
The 2023mar graph has a fixed 640x640 input, so the frame is letterboxed into it first (OpenCV's
own engine reshapes the graph to each frame instead; onnxruntime cannot).

SFace reproduces cv::FaceRecognizerSF: alignCrop (ArcFace template, same similarity estimate) to
112x112, blobFromImage with swapRB (RGB, raw 0..255), 128-D output, L2-normalised for cosine.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.face.errors import FaceError
from edge.face.packs.align import letterbox
from edge.face.packs.base import Detection, PackRuntime
from edge.face.packs.insightface import DetectorLandmarks, OnnxEmbedder, fixed_dim, to_detections
from edge.modelpack.manifest import DetectorSpec, PackError, PackManifest
from edge.runtime import onnx_session

STRIDES = (8, 16, 32)
OUTPUT_NAMES = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]


def yunet_decode(outputs: dict[str, np.ndarray], input_hw: tuple[int, int],
                 threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YuNet outputs → (scores (n,), boxes (n, 4) as x, y, w, h, landmarks (n, 5, 2)) in input pixels,
    for every cell scoring at least `threshold` (before NMS)."""
    in_h, in_w = input_hw
    scores_l, boxes_l, kps_l = [], [], []
    for s in STRIDES:
        rows, cols = in_h // s, in_w // s
        cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        if cls.shape[0] != rows * cols:
            raise FaceError(f"YuNet stride {s}: {cls.shape[0]} cells for a {cols}x{rows} grid", code="bad_model")
        score = np.sqrt(cls * obj)
        keep = np.where(score >= threshold)[0]
        r, c = (keep // cols).astype(np.float32), (keep % cols).astype(np.float32)
        bbox = outputs[f"bbox_{s}"].reshape(-1, 4)[keep]
        kps = outputs[f"kps_{s}"].reshape(-1, 10)[keep]
        cx, cy = (c + bbox[:, 0]) * s, (r + bbox[:, 1]) * s
        w, h = np.exp(bbox[:, 2]) * s, np.exp(bbox[:, 3]) * s
        boxes_l.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=-1))
        pts = np.empty((len(keep), 5, 2), dtype=np.float32)
        pts[:, :, 0] = (kps[:, 0::2] + c[:, None]) * s
        pts[:, :, 1] = (kps[:, 1::2] + r[:, None]) * s
        kps_l.append(pts)
        scores_l.append(score[keep])
    return (np.concatenate(scores_l).astype(np.float32), np.concatenate(boxes_l).astype(np.float32),
            np.concatenate(kps_l).astype(np.float32))


class YuNetDetector:
    def __init__(self, model_path: Path, spec: DetectorSpec, threads: int | None = None,
                 input_size: tuple[int, int] | None = None):
        self.spec = spec
        self._sess = onnx_session(model_path, threads=threads)
        inp = self._sess.get_inputs()[0]
        self._input = inp.name
        names = {o.name for o in self._sess.get_outputs()}
        missing = [n for n in OUTPUT_NAMES if n not in names]
        if missing:
            raise PackError(f"{model_path.name}: not a YuNet 2023mar graph (no outputs {', '.join(missing)})",
                            code="bad_model")
        h, w = fixed_dim(inp.shape[2]), fixed_dim(inp.shape[3])
        if w and h:
            self.input_size = (w, h)
        else:  # a dynamic graph: any multiple of 32
            w, h = input_size or spec.size
            self.input_size = ((w + 31) // 32 * 32, (h + 31) // 32 * 32)

    def detect_raw(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boxes (n, 4) x y w h, scores (n,), landmarks (n, 5, 2)) in image pixels, after NMS."""
        canvas, scale = letterbox(image_bgr, self.input_size)
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / self.spec.std, self.input_size, (self.spec.mean,) * 3,
                                     swapRB=self.spec.color == "rgb")
        outs = dict(zip(OUTPUT_NAMES, self._sess.run(OUTPUT_NAMES, {self._input: blob}), strict=True))
        scores, boxes, kps = yunet_decode(outs, (blob.shape[2], blob.shape[3]), self.spec.score_threshold)
        keep = yunet_nms(boxes, scores, self.spec)
        return boxes[keep] / scale, scores[keep], kps[keep] / scale

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        boxes, scores, kps = self.detect_raw(image_bgr)
        xyxy = boxes.copy()
        xyxy[:, 2:] += xyxy[:, :2]
        return to_detections(xyxy, scores, kps, image_bgr.shape)


def yunet_nms(boxes_xywh: np.ndarray, scores: np.ndarray, spec: DetectorSpec) -> np.ndarray:
    """FaceDetectorYN's NMS: integer-truncated boxes, OpenCV's NMSBoxes, top_k candidates."""
    if len(boxes_xywh) <= 1:
        return np.arange(len(boxes_xywh))
    rects = np.trunc(boxes_xywh).astype(np.int32)  # Rect2i(int(x), int(y), int(w), int(h)) as OpenCV does
    keep = cv2.dnn.NMSBoxes(rects, scores.astype(np.float32), spec.score_threshold, spec.nms_threshold,
                            eta=1.0, top_k=spec.top_k)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def build_runtime(manifest: PackManifest, paths: dict[str, Path], *, threads: int | None = None,
                  det_size: tuple[int, int] | None = None, score_threshold: float | None = None,
                  nms_threshold: float | None = None, **_other) -> PackRuntime:
    """The engine's entry point; options meant for other packs (upsample=, max_side=, native=) are ignored."""
    spec = manifest.detector_input or DetectorSpec(color="bgr", score_threshold=0.9, nms_threshold=0.3)
    spec = spec.with_thresholds(score_threshold, nms_threshold)
    return PackRuntime(
        name=manifest.name,
        detector=YuNetDetector(paths["detector"], spec, threads=threads, input_size=det_size),
        landmarker=DetectorLandmarks(),
        embedder=OnnxEmbedder(paths["embedder"], manifest.input, manifest.embedding_dim, threads=threads),
        scheme="arcface5",
    )
