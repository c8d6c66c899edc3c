"""The decorator registry: architecture names -> constructors, metadata and pretrained weights.

>>> import mmzoo
>>> mmzoo.list_models("intermediate_cat*")
['intermediate_cat', 'intermediate_cat_strided']
>>> mmzoo.model_info("intermediate_cat").num_params
914201

Names may carry a pretrained tag, ``arch.tag`` (as in timm); a bare ``arch`` means its default tag, the first
one registered. Registering a name twice is an error that says where the first one lives (timm only warns,
which lets a plugin silently replace a model); pass ``override=True`` to replace one deliberately.
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from torch import nn

from mmzoo.errors import DuplicateModelError, UnknownModelError
from mmzoo.registry.arguments import check_arguments
from mmzoo.registry.metadata import ArchInfo, WeightInfo

__all__ = [
    "UnknownModelError",
    "DuplicateModelError",
    "register_model",
    "register_weights",
    "split_model_name_tag",
    "list_models",
    "list_pretrained",
    "is_model",
    "model_entrypoint",
    "model_info",
    "get_weights",
    "closest_models",
]

F = TypeVar("F", bound=Callable[..., nn.Module])

_entrypoints: dict[str, Callable[..., nn.Module]] = {}
_infos: dict[str, ArchInfo | None] = {}
_origins: dict[str, str] = {}
_weights: dict[str, dict[str, WeightInfo]] = {}  # arch -> tag -> weight; the first tag is the default


def _origin(fn: Callable) -> str:
    try:
        line = inspect.getsourcelines(fn)[1]
        return f"{fn.__module__}.{fn.__qualname__} ({inspect.getsourcefile(fn)}:{line})"
    except (OSError, TypeError):
        return f"{fn.__module__}.{fn.__qualname__}"


def register_model(
    fn: F | None = None,
    *,
    name: str | None = None,
    info: ArchInfo | None = None,
    override: bool = False,
) -> F | Callable[[F], F]:
    """Register a model constructor under its function name (or ``name``), with its metadata.

    Use bare (``@register_model``) or with arguments (``@register_model(info=ArchInfo(...))``). The registered
    function is wrapped so that every model it returns carries what rebuilds it: ``model.arch_name`` and
    ``model.arch_kwargs`` (``create(model.arch_name, **model.arch_kwargs)`` gives the same architecture).

    Raises:
        DuplicateModelError: ``name`` is registered already and ``override`` is False.
        ValueError: the name is not a valid identifier-like name (it must not contain '.', '/' or ':').
    """

    def decorator(func: F) -> F:
        arch = name or func.__name__
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", arch):
            raise ValueError(f"invalid model name {arch!r}: use letters, digits, '_' and '-' (no '.', '/' or ':')")
        if arch in _entrypoints and not override:
            raise DuplicateModelError(
                f"model {arch!r} is already registered by {_origins[arch]}; "
                "pick another name, or pass override=True to replace it deliberately"
            )

        @functools.wraps(func)
        def entrypoint(**kwargs) -> nn.Module:
            check_arguments(arch, kwargs)
            try:
                model = func(**kwargs)
            except TypeError as err:
                if "unexpected keyword argument" not in str(err):
                    raise
                raise TypeError(f"{arch} got an argument it does not take ({err}); its arguments are those of "
                                f"{func.__module__}.{func.__qualname__} (see mmzoo.model_info({arch!r}))") from None
            model.arch_name = arch
            model.arch_kwargs = dict(kwargs)
            return model

        _entrypoints[arch] = entrypoint
        _origins[arch] = _origin(func)
        _infos[arch] = dataclasses.replace(info, name=arch) if info is not None else None
        _weights.setdefault(arch, {})
        return entrypoint  # type: ignore[return-value]

    return decorator(fn) if fn is not None else decorator


def register_weights(arch: str, weight: WeightInfo, *, default: bool = False, override: bool = False) -> None:
    """Attach a published weight to a registered architecture, as ``arch.<weight.tag>``.

    The first weight registered for an architecture is its default (what a bare name loads) unless a later
    one passes ``default=True``.
    """
    if arch not in _entrypoints:
        raise UnknownModelError(_unknown_message(arch))
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", weight.tag):
        raise ValueError(f"invalid pretrained tag {weight.tag!r}: use letters, digits, '_' and '-'")
    if weight.architecture and weight.architecture != arch:
        raise ValueError(f"weight {weight.name} is recorded for architecture {weight.architecture!r}, not {arch!r}")
    weight = dataclasses.replace(weight, architecture=arch)
    tags = _weights[arch]
    if weight.tag in tags and not override:
        raise DuplicateModelError(f"pretrained tag {arch}.{weight.tag} is already registered; pass override=True")
    tags[weight.tag] = weight
    if default:
        _weights[arch] = {weight.tag: weight, **{t: w for t, w in tags.items() if t != weight.tag}}


def split_model_name_tag(name: str) -> tuple[str, str]:
    """``"arch.tag"`` -> ``("arch", "tag")``; ``"arch"`` -> ``("arch", "")``."""
    arch, _, tag = name.partition(".")
    return arch, tag


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _as_patterns(patterns: str | Iterable[str]) -> list[str]:
    if isinstance(patterns, str):
        return [patterns] if patterns else []
    return list(patterns)


def list_models(
    filter: str | Iterable[str] = "",
    exclude: str | Iterable[str] = "",
    pretrained: bool = False,
    family: str | None = None,
    fusion_op: str | None = None,
    fusion_point: str | int | None = None,
) -> list[str]:
    """Registered architecture names, naturally sorted.

    Args:
        filter: fnmatch wildcard(s); a name is kept if it matches any. Empty keeps all.
        exclude: fnmatch wildcard(s); a name is dropped if it matches any.
        pretrained: list ``arch.tag`` names of published weights instead of bare architectures.
        family: keep architectures of this family (``ArchInfo.family``: "assignment", "course", "catalogue"...).
        fusion_op: keep architectures fusing with this operator (``ArchInfo.fusion_op``: "film", "concat"...).
        fusion_point: keep architectures fusing at this point: a name ("early", "intermediate", "late", "none")
            or a stage number (in ``ArchInfo.fusion_points``).

    >>> list_models(["late_fusion*", "course_late*"])
    ['course_late_fusion', 'late_fusion', 'late_fusion_strided']
    >>> list_models(fusion_op="matmul")
    ['course_intermediate_matmul']
    """
    if pretrained:
        names = [f"{arch}.{tag}" for arch, tags in _weights.items() for tag in tags]
    else:
        names = list(_entrypoints)
    include, drop = _as_patterns(filter), _as_patterns(exclude)
    if include:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in include)]
    if drop:
        names = [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in drop)]
    if family is not None or fusion_op is not None or fusion_point is not None:
        names = [n for n in names if _info_matches(_infos[split_model_name_tag(n)[0]], family, fusion_op, fusion_point)]
    return sorted(names, key=_natural_key)


def _info_matches(info: ArchInfo | None, family: str | None, fusion_op: str | None, fusion_point: str | int | None) -> bool:
    """Whether metadata ``info`` passes the ``list_models`` metadata filters (no metadata passes none)."""
    if info is None:
        return False
    if family is not None and info.family != family:
        return False
    if fusion_op is not None and info.fusion_op != fusion_op:
        return False
    if isinstance(fusion_point, int):
        return fusion_point in info.fusion_points
    return fusion_point is None or info.fusion_point == fusion_point


def list_pretrained(filter: str | Iterable[str] = "", exclude: str | Iterable[str] = "") -> list[str]:
    """``arch.tag`` names that have published weights (``list_models(..., pretrained=True)``)."""
    return list_models(filter, exclude, pretrained=True)


def is_model(name: str) -> bool:
    """True if ``name`` (``arch`` or ``arch.tag``) is registered."""
    arch, tag = split_model_name_tag(name)
    return arch in _entrypoints and (not tag or tag in _weights[arch])


def closest_models(name: str, n: int = 5) -> list[str]:
    """Registered names close to ``name``: spelling neighbours first, then names containing it."""
    arch = split_model_name_tag(name)[0]
    close = difflib.get_close_matches(arch, list(_entrypoints), n=n, cutoff=0.6)
    containing = [m for m in list_models(f"*{arch}*") if m not in close] if arch else []
    return (close + containing)[:n]


def _unknown_message(name: str) -> str:
    close = closest_models(name)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown model {name!r}{hint} (mmzoo.list_models() shows all {len(_entrypoints)} architectures)"


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The registered constructor of ``name`` (a tag, if any, is ignored)."""
    arch = split_model_name_tag(name)[0]
    if arch not in _entrypoints:
        raise UnknownModelError(_unknown_message(arch))
    return _entrypoints[arch]


