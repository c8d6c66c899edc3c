"""Publishing to the Hugging Face Hub: a verified model folder, uploaded in one commit through ``HfApi``.

``publish_folder(folder, repo_id)`` checks the folder first (config.json names a registered architecture, the
weights match their recorded sha256 and size and load strictly), creates the repo if needed (``exist_ok``), and
uploads ``config.json``, ``model.safetensors`` and ``README.md`` in one commit; ``push_to_hub(model, repo_id)``
writes the folder first (``save_pretrained`` + a model card). The token is the usual one (``HF_TOKEN`` or
``hf auth login``), read by huggingface_hub; mmzoo never prints or writes it. HF_ENDPOINT is honoured.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import nn

from mmzoo.release.cards import render_basic_card, render_card
from mmzoo.errors import PublishError
from mmzoo.pretrained.hub import (
    PROBE_DEADLINE_S,
    call_with_deadline,
    hub_endpoint,
    hub_offline,
    transfer_deadline,
    transport_errors,
)
from mmzoo.registry.metadata import WeightInfo
from mmzoo.registry import model_info
from mmzoo.pretrained.folder import CONFIG_NAME, WEIGHTS_NAME, load_pretrained, save_pretrained
from mmzoo.utils.files import file_sha256

__all__ = ["CARD_NAME", "UPLOAD_FILES", "PublishResult", "check_folder", "publish_folder", "push_to_hub"]

CARD_NAME = "README.md"
#: The files a model repo is made of; nothing else in a folder is uploaded.
UPLOAD_FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME)


@dataclass
class PublishResult:
    """What was (or, for a dry run, would be) uploaded, and the commit it made."""

    repo_id: str
    endpoint: str
    revision: str
    files: list[dict] = field(default_factory=list)  # {"path", "num_bytes", "sha256"}
    commit: str | None = None
    commit_url: str | None = None
    dry_run: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def check_folder(folder: str | Path) -> list[dict]:
    """Verify that ``folder`` is a loadable mmzoo model folder; returns its files to upload.

    Raises:
        FileNotFoundError: config.json or model.safetensors is missing.
        IntegrityError / ValueError: the weights are not the recorded ones, or do not load strictly.
    """
    folder = Path(folder).expanduser()
    load_pretrained(folder, pretrained=True)  # verifies sha256 and size, rebuilds and loads strictly
    return [{"path": name, "num_bytes": (folder / name).stat().st_size, "sha256": file_sha256(folder / name)}
            for name in UPLOAD_FILES if (folder / name).is_file()]


def publish_folder(
    folder: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    dry_run: bool = False,
) -> PublishResult:
    """Upload a model folder (``config.json``, ``model.safetensors``, ``README.md``) to ``repo_id`` in one commit.

    Args:
        folder: written by ``save_pretrained`` or ``mmzoo export``; verified before anything is sent.
        repo_id: ``org/name``; created if it does not exist.
        revision: the branch to commit to (created from ``main`` if missing); default ``main``.
        commit_message: default ``"Upload <architecture> with mmzoo"``.
        private: visibility of a repo that is created (an existing repo keeps its own).
        token: a Hub token; default: HF_TOKEN or the stored login. Never printed or written.
        endpoint: default HF_ENDPOINT or https://huggingface.co.
        dry_run: verify and list the files, send nothing.

    Returns:
        A :class:`PublishResult` with the commit hash (``commit``), None for a dry run.
    """
    folder = Path(folder).expanduser()
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise ValueError(f"repo id {repo_id!r} must look like org/name")
    files = check_folder(folder)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    branch = revision or "main"
    result = PublishResult(repo_id, endpoint, branch, files, dry_run=dry_run)
    if dry_run:
        return result
    if hub_offline():
        raise PublishError("HF_HUB_OFFLINE is set: publishing needs the network; unset it to upload "
                           "(or use --dry-run to check the folder)")
    info = _upload(folder, repo_id, branch, endpoint, token, private, commit_message)
    result.commit, result.commit_url = info.oid, info.commit_url
    return result


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    model_card: str | None = None,
) -> PublishResult:
    """Save ``model`` (``save_pretrained``) with a model card and publish it to ``repo_id`` in one commit.

    The card is ``model_card`` if given, else the full card of the model's published weight
    (``model.pretrained_cfg``), else a short card naming the architecture and how to load it.
    """
    with tempfile.TemporaryDirectory(prefix="mmzoo-push-") as tmp:
        folder = save_pretrained(model, Path(tmp) / "model")
        weight = getattr(model, "pretrained_cfg", None)
        arch = model.arch_name
        try:
            info = model_info(arch)
        except LookupError:  # registered without metadata
            info = None
        if model_card is None:
            # The published weight's card is true only for its exact bytes (not after fine-tuning or adapting).
            unchanged = isinstance(weight, WeightInfo) and file_sha256(folder / WEIGHTS_NAME) == weight.sha256
            if unchanged and info is not None:
                model_card = render_card(weight, info)
            else:
                model_card = render_basic_card(arch, info, repo_id, sum(p.numel() for p in model.parameters()))
        (folder / CARD_NAME).write_text(model_card)
        return publish_folder(folder, repo_id, revision=revision, commit_message=commit_message, private=private,
                              token=token, endpoint=endpoint)


def _upload(folder: Path, repo_id: str, branch: str, endpoint: str, token: str | None, private: bool | None,
            commit_message: str | None):
    """Create the repo (and branch) if needed and upload the folder's files in one commit; returns the
    client's commit info. Network failures and refusals become one :class:`PublishError`."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from mmzoo._version import __version__

    architecture = json.loads((folder / CONFIG_NAME).read_text())["architecture"]
    api = HfApi(endpoint=endpoint, token=token, library_name="mmzoo", library_version=__version__)

    def upload():
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        return api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=branch,
                                 allow_patterns=list(UPLOAD_FILES),
                                 commit_message=commit_message or f"Upload {architecture} with mmzoo")

    try:
        # Every request has an overall deadline (a trickling server restarts the client's read timeouts): the
        # first, which answers whether the Hub is there at all, a short one; the upload that of a transfer.
        call_with_deadline(lambda: api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True),
                           PROBE_DEADLINE_S * 4, f"the Hub at {endpoint}")
        info = call_with_deadline(upload, transfer_deadline(), f"uploading {folder.name} to {endpoint}")
    except (HfHubHTTPError, OSError, *transport_errors()) as err:  # OSError covers the deadline's TimeoutError
        # The client's messages name the status and the server's reason; they never contain the token.
        raise PublishError(f"publishing {folder} to {repo_id} on {endpoint} failed: {type(err).__name__}: {err}; "
                           "check the network, HF_ENDPOINT and your token (HF_TOKEN or `hf auth login`)") from None
    return info
