"""The Hugging Face Hub as a source of weights: the cache, then the Hub at a revision, and never an unbounded wait.

- :func:`hub_download`: ``hf_hub_download(..., library_name="mmzoo", library_version=...)`` honouring
  HF_ENDPOINT, HF_HUB_OFFLINE, HF_HUB_CACHE / HF_HOME, ``cache_dir`` and ``revision``. mmzoo reads HF_ENDPOINT
  and HF_HUB_OFFLINE when it is called, not only when huggingface_hub is imported. A pinned commit is served
  from the cache without a request: looking in the cache (:func:`cached_hub_file`) reads folders and nothing
  else, so it works offline and can never wait on a network. When the cache lacks a file: offline, it fails at once with a message saying
  how to fix it; online, one short request probes the endpoint first, because the client retries an unreachable
  Hub for tens of seconds before giving up.
- Every network step has an overall deadline, not only a per-read timeout: an endpoint that accepts a connection
  and never answers, or trickles its headers a byte at a time, would otherwise hold the caller forever (the
  HTTP client's timeouts restart with every byte received). The probe gets :data:`PROBE_DEADLINE_S`, a download
  ``$MMZOO_HUB_DEADLINE_S`` (default :data:`DOWNLOAD_DEADLINE_S`).

huggingface_hub is imported only when a download is needed, so ``import mmzoo`` stays light.
"""
from __future__ import annotations

import importlib
import inspect
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mmzoo.errors import WeightsNotFoundError
from mmzoo.pretrained.locate import WEIGHTS_DIR_ENV

__all__ = [
    "PROBE_DEADLINE_S",
    "DOWNLOAD_DEADLINE_S",
    "DEADLINE_ENV",
    "call_with_deadline",
    "transport_errors",
    "hub_endpoint",
    "hub_offline",
    "hub_cache_dir",
    "hub_download",
    "cached_hub_file",
    "transfer_deadline",
    "parse_hub_name",
]

#: Seconds the endpoint probe may take in all (HF_HUB_ETAG_TIMEOUT overrides it, as it does for the client).
PROBE_DEADLINE_S = 5.0
#: Seconds one file download may take in all, unless ``$MMZOO_HUB_DEADLINE_S`` says otherwise.
DOWNLOAD_DEADLINE_S = 300.0
DEADLINE_ENV = "MMZOO_HUB_DEADLINE_S"

_TRUE = {"1", "ON", "YES", "TRUE"}
T = TypeVar("T")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


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


class _Unreachable(Exception):
    pass


