"""What a user who installed the wheel gets: the weights ship inside the package and load offline from any
folder, the package list in setup.cfg is complete, and the wheel stays under PyPI's file size limit."""
from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mmzoo
from mmzoo.pretrained import locate
from mmzoo.pretrained.availability import weight_availability

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = bool(os.environ.get("MMZOO_TEST_INSTALLED"))
PYPI_FILE_LIMIT = 100 * 2**20  # PyPI refuses larger files unless granted an exception


def test_every_subpackage_is_listed_for_the_wheel():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "mmzoo").rglob("__init__.py")}
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to [options] packages in setup.cfg"
    assert config["options"]["package_dir"].split() == ["mmzoo._weights", "=", "weights"]


def test_the_shipped_weights_stay_under_the_pypi_file_limit():
    shipped = sum(p.stat().st_size for p in (ROOT / "weights").rglob("*") if p.is_file())
    assert shipped < 0.9 * PYPI_FILE_LIMIT, (
        f"weights/ holds {shipped / 2**20:.0f} MiB; ship fewer (Hub-only weights stay in the index) to keep the "
        "wheel under PyPI's 100 MB file limit")


@pytest.mark.skipif(not INSTALLED, reason="only meaningful for the installed wheel (run through .ci/run)")
def test_the_installed_package_ships_every_committed_weight_and_lists_it_as_shipped():
    assert locate.checkout_weights_dir() is None and locate.shipped_weights_dir() is not None
    committed = sorted(p.name for p in (ROOT / "weights").iterdir() if p.is_dir())
    assert sorted(p.name for p in locate.shipped_weights_dir().iterdir() if p.is_dir()) == committed
    for name in mmzoo.list_pretrained():
        assert weight_availability(mmzoo.get_weights(name)).where == "shipped", name


@pytest.mark.parametrize("name", ["intermediate_cat", "intermediate_film", "mmtm"])  # notebook and catalogue
def test_pretrained_weights_load_offline_from_another_folder(tmp_path, name):
    """A user's own folder, no network, no $MMZOO_WEIGHTS_DIR: the weights come with the package (installed
    wheel) or the checkout; unseen frames of another seed are classified as the index says."""
    script = (
        "import mmzoo, torch\n"
        "from mmzoo.train import get_recipe, recipe_tensors\n"
        f"model = mmzoo.create({name!r}, pretrained=True).eval()\n"
        "recipe = get_recipe('assignment', data_seed=1234, train_frames=32, val_frames=512)\n"
        "_, val = recipe_tensors(recipe)  # frames of a data seed the weights never saw\n"
        "rgb, lidar, target = val.batch(slice(None))\n"
        "with torch.inference_mode():\n"
        "    pred = (model(rgb, lidar) > 0).float()\n"
        "print(float((pred == target).float().mean()), model.pretrained_file)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != locate.WEIGHTS_DIR_ENV}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "empty-cache"), PYTHONPATH="")
    if not INSTALLED:
        env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    accuracy, path = out.stdout.split()
    assert float(accuracy) >= 0.97
    assert ("mmzoo/_weights/" in path) if INSTALLED else path.startswith(str(ROOT / "weights"))
