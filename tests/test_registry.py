"""Registry behaviour: registration, duplicates, wildcards, tags, close matches."""
from __future__ import annotations

import pytest
import torch

import mmzoo
from mmzoo.registry import _registry as registry
from mmzoo.registry.metadata import ArchInfo, WeightInfo

INFO = ArchInfo(source="mmzoo", task="test", fusion_point="late", fusion_op="concat", num_outputs=1, num_params=2)


def tiny(**kwargs):
    model = torch.nn.Linear(1, 1, **kwargs)
    return model


def weight(tag: str) -> WeightInfo:
    return WeightInfo(tag=tag, repo_id="mmzoo/tiny", revision="0" * 40, sha256="0" * 64, num_bytes=1,
                      num_params=2, dataset="synthetic")


def test_register_under_function_name_and_explicit_name(clean_registry):
    registry.register_model(info=INFO)(tiny)
    registry.register_model(tiny, name="tiny_two")
    assert mmzoo.is_model("tiny") and mmzoo.is_model("tiny_two")
    assert mmzoo.model_info("tiny").name == "tiny"
    model = mmzoo.create("tiny", bias=False)
    assert (model.arch_name, model.arch_kwargs) == ("tiny", {"bias": False})


def test_duplicate_says_where_the_first_one_lives(clean_registry):
    registry.register_model(tiny)
    with pytest.raises(mmzoo.DuplicateModelError, match=r"already registered by .*tiny \(.*test_registry.py:\d+\).*override=True"):
        registry.register_model(tiny)


def test_duplicate_of_a_builtin_is_refused_and_override_replaces(clean_registry):
    with pytest.raises(mmzoo.DuplicateModelError, match=r"mmzoo.models.assignment.late_fusion"):
        registry.register_model(tiny, name="late_fusion")
    registry.register_model(tiny, name="late_fusion", override=True)
    assert isinstance(mmzoo.create("late_fusion"), torch.nn.Linear)


@pytest.mark.parametrize("bad", ["a.b", "org/name", "hf-hub:x", "1abc"])
def test_invalid_names_are_refused(clean_registry, bad):
    with pytest.raises(ValueError, match="invalid model name"):
        registry.register_model(tiny, name=bad)


def test_wildcards_lists_and_exclusions():
    assert mmzoo.list_models("intermediate_*_strided") == [
        "intermediate_add_strided", "intermediate_cat_strided", "intermediate_hadamard_strided"]
    assert mmzoo.list_models(["late_fusion*", "*matmul"]) == [
        "course_intermediate_matmul", "late_fusion", "late_fusion_strided"]
    assert mmzoo.list_models("course_*", exclude=["*_only", "*late*"]) == [
        "course_early_fusion", "course_intermediate_cat", "course_intermediate_matmul"]
    assert mmzoo.list_models("nothing*") == []
    assert len(mmzoo.list_models(family="assignment")) + len(mmzoo.list_models(family="course")) == 14


def test_natural_sort(clean_registry):
    for name in ("net10", "net2", "net1"):
        registry.register_model(tiny, name=name)
    assert mmzoo.list_models("net*") == ["net1", "net2", "net10"]


def test_tags_parse_list_and_resolve(clean_registry):
    registry.register_model(tiny, info=INFO)
    registry.register_weights("tiny", weight("synthetic_a"))
    registry.register_weights("tiny", weight("synthetic_b"))
    assert mmzoo.split_model_name_tag("tiny.synthetic_b") == ("tiny", "synthetic_b")
    assert mmzoo.list_models("tiny*", pretrained=True) == ["tiny.synthetic_a", "tiny.synthetic_b"]
    assert mmzoo.get_weights("tiny").tag == "synthetic_a"  # the first registered is the default
    assert mmzoo.get_weights("tiny.synthetic_b").tag == "synthetic_b"
    assert mmzoo.is_model("tiny.synthetic_a") and not mmzoo.is_model("tiny.other")
    registry.register_weights("tiny", weight("synthetic_c"), default=True)
    assert mmzoo.get_weights("tiny").tag == "synthetic_c"
    model = mmzoo.create("tiny.synthetic_b")
    assert model.pretrained_cfg.tag == "synthetic_b" and model.arch_name == "tiny"
    with pytest.raises(mmzoo.UnknownModelError, match=r"no pretrained tag 'other'.*tiny.synthetic_c, tiny.synthetic_a"):
        mmzoo.create("tiny.other")
    with pytest.raises(mmzoo.DuplicateModelError, match="tiny.synthetic_a is already registered"):
        registry.register_weights("tiny", weight("synthetic_a"))


def test_builtin_weights_come_from_the_package_index():
    from mmzoo.pretrained.index import read_index

    assert mmzoo.list_models(pretrained=True) == mmzoo.list_models(list(read_index()), pretrained=True)
    assert mmzoo.get_weights("course_late_fusion") is None  # the course networks publish no weights


def test_unknown_name_lists_close_matches():
    with pytest.raises(mmzoo.UnknownModelError, match=r"unknown model 'intermediate_catt'; did you mean 'intermediate_cat'"):
        mmzoo.model_info("intermediate_catt")
    with pytest.raises(mmzoo.UnknownModelError, match=r"did you mean .*'course_intermediate_matmul'"):
        mmzoo.create("matmul")
    assert not mmzoo.is_model("intermediate_catt")
