#!/usr/bin/env python3
"""Serves a model folder as a Hub repo through Tests/python/hub_server.py (for SousLocalCloudTests).

Usage: localcloud_hub.py REPO_ID FOLDER  -> prints `STORAGE <port>` then `PORT <port>` like hub_server.py.
Every file of FOLDER becomes a file of REPO_ID (files over 10 kB as LFS files), byte for byte.
"""
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hub_server  # noqa: E402

repo_id, folder = sys.argv[1], sys.argv[2]
contents = {}
files = []
for i, name in enumerate(sorted(os.listdir(folder))):
    path = os.path.join(folder, name)
    if not os.path.isfile(path) or name == "golden.json":
        continue
    with open(path, "rb") as f:
        data = f.read()
    contents[i + 1] = data
    files.append({"path": name, "size": len(data), "seed": i + 1, "lfs": len(data) > 10_000})


class FolderBytes(random.Random):
    """hub_server builds file bytes with Random(seed).randbytes(size); serve the folder's bytes instead."""

    def __init__(self, seed=None):
        super().__init__(seed)
        self._seed = seed

    def randbytes(self, n):
        data = contents.get(self._seed)
        return data if data is not None and len(data) == n else super().randbytes(n)


hub_server.random.Random = FolderBytes
spec = {"repos": [{"id": repo_id, "files": files}]}
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    json.dump(spec, f)
sys.argv = [sys.argv[0], f.name]
hub_server.main()
