"""``mmzoo data ...``: placeholder until the data commands land (generate, preview)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group."""
