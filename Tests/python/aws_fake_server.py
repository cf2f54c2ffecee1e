#!/usr/bin/env python3
"""Loopback fake AWS endpoints for SousAWSTests. Prints `PORT <n>` once listening.

Control:
  POST /__script   JSON list of canned responses, used in order by the next non-control requests:
                   {"status": 500, "body": "...", "headers": {"k": "v"}, "reset": false}
                   ("reset": true closes the connection with a TCP RST instead of answering)
  GET  /__log      JSON list of {"method", "path", "query", "headers", "body_len", "objects" (count of
                   <Object> in the body), "content_md5_ok"} of the non-control requests
  POST /__reset    clears the script and the log
IMDSv2:
  PUT  /latest/api/token                         needs x-aws-ec2-metadata-token-ttl-seconds -> "imds-token"
  GET  /latest/meta-data/iam/security-credentials/      needs the token -> "test-role"
  GET  /latest/meta-data/iam/security-credentials/test-role -> credentials JSON (expires in 1 h)
  GET  /latest/meta-data/placement/region        -> "eu-central-1"
Container credentials:
  GET  /container-creds   needs "Authorization: Bearer container-token" -> credentials JSON
Anything else: the next scripted response, or 200 "{}".
Exits when its parent (the test process) goes away.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import threading
import signal

# A parent may spawn us with SIGTERM blocked or ignored: restore the default so stop() is instant.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

LOCK = threading.Lock()
SCRIPT = []
LOG = []


def creds_json(prefix):
    exp = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"Code": "Success", "AccessKeyId": prefix + "AKID", "SecretAccessKey": prefix + "SECRET",
                       "Token": prefix + "TOKEN", "Expiration": exp}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        path = url.path
        if path == "/__script":
            with LOCK:
                SCRIPT[:] = json.loads(body or b"[]")
            return self.reply(200, b"{}")
        if path == "/__log":
            with LOCK:
                data = json.dumps(LOG).encode()
            return self.reply(200, data, {"Content-Type": "application/json"})
        if path == "/__reset":
            with LOCK:
                SCRIPT.clear()
                LOG.clear()
            return self.reply(200, b"{}")
        if path == "/latest/api/token" and self.command == "PUT":
            if not self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400, b"missing ttl")
            return self.reply(200, b"imds-token")
        if path.startswith("/latest/meta-data/"):
            if self.headers.get("x-aws-ec2-metadata-token") != "imds-token":
                return self.reply(401, b"")
            if path == "/latest/meta-data/iam/security-credentials/":
                return self.reply(200, b"test-role")
            if path == "/latest/meta-data/iam/security-credentials/test-role":
                return self.reply(200, creds_json("IMDS"))
            if path == "/latest/meta-data/placement/region":
                return self.reply(200, b"eu-central-1")
            return self.reply(404, b"")
        if path == "/container-creds":
            if self.headers.get("Authorization") != "Bearer container-token":
                return self.reply(403, b"{}")
            return self.reply(200, creds_json("CONTAINER"))
        with LOCK:
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            LOG.append({"method": self.command, "path": path, "query": url.query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body_len": len(body), "objects": body.count(b"<Object>"),
                        "content_md5_ok": self.headers.get("Content-MD5") == md5})
            step = SCRIPT.pop(0) if SCRIPT else None
        if step is None:
            return self.reply(200, b"{}", {"Content-Type": "application/json"})
        if step.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.reply(step.get("status", 200), step.get("body", "").encode(), step.get("headers", {}))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(f"PORT {server.server_address[1]}", flush=True)
parent = os.getppid()


def watch_parent():
    while True:
        time.sleep(0.5)  # poll for the parent's exit
        if os.getppid() != parent:
            os._exit(0)


threading.Thread(target=watch_parent, daemon=True).start()
server.serve_forever()
