#!/usr/bin/env python3
"""huggingface_hub as an independent peer client for SousHubTests.

  hf_peer.py download REPO [REVISION] [ALLOW...]  -> snapshot_download (HF_ENDPOINT / HF_HUB_CACHE / HF_TOKEN from env)
  hf_peer.py offline REPO [REVISION]              -> snapshot_download(local_files_only=True) + hf_hub_download of
                                                     every file with local_files_only=True
  hf_peer.py scan CACHE                           -> scan_cache_dir(CACHE): each repo's refs and revisions
                                                     (file path in the snapshot -> blob name), and the warnings
  hf_peer.py fnmatch                              -> reads JSON [[name, pattern], ...] on stdin, prints booleans
Prints one JSON object on the last line of stdout.
"""
import fnmatch
import hashlib
import json
import os
import sys


def main():
    cmd = sys.argv[1]
    if cmd == "fnmatch":
        pairs = json.load(sys.stdin)
        print(json.dumps([fnmatch.fnmatchcase(n, p) for n, p in pairs]))
        return
    if cmd == "scan":
        from huggingface_hub import scan_cache_dir
        info = scan_cache_dir(sys.argv[2])
        repos = {}
        for repo in info.repos:
            repos[f"{repo.repo_type}:{repo.repo_id}"] = {
                "refs": {name: rev.commit_hash for name, rev in repo.refs.items()},
                "revisions": {
                    rev.commit_hash: {
                        os.path.relpath(f.file_path, rev.snapshot_path): os.path.basename(f.blob_path) for f in rev.files
                    }
                    for rev in repo.revisions
                },
                "size_on_disk": repo.size_on_disk,
            }
        print(json.dumps({"repos": repos, "warnings": [str(w) for w in info.warnings]}))
        return
    from huggingface_hub import hf_hub_download, snapshot_download
    repo = sys.argv[2]
    revision = sys.argv[3] if len(sys.argv) > 3 else "main"
    if cmd == "download":
        allow = sys.argv[4:] or None
        path = snapshot_download(repo, revision=revision, allow_patterns=allow)
        print(json.dumps({"path": path}))
    elif cmd == "offline":
        path = snapshot_download(repo, revision=revision, local_files_only=True)
        files = {}
        for root, _, names in os.walk(path):
            for n in names:
                rel = os.path.relpath(os.path.join(root, n), path)
                p = hf_hub_download(repo, rel, revision=revision, local_files_only=True)
                with open(p, "rb") as f:
                    files[rel] = hashlib.sha256(f.read()).hexdigest()
        print(json.dumps({"path": path, "files": files}))


if __name__ == "__main__":
    main()
