"""A Hugging Face Hub stand-in on 127.0.0.1 for the tests: the HTTP surface the official client uses, in memory.

It speaks what ``huggingface_hub`` 2.x sends for ``create_repo``, ``create_branch``, ``upload_folder`` /
``create_commit`` (every file "regular": contents travel base64 in the NDJSON commit, no LFS or Xet) and
``hf_hub_download`` / ``snapshot_download`` / ``model_info`` (HEAD and GET on ``resolve``, ``revision`` and
``tree`` listings), with the ``X-Error-Code`` headers that make the client raise the right exception. Every commit
is kept, so an older revision downloads as long as the server runs. See shared/reference/hub-protocol.md.

Only standard library: ``http.server`` on a free port in a daemon thread.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

__all__ = ["LoopbackHub", "Commit", "Repo"]


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of ``data`` (what the Hub sends as the ETag of a regular file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit oid
    private: bool = False

    def resolve(self, revision: str) -> Commit | None:
        oid = self.refs.get(revision, revision)
        return self.commits.get(oid)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # keep pytest output clean
        pass

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:  # record every request (and who sent it) before it is served
            hub = self.server.hub
            hub.requests.append(f"{self.command} {self.path}")
            hub.user_agents.append(self.headers.get("User-Agent", ""))
            hub.authorizations.append(self.headers.get("Authorization", ""))
        return ok

    # -- helpers -------------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json", head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, status: int, value, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(value).encode(), headers)

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        body = json.dumps({"error": message}).encode()
        self._send(status, body, {"X-Error-Code": code, "X-Error-Message": message}, head=head)

    def _repo(self, repo_id: str, head: bool = False) -> Repo | None:
        repo = self.server.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head)
        return repo

    # -- routing -------------------------------------------------------------------------------------------------
    def do_POST(self) -> None:
        hub = self.server.hub
        path = urlsplit(self.path).path
        body = self._body()
        with hub.lock:
            if path == "/api/repos/create":
                payload = json.loads(body or b"{}")
                repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
                url = f"{hub.url}/{repo_id}"
                if repo_id in hub.repos:
                    return self._json(409, {"error": "You already created this model repo", "url": url})
                hub.repos[repo_id] = Repo(repo_id, private=payload.get("visibility") == "private")
                return self._json(200, {"url": url, "name": repo_id})
            if path == "/api/validate-yaml":
                return self._json(200, {"errors": [], "warnings": []})
            parts = path.split("/")
            # /api/models/{org}/{name}/{action}/{revision...}
            if len(parts) >= 7 and parts[1] == "api" and parts[2] == "models":
                repo_id, action, revision = f"{parts[3]}/{parts[4]}", parts[5], unquote("/".join(parts[6:]))
                repo = self._repo(repo_id)
                if repo is None:
                    return None
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._json(200, {"files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
                if action == "commit":
                    return self._commit(repo, revision, body)
                if action == "branch":
                    if revision in repo.refs:
                        return self._error(409, "BranchAlreadyExists", f"branch {revision} exists")
                    start = json.loads(body or b"{}").get("startingPoint") or "main"
                    commit = repo.resolve(start)
                    if commit is None:
                        return self._error(404, "RevisionNotFound", f"revision {start} not found")
                    repo.refs[revision] = commit.oid
                    return self._json(200, {})
        self._error(404, "EntryNotFound", f"no route POST {path}")

    def _commit(self, repo: Repo, revision: str, body: bytes) -> None:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        parent_oid = repo.refs.get(revision)
        if parent_oid is None and revision != "main":
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if header.get("parentCommit") and header["parentCommit"] != parent_oid:
            return self._error(412, "ParentCommitMismatch", "parent commit is not the head of the branch")
        files = dict(repo.commits[parent_oid].files) if parent_oid else {}
        for line in lines:
            value = line["value"]
            if line["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "deletedFile":
                files.pop(value["path"], None)
            elif line["key"] == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {k: v for k, v in files.items() if not k.startswith(prefix)}
            elif line["key"] == "lfsFile":
                return self._error(400, "BadRequest", "this test hub accepts regular uploads only")
        digest = hashlib.sha1(json.dumps(
            [parent_oid, header.get("summary"), time.time_ns(), sorted((k, git_blob_sha1(v)) for k, v in files.items())]
        ).encode()).hexdigest()
        repo.commits[digest] = Commit(digest, parent_oid, header.get("summary", ""), files)
        repo.refs[revision] = digest
        hub = self.server.hub
        self._json(200, {"commitUrl": f"{hub.url}/{repo.repo_id}/commit/{digest}", "commitOid": digest,
                         "pullRequestUrl": None})

    def do_HEAD(self) -> None:
        self._get(head=True)

    def do_GET(self) -> None:
        self._get(head=False)

    def _get(self, head: bool) -> None:
        hub = self.server.hub
        split = urlsplit(self.path)
        parts = split.path.split("/")
        with hub.lock:
            if hub.fail_downloads:
                return self._error(503, "ServiceUnavailable", "this test hub refuses downloads now", head)
            # /{org}/{name}/resolve/{revision}/{path...}
            if len(parts) >= 6 and parts[3] == "resolve":
                repo = self._repo(f"{parts[1]}/{parts[2]}", head)
                if repo is None:
                    return None
                revision, filename = unquote(parts[4]), unquote("/".join(parts[5:]))
                commit = repo.resolve(revision)
                if commit is None:
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
                if filename not in commit.files:
                    return self._error(404, "EntryNotFound", f"{filename} does not exist at {revision}", head)
                data = commit.files[filename]
                headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_sha1(data)}"'}
                return self._send(200, data, headers, "application/octet-stream", head)
            # /api/models/{org}/{name}[/revision/{rev} | /tree/{rev}[/path]]
            if len(parts) >= 5 and parts[1] == "api" and parts[2] == "models":
                repo = self._repo(f"{parts[3]}/{parts[4]}", head)
                if repo is None:
                    return None
                action = parts[5] if len(parts) > 5 else "revision"
                revision = unquote(parts[6]) if len(parts) > 6 else "main"
                commit = repo.resolve(revision)
                if commit is None:
                    return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
                if action == "revision":
                    return self._json(200, {"id": repo.repo_id, "modelId": repo.repo_id, "sha": commit.oid,
                                            "private": repo.private,
                                            "siblings": [{"rfilename": name} for name in sorted(commit.files)]})
                if action == "tree":
                    return self._json(200, [
                        {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": name}
                        for name, data in sorted(commit.files.items())])
                if action == "refs":
                    return self._json(200, {"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": o}
                                                         for b, o in repo.refs.items()], "tags": [], "converts": []})
        self._error(404, "EntryNotFound", f"no route GET {split.path}", head)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: "LoopbackHub"


class LoopbackHub:
    """Start with ``LoopbackHub().start()``; ``url`` is the endpoint; ``stop()`` shuts it down.

    ``repos`` holds every repository with all its commits; ``requests`` logs the requests served (and
    ``user_agents`` / ``authorizations`` their headers);
    set ``fail_downloads = True`` to make every GET/HEAD answer 503 (a Hub that is down).
    """

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self.authorizations: list[str] = []
        self.lock = threading.RLock()
        self.fail_downloads = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the hub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LoopbackHub":
        self._server = _Server(("127.0.0.1", 0), _Handler)  # port 0: the OS picks a free port
        self._server.hub = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def head(self, repo_id: str, branch: str = "main") -> str:
        """The commit oid ``branch`` of ``repo_id`` points at."""
        return self.repos[repo_id].refs[branch]

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision``."""
        commit = self.repos[repo_id].resolve(revision)
        assert commit is not None, f"{repo_id} has no revision {revision}"
        return commit.files
