#!/usr/bin/env python3
"""Loopback SageMaker Runtime for the `sagemaker.invoke-stream` / `sous invoke` / `sous chat` tests.

Usage:
  invoke_server.py DIR                 serve; prints "PORT <n>" once listening on 127.0.0.1
  invoke_server.py --llama2 JSON       print the notebooks' build_llama2_prompt(JSON list of messages)

Every request must carry a valid SigV4 signature (service sagemaker) made with the static test key
AKIDINVOKETEST / TEST_SECRET below; a bad or missing one gets 403 InvalidSignatureException.
Each request is appended to DIR/requests.jsonl: endpoint, operation, headers, body, signature verdict.

DIR/scenarios.json maps an endpoint name to a response, or a list of responses used in turn (the last one
repeats):
  {"format": "tgi"|"lmi"|"jsonlines", "tokens": [...], "details": true,
   "error_after": N, "error": {"type": "ModelStreamError", "message": "...", "error_code": "..."},
   "tgi_error": "message" (after error_after tokens, as an SSE error event),
   "status": 424, "headers": {...}, "body": "...", "delay_ms": 0, "seed": 1,
   "reset": true (the connection is closed before any answer),
   "cut_after": N (the stream's head and first N wire bytes are sent, then the connection is closed),
   "stall_after": N (N wire bytes, then nothing until the client gives up),
   "trickle_ms": T (one PayloadPart of one byte every T ms, forever)}
Streams are encoded here (independently of sous's encoder) and cut into PayloadParts of random sizes
(1..max_part bytes, splitting lines, escapes and UTF-8 characters), then into HTTP chunks of random sizes.
"""
import datetime
import hashlib
import hmac
import json
import os
import random
import signal
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

ACCESS_KEY = "AKIDINVOKETEST"
TEST_SECRET = "invoke/test+SECRET/key0000000000000000000"


# The anchor notebooks' helper, verbatim, shared with the recipe prompt test.
from notebook_prompts import build_llama2_prompt  # noqa: E402


# ---------------------------------------------------------------- event stream encoding

