"""DDP training under torchrun, on CPU with gloo and 2 processes on tiny data (runs in CI: no GPU needed).

One module fixture launches the 2-rank job once (``torch.multiprocessing`` spawn with torchrun's environment
variables, so the engine's own torchrun detection is what joins the job) and trains three runs in it; the tests
check the runs against each other and against the same runs in a single process. A last test launches the
``mmzoo train`` command itself under ``python -m torch.distributed.run``.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mmzoo.train import EngineOptions, fit, get_recipe
from mmzoo.train.distributed import (
    TORCHRUN_ENV_VARS,
    choose_backend,
    rank_and_world,
    shard_bounds,
    single_process_env,
)

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="this torch build has no gloo backend"
)

MODEL = "intermediate_cat_strided"
WORLD = 2
#: The runs of the 2-rank job: recipe overrides of the assignment recipe, and whether ranks get run folders.
RUNS = {
    # batch 32 splits 16 / 16; rank-specific run folders stand for nodes without a shared disk
    "even": {"recipe": {"train_frames": 64, "val_frames": 32, "epochs": 2}, "run_dirs": True},
    # batch 7 splits 3 / 4: the ranks' losses must be weighted to give the whole batch's gradient
    "uneven": {"recipe": {"train_frames": 64, "val_frames": 31, "epochs": 1, "batch_size": 7}, "run_dirs": False},
    # resumes the single-process run interrupted after epoch 1; only rank 0's folder holds its checkpoint
    "resume": {"recipe": {"train_frames": 64, "val_frames": 32, "epochs": 2}, "run_dirs": True},
}
TIMING_KEYS = {"train_time_s", "eval_time_s", "train_samples_per_s", "peak_rss_mib"}
#: How far 2 ranks' weights may drift from one process's: summation order changes the last bits of a gradient
#: and Adam's normalisation magnifies that for parameters with tiny gradients (measured: 8e-6 after 4 steps).
#: Leaving out the uneven shares' loss weights moves them by 8e-3, so the bound still catches a wrong gradient.
WEIGHT_ATOL = 1e-4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_dir(root: Path, run: str, rank: int) -> Path:
    return root / run / f"rank{rank}"


def _rank_main(rank: int, port: int, root: str) -> None:
    """One rank of the job: torchrun's environment, then the engine's ordinary ``fit`` for every run."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD), LOCAL_WORLD_SIZE=str(WORLD),
    )
    torch.set_num_threads(1)  # as torchrun does: the CI machine has 2 cores for 2 ranks
    results = {}
    for name, run in RUNS.items():
        run_dir = _run_dir(Path(root), name, rank) if run["run_dirs"] else None
        result = fit(MODEL, get_recipe("assignment", **run["recipe"]), run_dir=run_dir,
                     options=EngineOptions(device="cpu", progress=False, amp=None))
        results[name] = {
            "state": result.model.state_dict(), "history": result.history, "best": result.best,
            "best_epoch": result.best_epoch, "rank": result.rank, "world_size": result.world_size,
        }
    torch.save(results, Path(root) / f"results{rank}.pt")


class _Interrupt(Exception):
    pass


def _interrupt_after_first_epoch(record: dict) -> None:
    raise _Interrupt


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """``(per-rank results, single-process results, root folder)`` of the 2-rank job described by RUNS."""
    root = tmp_path_factory.mktemp("ddp")
    quiet = EngineOptions(device="cpu", progress=False, amp=None)
    # A single-process run of "resume", stopped after its first epoch's checkpoint, in rank 0's folder only.
    with pytest.raises(_Interrupt):
        fit(MODEL, get_recipe("assignment", **RUNS["resume"]["recipe"]), run_dir=_run_dir(root, "resume", 0),
            options=quiet, on_epoch=_interrupt_after_first_epoch)
    interrupted = json.loads((_run_dir(root, "resume", 0) / "history.json").read_text())["history"]
    # The ranks import this module by the name pytest gave it (tests.train...): make the repository root findable
    # for them, appended so that `import mmzoo` still finds the installed package first.
    repo_root = str(Path(__file__).resolve().parents[2])
    if repo_root not in sys.path:
        sys.path.append(repo_root)
    mp.spawn(_rank_main, args=(_free_port(), str(root)), nprocs=WORLD, join=True)
    ranks = [torch.load(root / f"results{rank}.pt", weights_only=False) for rank in range(WORLD)]
    single = {name: fit(MODEL, get_recipe("assignment", **RUNS[name]["recipe"]), options=quiet)
              for name in ("even", "uneven")}
    return ranks, single, root, interrupted


def _metrics(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if key not in TIMING_KEYS} for record in history]


@pytest.mark.parametrize("run", list(RUNS))
def test_ranks_end_with_identical_weights_and_metrics(job, run):
    ranks, _, _, _ = job
    first, second = ranks[0][run], ranks[1][run]
    assert (first["rank"], second["rank"], first["world_size"], second["world_size"]) == (0, 1, WORLD, WORLD)
    assert first["state"].keys() == second["state"].keys()
    for key, value in first["state"].items():
        assert torch.equal(value, second["state"][key]), key
    assert _metrics(first["history"]) == _metrics(second["history"])
    assert (first["best_epoch"], first["best"]) == (second["best_epoch"], second["best"])


