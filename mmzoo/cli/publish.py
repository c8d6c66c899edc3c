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
from pathlib import Path

__all__ = ["register"]


def _pin(folder: Path, repo_id: str, commit: str, index: str | None) -> str:
    """Record ``repo_id`` at ``commit`` as the pinned revision of the folder's ``arch.tag`` in the index."""
    from mmzoo.registry.metadata import WeightInfo
    from mmzoo.pretrained.folder import WEIGHTS_NAME
    from mmzoo.utils.files import file_sha256
    from mmzoo.pretrained.index import INDEX_PATH, read_index, update_index

    path = Path(index) if index else INDEX_PATH
    entry = read_index(path).get(folder.name)
    if entry is None:
        raise LookupError(f"{path} has no entry {folder.name!r} to pin; export it with `mmzoo export` first")
    if entry["sha256"] != file_sha256(folder / WEIGHTS_NAME):
        raise ValueError(f"{folder / WEIGHTS_NAME} is not the file {path} records for {folder.name}; re-export it")
    weight = dataclasses.replace(WeightInfo.from_dict({k: v for k, v in entry.items() if k != "default"}),
                                 repo_id=repo_id, revision=commit)
    update_index(weight, path)
    return str(path)


def _cmd_publish(args: argparse.Namespace) -> int:
    from mmzoo.release.publish import publish_folder

    folder = Path(args.folder)
    result = publish_folder(folder, args.repo_id, revision=args.revision, commit_message=args.message,
                            private=args.private or None, dry_run=args.dry_run)
    pinned = _pin(folder, args.repo_id, result.commit, args.index) if args.pin and not args.dry_run else None
    if args.json:
        print(json.dumps({**result.to_dict(), "pinned_in": pinned}, indent=2))
        return 0
    for item in result.files:
        print(f"  {item['path']:<18} {item['num_bytes']:>12,} bytes  sha256 {item['sha256']}")
    if result.dry_run:
        print(f"dry run: would commit these {len(result.files)} files to {result.repo_id}@{result.revision} "
              f"on {result.endpoint}")
        return 0
    print(f"committed {result.commit} to {result.repo_id}@{result.revision} ({result.commit_url})")
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
