"""``mmzoo publish``: upload a verified model folder to the Hugging Face Hub in one commit.

    mmzoo publish weights/intermediate_cat.shapes_v1 --repo-id mmzoo/intermediate_cat.shapes_v1 --dry-run
    mmzoo publish weights/intermediate_cat.shapes_v1 --repo-id mmzoo/intermediate_cat.shapes_v1 --pin

The token comes from HF_TOKEN or `hf auth login` (there is deliberately no --token flag: a token on the command
line ends up in shell history); mmzoo never prints or writes it. HF_ENDPOINT selects another Hub.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

__all__ = ["register"]


def _pinnable_entry(folder: Path, index: str | None) -> tuple[Path, dict]:
    """The index entry that ``--pin`` will update, checked BEFORE anything is uploaded: it must exist and record
    the folder's exact bytes (else the pin would point a tag at other weights)."""
    from mmzoo.pretrained.folder import WEIGHTS_NAME
    from mmzoo.pretrained.index import INDEX_PATH, read_index
    from mmzoo.utils.files import file_sha256

    path = Path(index) if index else INDEX_PATH
    entry = read_index(path).get(folder.name)
    if entry is None:
        raise LookupError(f"{path} has no entry {folder.name!r} to pin; export it with `mmzoo export` first "
                          "(nothing was uploaded)")
    if entry["sha256"] != file_sha256(folder / WEIGHTS_NAME):
        raise ValueError(f"{folder / WEIGHTS_NAME} is not the file {path} records for {folder.name}; re-export it "
                         "(nothing was uploaded)")
    return path, entry


def _pin(path: Path, entry: dict, repo_id: str, commit: str) -> str:
    """Record ``repo_id`` at ``commit`` as the pinned revision of the entry's ``arch.tag`` in the index."""
    from mmzoo.pretrained.index import update_index
    from mmzoo.registry import WeightInfo

    weight = dataclasses.replace(WeightInfo.from_dict({k: v for k, v in entry.items() if k != "default"}),
                                 repo_id=repo_id, revision=commit)
    update_index(weight, path)
    return str(path)


def _cmd_publish(args: argparse.Namespace) -> int:
    from mmzoo.release.publish import publish_folder

    folder = Path(args.folder)
    pin_target = _pinnable_entry(folder, args.index) if args.pin else None
    result = publish_folder(folder, args.repo_id, revision=args.revision, commit_message=args.message,
                            private=args.private or None, dry_run=args.dry_run)
    if not result.dry_run:  # printed before pinning, so the commit is known even if pinning fails
        print(f"committed {result.commit} to {result.repo_id}@{result.revision} ({result.commit_url})",
              file=sys.stderr if args.json else sys.stdout)
    pinned = _pin(*pin_target, args.repo_id, result.commit) if pin_target and not args.dry_run else None
    if args.json:
        print(json.dumps({**result.to_dict(), "pinned_in": pinned}, indent=2))
        return 0
    for item in result.files:
        print(f"  {item['path']:<18} {item['num_bytes']:>12,} bytes  sha256 {item['sha256']}")
    if result.dry_run:
        print(f"dry run: would commit these {len(result.files)} files to {result.repo_id}@{result.revision} "
              f"on {result.endpoint}")
        return 0
    if pinned:
        print(f"pinned {folder.name} to revision {result.commit} in {pinned}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``publish``."""
    p = subparsers.add_parser("publish", help="upload weights/<arch>.<tag> to the Hugging Face Hub in one commit")
    p.add_argument("folder", help="a model folder (config.json, model.safetensors, README.md)")
    p.add_argument("--repo-id", required=True, help="org/name on the Hub (created if missing)")
    p.add_argument("--revision", help="branch to commit to (created if missing; default main)")
    p.add_argument("--message", help="commit message")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--dry-run", action="store_true", help="verify the folder and list the files; upload nothing")
    p.add_argument("--pin", action="store_true",
                   help="record the new commit as the pinned revision of this arch.tag in the pretrained index")
    p.add_argument("--index", help="the index to pin in (default: the package's mmzoo/pretrained/index.json)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_publish)
