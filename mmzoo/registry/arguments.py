"""Constructor arguments checked before anything is built: types and ranges declared as data.

A ``config.json`` from somewhere else, a CLI ``--set`` or a typo must fail with a message that names the
argument, not allocate 400 TB for ``num_outputs=10**12`` or build a model from the string ``"3"``. The rules
apply to every registered architecture that takes the argument; architectures declare nothing extra.

>>> check_arguments("late_fusion", {"num_outputs": 3})
>>> check_arguments("late_fusion", {"num_outputs": "3"})
Traceback (most recent call last):
...
TypeError: late_fusion: num_outputs must be an int; got '3' (str)
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ArgumentRule", "ARGUMENT_RULES", "check_arguments"]


@dataclass(frozen=True)
class ArgumentRule:
    """What one constructor argument may be: ``kind`` ``int`` or ``float`` (an int is accepted for a float;
    a bool never is), within ``[low, high]``."""

    kind: type
    low: float
    high: float
    why: str = ""

    def check(self, arch: str, name: str, value: Any) -> None:
        """Raise ``TypeError`` / ``ValueError`` naming ``arch`` and ``name`` unless ``value`` fits."""
        kinds = (int,) if self.kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise TypeError(f"{arch}: {name} must be {'an int' if self.kind is int else 'a number'}; "
                            f"got {value!r} ({type(value).__name__})")
        if not (self.low <= value <= self.high) or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"{arch}: {name} must be between {self.low:g} and {self.high:g}{self.why}; got {value!r}")


#: The arguments whose values are checked, wherever they are accepted.
ARGUMENT_RULES: dict[str, ArgumentRule] = {
    "num_outputs": ArgumentRule(int, 1, 100_000, " (the size of the head)"),
    "rgb_channels": ArgumentRule(int, 1, 64),
    "lidar_channels": ArgumentRule(int, 1, 64),
    "input_size": ArgumentRule(int, 8, 4096),
    "lidar_scale": ArgumentRule(float, 1e-9, 1e9, " (a positive gain on LiDAR x, y, z)"),
}


def check_arguments(arch: str, kwargs: Mapping[str, Any]) -> None:
    """Check every argument in ``kwargs`` that has a rule (unknown names are left to the constructor, whose
    ``TypeError`` the registry rewords)."""
    for name, value in kwargs.items():
        rule = ARGUMENT_RULES.get(name)
        if rule is not None:
            rule.check(arch, name, value)
