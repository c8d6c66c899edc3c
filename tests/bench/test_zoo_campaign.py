"""The zoo's GPU campaign, rehearsed on CPU with tiny settings: rows of both tables, weights exported from the best
seed's own run (no retraining) with the seeds' spread on the card, everything packed within the file limits."""
from __future__ import annotations

import json
import tarfile

import pytest

MIB = 1024 * 1024


@pytest.mark.slow
def test_the_campaign_trains_both_tables_exports_the_best_seeds_and_packs_within_the_limits(repo_script, tmp_path):
    campaign = repo_script("benchmarks/zoo_campaign.py")
    out, results = tmp_path / "out", tmp_path / "results"
    # One 3.3 MB weight per archive of 4 MiB, and room for one archive besides results.tgz: one weight must be
    # left out, with the command that reproduces it.
    manifest = campaign.main(["--out", str(out), "--tiny", "--device", "cpu", "--workers", "2", "--threads", "1",
                              "--models", "intermediate_add_strided", "--seeds", "51", "52",
                              "--results-dir", str(results), "--runs-dir", str(tmp_path / "runs"),
                              "--max-files", "2", "--max-file-mib", "4", "--budget-s", "900"])
    files = sorted(path.name for path in out.iterdir())
    assert files == ["manifest.json", "results.tgz", "weights-1.tar"]
    assert all((out / name).stat().st_size <= 4 * MIB for name in files if name.endswith(".tar"))

    exported = {s["name"]: s for s in manifest["weights"] if s["status"] == "exported"}
    assert sorted(exported) == ["intermediate_add_strided.cubes_zoo", "intermediate_add_strided.shapes_zoo"]
    for status in exported.values():
        rows = [json.loads(p.read_text()) for p in (results / status["table"] / "rows").glob("*.json")]
        key = "val_accuracy" if status["table"] == "zoo-shapes" else "val_position_error"
        assert {r["seed"]: r[key] for r in rows} == {int(k): v for k, v in status["spread"]["values"].items()}
        assert status["reused_run"], "the weight is the harness's own run, not a retrained one"
    (packed,) = manifest["archives"]["weights-1.tar"]
    (left,) = manifest["left_out"]
    assert {packed, left} == set(exported) and "zoo_weights.py" in manifest["left_out"][left]

    with tarfile.open(out / "weights-1.tar") as archive:
        card = archive.extractfile(f"weights/{packed}/README.md").read().decode()
        assert {f"weights/{packed}/model.safetensors", f"weights/{packed}/config.json"} <= set(archive.getnames())
    spread = exported[packed]["spread"]
    assert f"{spread['mean']:.4f} ± {spread['sd']:.4f}" in card and f"seed {spread['selected_seed']}'s" in card
    with tarfile.open(out / "results.tgz") as archive:
        names = archive.getnames()
    assert sum("zoo-shapes/rows/" in n for n in names) == 2 and sum("zoo-cubes/rows/" in n for n in names) == 2
    assert not any("/runs/" in n for n in names)

    root, index = tmp_path / "checkout", tmp_path / "checkout" / "index.json"
    assert campaign.unpack(out, root, index) == [packed]
    assert (root / "weights" / packed / "model.safetensors").is_file() and (root / "zoo-cubes" / "rows").is_dir()
    entry = json.loads(index.read_text())["weights"][packed]
    assert entry["training"]["seed_spread"]["selected_seed"] == spread["selected_seed"]
