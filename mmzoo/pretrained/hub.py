"""Where pretrained weights come from: an explicit path, the local ``weights/`` folder, or the Hugging Face cache
and Hub, in that order, and never a wait on a network that is not there.

- :func:`local_weight_dirs`: ``$MMZOO_WEIGHTS_DIR`` (one or more folders, ``os.pathsep``-separated), then the
  ``weights/`` folder of a source checkout (beside the package, recognised by the ``setup.cfg`` next to it).
  Each holds ``<arch>.<tag>/model.safetensors``.
- :func:`hub_download`: ``hf_hub_download(..., library_name="mmzoo", library_version=...)`` honouring
  HF_ENDPOINT, HF_HUB_OFFLINE, HF_HUB_CACHE / HF_HOME, ``cache_dir`` and ``revision``. mmzoo reads HF_ENDPOINT
  and HF_HUB_OFFLINE when it is called, not only when huggingface_hub is imported. A pinned commit is served
  from the cache without a request. When the cache lacks a file: offline, it fails at once with a message saying
  how to fix it; online, one short request probes the endpoint first, because the client retries an unreachable
  Hub for tens of seconds before giving up.

huggingface_hub is imported only when a download is needed, so ``import mmzoo`` stays light.
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path

from mmzoo.errors import WeightsNotFoundError

__all__ = [
    "WEIGHTS_DIR_ENV",
    "PROBE_TIMEOUT_S",
    "hub_endpoint",
    "hub_offline",
    "hub_cache_dir",
    "checkout_weights_dir",
    "local_weight_dirs",
    "find_local_weight",
    "hub_download",
    "parse_hub_name",
]

#: Environment variable naming folders that hold ``<arch>.<tag>/`` weight folders.
WEIGHTS_DIR_ENV = "MMZOO_WEIGHTS_DIR"
#: Seconds the endpoint probe waits (HF_HUB_ETAG_TIMEOUT overrides it, as it does for the client).
PROBE_TIMEOUT_S = 10.0

_TRUE = {"1", "ON", "YES", "TRUE"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # mmzoo/pretrained/hub.py -> the folder holding mmzoo/


def hub_endpoint() -> str:
    """The Hub endpoint: ``$HF_ENDPOINT`` now, else huggingface_hub's (read at its import)."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    """True when ``$HF_HUB_OFFLINE`` is set now or was set when huggingface_hub was imported."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE or bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default."""
    from huggingface_hub import constants

    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def checkout_weights_dir() -> Path | None:
    """``weights/`` of the source checkout mmzoo runs from, or None for an installed wheel."""
    folder = _PACKAGE_ROOT / "weights"
    return folder if (_PACKAGE_ROOT / "setup.cfg").is_file() and folder.is_dir() else None


def local_weight_dirs() -> list[Path]:
    """Folders searched for ``<arch>.<tag>/``: ``$MMZOO_WEIGHTS_DIR`` entries, then a source checkout's weights/."""
    dirs = [Path(p).expanduser() for p in os.environ.get(WEIGHTS_DIR_ENV, "").split(os.pathsep) if p]
    if (checkout := checkout_weights_dir()) is not None:
        dirs.append(checkout)
    return dirs


def find_local_weight(name: str, filename: str) -> Path | None:
    """The first ``<dir>/<name>/<filename>`` that exists in :func:`local_weight_dirs`, or None."""
    for folder in local_weight_dirs():
        path = folder / name / filename
        if path.is_file():
            return path
    return None


def parse_hub_name(name: str) -> tuple[str, str | None]:
    """``"org/name@revision"`` -> ``("org/name", "revision")``; without ``@`` the revision is None.

    >>> parse_hub_name("mmzoo/intermediate_cat.shapes_v1@v1.0")
    ('mmzoo/intermediate_cat.shapes_v1', 'v1.0')
    """
    repo_id, sep, revision = name.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"'hf-hub:{name}' must name a repo as org/name (optionally @revision)")
    if sep and not revision:
        raise ValueError(f"'hf-hub:{name}' has an empty revision after '@'")
    return repo_id, (revision or None)


def _local_alternatives(local_name: str | None) -> str:
    if local_name:
        return (f"set {WEIGHTS_DIR_ENV} to a folder holding {local_name}/ (as weights/ of a source checkout does), "
                "or pass checkpoint_path= to a model.safetensors you have")
    return "put the repo's files (config.json, model.safetensors) in a folder and use 'local-dir:FOLDER'"


