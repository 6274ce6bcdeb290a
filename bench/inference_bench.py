"""Inference benchmark (same as `menwei bench inference`): dlib vs ONNX embedding, loop detection, 1:N.

    .venv/bin/python bench/inference_bench.py [--json] [--quick] [--faces DIR]
"""

import sys

from menwei.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "inference", *sys.argv[1:]]))
