"""Pretrained weights: where a file comes from, how it is verified, the folder format, declared adaptations,
the package index, and :func:`create`, which puts a registered architecture and its weights together.

Modules (one concern each):
- :mod:`~mmzoo.pretrained.hub`: the places a weight is looked for (the wheel's shipped copies, local folders, the
  Hugging Face cache, the Hub at a pinned revision), with deadlines on every network step.
- :mod:`~mmzoo.pretrained.folder`: ``save_pretrained`` / ``load_pretrained`` (``config.json`` +
  ``model.safetensors``, verified).
- :mod:`~mmzoo.pretrained.adapt`: strict loading, relaxed only by declared adaptations.
- :mod:`~mmzoo.pretrained.index`: ``index.json``, the published weights' records shipped with the package.
- :mod:`~mmzoo.pretrained.factory`: ``create()``.

May import: :mod:`mmzoo.registry`, :mod:`mmzoo.models` (through the registry), :mod:`mmzoo.utils`,
:mod:`mmzoo.errors`. Never training, benchmarks or release code. huggingface_hub is imported only when a
download is needed.
"""
from mmzoo.pretrained.factory import create, parse_model_name
from mmzoo.pretrained.folder import load_pretrained, save_pretrained
from mmzoo.registry.metadata import ArchInfo, InputSpec, WeightInfo  # their home before 0.2, kept importable

__all__ = ["create", "parse_model_name", "load_pretrained", "save_pretrained", "ArchInfo", "InputSpec", "WeightInfo"]
