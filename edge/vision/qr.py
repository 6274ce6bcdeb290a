"""QR codes in a camera frame (OpenCV's detector): how a visitor pass reaches the gate."""

from __future__ import annotations

import cv2
import numpy as np


class QrReader:
    """Reused across frames (the detector holds its buffers)."""

    def __init__(self):
        # the ArUco-based detector first: the classic one failed to read about 1 in 10 of our own
        # pass codes even as clean renders (tests/agent/test_pass_check.py); it stays as the fallback
        self._detectors = (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector())

    def read(self, image_bgr: np.ndarray) -> list[str]:
        """The text of the QR code decoded in the frame, if any (one pass is shown at a time;
        OpenCV's multi-code decoder missed codes its single-code decoder reads)."""
        grey = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        for detector in self._detectors:
            try:
                text, _points, _ = detector.detectAndDecode(grey)
            except cv2.error:  # a degenerate candidate quad: nothing from this detector
                continue
            if text:
                return [text]
        return []


def qr_image(text: str, module_px: int = 8, border_modules: int = 4) -> np.ndarray:
    """A printable/displayable QR code (grey, uint8) for `text`, as the server renders a pass."""
    code = cv2.QRCodeEncoder.create().encode(text)  # one pixel per module, no quiet zone
    code = cv2.copyMakeBorder(code, border_modules, border_modules, border_modules, border_modules,
                              cv2.BORDER_CONSTANT, value=255)
    return cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