def call_with_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """``fn()``, or ``TimeoutError`` naming ``what`` if it has not returned after ``seconds`` in all.

    The call runs in a daemon thread that is abandoned at the deadline (a socket read cannot be interrupted from
    outside); an abandoned download leaves only the cache's ``.incomplete`` file, which the next one resumes.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as err:  # handed to the caller's thread below
            outcome["error"] = err

    worker = threading.Thread(target=run, name=f"mmzoo-hub: {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"{what} got no complete answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def cached_hub_file(repo_id: str, filename: str, revision: str | None = None,
                    cache_dir: str | Path | None = None) -> Path | None:
    """The cached copy of a Hub file at ``revision`` (a commit, or a branch as the cache last saw it), else None.

    A pure look-up in the cache's folders (``huggingface_hub.try_to_load_from_cache``): it sends no request and
    builds no request headers (``hf_hub_download(..., local_files_only=True)`` builds them, and some
    huggingface_hub releases fetch from the endpoint while doing so).
    """
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(hub_cache_dir(cache_dir)),
                                   revision=revision or "main")
    return Path(found) if isinstance(found, str) else None  # the other answers: None or "known not to exist"


def transfer_deadline() -> float:
    """Seconds one download or upload may take in all: ``$MMZOO_HUB_DEADLINE_S``, else :data:`DOWNLOAD_DEADLINE_S`."""
    value = os.environ.get(DEADLINE_ENV, "")
    try:
        return float(value) if value else DOWNLOAD_DEADLINE_S
    except ValueError:
        raise ValueError(f"${DEADLINE_ENV}={value!r} is not a number of seconds") from None


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
        WeightsNotFoundError: offline and not cached, unreachable or too slow, or missing on the Hub (says which).
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    from mmzoo._version import __version__

    revision = revision or "main"
    endpoint, cache = hub_endpoint(), hub_cache_dir(cache_dir)
    common = dict(repo_id=repo_id, filename=filename, revision=revision, cache_dir=str(cache), endpoint=endpoint,
                  library_name="mmzoo", library_version=__version__)

    def cached() -> Path | None:
        return cached_hub_file(repo_id, filename, revision, cache)

    # A commit hash names immutable files: the cache answers without a request. A branch is checked online.
    if (_COMMIT.match(revision) or hub_offline()) and (path := cached()) is not None:
        return path
    if hub_offline():
        what = f"{repo_id} --revision {revision}" if revision != "main" else repo_id
        raise WeightsNotFoundError(
            f"{filename} of {repo_id} at revision {revision} is not in the Hugging Face cache ({cache}) and "
            f"HF_HUB_OFFLINE=1 forbids downloading it. To fix it: download it once while online (unset "
            f"HF_HUB_OFFLINE, or run `hf download {what}` where there is network and copy that cache to {cache}), "
            f"or {_local_alternatives(local_name)}"
        )
    try:
        _probe_or_explain(repo_id, filename, revision, endpoint)
    except _Unreachable as err:
        if (path := cached()) is not None:
            return path  # a branch that cannot be checked right now: the cached copy is the best there is
        raise WeightsNotFoundError(
            f"cannot reach the Hugging Face Hub at {endpoint} to download {filename} of {repo_id} ({err}), and it "
            f"is not in the cache ({cache}). To fix it: check the network or HF_ENDPOINT, or "
            f"{_local_alternatives(local_name)}"
        ) from None
    deadline = transfer_deadline()
    try:
        return Path(call_with_deadline(lambda: hf_hub_download(**common), deadline, f"downloading {filename}"))
    except (HfHubHTTPError, TimeoutError) as err:
        raise WeightsNotFoundError(f"downloading {filename} of {repo_id} from {endpoint} failed: {err} (a slow "
                                   f"network may need a longer ${DEADLINE_ENV})") from None


def _probe_or_explain(repo_id: str, filename: str, revision: str, endpoint: str) -> None:
    """The probe, with the Hub's refusals turned into ``WeightsNotFoundError`` that say what is missing."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        _probe(repo_id, filename, revision, endpoint)
    except RepositoryNotFoundError:
        raise WeightsNotFoundError(f"the Hub at {endpoint} has no repo {repo_id} (or it is private and no token "
                                   "was given: set HF_TOKEN or run `hf auth login`)") from None
    except RevisionNotFoundError:
        raise WeightsNotFoundError(f"{repo_id} on {endpoint} has no revision {revision!r}") from None
    except EntryNotFoundError:
        raise WeightsNotFoundError(f"{repo_id} at revision {revision} has no file {filename}") from None
    except HfHubHTTPError as err:  # 401 / 403 (gated, bad token) and the like: the client's message says which
        raise WeightsNotFoundError(f"the Hub at {endpoint} refused {filename} of {repo_id}: {err}") from None


def transport_errors() -> tuple[type[BaseException], ...]:
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

    deadline = constants.HF_HUB_ETAG_TIMEOUT if constants.HF_HUB_ETAG_TIMEOUT != constants.DEFAULT_ETAG_TIMEOUT \
        else PROBE_DEADLINE_S
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    # The client's per-read timeout is left longer than the overall deadline, so that a silent server always
    # meets the deadline's message; with both equal, which of the two fired first depended on the machine's load.
    kwargs = {"timeout": 2 * deadline, "endpoint": endpoint}
    if "retry_on_errors" in inspect.signature(get_hf_file_metadata).parameters:
        kwargs["retry_on_errors"] = False  # huggingface_hub >= 1.0 retries server errors unless told not to
    try:
        call_with_deadline(lambda: get_hf_file_metadata(url, **kwargs), deadline, f"the Hub at {endpoint}")
    except (*transport_errors(), OfflineModeIsEnabled, OSError) as err:  # TimeoutError is an OSError
        if isinstance(err, HfHubHTTPError) and not _server_side(err):
            raise
        raise _Unreachable(f"{type(err).__name__}: {err}") from None


def _server_side(err: Exception) -> bool:
    response = getattr(err, "response", None)
    return response is not None and getattr(response, "status_code", 0) >= 500
