#!/usr/bin/env python3
"""The peer for `sous bench stream`: botocore's event-stream path + the anchor notebooks' LineIterator
and printer (logic copied from anchor-notebooks.md §3.2/§3.3), on the same recorded file.

Usage: bench_stream_peer.py FILE --format tgi|lmi [--read-size N]
Prints "PEER format=<f> mb=<file MB> seconds=<s> cpu=<s> mbps=<MB/s> cpumbps=<MB per CPU s> tokens=<n>" on stderr; the printed text goes
to stdout (redirect it to /dev/null), as the notebooks' print(..., end='') does.
"""
import argparse
import io
import json
import re
import sys
import time

import botocore.session
from botocore.eventstream import EventStream


class RawStream:
    """Stands in for urllib3's response: botocore calls .stream() and feeds the chunks to EventStreamBuffer."""

    def __init__(self, data, read_size):
        self.data = data
        self.read_size = read_size

    def stream(self):
        for i in range(0, len(self.data), self.read_size):
            yield self.data[i:i + self.read_size]

    def close(self):
        pass


def botocore_event_stream(data, read_size):
    """What boto3's invoke_endpoint_with_response_stream returns as resp['Body']."""
    session = botocore.session.get_session()
    model = session.get_service_model("sagemaker-runtime")
    op = model.operation_model("InvokeEndpointWithResponseStream")
    body_shape = op.output_shape.members["Body"]
    from botocore.parsers import create_parser
    parser = create_parser("rest-json")._event_stream_parser
    return EventStream(RawStream(data, read_size), body_shape, parser, op.name)


# --- TGI variant: llama-2-hf-tgi/*/utils/LineIterator.py (AWS blog / sagemaker.iterators.LineIterator) ---
class TGILineIterator:
    def __init__(self, stream):
        self.byte_iterator = iter(stream)
        self.buffer = io.BytesIO()
        self.read_pos = 0

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            self.buffer.seek(self.read_pos)
            line = self.buffer.readline()
            if line and line[-1] == ord("\n"):
                self.read_pos += len(line)
                return line[:-1]
            try:
                chunk = next(self.byte_iterator)
            except StopIteration:
                if self.read_pos < self.buffer.getbuffer().nbytes:
                    continue  # (the notebooks' hang when the last line has no newline; our files end with one)
                raise
            if "PayloadPart" not in chunk:
                print("Unknown event type:" + chunk)
                continue
            self.buffer.seek(0, io.SEEK_END)
            self.buffer.write(chunk["PayloadPart"]["Bytes"])


def tgi_print_response_stream(event_stream, out):
    stop_token = "</s>"
    tokens = 0
    for line in TGILineIterator(event_stream):
        if line != b"" and b"{" in line:
            data = json.loads(line[line.find(b"{"):].decode("utf-8"))
            if data["token"]["text"] != stop_token:
                print(data["token"]["text"], end="", file=out)
                tokens += 1
    return tokens


# --- LMI variant: llama-2-lmi/utils/LineIterator.py ("for LMI... djl-deepspeed version 0.25.0") ---
class LMILineIterator:
    def __init__(self, stream):
        self.byte_iterator = iter(stream)
        self.buffer = io.BytesIO()
        self.read_pos = 0

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            self.buffer.seek(self.read_pos)
            line = self.buffer.readline()
            if line:
                self.read_pos += len(line)
                if line.startswith(b'{"generated_text": "'):
                    line = line.lstrip(b'{"generated_text": "')
                if line.endswith(b'"}'):
                    line = line.rstrip(b'"}')
                line = line.decode("utf-8")
                line = re.sub(r"\\n", "\n", line)
                line = re.sub(r"\\n\\n", "\n\n", line)
                return line
            try:
                chunk = next(self.byte_iterator)
            except StopIteration:
                if self.read_pos < self.buffer.getbuffer().nbytes:
                    continue
                raise
            if "PayloadPart" not in chunk:
                print("Unknown event type:" + chunk)
                continue
            self.buffer.seek(0, io.SEEK_END)
            self.buffer.write(chunk["PayloadPart"]["Bytes"])


def lmi_print_response_stream(event_stream, out):
    n = 0
    for line in LMILineIterator(event_stream):
        print(line, end="", file=out)
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--format", choices=["tgi", "lmi"], required=True)
    ap.add_argument("--read-size", type=int, default=1 << 20)
    args = ap.parse_args()
    data = open(args.file, "rb").read()
    out = sys.stdout
    start = time.perf_counter()
    cpu_start = time.thread_time()
    stream = botocore_event_stream(data, args.read_size)
    if args.format == "tgi":
        tokens = tgi_print_response_stream(stream, out)
    else:
        tokens = lmi_print_response_stream(stream, out)
    out.flush()
    seconds = time.perf_counter() - start
    cpu = time.thread_time() - cpu_start
    mb = len(data) / 1e6
    print("PEER format=%s mb=%.1f seconds=%.3f cpu=%.3f mbps=%.2f cpumbps=%.2f tokens=%d"
          % (args.format, mb, seconds, cpu, mb / seconds, mb / cpu, tokens), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
