"""dlib's 150x150 face chip, reproduced with numpy/OpenCV (no dlib call).

Follows dlib/image_transforms/interpolation.h: get_face_chip_details (5-point template, padding) →
chip_details(from, to, dims) (similarity transform → angle + extraction rectangle) →
extract_image_chips (image pyramid when the face region is much larger than the chip, then
bilinear sampling with black outside). Geometry helpers mirror dlib/geometry/drectangle.h and
image_transforms/image_pyramid.h (pyramid_down<2>), because the chip's exact pixels depend on them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.face.errors import FaceError
from edge.face.geometry import similarity_transform

# get_face_chip_details: where dlib's 5-point model's parts land in a padding-0 unit chip
# (parts 0,1 = one eye's outer/inner corner, 2,3 = the other eye's, 4 = base of the nose).
_TEMPLATE_5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)

# A drectangle is (left, top, right, bottom) with dlib's inclusive convention: width = r - l + 1.
Rect = tuple[float, float, float, float]


def _area(r: Rect) -> float:
    left, top, right, bottom = r
    if top > bottom or left > right:
        return 0.0
    return (right - left + 1) * (bottom - top + 1)


def _rect_down(r: Rect) -> Rect:
    # pyramid_down<2>::point_down(p) = p/2 - (1.25, 0.75); rect_down maps tl and br corners.
    left, top, right, bottom = r
    return (left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75)


def _rotate(center: np.ndarray, p: np.ndarray, angle: float) -> np.ndarray:
    ca, sa = math.cos(angle), math.sin(angle)
    q = p - center
    return np.array([ca * q[0] - sa * q[1], sa * q[0] + ca * q[1]]) + center


def _corners(r: Rect) -> list[np.ndarray]:
    left, top, right, bottom = r
    return [np.array([left, top]), np.array([right, top]), np.array([left, bottom]), np.array([right, bottom])]


def _center(r: Rect) -> np.ndarray:
    return np.array([(r[0] + r[2]) / 2, (r[1] + r[3]) / 2])


def _pyramid_down(img: np.ndarray) -> np.ndarray:
    """pyramid_down<2> on a 3-channel image, each channel alike (image_pyramid.h): separable [1 4 6 4 1]^2 filter, keep every 2nd
    pixel starting at offset 2, output ((rows-3)/2, (cols-3)/2), integer sum / 256 (truncating)."""
    rows, cols = img.shape[:2]
    if rows <= 8 or cols <= 8:
        return np.zeros((0, 0, 3), np.uint8)
    k = np.array([1, 4, 6, 4, 1], np.float32)
    # Sums are integers below 2**24, so float32 holds them exactly.
    f = cv2.sepFilter2D(img.astype(np.float32), cv2.CV_32F, k, k, borderType=cv2.BORDER_CONSTANT)
    h, w = (rows - 3) // 2, (cols - 3) // 2
    down = f[2 : 2 + 2 * h : 2, 2 : 2 + 2 * w : 2]
    return np.floor(down / 256.0).astype(np.uint8)


def _bilinear(img: np.ndarray, a: np.ndarray, size: int) -> np.ndarray:
    """transform_image with interpolate_bilinear (interpolation.h) for chip pixel (x, y) → a @ (x, y, 1).

    cv2.remap's bilinear quantises positions to 1/32 pixel, so this samples in float64 with numpy
    for the same pixels as dlib: black where any of the 4 neighbours is outside the image, and the
    value truncated to uint8 as dlib's assign_pixel does.
    """
    if img.shape[0] < 2 or img.shape[1] < 2:  # an empty pyramid level (dlib clears it): all black
        return np.zeros((size, size, 3), np.uint8)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    px = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]
    py = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
    left, top = np.floor(px), np.floor(py)
    rows, cols = img.shape[:2]
    ok = (left >= 0) & (top >= 0) & (left + 1 < cols) & (top + 1 < rows)
    li = np.where(ok, left, 0).astype(np.intp)
    ti = np.where(ok, top, 0).astype(np.intp)
    fx = (px - left)[..., None]
    fy = (py - top)[..., None]
    ri, bi = np.minimum(li + 1, cols - 1), np.minimum(ti + 1, rows - 1)
    # gather the four uint8 neighbours first, then do dlib's double-precision blend on them only
    tl, tr = img[ti, li].astype(np.float64), img[ti, ri].astype(np.float64)
    bl, br = img[bi, li].astype(np.float64), img[bi, ri].astype(np.float64)
    val = (1 - fy) * ((1 - fx) * tl + fx * tr) + fy * ((1 - fx) * bl + fx * br)
    out = np.clip(val, 0, 255).astype(np.uint8)
    out[~ok] = 0
    return out


def _basic_chip(img: np.ndarray, rect: Rect, size: int) -> np.ndarray:
    """impl::basic_extract_image_chip: dlib's plain copy when the chip is neither rotated nor scaled
    (the drectangle is rounded to pixels, the part outside the image stays black)."""
    left, top = (math.floor(v + 0.5) for v in rect[:2])
    out = np.zeros((size, size, 3), np.uint8)
    rows, cols = img.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + size, cols), min(top + size, rows)
    if x0 < x1 and y0 < y1:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = img[y0:y1, x0:x1]
    return out


def face_chip(image: np.ndarray, landmarks5: np.ndarray, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """dlib.get_face_chip(img, shape, size, padding) for a 5-point shape, without dlib.

    image: HxWx3 uint8 in either channel order. Every channel is resampled alike, so the chip comes
    back in the order it was given: the engine cuts from its BGR frames and flips the small chip to
    the RGB dlib's network wants (packs/dlib_resnet.py); dlib itself is fed RGB. landmarks5: (5,2)
    x,y in dlib's 5-point order. Returns size x size x 3 uint8. dlib's shape parts are integer
    pixels; pass those (as dlib.shape_predictor gives them) to get dlib's chip exactly — sub-pixel
    landmarks work too but then there is no dlib twin to match.
    """
    img = np.ascontiguousarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise FaceError(f"face_chip wants an HxWx3 uint8 image, got {img.dtype} {img.shape}")
    pts = np.asarray(landmarks5, dtype=np.float64)
    if pts.shape != (5, 2) or not np.isfinite(pts).all():
        raise FaceError(f"face_chip wants (5,2) finite landmarks, got shape {pts.shape}")

    # get_face_chip_details + chip_details(chip_points, img_points, dims)
    chip_pts = (padding + _TEMPLATE_5) / (2 * padding + 1) * size
    # find_similarity_transform (dlib/geometry/point_transforms.h) is Umeyama's least squares too
    fit = similarity_transform(chip_pts, pts)
    m, t = fit[:, :2], fit[:, 2]
    p = m @ np.array([1.0, 0.0])
    angle = math.atan2(p[1], p[0])
    scale = math.hypot(p[0], p[1])
    c = m @ np.array([size / 2.0, size / 2.0]) + t
    half = (size * scale - 1) / 2  # centered_drect: width-- then +/- width/2
    rect: Rect = (c[0] - half, c[1] - half, c[0] + half, c[1] + half)
    chip_area = size * size

    if angle == 0 and size == size * scale:
        return _basic_chip(img, rect, size)

    # extract_image_chips: pyramid depth and the (integer) bounding box of the rotated rectangle.
    depth, grow = 0, 2.0
    r = _rect_down(rect)
    while _area(r) > chip_area:
        r = _rect_down(r)
        depth += 1
        grow = grow * 2 + 2  # "assume a border of 2 pixels is needed" per halving
    rc = _center(rect)
    rot = np.array([_rotate(rc, q, angle) for q in _corners(rect)])
    rows, cols = img.shape[:2]
    gl = max(rot[:, 0].min() - grow, 0.0)
    gt = max(rot[:, 1].min() - grow, 0.0)
    gr = min(rot[:, 0].max() + grow, cols - 1.0)
    gb = min(rot[:, 1].max() + grow, rows - 1.0)
    # drectangle -> rectangle rounds each edge with floor(x + 0.5)
    bl, bt, br, bb = (math.floor(v + 0.5) for v in (gl, gt, gr, gb))
    if bl > br or bt > bb:  # the face lies wholly outside the image: dlib's chip is black too
        return np.zeros((size, size, 3), np.uint8)
    region = img[bt : bb + 1, bl : br + 1]

    levels = []
    cur = region
    for _ in range(depth):
        cur = _pyramid_down(cur)
        levels.append(cur)

    level = -1
    r = (rect[0] - bl, rect[1] - bt, rect[2] - bl, rect[3] - bt)
    while _area(_rect_down(r)) > chip_area:
        level += 1
        r = _rect_down(r)
    src = region if level == -1 else levels[level]

    # find_affine_transform from chip corners (0,0), (size-1,0), (0,size-1) to the rotated rect corners.
    rc = _center(r)
    tl, tr, bl_ = (_rotate(rc, q, angle) for q in _corners(r)[:3])
    a = np.empty((2, 3))
    a[:, 0] = (tr - tl) / (size - 1)
    a[:, 1] = (bl_ - tl) / (size - 1)
    a[:, 2] = tl
    return _bilinear(src, a, size)
