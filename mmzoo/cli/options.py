"""The options ``mmzoo train``, ``bench`` and ``export`` share, declared once: ``--set``, ``--data-dir``, ``--device``.

``--set KEY=VALUE`` (repeatable) sets a recipe field (``epochs``, ``lr``, ``train_frames``...; see ``mmzoo
recipes``) or, for any other key, a constructor argument of the model (``lidar_scale=0.02``). Recipe fields take
their field's type; model arguments are read as JSON literals where they parse (``0.02``, ``true``, ``[64, 128]``)
and kept as strings otherwise (``fusion_op=add``). A key that is neither is an error naming both lists.

    mmzoo train intermediate_cat --set epochs=5 --set lidar_scale=0.02
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import json
from typing import Any, Iterable

from mmzoo.models.base import make_input_spec
from mmzoo.registry import model_entrypoint
from mmzoo.train.recipes import Recipe
from mmzoo.train.tracking import BACKENDS, Tracking

__all__ = ["add_shared_options", "add_log_options", "tracking_from_args", "parse_value", "model_arguments",
           "split_settings"]

# Set by the recipe or by the engine for every model: not the user's to pass through --set.
_RESERVED = {"num_outputs", "xyza_formula"}


def add_shared_options(parser: argparse.ArgumentParser, *, data_dir: bool = True) -> None:
    """Add ``--set`` (repeatable), ``--data-dir`` (unless ``data_dir=False``) and ``--device`` to ``parser``."""
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
        help="a recipe field (e.g. --set epochs=5, see `mmzoo recipes`) or a model argument (e.g. --set "
        "lidar_scale=0.02); repeatable",
    )
    if data_dir:
        parser.add_argument("--data-dir", help="train on a course/assessment folder instead of generated frames")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")


def add_log_options(parser: argparse.ArgumentParser, default_dir: str) -> None:
    """Add ``--log TRACKERS`` and ``--log-dir DIR`` (experiment tracking, :mod:`mmzoo.train.tracking`)."""
    parser.add_argument(
        "--log", metavar="TRACKERS",
        help=f"log to these trackers, comma-separated: {', '.join(BACKENDS)} (each: pip install 'mmzoo[NAME]'); "
        "a per-epoch epochs.csv is written regardless",
    )
    parser.add_argument("--log-dir", help=f"folder of the trackers' local stores (default {default_dir})")


def tracking_from_args(args: argparse.Namespace, default_dir: str | None = None, **fields: Any) -> Tracking | None:
    """The :class:`~mmzoo.train.tracking.Tracking` that ``--log`` / ``--log-dir`` ask for (None without ``--log``)."""
    if not args.log:
        return None
    root = args.log_dir or default_dir
    return Tracking.parse(args.log, **fields, **({"root": root} if root else {}))


def parse_value(text: str) -> Any:
    """A model argument's value: the JSON literal ``text`` spells, else ``text`` itself.

    >>> parse_value("0.02"), parse_value("true"), parse_value("add"), parse_value("[1, 2]")
    (0.02, True, 'add', [1, 2])
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def model_arguments(name: str) -> list[str]:
    """The constructor arguments ``--set`` may give the registered model ``name`` (sorted)."""
    model_class = type(model_entrypoint(name)())
    names: set[str] = set()
    accepts_input_kwargs = False
    for klass in model_class.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        for parameter in list(inspect.signature(init).parameters.values())[1:]:
            if parameter.kind is parameter.VAR_KEYWORD:
                accepts_input_kwargs = True
            elif parameter.kind is not parameter.VAR_POSITIONAL:
                names.add(parameter.name)
        break  # the most derived constructor is the one the entrypoint calls
    if accepts_input_kwargs:  # the zoo's nets pass the rest to their input spec
        names |= set(inspect.signature(make_input_spec).parameters) - {"modalities"}
    return sorted(names - _RESERVED)


def split_settings(settings: Iterable[str], models: Iterable[str]) -> tuple[list[str], dict[str, Any]]:
    """Split ``--set`` assignments into recipe overrides (``key=value`` strings, for ``Recipe.override``) and
    model arguments (a dict), checking every model argument against each of ``models``."""
    fields = {field.name for field in dataclasses.fields(Recipe)}
    overrides: list[str] = []
    kwargs: dict[str, Any] = {}
    for text in settings:
        key, sep, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--set {text!r} must look like KEY=VALUE (e.g. epochs=5 or lidar_scale=0.02)")
        if key in fields:
            overrides.append(f"{key}={value}")
        else:
            kwargs[key] = parse_value(value)
    for model in dict.fromkeys(models):
        allowed = model_arguments(model)
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            close = difflib.get_close_matches(unknown[0], [*allowed, *fields], n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ValueError(
                f"--set {unknown[0]}=...: {unknown[0]!r} is neither a recipe field nor an argument of {model}; "
                f"{hint}{model} takes {', '.join(allowed)}; recipe fields: {', '.join(sorted(fields))}"
            )
    return overrides, kwargs
