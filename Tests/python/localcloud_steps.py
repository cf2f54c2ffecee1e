#!/usr/bin/env python3
"""Notebook-like steps run by test recipes (shell steps) against whatever AWS_ENDPOINT_URL points at.

  localcloud_steps.py upload FILE BUCKET KEY [--hold]   multipart upload (5 MiB parts); --hold holds the first
                                                        upload after 10 MiB until the server is gone
  localcloud_steps.py deploy NAME MODEL_ID              TGI model + config + endpoint (adopted when they exist), waits InService
  localcloud_steps.py invoke NAME PROMPT                streams tokens to stdout, prints `TOKENS <n>` at the end
  localcloud_steps.py cleanup NAME BUCKET               deletes the endpoint, config, model, objects and bucket
"""
import json
import os
import socket
import sys
import time
import urllib.parse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

CFG = Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=300)
TGI = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04"


def client(name):
    return boto3.client(name, config=CFG)


class HeldReader:
    """Hands out the file, but the first time this file is uploaded it stops once HOLD_AT bytes are out (two
    parts, so at least one is on the server) and waits until the server stops answering: the test kills it
    there. A marker file next to the data records the hold, so the rerun's upload goes straight through."""
    HOLD_AT = 10 << 20

    def __init__(self, f, marker):
        self.f = f
        self.marker = marker

    def read(self, n=-1):
        if self.f.tell() >= self.HOLD_AT and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            wait_until_server_gone()
        return self.f.read(n)

    def __getattr__(self, a):
        return getattr(self.f, a)


def wait_until_server_gone(deadline_s=120):
    """Polls AWS_ENDPOINT_URL until it refuses connections (or the deadline passes)."""
    url = urllib.parse.urlparse(os.environ["AWS_ENDPOINT_URL"])
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            socket.create_connection((url.hostname, url.port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)  # poll interval while waiting for the condition


def upload(path, bucket, key, hold=False):
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
    cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=2, use_threads=not hold)
    if hold:
        with open(path, "rb") as f:
            s3.upload_fileobj(HeldReader(f, path + ".held"), bucket, key, Config=cfg)
    else:
        s3.upload_file(path, bucket, key, Config=cfg)
    h = s3.head_object(Bucket=bucket, Key=key)
    assert h["ContentLength"] == os.path.getsize(path), h
    print(f"uploaded s3://{bucket}/{key} {h['ContentLength']} bytes etag {h['ETag']}")


def deploy(name, model_id):
    sm = client("sagemaker")
    try:
        sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/local",
                        PrimaryContainer={"Image": TGI, "Environment": {"HF_MODEL_ID": model_id, "MAX_TOTAL_TOKENS": "512"}})
    except ClientError as e:
        assert "already existing" in e.response["Error"]["Message"], e
    try:
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.g5.2xlarge", "InitialInstanceCount": 1}])
    except ClientError as e:
        assert "already existing" in e.response["Error"]["Message"], e
    try:
        if sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Failed":
            sm.delete_endpoint(EndpointName=name)
    except ClientError:
        pass
    try:
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    except ClientError as e:
        assert "already existing" in e.response["Error"]["Message"], e
        print("adopted the existing endpoint")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 400})
    print(f"endpoint {name} InService")


def invoke(name, prompt):
    rt = client("sagemaker-runtime")
    body = json.dumps({"inputs": prompt, "parameters": {"max_new_tokens": 40}, "stream": True})
    r = rt.invoke_endpoint_with_response_stream(EndpointName=name, ContentType="application/json", Body=body)
    buf = b""
    n = 0
    final = None
    for ev in r["Body"]:
        buf += ev["PayloadPart"]["Bytes"]
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(b"data:"):
                obj = json.loads(line[5:])
                if "error" in obj:
                    raise SystemExit("stream error: " + obj["error"])
                n += 1
                if not obj["token"]["special"]:
                    sys.stdout.write(obj["token"]["text"])
                    sys.stdout.flush()
                if obj["generated_text"] is not None:
                    final = obj["generated_text"]
    print()
    assert final is not None and n > 0, (final, n)
    print(f"TOKENS {n}")
    print("GENERATED " + json.dumps(final))


def cleanup(name, bucket):
    sm, s3 = client("sagemaker"), client("s3")
    for fn, kw in ((sm.delete_endpoint, {"EndpointName": name}), (sm.delete_endpoint_config, {"EndpointConfigName": name}),
                   (sm.delete_model, {"ModelName": name})):
        try:
            fn(**kw)
        except ClientError as e:
            assert "Could not find" in e.response["Error"]["Message"], e
    try:
        keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
        for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
        s3.delete_bucket(Bucket=bucket)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchBucket", e
    print("cleaned up")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "upload":
        upload(args[0], args[1], args[2], hold="--hold" in args)
    elif cmd == "deploy":
        deploy(args[0], args[1])
    elif cmd == "invoke":
        invoke(args[0], args[1])
    elif cmd == "cleanup":
        cleanup(args[0], args[1])
    else:
        raise SystemExit("unknown command " + cmd)
