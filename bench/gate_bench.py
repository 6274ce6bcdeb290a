"""The gate pipeline end to end on synthetic walk-up videos made from the real test photographs.

    .venv/bin/python bench/gate_bench.py [--quick] [--json]      (the same as `menwei bench gate`)

Per run (1280x720 and 640x360, fp32 and int8 network, each in a fresh process): sustained fps
while recognising, decision latency p50/p95 from the first good frame, ms and CPU % per stage,
peak RSS. Figures only: the targets (>= 25 fps at 1280x720, <= 100 ms p95) are judged by reading
them, never asserted in tests.
"""

from __future__ import annotations

import sys

from menwei.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "gate", *sys.argv[1:]]))
