#!/usr/bin/env python3
"""A Hugging Face Hub-compatible loopback server for SousHubTests (and huggingface_hub as a peer client).

Usage: hub_server.py SPEC.json [--storage-base URL]
       -> prints `STORAGE <port>` then `PORT <port>` (the Hub port).
--storage-base URL: LFS resolve requests redirect to `URL/<sha256>` (an external static server such as nginx
serving a folder of blobs named by sha256, used by scripts/bench-hub.sh) instead of the built-in storage port.

The spec describes repos; each repo has one commit (sha derived from the spec) reachable as `main`, its
tags and its sha:
{"repos": [{"id": "org/name", "tags": ["v1"], "gated": false, "private": false,
            "files": [{"path": "config.json", "text": "{}"},
                      {"path": "model.safetensors", "size": 2000, "seed": 1, "lfs": true,
                       "corrupt": false, "cut": 0, "norange": false},
                      {"path": "big.safetensors", "file": "/abs/blob", "size": 400000000, "sha256": "…",
                       "lfs": true}],
            "ghost": ["listed-but-missing.txt"]}]}
- LFS files: HEAD/GET on resolve answer 302 to the storage port (`/lfs/<sha256>`), with X-Repo-Commit,
  X-Linked-Etag, X-Linked-Size; regular files answer 200 with ETag = git blob sha1.
- `file`: the bytes live in that file (read on demand, never held in memory for LFS files when `sha256` and
  `size` are given; otherwise read once at start).
- `corrupt`: storage serves bytes that do not match the sha256 (regular files: the git blob sha1). `cut`: the first `cut` storage GETs send half
  of what they promise and close. `norange`: storage ignores `Range` and always answers 200 with the whole file.
- Gated repos: downloads need `Authorization: Bearer hf_granted` (none -> 401, other -> 403, X-Error-Code
  GatedRepo). Private repos need `Bearer hf_private` for everything (else 401 RepoNotFound).
- GET /_stats: {"storage": [{"path", "auth", "range"}], "hub": [{"method", "path", "auth"}]}.
- GET /_faults?repo=ID&api=503,429,reset[&then=503]: the next listing (api) requests of that repo answer these
  statuses in turn (`reset`: the connection is closed without an answer); with `then`, every later one answers it.
- A repo's `"extra_names": [...]` are listed besides its files (hostile names that do not exist).
"""
import hashlib
import json
import random
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlparse, parse_qs

LOCK = threading.Lock()
STATS = {"storage": [], "hub": []}
REPOS = {}
BLOBS = {}  # sha256 -> (bytes, file spec)
CUTS = {}  # sha256 -> remaining cuts
FAULTS = {}  # repo id -> {"queue": [status or "reset"], "then": status or None}
STORAGE_PORT = [0]
STORAGE_BASE = [None]  # external storage base URL (--storage-base)


def load(spec):
    for repo in spec["repos"]:
        files = {}
        listing = []
        for f in repo["files"]:
            if "file" in f and f.get("lfs") and "sha256" in f and "size" in f:
                data = None  # large: served from the file, never loaded
                size = int(f["size"])
                sha256 = f["sha256"]
                git_sha1 = None
            else:
                if "text" in f:
                    data = f["text"].encode()
                elif "file" in f:
                    with open(f["file"], "rb") as fh:
                        data = fh.read()
                else:
                    data = random.Random(f.get("seed", 0)).randbytes(f["size"])
                size = len(data)
                sha256 = hashlib.sha256(data).hexdigest()
                git_sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            entry = {"path": f["path"], "data": data, "file": f.get("file"), "size": size, "lfs": bool(f.get("lfs")),
                     "sha256": sha256, "git": git_sha1, "corrupt": bool(f.get("corrupt")), "cut": int(f.get("cut", 0)),
                     "norange": bool(f.get("norange"))}
            if entry["lfs"]:
                # The git blob of an LFS file is its pointer file.
                pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n").encode()
                entry["git"] = hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()
                entry["pointer_size"] = len(pointer)
                BLOBS[sha256] = (data, entry)
                CUTS[sha256] = entry["cut"]
            files[f["path"]] = entry
            listing.append(entry)
        ghosts = repo.get("ghost", [])
        commit = hashlib.sha1(json.dumps(repo, sort_keys=True).encode()).hexdigest()
        REPOS[repo["id"]] = {"spec": repo, "files": files, "ghosts": ghosts, "commit": commit,
                             "revisions": {"main", commit, *repo.get("tags", [])}}