def hub_download(
    repo_id: str,
    filename: str,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_name: str | None = None,
) -> Path:
    """A file of a Hub repo, from the cache when it is there, else downloaded (see the module docstring).

    Args:
        repo_id, filename, revision: what to fetch (``revision`` None: ``main``).
        cache_dir: the Hugging Face cache to use (default: HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub).
        local_name: the ``arch.tag`` this file is, to name the local alternatives in error messages.

    Raises:
        WeightsNotFoundError: offline and not cached, the endpoint unreachable, or the repo, revision or file
            missing on the Hub; the message says which and how to fix it.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from mmzoo import __version__

    revision = revision or "main"
    endpoint = hub_endpoint()
    cache = hub_cache_dir(cache_dir)
    what = f"{repo_id} --revision {revision}" if revision != "main" else repo_id
    common = dict(repo_id=repo_id, filename=filename, revision=revision, cache_dir=str(cache), endpoint=endpoint,
                  library_name="mmzoo", library_version=__version__)

    def cached() -> Path | None:
        try:
            return Path(hf_hub_download(**common, local_files_only=True))
        except (LocalEntryNotFoundError, EntryNotFoundError):
            return None

    # A commit hash names immutable files: the cache answers without a request. A branch is checked online.
    if (_COMMIT.match(revision) or hub_offline()) and (path := cached()) is not None:
        return path
    if hub_offline():
        raise WeightsNotFoundError(
            f"{filename} of {repo_id} at revision {revision} is not in the Hugging Face cache ({cache}) and "
            f"HF_HUB_OFFLINE=1 forbids downloading it. To fix it: download it once while online (unset "
            f"HF_HUB_OFFLINE, or run `hf download {what}` where there is network and copy that cache to {cache}), "
            f"or {_local_alternatives(local_name)}"
        )
    try:
        _probe(repo_id, filename, revision, endpoint)
    except _Unreachable as err:
        if (path := cached()) is not None:
            return path  # a branch that cannot be checked right now: the cached copy is the best there is
        raise WeightsNotFoundError(
            f"cannot reach the Hugging Face Hub at {endpoint} to download {filename} of {repo_id} ({err}), and it "
            f"is not in the cache ({cache}). To fix it: check the network or HF_ENDPOINT, or "
            f"{_local_alternatives(local_name)}"
        ) from None
    except RepositoryNotFoundError:
        raise WeightsNotFoundError(f"the Hub at {endpoint} has no repo {repo_id} (or it is private and no token "
                                   "was given: set HF_TOKEN or run `hf auth login`)") from None
    except RevisionNotFoundError:
        raise WeightsNotFoundError(f"{repo_id} on {endpoint} has no revision {revision!r}") from None
    except EntryNotFoundError:
        raise WeightsNotFoundError(f"{repo_id} at revision {revision} has no file {filename}") from None
    except HfHubHTTPError as err:  # 401 / 403 (gated, bad token) and the like: the client's message says which
        raise WeightsNotFoundError(f"the Hub at {endpoint} refused {filename} of {repo_id}: {err}") from None
    try:
        return Path(hf_hub_download(**common))
    except HfHubHTTPError as err:
        raise WeightsNotFoundError(f"downloading {filename} of {repo_id} from {endpoint} failed: {err}") from None


class _Unreachable(Exception):
    pass


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The network errors of whichever HTTP client this huggingface_hub uses: httpx2 (2.x) or httpx (1.x)."""
    errors: list[type[BaseException]] = []
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _probe(repo_id: str, filename: str, revision: str, endpoint: str) -> None:
    """One HEAD request without retries: raises ``_Unreachable`` for network errors and server errors, or the
    client's RepositoryNotFound / RevisionNotFound / EntryNotFound errors."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    timeout = constants.HF_HUB_ETAG_TIMEOUT if constants.HF_HUB_ETAG_TIMEOUT != constants.DEFAULT_ETAG_TIMEOUT \
        else PROBE_TIMEOUT_S
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    kwargs = {"timeout": timeout, "endpoint": endpoint}
    if "retry_on_errors" in inspect.signature(get_hf_file_metadata).parameters:
        kwargs["retry_on_errors"] = False  # huggingface_hub >= 1.0 retries server errors unless told not to
    try:
        get_hf_file_metadata(url, **kwargs)
    except (*_transport_errors(), OfflineModeIsEnabled, OSError) as err:
        if isinstance(err, HfHubHTTPError) and not _server_side(err):
            raise
        raise _Unreachable(f"{type(err).__name__}: {err}") from None


def _server_side(err: Exception) -> bool:
    response = getattr(err, "response", None)
    return response is not None and getattr(response, "status_code", 0) >= 500
