#!/usr/bin/env python3
"""Loopback HTTP/1.1 server for the files of one folder (the AWS Price List offer files of the pricing tests).
Usage: static_file_server.py FOLDER. Prints `PORT <n>` once listening on 127.0.0.1 (port 0: the system picks).
GET /PATH answers the file FOLDER/PATH with its Content-Length, or 404; every request is appended to
FOLDER/requests.log (method and path), so a test can check what was asked."""
import functools
import os
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(os.path.join(self.directory, "requests.log"), "a") as f:
            f.write(f"{self.command} {self.path}\n")


def main():
    folder = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
