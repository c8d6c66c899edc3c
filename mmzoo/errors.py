"""Every public exception and warning of mmzoo, in one place (as huggingface_hub's ``errors.py``).

Modules raise these; none imports another module just for an exception type, so no import cycle can come from
an error. Each class derives from the builtin a caller would naturally catch (``LookupError`` for an unknown
name, ``ValueError`` for bad content, ``FileNotFoundError`` for a missing file), so generic handlers still work.

>>> import mmzoo
>>> issubclass(mmzoo.UnknownModelError, LookupError)
True
"""
from __future__ import annotations

__all__ = [
    "MmzooError",
    "UnknownModelError",
    "DuplicateModelError",
    "WeightsNotFoundError",
    "IntegrityError",
    "WrongArchitectureError",
    "UnverifiedWeightsError",
    "BusyError",
    "PublishError",
    "GoldenOutputError",
    "NonFiniteLossError",
    "DataFormatError",
    "UnpairedFilesError",
    "LabelsFileError",
    "UnknownClassError",
    "InputSizeError",
    "HeadMismatchError",
    "PretrainedAdaptationWarning",
    "UnverifiedWeightsWarning",
    "InputRangeWarning",
]


class MmzooError(Exception):
    """Base of the errors mmzoo raises on purpose (a CLI prints them as one line, without a traceback)."""


class UnknownModelError(MmzooError, LookupError):
    """An architecture name or pretrained tag that is not registered."""


class DuplicateModelError(MmzooError, ValueError):
    """A name registered twice without ``override=True``."""


class WeightsNotFoundError(MmzooError, FileNotFoundError):
    """Pretrained weights that are in none of the places mmzoo looks, or cannot be fetched right now."""


class IntegrityError(MmzooError, ValueError):
    """A weight file whose bytes are not the ones recorded for it (corrupted, truncated or tampered with)."""


class WrongArchitectureError(MmzooError, ValueError):
    """Weights saved for one architecture offered to another."""


class UnverifiedWeightsError(MmzooError, ValueError):
    """A weight file with no sha256 record to check it against, loaded without ``trust_unverified=True``."""


class BusyError(MmzooError, RuntimeError):
    """A folder that another mmzoo process is writing right now (a run folder, a data folder, an index)."""


class GoldenOutputError(MmzooError, ValueError):
    """Published weights that no longer give the output recorded for them (``mmzoo.release.golden``)."""


class NonFiniteLossError(MmzooError, RuntimeError):
    """A training or validation loss that became nan or infinite: the run stops instead of recording garbage."""


class PublishError(MmzooError, RuntimeError):
    """Publishing to the Hub failed: the endpoint is unreachable or too slow, or it refused the upload."""


class DataFormatError(MmzooError, ValueError):
    """A data file that is not what the documented format says (an image of another mode or bit depth, a range
    image of the wrong shape or with nan / inf values); the message names the file and how to fix it."""


class UnpairedFilesError(MmzooError, FileNotFoundError):
    """An own-data folder whose ``rgb/`` and ``lidar/`` files, or labels rows, do not pair up by name."""


class LabelsFileError(MmzooError, ValueError):
    """A labels file (CSV or JSON lines) with a missing, duplicate or malformed row, named by its line."""


class UnknownClassError(MmzooError, LookupError):
    """A class name that the model was not trained on (at predict or evaluate time)."""


class InputSizeError(MmzooError, ValueError):
    """Data that cannot be brought to the size a model needs (a range image smaller than its fixed input)."""


class HeadMismatchError(MmzooError, ValueError):
    """A task whose number of outputs does not match a head that was asked to be kept."""


class PretrainedAdaptationWarning(UserWarning):
    """Pretrained weights were loaded with a declared adaptation (fresh head, adapted first convolution)."""


class UnverifiedWeightsWarning(UserWarning):
    """Weights were loaded with ``trust_unverified=True``: nothing recorded their sha256, so nothing checked it."""


class InputRangeWarning(UserWarning):
    """An input looks like it is in another range than the model expects (e.g. RGB in 0..255, not 0..1)."""
