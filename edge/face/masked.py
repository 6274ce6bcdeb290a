"""Masked templates: an enrolment face painted with a mask and embedded again.

A mask hides the nose and mouth, so a masked probe scores low against a plain template. At
enrolment each face is also painted with a mask (edge/face/mask_paint.py, from the photo's own
box and landmarks), its 5 landmarks are found again on the painted image (as the gate finds them
on a masked face: the nose base moves under a mask), and the chip is embedded. The templates are
stored beside the plain one, tagged masked (edge/face/gallery.py row kinds).

The textures are insightface's mask pictures (MIT), shipped in edge/face/mask_textures/.
ENROL_TEXTURES is the fixed set painted at enrolment; bench/masked_bench.py reports every
texture apart, so the colours not painted at enrolment show how the templates carry over to
masks they were not made from.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from edge.face.mask_paint import load_texture, paint_mask
from edge.face.packs.base import Detection
from edge.face.types import Face

TEXTURE_DIR = Path(__file__).with_name("mask_textures")
# A light and a dark mask (surgical blue, black). Blue+white, tried first, let masked impostors of
# the calibration photos reach 0.953 (0.940 with blue+black) and left dark masks unnamed; two rows
# per photo keep the file 3x plain. docs/FACE.md "Masks" has the figures.
ENROL_TEXTURES: tuple[str, ...] = ("blue", "black")


@cache
def texture(colour: str) -> np.ndarray:
    return load_texture(TEXTURE_DIR, colour)


def painted(image_bgr: np.ndarray, face: Face, colour: str) -> np.ndarray:
    """The photo with this face masked, painted from the face's own box and landmarks."""
    return paint_mask(image_bgr, face.bbox, face.landmarks, texture(colour))


def masked_embeddings(engine, image_bgr: np.ndarray, face: Face,
                      textures: Sequence[str] = ENROL_TEXTURES) -> np.ndarray:
    """(len(textures), dim) float32: the face embedded once per mask texture."""
    rt = engine.runtime
    chips = []
    for colour in textures:
        img = painted(image_bgr, face, colour)
        lm = rt.landmarker.landmarks(img, Detection(face.bbox, face.score))
        chips.append(rt.embedder.align(img, lm))
    if not chips:
        return np.zeros((0, engine.dim), np.float32)
    return np.asarray(rt.embedder.embed(np.stack(chips)), np.float32)
