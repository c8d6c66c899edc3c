"""The ``mmzoo`` command. Each sub-command group lives in its own module with a ``register(subparsers)``.

Errors: a deliberate error (an :class:`mmzoo.errors.MmzooError`, or a ``ValueError`` / ``TypeError`` /
``LookupError`` / ``RuntimeError`` that mmzoo's own code raised with a message saying what to fix, or an
``OSError`` about a file) is printed as one line and exits 1. Anything else is a bug: it is reported as an
internal error, with the traceback under ``--debug`` or ``MMZOO_DEBUG=1``, and exits 3. Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from mmzoo.cli import bench as _bench
from mmzoo.cli import data as _data
from mmzoo.cli import deploy as _deploy
from mmzoo.cli import evaluate as _evaluate
from mmzoo.cli import export as _export
from mmzoo.cli import models as _models
from mmzoo.cli import predict as _predict
from mmzoo.cli import publish as _publish
from mmzoo.cli import robustness as _robustness
from mmzoo.cli import train as _train
from mmzoo.errors import MmzooError

__all__ = ["main", "build_parser", "is_deliberate"]

_GROUPS = (_models, _data, _train, _predict, _evaluate, _bench, _robustness, _export, _publish, _deploy)
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_DELIBERATE = (ValueError, TypeError, LookupError, RuntimeError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmzoo", description="RGB + LiDAR fusion model zoo")
    parser.add_argument("--debug", action="store_true",
                        help="print the full traceback of any error (also: MMZOO_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in _GROUPS:
        group.register(subparsers)
    return parser


def is_deliberate(err: BaseException) -> bool:
    """True for an error mmzoo raised on purpose, with a message for the user (see the module docstring)."""
    if isinstance(err, (MmzooError, OSError)):
        return True
    if not isinstance(err, _DELIBERATE) or isinstance(err, KeyError):  # a KeyError is a failed lookup: a bug
        return False
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(_PACKAGE_DIR)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mmzoo`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("MMZOO_DEBUG", "").lower() in ("1", "true", "yes", "on")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `mmzoo weights | head`: the reader left; nothing to report
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (silence the interpreter's flush at exit)
        return 0
    except KeyboardInterrupt:
        print("mmzoo: interrupted; what finished before is kept (rerun the same command to resume)", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            traceback.print_exc()
        if is_deliberate(err):
            print(f"mmzoo: error: {err}", file=sys.stderr)
            return 1
        if not debug:
            print(f"mmzoo: internal error: {type(err).__name__}: {err}\n"
                  "This is a bug in mmzoo: rerun with --debug (or MMZOO_DEBUG=1) for the traceback, and report "
                  "it with that output.", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
