"""Errors of the dlib → ONNX converter (one line each, stable codes)."""

from menwei.errors import MenweiError


class DlibFormatError(MenweiError):
    """The .dat file is not dlib's serialisation of the network we convert (or it is damaged)."""

    code = "dlib_model_format"
