#!/usr/bin/env python3
"""Loopback HTTP/1.1 (keep-alive) test server for SousHTTPTests. Prints `PORT <n>` once listening.
With `--tls CERT KEY` it serves HTTPS (used to check that certificate verification is on).

Routes:
  /echo                any method: JSON {method, path, body_len, body_sha256, body_text (<=4 KiB), headers}
  /bytes?n=N           N bytes of pattern (i % 251); honours `Range: bytes=a-b` / `bytes=a-` with 206
  /stream?chunks=C&size=S   chunked transfer of C chunks of S pattern bytes
  /redirect?to=URL&code=302 redirect to URL (absolute or relative)
  /auth                JSON {"authorization": <header or null>}
  /stall               headers (Content-Length 1000) + 10 bytes, then nothing for 60 s
  /stall-head          accepts the request and sends nothing for 60 s
  /cut                 Content-Length 100000, sends 1000 bytes, closes the connection
  /pattern-sha?start=A&end=B  JSON {"sha256": sha256 of pattern bytes A..<B}
  /connections         JSON {"count": distinct client connections seen so far}
"""
import hashlib
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CONNECTIONS = set()
LOCK = threading.Lock()
STALL = threading.Event()  # never set: handlers block on it to simulate a stalled peer


CYCLE = bytes(range(251))


def pattern(start, end):
    """Bytes i % 251 for i in start..<end."""
    if end <= start:
        return b""
    off = start % 251
    reps = (end - start + off) // 251 + 1
    return (CYCLE * reps)[off:off + end - start]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _record(self):
        with LOCK:
            CONNECTIONS.add(self.client_address)

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        total = 0
        first = bytearray()
        while total < n:
            chunk = self.rfile.read(min(1 << 16, n - total))
            if not chunk:
                break
            h.update(chunk)
            if len(first) < 4096:
                first += chunk[: 4096 - len(first)]
            total += len(chunk)
        return total, h.hexdigest(), bytes(first)

    def _send(self, status, body, ctype="application/octet-stream", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status=200):
        self._send(status, json.dumps(obj).encode(), "application/json")

    def handle_any(self):
        self._record()
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/echo":
            n, sha, first = self._read_body()
            self._json({
                "method": self.command, "path": self.path, "body_len": n, "body_sha256": sha,
                "body_text": first.decode("latin-1"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            })
        elif path == "/bytes":
            self._read_body()
            n = int(q.get("n", "1000"))
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                a = int(a)
                b = int(b) if b else n - 1
                b = min(b, n - 1)
                self._send(206, pattern(a, b + 1), extra={"Content-Range": f"bytes {a}-{b}/{n}"})
            else:
                self._send(200, pattern(0, n))
        elif path == "/stream":
            chunks = int(q.get("chunks", "10"))
            size = int(q.get("size", "1024"))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pos = 0
            try:
                for _ in range(chunks):
                    data = pattern(pos, pos + size)
                    pos += size
                    self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        elif path == "/redirect":
            self._read_body()
            code = int(q.get("code", "302"))
            self._send(code, b"redirecting", "text/plain", {"Location": q["to"]})
        elif path == "/auth":
            self._read_body()
            self._json({"authorization": self.headers.get("Authorization"), "port": self.server.server_address[1]})
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            STALL.wait(60)  # stall until the client gives up (deadline: 60 s)
            self.close_connection = True
        elif path == "/stall-head":
            STALL.wait(60)  # stall until the client gives up (deadline: 60 s)
            self.close_connection = True
        elif path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"y" * 1000)
            self.wfile.flush()
            self.close_connection = True
        elif path == "/pattern-sha":
            a, b = int(q["start"]), int(q["end"])
            self._json({"sha256": hashlib.sha256(pattern(a, b)).hexdigest()})
        elif path == "/connections":
            with LOCK:
                count = len(CONNECTIONS)
            self._json({"count": count})
        else:
            self._json({"error": "not found"}, 404)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    # A parent may spawn us with SIGTERM blocked or ignored: restore the default so stop() is instant.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    server = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":  # --tls CERT KEY: serve HTTPS with that certificate
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
