#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for sous's fault suite (Tests/SousLocalCloudTests/FaultInjectionTests.swift).

    fault_proxy.py UPSTREAM_URL CONFIG_JSON_FILE

Listens on 127.0.0.1 (a free port, printed as "PORT <n>" on stdout once listening) and forwards every request
to UPSTREAM_URL with its headers unchanged (so SigV4 signatures still verify), injecting at seeded random
points:

  reset        the connection is closed before the request is forwarded
  error        a 500 (S3: InternalError) or 503 (JSON services: ServiceUnavailable) answer
  throttle     S3 503 SlowDown, or 400 ThrottlingException for the JSON services
  slow         the real answer, its body trickled out in small pieces
  truncate     the real answer's headers and only part of its body, then the connection closes
  reset_after  the request is forwarded (its side effect happens) and the connection closes unanswered

Whether a request is faulted, and how, depends only on the seed, the operation and how many requests of that
operation came before (random.Random(f"{seed}:{op}:{n}")), so a run is repeatable whatever the concurrency.

The config may also name one kill point: {"kill": {"op": "CreateEndpoint", "nth": 1, "when": "before"|"after",
"pidfile": PATH}} sends SIGKILL to the pid in PATH when the nth request of op arrives (before forwarding it, or
after the upstream answered but before the client sees the answer), and closes that connection.

Every request is logged as a JSON line to config["log"]: op, n, fault, upstream status.
"""
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlparse(sys.argv[1])
with open(sys.argv[2]) as f:
    CONFIG = json.load(f)
SEED = CONFIG.get("seed", 0)
RATE = float(CONFIG.get("rate", 0.0))
KINDS = CONFIG.get("kinds", ["reset", "error", "throttle", "slow", "truncate", "reset_after"])
KILL = CONFIG.get("kill")
LOG = open(CONFIG["log"], "a", buffering=1) if CONFIG.get("log") else None
COUNTS = {}
LOCK = threading.Lock()


def operation(method, path, headers):
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    parsed = urllib.parse.urlparse(path)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    p = parsed.path
    if p.startswith("/endpoints/"):
        return "InvokeEndpointWithResponseStream" if p.endswith("invocations-response-stream") else "InvokeEndpoint"
    if p.startswith("/_sous/"):
        return "Control"
    if method == "POST" and p == "/" and "Action" in (headers.get("Content-Type") or "") + p:
        return "Query"
    segments = [s for s in p.split("/") if s]
    on_object = len(segments) >= 2
    if method == "PUT" and "partNumber" in query:
        return "UploadPart"
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload"
    if method == "PUT":
        return "PutObject" if on_object else "CreateBucket"
    if method == "GET":
        return "GetObject" if on_object else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if on_object else "HeadBucket"
    if method == "DELETE":
        return "DeleteObject" if on_object else "DeleteBucket"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return method


def log(entry):
    if LOG:
        with LOCK:
            LOG.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out, True
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(n) if n else b""), False

    def _close(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _kill(self):
        try:
            with open(KILL["pidfile"]) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def _send_error(self, op, kind):
        json_service = bool(self.headers.get("X-Amz-Target")) or op.startswith("Invoke")
        if json_service:
            code = "ThrottlingException" if kind == "throttle" else "ServiceUnavailable"
            status = 400 if kind == "throttle" else 503
            body = json.dumps({"__type": code, "message": "injected by the fault proxy"}).encode()
            ctype = "application/x-amz-json-1.1"
        else:
            code = "SlowDown" if kind == "throttle" else "InternalError"
            status = 503 if kind == "throttle" else 500
            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                    f"<Message>injected by the fault proxy</Message></Error>").encode()
            ctype = "application/xml"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("x-amzn-ErrorType", code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        body, _ = self._body()
        op = operation(self.command, self.path, self.headers)
        with LOCK:
            n = COUNTS.get(op, 0) + 1
            COUNTS[op] = n
        fault = None
        rng = random.Random(f"{SEED}:{op}:{n}")
        if op != "Control" and rng.random() < RATE:
            fault = rng.choice(KINDS)
        kill_here = KILL and KILL["op"] == op and KILL["nth"] == n
        entry = {"op": op, "n": n, "fault": fault, "kill": bool(kill_here), "method": self.command, "path": self.path}
        if kill_here and KILL.get("when", "before") == "before":
            self._kill()
            log(entry)
            return self._close()
        if fault == "reset":
            log(entry)
            return self._close()
        if fault in ("error", "throttle"):
            log(entry)
            return self._send_error(op, fault)
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() in ("transfer-encoding", "content-length", "expect", "connection"):
                continue
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        entry["status"] = resp.status
        if kill_here:  # after: the upstream did the work, the client never hears of it
            resp.read()
            conn.close()
            self._kill()
            log(entry)
            return self._close()
        if fault == "reset_after":
            resp.read()
            conn.close()
            log(entry)
            return self._close()
        chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked"
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length", "date", "server"):
                continue
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            while True:
                piece = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not piece:
                    break
                if fault == "truncate" and sent > 0:
                    break  # some of the stream arrived: end it without the final chunk
                if fault == "slow":
                    for i in range(0, len(piece), 64):
                        part = piece[i:i + 64]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.flush()
                        time.sleep(0.002)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                sent += len(piece)
            conn.close()
            log(entry)
            if fault == "truncate":
                return self._close()
            self.wfile.write(b"0\r\n\r\n")
            return
        data = resp.read()
        conn.close()
        length = resp.getheader("Content-Length")
        self.send_header("Content-Length", length if length is not None else str(len(data)))
        self.end_headers()
        log(entry)
        if self.command == "HEAD":
            return
        if fault == "truncate" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            return self._close()
        if fault == "slow":
            for i in range(0, len(data), 256):
                self.wfile.write(data[i:i + 256])
                self.wfile.flush()
                time.sleep(0.002)
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
