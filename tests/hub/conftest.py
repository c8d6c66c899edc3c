"""Fixtures for the Hub tests: one loopback Hub server per test session, and an environment pointed at it.

Nothing here can reach the real Hugging Face Hub: HF_ENDPOINT points at the loopback server, which mmzoo reads
when it is called (huggingface_hub itself read HF_* variables at its import, so tests pass the endpoint through
the environment mmzoo consults and, for the client, through ``endpoint=``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helper modules beside this file, importable whatever pytest's import mode (CI uses importlib, which does
# not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hubtest_utils import FAKE_TOKEN  # noqa: E402
from loopback_hub import LoopbackHub  # noqa: E402

import mmzoo


@pytest.fixture(scope="session")
def hub():
    server = LoopbackHub().start()
    yield server
    server.stop()


@pytest.fixture
def hub_env(hub, monkeypatch, tmp_path):
    """HF_ENDPOINT at the loopback hub, online, a dummy HF_TOKEN, no local weights folder, an empty cache."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv(mmzoo.pretrained.locate.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    hub.fail_downloads = False
    yield hub
    hub.fail_downloads = False