def token_of(headers):
    auth = headers.get("Authorization") or ""
    return auth[7:] if auth.startswith("Bearer ") else None


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body=b"", headers=None, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, code, message, extra=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message} if code else {"X-Error-Message": message}
        headers.update(extra or {})
        self._send(status, json.dumps({"error": message}).encode(), headers)

    def _repo_access(self, repo, download):
        """Returns True when the request may proceed, else sends the error."""
        spec = repo["spec"]
        tok = token_of(self.headers)
        rid = spec["id"]
        if spec.get("private") and tok != "hf_private":
            self._error(401, "RepoNotFound", "Repository not found")
            return False
        if download and spec.get("gated") and tok != "hf_granted":
            if tok is None:
                self._error(401, "GatedRepo", f"Access to model {rid} is restricted. You must have access to it "
                            "and be authenticated to access it. Please log in.")
            else:
                self._error(403, "GatedRepo", f"Access to model {rid} is restricted and you are not in the "
                            f"authorized list. Visit https://huggingface.co/{rid} to ask for access.")
            return False
        return True

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def route(self):
        url = urlparse(self.path)
        with LOCK:
            STATS["hub"].append({"method": self.command, "path": self.path, "auth": "Authorization" in self.headers})
        raw = url.path.split("/")[1:]
        if url.path == "/_stats":
            with LOCK:
                return self._send(200, json.dumps(STATS).encode())
        if url.path == "/_faults":
            q = parse_qs(url.query)
            faults = [f if f == "reset" else int(f) for f in q.get("api", [""])[0].split(",") if f]
            then = q.get("then", [None])[0]
            with LOCK:
                FAULTS[q["repo"][0]] = {"queue": faults, "then": int(then) if then else None}
            return self._send(200, b"{}")
        if len(raw) >= 4 and raw[0] == "api" and raw[1] == "models":
            return self.api(raw[2:], parse_qs(url.query))
        if len(raw) >= 5 and raw[2] == "resolve":
            return self.resolve(unquote(raw[0]) + "/" + unquote(raw[1]), unquote(raw[3]),
                                "/".join(unquote(p) for p in raw[4:]))
        self._error(404, "NotFound", "not found")

    def api(self, parts, query):
        repo_id = unquote(parts[0]) + "/" + unquote(parts[1])
        with LOCK:
            f = FAULTS.get(repo_id)
            fault = (f["queue"].pop(0) if f["queue"] else f["then"]) if f else None
        if fault == "reset":
            self.close_connection = True
            return
        if fault is not None:
            return self._error(fault, "", f"injected {fault}", {"Retry-After": "0"})
        repo = REPOS.get(repo_id)
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        if not self._repo_access(repo, download=False):
            return
        rest = parts[2:]
        revision = "main"
        kind = "info"
        if len(rest) >= 2 and rest[0] == "revision":
            revision = unquote(rest[1])
        elif len(rest) >= 2 and rest[0] == "tree":
            revision = unquote(rest[1])
            kind = "tree"
        elif rest:
            return self._error(404, "NotFound", "not found")
        if revision not in repo["revisions"]:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        entries = list(repo["files"].values())
        if kind == "tree":
            out = []
            dirs = set()
            for e in entries:
                parts_ = e["path"].split("/")[:-1]
                for i in range(1, len(parts_) + 1):
                    dirs.add("/".join(parts_[:i]))
                item = {"type": "file", "oid": e["git"], "size": e["size"], "path": e["path"]}
                if e["lfs"]:
                    item["lfs"] = {"oid": e["sha256"], "size": e["size"], "pointerSize": e["pointer_size"]}
                out.append(item)
            for g in repo["ghosts"]:
                out.append({"type": "file", "oid": "0" * 40, "size": 1, "path": g})
            out += [{"type": "directory", "oid": "1" * 40, "size": 0, "path": d} for d in sorted(dirs)]
            return self._send(200, json.dumps(out).encode())
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for e in entries:
            s = {"rfilename": e["path"]}
            if blobs:
                s.update({"blobId": e["git"], "size": e["size"]})
                if e["lfs"]:
                    s["lfs"] = {"sha256": e["sha256"], "size": e["size"], "pointerSize": e["pointer_size"]}
            siblings.append(s)
        for name in repo["spec"].get("extra_names", []):
            siblings.append({"rfilename": name, **({"blobId": "2" * 40, "size": 1} if blobs else {})})
        for g in repo["ghosts"]:
            siblings.append({"rfilename": g, **({"blobId": "0" * 40, "size": 1} if blobs else {})})
        spec = repo["spec"]
        info = {"_id": "x", "id": repo_id, "modelId": repo_id, "sha": repo["commit"], "private": bool(spec.get("private")),
                "gated": "manual" if spec.get("gated") else False, "disabled": False, "siblings": siblings,
                "tags": [], "downloads": 0, "likes": 0}
        self._send(200, json.dumps(info).encode())

    def resolve(self, repo_id, revision, path):
        repo = REPOS.get(repo_id)
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        if not self._repo_access(repo, download=True):
            return
        if revision not in repo["revisions"]:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        commit = repo["commit"]
        entry = repo["files"].get(path)
        if entry is None:
            return self._error(404, "EntryNotFound", f"{path} does not exist on \"{revision}\"",
                               {"X-Repo-Commit": commit})
        data = entry["data"]
        if entry["lfs"]:
            if STORAGE_BASE[0]:
                location = f"{STORAGE_BASE[0]}/{entry['sha256']}?X-Amz-Signature=fake"
            else:
                location = f"http://127.0.0.1:{STORAGE_PORT[0]}/lfs/{entry['sha256']}?X-Amz-Signature=fake"
            return self._send(302, b"", {
                "Location": location, "X-Repo-Commit": commit, "X-Linked-Etag": f"\"{entry['sha256']}\"",
                "X-Linked-Size": str(entry["size"]), "ETag": f"\"{entry['git']}\""}, "text/plain")
        if entry["corrupt"]:
            data = bytes(b ^ 0xFF for b in data)
        headers = {"X-Repo-Commit": commit, "ETag": f"\"{entry['git']}\"", "Accept-Ranges": "bytes"}
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and self.command == "GET":
            a, _, b = rng[6:].partition("-")
            a = int(a)
            b = min(int(b), len(data) - 1) if b else len(data) - 1
            headers["Content-Range"] = f"bytes {a}-{b}/{len(data)}"
            return self._send(206, data[a:b + 1], headers, "application/octet-stream")
        self._send(200, data, headers, "application/octet-stream")


