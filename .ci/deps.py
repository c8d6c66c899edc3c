"""The declared dependency ranges, both ends, for CI: the constraints that pin every lower bound, and a record of
the versions a test pass ran on.

    python .ci/deps.py lower-bounds [--extras test,export] > constraints.txt
    python .ci/deps.py record NAME [--extras test,export]   # in the venv under test

``lower-bounds`` turns each ``name>=X`` of setup.cfg's ``install_requires`` (and of the named extras) into
``name==X``, so a pass installed with ``pip install -c constraints.txt`` runs on the oldest versions that mmzoo
declares it supports. ``record`` writes the installed versions of the same requirements, the Python version and
the CPU's vector extensions to ``.ci/versions/NAME.json`` and prints them beside the committed record, marking
each version that changed since: a drift in what a fresh install resolves shows in CI's output the day it
happens. Only the standard library is used, so any interpreter can run it.
"""
from __future__ import annotations

import argparse
import configparser
import json
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDS = Path(__file__).resolve().parent / "versions"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")


def requirements(extras: list[str]) -> list[tuple[str, str]]:
    """``(name, specifier)`` of ``install_requires`` and the named extras of setup.cfg, in their order."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    declared = config["options.extras_require"]
    for extra in extras:
        if extra not in declared:
            raise SystemExit(f"setup.cfg declares no extra {extra!r} (it has: {', '.join(declared)})")
        lines += declared[extra].splitlines()
    found = []
    for line in lines:
        match = _REQUIREMENT.match(line)
        if line.strip() and match:
            found.append((match.group(1), match.group(2)))
    return found


def lower_bounds(extras: list[str]) -> list[str]:
    """``name==X`` for every requirement declared as ``name>=X``; an unbounded requirement is an error, since
    nothing then says which oldest version to test."""
    pins = []
    for name, specifier in requirements(extras):
        lower = re.search(r">=\s*([^,\s]+)", specifier)
        if lower is None:
            raise SystemExit(f"setup.cfg declares {name!r} without a lower bound ('{specifier}'): declare the oldest "
                             "version mmzoo supports as name>=X, so that CI can test it")
        pins.append(f"{name}=={lower.group(1)}")
    return pins


def _cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    names = set(flags.group(1).split()) if flags else set()
    return sorted(name for name in names if name.startswith(("avx", "amx")))


def _cpu_model() -> str:
    try:
        found = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        found = None
    return found.group(1).strip() if found else platform.processor() or platform.machine()


def installed(extras: list[str]) -> dict[str, str | None]:
    versions = {}
    for name, _ in requirements(extras):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def record(name: str, extras: list[str]) -> int:
    now = {"python": platform.python_version(), "cpu": _cpu_model(), "cpu_vector_extensions": _cpu_flags(),
           "extras": extras, "packages": installed(extras)}
    path = RECORDS / f"{name}.json"
    before = json.loads(path.read_text()) if path.is_file() else {"packages": {}}
    print(f"versions of the '{name}' pass: Python {now['python']} on {now['cpu']} "
          f"({' '.join(now['cpu_vector_extensions']) or 'no AVX'})")
    for package, version in now["packages"].items():
        was = before["packages"].get(package)
        mark = "" if was == version else f"   <- changed since the committed record ({was})"
        print(f"  {package:<18} {version}{mark}")
    RECORDS.mkdir(exist_ok=True)
    path.write_text(json.dumps(now, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    low = sub.add_parser("lower-bounds", help="print constraints pinning every declared lower bound")
    rec = sub.add_parser("record", help="record and print the versions installed in this interpreter")
    rec.add_argument("name", help="the pass's name, e.g. 'resolved' or 'lower-bounds'")
    for command in (low, rec):
        command.add_argument("--extras", default="", help="comma-separated extras of setup.cfg to include")
    args = parser.parse_args(argv)
    extras = [extra for extra in args.extras.split(",") if extra]
    if args.command == "lower-bounds":
        print("\n".join(lower_bounds(extras)))
        return 0
    return record(args.name, extras)


if __name__ == "__main__":
    sys.exit(main())
