"""The house rules, enforced: no import cycles, layers that import only downwards, and light imports for the
lower layers.

    errors, utils, _version -> data -> registry -> models -> pretrained -> train -> bench, release -> cli

Imports inside functions count too: a lower layer must not reach up even lazily.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import mmzoo

PACKAGE = Path(mmzoo.__file__).resolve().parent  # the installed package under .ci/run, else the checkout's
RANKS = {
    "mmzoo._version": 0, "mmzoo.errors": 0, "mmzoo.utils": 0,
    "mmzoo.data": 1,
    "mmzoo.registry": 2,
    "mmzoo.models": 3,
    "mmzoo.pretrained": 4,
    "mmzoo.train": 5,
    "mmzoo.bench": 6, "mmzoo.release": 6,
    "mmzoo.cli": 7, "mmzoo.__main__": 7,
    "mmzoo": 8,  # the package's own __init__: the public facade over everything
}


def module_files() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["mmzoo", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The mmzoo modules ``name`` imports anywhere in its file (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(inner) for node in ast.walk(tree) if _is_type_checking_block(node) for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # `if TYPE_CHECKING:` imports never run
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def rank(module: str) -> int:
    while module not in RANKS:
        module = module.rpartition(".")[0]
    return RANKS[module]


def test_every_module_has_a_layer():
    assert all(rank(m) is not None for m in module_files())


def test_there_is_no_import_cycle():
    edges, state, cycles = graph(), {}, []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodules is not a cycle
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_layers_import_only_downwards():
    upward = [f"{src} (layer {rank(src)}) imports {dst} (layer {rank(dst)})"
              for src, targets in graph().items() for dst in targets
              if rank(dst) > rank(src) and not dst.startswith(src + ".")]
    assert not upward, "imports that go up a layer:\n" + "\n".join(sorted(upward))


def closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            if nxt != "mmzoo":  # the implicit parent package is the facade, not a dependency of the module
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_engine_does_not_depend_on_hub_or_release_code():
    """The engine may write the weight-folder format (a tracker's artifact), never reach the Hub or a layer above."""
    reached = closure("mmzoo.train.engine", graph())
    forbidden = ("mmzoo.pretrained.hub", "mmzoo.pretrained.factory", "mmzoo.pretrained.availability",
                 "mmzoo.release", "mmzoo.bench", "mmzoo.cli")
    assert not {m for m in reached if m.startswith(forbidden)}


def run_python(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         cwd=PACKAGE.parent.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["mmzoo", "mmzoo.data", "mmzoo.models", "mmzoo.registry"])
def test_the_lower_layers_load_no_hub_client_plotting_or_training(module):
    loaded = run_python(f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))")
    heavy = {"huggingface_hub", "matplotlib", "timm", "mmzoo.train", "mmzoo.bench", "mmzoo.release", "mmzoo.cli"}
    assert not heavy & set(loaded), f"import {module} loaded {sorted(heavy & set(loaded))}"


def test_every_module_imports_on_its_own():
    """Each module imported first in a clean mmzoo state (torch stays loaded), so that an import order that only
    works because another module happened to be imported first fails here."""
    names = sorted(m for m in module_files() if m != "mmzoo.__main__")  # importing __main__ runs the CLI
    code = (
        "import importlib, json, sys, torch\n"
        f"names = {names!r}\n"
        "failures = {}\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m == 'mmzoo' or m.startswith('mmzoo.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as err:\n"
        "        failures[name] = f'{type(err).__name__}: {err}'\n"
        "print(json.dumps(failures))\n"
    )
    assert run_python(code) == {}
