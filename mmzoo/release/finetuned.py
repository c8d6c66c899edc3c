"""A fine-tuned model as a weight folder: ``model.safetensors``, ``config.json`` (with its data config) and a card.

The folder is what ``mmzoo.create("local-dir:FOLDER", pretrained=True)`` loads from anywhere: the weights are
recorded by sha256 and size, the data config says how to read new files (``mmzoo.transforms_for``), and the
card (``README.md``) says where the weights started, what they were trained on and how they scored. Writing
ends by loading the folder back and checking every tensor and the data config against the model in memory.
"""
from __future__ import annotations

import platform
import shutil
from pathlib import Path
from typing import Any

import torch

from mmzoo.pretrained.folder import CONFIG_NAME, WEIGHTS_NAME, load_pretrained, save_pretrained
from mmzoo.release.cards import to_yaml
from mmzoo.train.finetune import FinetuneResult
from mmzoo.train.resources import device_name

__all__ = ["CARD_NAME", "save_finetuned", "render_finetuned_card"]

CARD_NAME = "README.md"
_OURS = {CONFIG_NAME, WEIGHTS_NAME, CARD_NAME}


def _described(result: FinetuneResult) -> dict[str, Any]:
    """The folder's ``pretrained_cfg``: what :class:`~mmzoo.registry.WeightInfo` records for a weight."""
    model, recipe = result.model, result.recipe
    spec = model.input_spec
    return {
        "tag": "finetuned", "architecture": model.arch_name, "repo_id": "",
        "num_params": sum(p.numel() for p in model.parameters()),
        "dataset": result.data_config.dataset or "own data", "split": "val",
        "metrics": {key: round(float(value), 6) for key, value in result.best.items()},
        "recipe": recipe.name, "recipe_config": recipe.to_dict(), "model_kwargs": dict(model.arch_kwargs),
        "input_spec": spec.to_dict(), "license": "other",
        "training": {
            "start": result.start, "device": result.fit.device,
            "device_name": device_name(torch.device(result.fit.device)),
            "torch_version": torch.__version__.split("+")[0], "epochs": recipe.epochs,
            "best_epoch": result.fit.best_epoch, "train_time_s": round(result.fit.train_time_s, 1),
            "train_samples": len(result.train_ids), "val_samples": len(result.val_ids),
            "python": platform.python_version(),
        },
        "notes": "fine-tuned with mmzoo.train.finetune",
    }


def render_finetuned_card(result: FinetuneResult, name: str) -> str:
    """The folder's model card: front matter for the Hub, then start, data, recipe and validation figures."""
    cfg, recipe, model = result.data_config, result.recipe, result.model
    task = (f"classification into {len(cfg.class_names)} classes ({', '.join(cfg.class_names)})" if cfg.class_names
            else f"regression of {len(cfg.target_names)} value(s) ({', '.join(cfg.target_names)})")
    meta = {"library_name": "mmzoo", "tags": ["mmzoo", "pytorch", "safetensors", "sensor-fusion", "rgb-lidar",
                                              "fine-tuned"]}
    metrics = "\n".join(f"| {key} | {value:.4f} |" for key, value in result.best.items())
    frozen = {"": "nothing frozen", "encoders": "per-modality encoders frozen",
              "backbone": "all but the head's last layer frozen"}[recipe.freeze]
    return (
        "---\n" + to_yaml(meta) + "\n---\n\n"
        f"# {name}\n\nAn mmzoo `{model.arch_name}` model fine-tuned for {task}.\n\n"
        f"- **Start**: {result.start}; {frozen}; backbone learning rate x{recipe.backbone_lr_scale:g}.\n"
        f"- **Data**: {cfg.dataset} ({len(result.train_ids)} training and {len(result.val_ids)} validation samples).\n"
        f"- **Inputs**: {cfg.describe()}. Read new files with `mmzoo.transforms_for(\"local-dir:{name}\")`.\n"
        f"- **Recipe**: {recipe.epochs} epochs, batch {recipe.batch_size}, Adam lr {recipe.lr:g} ({recipe.schedule}), "
        f"loss {recipe.loss}, seed {recipe.seed}; kept epoch {result.fit.best_epoch} (lowest validation loss).\n"
        f"- **Trained on**: {device_name(torch.device(result.fit.device))}, {result.fit.train_time_s:.1f} s.\n\n"
        f"| validation metric | value |\n|---|---|\n{metrics}\n\n"
        "```python\nimport mmzoo\n\n"
        f'model = mmzoo.create("local-dir:{name}", pretrained=True)\n```\n'
    )


def save_finetuned(result: FinetuneResult, folder: str | Path, overwrite: bool = False) -> Path:
    """Write ``result``'s model to ``folder`` as a verified weight folder with its data config and card.

    A folder holding other files is refused (and one holding a model unless ``overwrite``); after writing, the
    folder is loaded back and each tensor compared, so a folder that would load differently is never left behind.
    """
    folder = Path(folder).expanduser()
    if folder.exists():
        present = {p.name for p in folder.iterdir()}
        if present - _OURS:
            raise FileExistsError(f"{folder} holds other files ({', '.join(sorted(present - _OURS)[:3])}); give an "
                                  "empty or new folder for the fine-tuned model")
        if present and not overwrite:
            raise FileExistsError(f"{folder} already holds a model; pass overwrite=True (--overwrite) to replace it")
    save_pretrained(result.model, folder, pretrained_cfg=_described(result))
    (folder / CARD_NAME).write_text(render_finetuned_card(result, folder.name))
    loaded = load_pretrained(folder)
    ours = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    theirs = loaded.state_dict()
    if ours.keys() != theirs.keys() or not all(torch.equal(ours[k], theirs[k]) for k in ours) or \
            loaded.data_config != result.data_config:
        shutil.rmtree(folder)
        raise RuntimeError(f"{folder} did not load back as the model that was saved; it was removed (please report)")
    return folder