def _header(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + bytes([7]) + struct.pack(">H", len(v)) + v


def frame(headers, payload):
    h = b"".join(_header(k, v) for k, v in headers)
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack(">II", total, len(h))
    msg = prelude + struct.pack(">I", zlib.crc32(prelude)) + h + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def payload_part(data):
    return frame([(":event-type", "PayloadPart"), (":content-type", "application/octet-stream"),
                  (":message-type", "event")], data)


def exception(kind, body):
    return frame([(":exception-type", kind), (":content-type", "application/json"),
                  (":message-type", "exception")], json.dumps(body).encode())


# ---------------------------------------------------------------- container outputs

def container_output(fmt, tokens, details):
    """Returns (content type, list of byte strings, one per token event) as the container would write."""
    if fmt == "tgi":
        events = []
        for i, t in enumerate(tokens):
            events.append(("data:" + json.dumps({"index": i + 1, "token": {"id": i + 7, "text": t, "logprob": -0.25,
                           "special": False}, "generated_text": None, "details": None},
                           separators=(",", ":"), ensure_ascii=False) + "\n\n").encode())
        last = {"index": len(tokens) + 1, "token": {"id": 2, "text": "</s>", "logprob": 0.0, "special": True},
                "generated_text": "".join(tokens), "details": None}
        if details:
            last["details"] = {"finish_reason": "eos_token", "generated_tokens": len(tokens) + 1, "seed": None}
        events.append(("data:" + json.dumps(last, separators=(",", ":"), ensure_ascii=False) + "\n\n").encode())
        return "text/event-stream", events
    if fmt == "lmi":
        pieces = [json.dumps(t)[1:-1].encode() for t in tokens]  # ensure_ascii, as LMI 0.25 writes
        pieces[0] = b'{"generated_text": "' + pieces[0]
        pieces.append(b'"}')
        return "application/json", pieces
    if fmt == "jsonlines":
        lines = []
        for i, t in enumerate(tokens):
            obj = {"token": {"id": i, "text": t, "log_prob": -0.1}}
            if i == len(tokens) - 1:
                obj["generated_text"] = "".join(tokens)
            lines.append((json.dumps(obj, ensure_ascii=False) + "\n").encode())
        return "application/jsonlines", lines
    raise ValueError(fmt)


# ---------------------------------------------------------------- SigV4 verification

def _canon_header_value(v):
    return " ".join(v.strip().split())


def verify_sigv4(method, path, query, headers, body):
    """Returns None when the signature is valid, else the reason."""
    authz = headers.get("authorization")
    if not authz:
        return "no Authorization header"
    if not authz.startswith("AWS4-HMAC-SHA256 "):
        return "not AWS4-HMAC-SHA256"
    fields = {}
    for part in authz[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    cred = fields.get("Credential", "").split("/")
    if len(cred) != 5 or cred[0] != ACCESS_KEY:
        return "unknown access key %r" % cred[0] if cred else "bad credential"
    key_id, date, region, service, term = cred
    if service != "sagemaker" or term != "aws4_request":
        return "bad scope %s/%s" % (service, term)
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "x-amz-date does not match the scope date"
    signed = fields.get("SignedHeaders", "").split(";")
    if "host" not in signed:
        return "host is not signed"
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-amz-content-sha256") not in (None, payload_hash):
        return "x-amz-content-sha256 does not match the body"
    canonical_uri = quote(path, safe="/~")  # non-S3 services: the received path encoded once more
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~"))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    canonical_query = "&".join("%s=%s" % kv for kv in pairs)
    canonical_headers = "".join("%s:%s\n" % (h, _canon_header_value(headers.get(h, ""))) for h in signed)
    creq = "\n".join([method, canonical_uri, canonical_query, canonical_headers, ";".join(signed), payload_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "/".join(cred[1:]), hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + TEST_SECRET).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return "signature does not match"
    return None


# ---------------------------------------------------------------- server

DIR = None
LOCK = threading.Lock()
COUNTS = {}


STALL = threading.Event()  # never set: a stalled answer waits on it until the client hangs up


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/")
        headers = {k.lower(): v for k, v in self.headers.items()}
        problem = verify_sigv4("POST", path, query, headers, body)
        name = parts[1] if len(parts) == 3 and parts[0] == "endpoints" else ""
        op = parts[2] if len(parts) == 3 else ""
        with LOCK:
            index = COUNTS.get(name, 0)
            COUNTS[name] = index + 1
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps({"endpoint": name, "operation": op, "headers": headers,
                                    "body": body.decode("utf-8", "replace"), "signature_ok": problem is None,
                                    "signature_problem": problem}) + "\n")
        if problem is not None:
            return self.plain(403, json.dumps({"message": "The request signature we calculated does not match "
                                               "the signature you provided (%s)." % problem}).encode(),
                              {"x-amzn-ErrorType": "InvalidSignatureException"})
        scenarios = json.load(open(os.path.join(DIR, "scenarios.json")))
        if name not in scenarios:
            return self.plain(400, json.dumps({"message": "Endpoint %s of account 123456789012 not found." % name})
                              .encode(), {"x-amzn-ErrorType": "ValidationError"})
        sc = scenarios[name]
        if isinstance(sc, list):
            sc = sc[min(index, len(sc) - 1)]
        if sc.get("reset"):
            self.close_connection = True
            return
        if sc.get("status", 200) != 200:
            h = dict(sc.get("headers", {}))
            h.setdefault("x-amzn-RequestId", "rid-%s-%d" % (name, index))
            return self.plain(sc["status"], sc.get("body", "").encode(), h)
        ctype, events = container_output(sc.get("format", "tgi"), sc["tokens"], sc.get("details", False))
        rng = random.Random(sc.get("seed", 1) + index)
        if op == "invocations":
            # Non-streaming answers: TGI a JSON array, LMI one JSON object.
            fmt, text = sc.get("format", "tgi"), "".join(sc["tokens"])
            if fmt == "tgi":
                return self.plain(200, json.dumps([{"generated_text": text}]).encode())
            if fmt == "lmi":
                return self.plain(200, json.dumps({"generated_text": text}).encode())
            return self.plain(200, b"".join(events), {"Content-Type": ctype})
        if op != "invocations-response-stream":
            return self.plain(404, b'{"message": "unknown operation"}')
        # PayloadParts cut anywhere (container bytes are not aligned with tokens, lines or characters).
        error_after = sc.get("error_after")
        output = b"".join(events if error_after is None else events[:error_after])
        if sc.get("tgi_error"):
            # TGI reports a failure inside its SSE stream (HTTP 200): {"error": …, "error_type": …}.
            output += ("data:" + json.dumps({"error": sc["tgi_error"], "error_type": "generation"}) + "\n\n").encode()
            error_after = None
        wire = b""
        i = 0
        while i < len(output):
            n = min(len(output) - i, rng.randint(1, sc.get("max_part", 24)))
            wire += payload_part(output[i:i + n])
            i += n
        if error_after is not None:
            e = sc.get("error", {})
            if e.get("type", "ModelStreamError") == "ModelStreamError":
                wire += exception("ModelStreamError", {"Message": e.get("message", "stream failed"),
                                                       "ErrorCode": e.get("error_code", "ModelInvocationTimeExceeded")})
            else:
                wire += exception(e["type"], {"Message": e.get("message", "stream failed")})
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-amzn-RequestId", "rid-%s-%d" % (name, index))
        self.send_header("X-Amzn-SageMaker-Content-Type", ctype)
        self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
        self.end_headers()
        delay = sc.get("delay_ms", 0) / 1000.0
        i = 0
        try:
            if "trickle_ms" in sc:
                while True:  # until the client gives up (its deadline)
                    part = payload_part(b"x")
                    self.wfile.write(b"%x\r\n" % len(part) + part + b"\r\n")
                    self.wfile.flush()
                    time.sleep(sc["trickle_ms"] / 1000.0)  # the trickle's pace
            for key in ("cut_after", "stall_after"):
                if key in sc:
                    n = sc[key]
                    self.wfile.write(b"%x\r\n" % n + wire[:n] + b"\r\n")
                    self.wfile.flush()
                    if key == "stall_after":
                        STALL.wait(120)  # until the client gives up (deadline: 120 s)
                    self.close_connection = True
                    return
            while i < len(wire):
                n = min(len(wire) - i, rng.randint(1, sc.get("max_chunk", 300)))
                self.wfile.write(b"%x\r\n" % n + wire[i:i + n] + b"\r\n")
                self.wfile.flush()
                i += n
                if delay:
                    time.sleep(delay)  # paces chunks like a model generating slowly; tests poll output with a deadline
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (Ctrl-C)

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
    if len(sys.argv) == 3 and sys.argv[1] == "--llama2":
        sys.stdout.write(build_llama2_prompt(json.loads(sys.argv[2])))
        sys.exit(0)
    DIR = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()