def model_info(name: str) -> ArchInfo:
    """The metadata of architecture ``name``: source notebook, task, fusion point and operator, parameter
    count, default head and input spec, and the constructor arguments of each of its published weights.

    >>> model_info("course_intermediate_matmul").fusion_op
    'matmul'
    >>> model_info("intermediate_cat").pretrained_kwargs["shapes_v1"]["lidar_scale"]
    0.02
    """
    arch = split_model_name_tag(name)[0]
    model_entrypoint(arch)  # raises with close matches when unknown
    info = _infos[arch]
    if info is None:
        raise UnknownModelError(f"model {arch!r} was registered without metadata (register_model(info=...))")
    # The weights are registered after the architecture (from the package's index), so they are read here.
    kwargs = {tag: dict(weight.model_kwargs) for tag, weight in _weights[arch].items()}
    return dataclasses.replace(info, pretrained_kwargs=kwargs)


def get_weights(name: str) -> WeightInfo | None:
    """The weight ``arch.tag`` names, or the default weight of a bare ``arch``; None if it has no weights.

    Raises:
        UnknownModelError: the architecture is unknown, or the tag is not one of its published tags.
    """
    arch, tag = split_model_name_tag(name)
    model_entrypoint(arch)
    tags = _weights[arch]
    if not tag:
        return next(iter(tags.values()), None)
    if tag not in tags:
        known = ", ".join(f"{arch}.{t}" for t in tags) or "none yet"
        raise UnknownModelError(f"{arch!r} has no pretrained tag {tag!r}; its published weights: {known}")
    return tags[tag]
