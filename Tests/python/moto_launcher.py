#!/usr/bin/env python3
"""Starts moto's server on 127.0.0.1 with an OS-chosen port and prints `PORT <n>` (SousAWSTests).

Usage: moto_launcher.py [--no-auth-count N]
  --no-auth-count N  enable SigV4 checking after the first N actions (INITIAL_NO_AUTH_ACTION_COUNT); the test
                     uses those N actions to create an IAM user, access key and allow-* policy.
S3_UPLOAD_PART_MIN_SIZE defaults to 1024 here so tests can use small multipart parts.
Exits when its parent (the test process) goes away.
"""
import os
import sys
import threading
import signal

# A parent may spawn us with SIGTERM blocked or ignored: restore the default so stop() is instant.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import time

args = sys.argv[1:]
if "--no-auth-count" in args:
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = args[args.index("--no-auth-count") + 1]
os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", "1024")
os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")

from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"PORT {port}", flush=True)

parent = os.getppid()
while True:
    time.sleep(0.5)  # poll for the parent's exit
    if os.getppid() != parent:
        os._exit(0)
