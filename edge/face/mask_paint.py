"""Paint a surgical mask onto a face photo, from a face box and dlib's 5 landmarks: masked test
probes made from real photos (there are no photos of masked people in the test data).

The texture is one of insightface's mask images (tests/data/faces/insightface/mask_*.jpg, flat
pictures of masks, which insightface's MaskRenderer paints onto faces the same way). The mask
covers the face from the nose bridge (40 % of the way from the eye line down to the base of the
nose) to just below the chin (CHIN_BELOW_BOX), cheek to cheek,
turned with the eye line. Its lower edge is rounded like a mask pulled over the chin. Landmarks
come from the caller: for probes, dlib's 5-point model on the hand-checked box, so neither
detector under comparison decides where the mask goes. (dlib's 68-point model would draw a finer
outline; its licence forbids commercial use.)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

TEXTURES = ("white", "blue", "black", "green")
# A dlib-style box ends at the lower lip or the top of the chin; the chin itself lies about a fifth
# of the box lower (measured by eye on obama1.jpg: 1.24 box heights below the box's top).
CHIN_BELOW_BOX = 1.2


def load_texture(folder: Path, colour: str) -> np.ndarray:
    img = cv2.imread(str(Path(folder) / f"mask_{colour}.jpg"), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"no mask texture mask_{colour}.jpg in {folder}")
    return img


def mask_outline(box: tuple[int, int, int, int], landmarks: np.ndarray) -> np.ndarray:
    """(n, 2) float32 polygon of the mask in image pixels.

    dlib5 order: right eye outer/inner corner (image-left... as dlib numbers them: 0-1 one eye,
    2-3 the other), 4 the base of the nose.
    """
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eye_a, eye_b = lm[0:2].mean(axis=0), lm[2:4].mean(axis=0)
    eyes = (eye_a + eye_b) / 2
    nose = lm[4]
    angle = np.arctan2(eye_b[1] - eye_a[1], eye_b[0] - eye_a[0])
    if eye_b[0] < eye_a[0]:  # keep "across" pointing to image-right
        angle += np.pi
    across = np.array([np.cos(angle), np.sin(angle)])
    down = np.array([-across[1], across[0]])
    x, y, w, h = box
    half = 0.5 * w  # cheek to cheek: a dlib box spans the face from cheek to cheek
    bridge = eyes + 0.4 * ((nose - eyes) @ down) * down
    chin_depth = (np.array([x + w / 2, y + h * CHIN_BELOW_BOX]) - bridge) @ down
    pts = [bridge - half * across, bridge - 0.2 * half * across - 0.04 * h * down,
           bridge + 0.2 * half * across - 0.04 * h * down, bridge + half * across]
    # the sides go down to the jaw, then the lower edge curves under the chin
    for t in np.linspace(0.0, np.pi, 9):
        pts.append(bridge + np.cos(t) * 0.92 * half * across + (0.55 + 0.45 * np.sin(t)) * chin_depth * down)
    return np.asarray(pts, np.float32)


def paint_mask(image_bgr: np.ndarray, box: tuple[int, int, int, int], landmarks: np.ndarray,
               texture_bgr: np.ndarray) -> np.ndarray:
    """A copy of the image with the texture warped into the mask outline."""
    out = image_bgr.copy()
    poly = mask_outline(box, landmarks)
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
    th, tw = texture_bgr.shape[:2]
    # texture rectangle → the mask's bounding quadrilateral, turned with the face
    top_l, top_r = poly[0], poly[3]
    depth = poly[8] - (top_l + top_r) / 2  # bridge → chin (the middle of the curve)
    dst = np.float32([top_l, top_r, top_r + depth, top_l + depth])
    src = np.float32([[0, 0], [tw - 1, 0], [tw - 1, th - 1], [0, th - 1]])
    warped = cv2.warpPerspective(texture_bgr, cv2.getPerspectiveTransform(src, dst),
                                 (out.shape[1], out.shape[0]), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    fill = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(fill, [np.round(poly).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    alpha = (cv2.GaussianBlur(fill, (3, 3), 0).astype(np.float32) / 255.0)[..., None]
    ys, xs = slice(max(0, y0), y1 + 1), slice(max(0, x0), x1 + 1)
    out[ys, xs] = (alpha[ys, xs] * warped[ys, xs] + (1 - alpha[ys, xs]) * out[ys, xs]).astype(np.uint8)
    return out