class Storage(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        rng = self.headers.get("Range")
        with LOCK:
            STATS["storage"].append({"path": url.path, "auth": "Authorization" in self.headers, "range": rng})
        sha = url.path.rsplit("/", 1)[-1]
        if sha not in BLOBS:
            return self._plain(404, b"no such blob")
        data, entry = BLOBS[sha]
        size = entry["size"]
        start, end = 0, size - 1
        status = 200
        extra = {}
        if rng and rng.startswith("bytes=") and not entry["norange"]:
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(int(b), size - 1) if b else size - 1
            if start >= size or end < start:
                return self._plain(416, b"range not satisfiable")
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        if data is None:
            with open(entry["file"], "rb") as fh:
                fh.seek(start)
                body = fh.read(end + 1 - start)
        else:
            body = data[start:end + 1]
        if entry["corrupt"]:
            body = bytes(b ^ 0xFF for b in body)
        with LOCK:
            cut = CUTS.get(sha, 0) > 0
            if cut:
                CUTS[sha] -= 1
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _plain(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    args = sys.argv[1:]
    if "--storage-base" in args:
        i = args.index("--storage-base")
        STORAGE_BASE[0] = args[i + 1].rstrip("/")
        del args[i:i + 2]
    with open(args[0]) as f:
        load(json.load(f))
    storage = Server(("127.0.0.1", 0), Storage)
    STORAGE_PORT[0] = storage.server_address[1]
    threading.Thread(target=storage.serve_forever, daemon=True).start()
    hub = Server(("127.0.0.1", 0), Hub)
    print(f"STORAGE {STORAGE_PORT[0]}", flush=True)
    print(f"PORT {hub.server_address[1]}", flush=True)
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
