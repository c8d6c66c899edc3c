"""The grouped FiftyOne dataset reader, against a minimal fake of the FiftyOne API over real png/npy files.

The fake implements only what ``read_fiftyone_dataset`` documents it uses: ``select_group_slices(name)``,
``view.values(field)`` (dotted paths such as ``"group.id"``) and ``dataset.info``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from mmzoo.data.fiftyone_io import read_fiftyone_dataset
from mmzoo.data.sensor import AZIMUTH, ZENITH


@dataclass
class FakeClassification:  # fiftyone.Classification: the class name is its .label
    label: str


@dataclass
class FakeSample:
    filepath: str
    group: SimpleNamespace
    tags: list = field(default_factory=list)
    label: FakeClassification | None = None


class FakeView:
    def __init__(self, samples):
        self._samples = samples

    def values(self, path):
        out = []
        for sample in self._samples:
            value = sample
            for part in path.split("."):
                value = getattr(value, part)
            out.append(value)
        return out


class FakeDataset:
    name = "fake-cubes-spheres"

    def __init__(self, slices, info):
        self._slices = slices
        self.info = info

    def select_group_slices(self, name):
        return FakeView(self._slices[name])


def angle_info():
    angles = (("azimuth", AZIMUTH), ("zenith", ZENITH))
    return {f"{kind}_{c}": arr.tolist() for c in ("cubes", "spheres") for kind, arr in angles}


@pytest.fixture
def store(tmp_path):
    """8 groups written to disk: labels, tags (6 train / 2 val), and the lidar slice in a different order."""
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, size=(8, 64, 64, 4), dtype=np.uint8)
    depth = rng.uniform(10, 50, size=(8, 64, 64)).astype(np.float32)
    names = ["cube", "sphere", "sphere", "cube", "cube", "sphere", "cube", "sphere"]
    tags = [["train"]] * 6 + [["val"]] * 2
    rgb, lidar = [], []
    for i in range(8):
        group = SimpleNamespace(id=f"g{i}")
        png, npy = tmp_path / f"rgb_{i}.png", tmp_path / f"lidar_{i}.npy"
        Image.fromarray(rgba[i]).save(png)
        np.save(npy, depth[i])
        rgb.append(FakeSample(str(png), group, tags[i], FakeClassification(names[i])))
        lidar.append(FakeSample(str(npy), group, tags[i], FakeClassification(names[i])))
    dataset = FakeDataset({"rgb": rgb, "lidar": lidar[::-1]}, angle_info())
    labels = np.array([0 if n == "cube" else 1 for n in names])
    return SimpleNamespace(dataset=dataset, rgba=rgba, depth=depth, labels=labels, rgb=rgb, lidar=lidar)


def test_reads_every_group_paired_by_group_id(store):
    frames = read_fiftyone_dataset(store.dataset)
    assert frames.rgba.tobytes() == store.rgba.tobytes()
    assert frames.depth.tobytes() == store.depth.tobytes()  # paired by group id, not by slice order
    assert frames.labels.tolist() == store.labels.tolist() and frames.class_names == ("cube", "sphere")
    assert np.array_equal(frames.azimuth, AZIMUTH) and np.array_equal(frames.zenith, ZENITH)
    assert frames.metadata["layout"] == "fiftyone" and frames.metadata["source"] == "fake-cubes-spheres"


def test_split_by_sample_tags_and_indices(store):
    train = read_fiftyone_dataset(store.dataset, "train")
    val = read_fiftyone_dataset(store.dataset, "val")
    assert len(train) == 6 and len(val) == 2 and val.metadata["split"] == "val"
    assert val.rgba.tobytes() == store.rgba[6:].tobytes() and val.labels.tolist() == store.labels[6:].tolist()
    picked = read_fiftyone_dataset(store.dataset, [7, 0])
    assert picked.depth.tobytes() == store.depth[[7, 0]].tobytes() and picked.metadata["split"] == "indices"
    with pytest.raises(ValueError, match="unknown split"):
        read_fiftyone_dataset(store.dataset, "test")


def test_plain_string_labels_and_nested_info(store):
    for sample in store.rgb:
        sample.label = sample.label.label + "s"  # "cubes" / "spheres" as plain strings
    store.dataset.info = {c: {"azimuth": AZIMUTH.tolist(), "zenith": ZENITH.tolist()} for c in ("cubes", "spheres")}
    assert read_fiftyone_dataset(store.dataset).labels.tolist() == store.labels.tolist()


def test_bad_datasets_raise_clear_errors(store):
    del store.dataset.info["zenith_spheres"]
    with pytest.raises(ValueError, match="no zenith angles for class 'sphere'.*'zenith_spheres'"):
        read_fiftyone_dataset(store.dataset)
    store.dataset.info = angle_info()
    store.dataset.info["azimuth_spheres"] = (AZIMUTH * 2).tolist()
    with pytest.raises(ValueError, match="different angles"):
        read_fiftyone_dataset(store.dataset)
    store.dataset.info = angle_info()
    store.rgb[2].label = FakeClassification("torus")
    with pytest.raises(ValueError, match=r"rgb_2\.png has label='torus'"):
        read_fiftyone_dataset(store.dataset)
    store.rgb[2].label = FakeClassification("cube")
    store.dataset._slices["lidar"] = [s for s in store.lidar if s.group.id != "g4"]
    with pytest.raises(FileNotFoundError, match=r"rgb_4\.png has no 'lidar' sample"):
        read_fiftyone_dataset(store.dataset)
    store.dataset._slices["lidar"] = store.lidar
    store.lidar[1].filepath = store.lidar[1].filepath.replace(".npy", ".pcd")
    with pytest.raises(ValueError, match=r"lidar_1\.pcd is not a \.npy depth map"):
        read_fiftyone_dataset(store.dataset)


def test_wrong_depth_file_names_it(store):
    np.save(store.lidar[3].filepath, np.zeros((32, 64), np.float32))
    with pytest.raises(ValueError, match=r"lidar_3\.npy has shape \(32, 64\)"):
        read_fiftyone_dataset(store.dataset)


def test_loading_by_name_needs_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fiftyone", None)  # makes `import fiftyone` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "mmzoo\[fiftyone\]"'):
        read_fiftyone_dataset("cubes-and-spheres")


def test_fiftyone_is_not_imported_by_mmzoo_data():
    import mmzoo.data.fiftyone_io  # noqa: F401
    import mmzoo.data.layouts  # noqa: F401
    import mmzoo.data.tensors  # noqa: F401

    assert "fiftyone" not in sys.modules or sys.modules["fiftyone"] is None


def test_fiftyone_frames_fine_tune_like_a_folder(store):
    """The FiftyOne reader's frames go straight into finetune (one of the own-data sources, docs/finetune.md)."""
    from mmzoo.train import EngineOptions, finetune

    train, val = read_fiftyone_dataset(store.dataset, split="train"), read_fiftyone_dataset(store.dataset, split="val")
    result = finetune("late_fusion_strided.shapes_v1", (train, val), keep_head=True, epochs=1, batch_size=2,
                      options=EngineOptions(device="cpu", progress=False))
    assert result.recipe.loss == "bce" and result.data_config.class_names == ("cube", "sphere")
    assert len(result.train_ids) == 6 and result.model.num_outputs == 1
