"""The ``mmzoo`` command. Each sub-command group lives in its own module with a ``register(subparsers)``."""
from __future__ import annotations

import argparse
import sys

from mmzoo.cli import bench as _bench
from mmzoo.cli import data as _data
from mmzoo.cli import export as _export
from mmzoo.cli import models as _models
from mmzoo.cli import publish as _publish
from mmzoo.cli import robustness as _robustness
from mmzoo.cli import train as _train

__all__ = ["main", "build_parser"]

_GROUPS = (_models, _data, _train, _bench, _robustness, _export, _publish)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmzoo", description="RGB + LiDAR fusion model zoo")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _GROUPS:
        group.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mmzoo`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, LookupError, OSError, RuntimeError) as err:
        # Errors raised by mmzoo already say what was wrong and how to fix it; print them without a traceback.
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"mmzoo: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
