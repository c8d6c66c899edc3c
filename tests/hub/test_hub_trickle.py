"""A new user's process against a Hub that sends its status line and then trickles headers: every path that may
reach the Hub ends within its deadline with a message that says so, and looking in the cache sends no request.

The process is fresh, with HF_ENDPOINT and an empty HF_HOME set before huggingface_hub is imported, as a user has
them: huggingface_hub reads both at its import, and some of its releases send requests of their own while
building a request's headers (huggingface_hub 2.x fetches ``{HF_ENDPOINT}/api/agent-harnesses`` once a day with
only a per-read timeout, which a trickling server restarts with every byte). A test that only sets mmzoo's
endpoint in a process whose huggingface_hub was imported earlier never meets that request.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hubtest_utils import SlowServer

PROBE_S = 2  # HF_HUB_ETAG_TIMEOUT: the probe's overall deadline (mmzoo.pretrained.hub.PROBE_DEADLINE_S)

SCENARIOS = r"""
import json, sys, time
import mmzoo
from mmzoo.cli import main

def attempt(label, call):
    start = time.perf_counter()
    try:
        call()
        outcome = {"error": None}
    except Exception as err:
        outcome = {"error": f"{type(err).__name__}: {err}"}
    outcome["seconds"] = time.perf_counter() - start
    print(json.dumps({label: outcome}), flush=True)

attempt("hf-hub name", lambda: mmzoo.create("hf-hub:org/repo", pretrained=True))
attempt("explicit revision", lambda: mmzoo.create("intermediate_cat", pretrained=True, revision="main"))
attempt("list_pretrained", lambda: mmzoo.list_pretrained())
attempt("mmzoo weights", lambda: main(["weights"]))
"""


def run_scenarios(endpoint: str, home, timeout: float) -> dict:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_ETAG_TIMEOUT": str(PROBE_S),
           "MMZOO_HUB_DEADLINE_S": "4"}
    for name in ("HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_HUB_DISABLE_TELEMETRY"):
        env.pop(name, None)
    try:
        result = subprocess.run([sys.executable, "-c", SCENARIOS], capture_output=True, text=True, env=env,
                                timeout=timeout)
    except subprocess.TimeoutExpired as err:
        done = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        pytest.fail(f"still waiting on the Hub after {timeout:g} s; finished before that: {done.strip() or 'none'}")
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            outcomes.update(json.loads(line))
    return outcomes


@pytest.mark.parametrize("mode", ["headers", "trickling"])
def test_a_trickling_hub_never_holds_a_new_users_process(mode, tmp_path):
    server = SlowServer(mode)
    try:
        outcomes = run_scenarios(server.url, tmp_path / "hf-home", timeout=60)
    finally:
        server.close()
    for label in ("hf-hub name", "explicit revision"):
        outcome = outcomes[label]
        assert outcome["error"] and outcome["error"].startswith("WeightsNotFoundError"), outcome
        assert "cannot reach the Hugging Face Hub" in outcome["error"], outcome
        assert f"no complete answer within {PROBE_S:g} s" in outcome["error"], outcome
        assert outcome["seconds"] < PROBE_S + 3, outcome
    for label in ("list_pretrained", "mmzoo weights"):  # listings look in the cache only: no request at all
        assert outcomes[label]["error"] is None and outcomes[label]["seconds"] < 3, outcomes[label]
