#!/usr/bin/env python3
"""Loopback SageMaker Runtime stand-in for the streaming tests.

Usage: stream_server.py DIR
Prints "PORT <n>" once listening on 127.0.0.1.

POST /endpoints/<name>/invocations-response-stream answers with the bytes of DIR/<name>.bin (an event
stream written by sous's own encoder), cut into HTTP chunks of seeded random sizes. DIR/<name>.json may
set {"status": 424, "headers": {...}, "body": "...", "content_type": "text/event-stream", "seed": 1,
"max_chunk": 700}. POST /endpoints/<name>/invocations answers DIR/<name>.bin as a plain body.
Each request's method, path, headers and body are written to DIR/<name>.request.json.
"""
import base64
import json
import os
import random
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "endpoints":
            return self.plain(404, b'{"message": "not found"}')
        name, op = parts[1], parts[2]
        with open(os.path.join(DIR, name + ".request.json"), "w") as f:
            json.dump({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                       "body_b64": base64.b64encode(body).decode()}, f)
        meta_path = os.path.join(DIR, name + ".json")
        meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
        if meta.get("status", 200) != 200:
            return self.plain(meta["status"], meta.get("body", "").encode(), meta.get("headers", {}))
        data = open(os.path.join(DIR, name + ".bin"), "rb").read()
        if op == "invocations":
            return self.plain(200, data, {"Content-Type": meta.get("content_type", "application/json")})
        if op != "invocations-response-stream":
            return self.plain(404, b'{"message": "unknown operation"}')
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", "req-" + name)
        self.send_header("X-Amzn-SageMaker-Content-Type", meta.get("content_type", "application/json"))
        self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
        if self.headers.get("X-Amzn-SageMaker-Custom-Attributes"):
            self.send_header("X-Amzn-SageMaker-Custom-Attributes", self.headers["X-Amzn-SageMaker-Custom-Attributes"])
        self.end_headers()
        rng = random.Random(meta.get("seed", 1))
        i = 0
        while i < len(data):
            n = min(len(data) - i, rng.randint(1, meta.get("max_chunk", 700)))
            self.wfile.write(b"%x\r\n" % n + data[i:i + n] + b"\r\n")
            self.wfile.flush()
            i += n
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def plain(self, status, body, headers=None):
        self.send_response(status)
        headers = headers or {}
        if "Content-Type" not in headers:
            self.send_header("Content-Type", "application/json")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()