def test_the_loss_went_down(job):
    history = job[0][0]["even"]["history"]
    assert len(history) == 2
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_only_rank_0_wrote_files(job):
    _, _, root, _ = job
    for run in ("even", "resume"):
        # rank 0 alone writes: its checkpoint, history, per-epoch CSV and the run folder's lock
        # (mmzoo.utils.files.LOCK_NAME)
        assert sorted(p.name for p in _run_dir(root, run, 0).iterdir()) == [".mmzoo.lock", "checkpoint.pt",
                                                                             "epochs.csv", "history.json"]
        assert not _run_dir(root, run, 1).exists()
    assert sorted(p.name for p in root.iterdir()) == ["even", "results0.pt", "results1.pt", "resume"]


@pytest.mark.parametrize("run", ["even", "uneven"])
def test_two_ranks_compute_the_single_process_run(job, run):
    """batch_size is the global batch: the same steps on the same frames, up to float summation order."""
    ranks, single, _, _ = job
    ddp, alone = ranks[0][run], single[run]
    assert len(ddp["history"]) == len(alone.history) == RUNS[run]["recipe"]["epochs"]
    for got, want in zip(_metrics(ddp["history"]), _metrics(alone.history), strict=True):
        assert got.keys() == want.keys()
        for key in got:
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), key
    for key, value in alone.model.state_dict().items():
        torch.testing.assert_close(ddp["state"][key], value, rtol=0, atol=WEIGHT_ATOL, msg=key)


def test_every_rank_resumes_from_rank_0s_checkpoint(job):
    ranks, _, root, interrupted = job
    for rank in range(WORLD):
        history = ranks[rank]["resume"]["history"]
        assert len(history) == 2
        assert history[0] == interrupted[0]  # epoch 1 came from the checkpoint, timings included
    saved = json.loads((_run_dir(root, "resume", 0) / "history.json").read_text())["history"]
    assert [record["epoch"] for record in saved] == [1, 2]
    # Epoch 1 in one process, epoch 2 on two ranks: the same run as two ranks throughout.
    for key, value in ranks[0]["even"]["state"].items():
        torch.testing.assert_close(ranks[0]["resume"]["state"][key], value, rtol=0, atol=WEIGHT_ATOL, msg=key)


def test_mmzoo_train_under_torchrun(tmp_path):
    """The command users type, under torchrun: trains, rank 0 alone prints the summary and writes the run."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD),
        "-m", "mmzoo", "train", MODEL, "--set", "train_frames=64", "--set", "val_frames=32", "--set", "epochs=2",
        "--run-dir", str(tmp_path / "run"), "--device", "cpu", "--json",
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env={**single_process_env(), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    summary = json.loads(lines[0])
    assert (summary["model"], summary["ranks"], summary["device"]) == (MODEL, WORLD, "cpu")
    history = json.loads((tmp_path / "run" / "history.json").read_text())["history"]
    assert [record["epoch"] for record in history] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# Helpers that need no process group.

def test_rank_and_world_reads_torchrun_variables(monkeypatch):
    for name in TORCHRUN_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert rank_and_world() == (0, 1)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert rank_and_world() == (1, 2)
    assert not dist.is_initialized()
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2 and WORLD_SIZE=2"):
        rank_and_world()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK='one' must be an integer"):
        rank_and_world()


def test_single_process_env_drops_torchrun_variables():
    env = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_PORT": "29500", "PATH": "/bin"}
    assert single_process_env(env) == {"PATH": "/bin"}


@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
def test_shards_cover_every_item_once(world_size):
    for n in range(0, 40):
        bounds = [shard_bounds(n, rank, world_size) for rank in range(world_size)]
        assert [i for start, stop in bounds for i in range(start, stop)] == list(range(n))
        sizes = [stop - start for start, stop in bounds]
        assert max(sizes) - min(sizes) <= 1


def test_backend_follows_the_device():
    assert choose_backend(torch.device("cpu")) == "gloo"
    assert choose_backend(torch.device("cuda", 0)) == ("nccl" if dist.is_nccl_available() else "gloo")
    with pytest.raises(ValueError, match="CPU \\(gloo\\) or CUDA \\(nccl\\)"):
        choose_backend(torch.device("meta"))


def test_under_torchrun_fit_joins_the_job_unless_told_not_to(monkeypatch, tmp_path):
    for name in TORCHRUN_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")  # no MASTER_ADDR: joining fails at once instead of waiting for rank 0
    recipe = get_recipe("assignment", train_frames=32, val_frames=8, epochs=1)
    with pytest.raises(ValueError, match="MASTER_ADDR"):
        fit(MODEL, recipe, options=EngineOptions(device="cpu", progress=False, amp=None))
    result = fit(MODEL, recipe, run_dir=tmp_path / "run",
                 options=EngineOptions(device="cpu", progress=False, distributed=False, amp=None))
    assert (result.rank, result.world_size, len(result.history)) == (0, 1, 1)
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
