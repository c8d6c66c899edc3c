"""Shared fixtures: keep tests that register things from leaking into the global registry."""
from __future__ import annotations

import copy

import pytest

from mmzoo.registry import _registry as registry


@pytest.fixture
def clean_registry():
    """Snapshot the registry and restore it after the test, so test registrations never leak."""
    saved = {name: copy.copy(getattr(registry, name)) for name in ("_entrypoints", "_infos", "_origins", "_weights")}
    saved["_weights"] = {arch: dict(tags) for arch, tags in registry._weights.items()}
    yield registry
    for name, value in saved.items():
        target = getattr(registry, name)
        target.clear()
        target.update(value)
