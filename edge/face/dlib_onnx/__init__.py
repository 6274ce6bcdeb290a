"""dlib's face-recognition ResNet without dlib: a reader for its .dat file, an ONNX converter, and
an OpenCV reproduction of dlib's 150x150 face chip. dlib stays only for HOG detection and landmarks.

    build_onnx(dat_path, out_path, progress=None) -> sha256 hex
    face_chip(image, landmarks5, size=150, padding=0.25) -> uint8 chip, in the channel order of `image`
"""

from edge.face.dlib_onnx.chip import face_chip
from edge.face.dlib_onnx.converter import INPUT_NAME, OUTPUT_NAME, build_onnx
from edge.face.dlib_onnx.errors import DlibFormatError
from edge.face.dlib_onnx.reader import read_dlib_resnet

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "DlibFormatError", "build_onnx", "face_chip", "read_dlib_resnet"]
