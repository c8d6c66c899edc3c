"""create(): None-pruning, prefixes, pretrained plumbing."""
from __future__ import annotations

import pytest

import mmzoo


def test_none_kwargs_never_override_defaults():
    model = mmzoo.create("course_late_fusion", num_outputs=None, rgb_channels=None)
    assert model.num_outputs == 9 and model.input_spec.rgb_channels == 4
    assert model.arch_kwargs == {}


@pytest.mark.parametrize("name", ["org/late_fusion", "./weights/late_fusion", "~/models/x", "C:\\models\\x"])
def test_path_like_names_without_prefix_name_the_prefixes(name):
    with pytest.raises(ValueError, match=r"'hf-hub:.*'local-dir:"):
        mmzoo.create(name)


def test_existing_folder_name_without_prefix_is_refused(tmp_path, monkeypatch):
    (tmp_path / "late_fusion").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="local-dir:late_fusion"):
        mmzoo.create("late_fusion")


def test_prefixes_are_parsed():
    assert mmzoo.parse_model_name("hf-hub:org/repo") == ("hf-hub", "org/repo")
    assert mmzoo.parse_model_name("local-dir:/tmp/x") == ("local-dir", "/tmp/x")
    with pytest.raises(ValueError, match="names no repo id"):
        mmzoo.parse_model_name("hf-hub:")


def test_pretrained_without_published_weights_says_so():
    with pytest.raises(RuntimeError, match=r"'course_late_fusion' has no published pretrained weights.*pretrained=True"):
        mmzoo.create("course_late_fusion", pretrained=True)


def test_unknown_tag_on_a_builtin():
    with pytest.raises(mmzoo.UnknownModelError, match="has no pretrained tag 'imagenet'; its published weights: none yet"):
        mmzoo.create("course_late_fusion.imagenet")
