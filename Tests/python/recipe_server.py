#!/usr/bin/env python3
"""Loopback HTTP/1.1 server for the shared-recipe tests: serves the files of the folder given as
the first argument (read on every request, so a test changes a body by rewriting the file), and
appends the path of every request to the file given as the second argument, one a line, before
answering. Prints `PORT <n>` once listening.

Routes:
  /PATH                the file FOLDER/PATH (404 when absent; never outside FOLDER)
  /redirect/PATH       302 to /PATH
  /big                 2 MiB of 'a' (above sous's 1 MiB cap)
"""
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.realpath(sys.argv[1])
LOG = sys.argv[2]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", "text/yaml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with LOCK, open(LOG, "a") as log:
            log.write(path + "\n")
        if path.startswith("/redirect/"):
            self._send(302, b"", {"Location": path[len("/redirect"):]})
            return
        if path == "/big":
            self._send(200, b"a" * (2 << 20))
            return
        full = os.path.realpath(os.path.join(ROOT, path.lstrip("/")))
        if not full.startswith(ROOT + os.sep) or not os.path.isfile(full):
            self._send(404, b"not found\n")
            return
        with open(full, "rb") as f:
            self._send(200, f.read())


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
