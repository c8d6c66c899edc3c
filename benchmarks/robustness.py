"""Regenerate the published robustness table: every committed pretrained weight on clean and corrupted frames.

    nice -n 10 python benchmarks/robustness.py                 # writes benchmarks/results/robustness/
    python benchmarks/robustness.py --frames 64 --out /tmp/rb  # a quick look

It is ``mmzoo robustness`` with the published settings (256 frames of data seed 1, which no weight was trained
on; every registered corruption at severities 0..5; late fusion as the effective-robustness baseline), so the
command line and this script give the same files. Evaluation only: about half an hour on a shared 2-core CPU.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmzoo.cli import main

RESULTS = Path(__file__).resolve().parent / "results" / "robustness"
FRAMES = 256
SEED = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    sys.exit(main(["robustness", "--frames", str(args.frames), "--seed", str(args.seed), "--out", args.out,
                   "--threads", str(args.threads)]))
