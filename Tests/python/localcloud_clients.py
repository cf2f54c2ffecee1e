#!/usr/bin/env python3
"""Mainstream S3 clients against the sous local cloud (driven by SousLocalCloudTests' ClientCompatibilityTests).

Usage: localcloud_clients.py CLIENT WORKDIR
CLIENT: boto3-classic, boto3-crt, awscli, rclone.
The endpoint and credentials come from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION), where every one of these clients reads them.

Each client uploads a multipart object (above its multipart threshold, set low to keep the test fast) and a
folder, downloads both and compares them byte for byte; boto3 (classic, as an independent reader) checks that the
object really went up in parts; then a request signed with a wrong secret must be refused.
Prints `RESULT <json>` and exits 0, or raises / exits non-zero with the client's output.
"""
import filecmp
import json
import os
import random
import shutil
import subprocess
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

CLIENT, WORK = sys.argv[1:3]
BUCKET = "compat"
PART = 5 << 20  # S3's smallest part; every client's threshold and part size are set to it
BIG_SIZE = 2 * PART + 1234567  # three parts
ENV = os.environ
URL = ENV["AWS_ENDPOINT_URL"]


def s3_client(secret=None):
    return boto3.client("s3", endpoint_url=URL, region_name=ENV.get("AWS_REGION", "us-east-1"),
                        aws_secret_access_key=secret or ENV["AWS_SECRET_ACCESS_KEY"],
                        aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def write_random(path, size, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rnd.randbytes(n))
            left -= n


def make_data():
    src = os.path.join(WORK, "src")
    shutil.rmtree(src, ignore_errors=True)
    write_random(os.path.join(src, "big.bin"), BIG_SIZE, 1)
    folder = os.path.join(src, "folder")
    write_random(os.path.join(folder, "a.bin"), 100 << 10, 2)
    write_random(os.path.join(folder, "sub", "b c.txt"), 1234, 3)
    write_random(os.path.join(folder, "sub", "deeper", "d.bin"), PART + 4096, 4)  # multipart inside the folder
    write_random(os.path.join(folder, "empty.txt"), 0, 5)
    return src


def files_under(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def compare(src, got):
    """The downloaded big object and folder equal the sources, byte for byte."""
    assert filecmp.cmp(os.path.join(src, "big.bin"), os.path.join(got, "big.bin"), shallow=False), "big.bin differs"
    want, have = files_under(os.path.join(src, "folder")), files_under(os.path.join(got, "folder"))
    assert want == have, f"folder files differ: {want} vs {have}"
    for rel in want:
        assert filecmp.cmp(os.path.join(src, "folder", rel), os.path.join(got, "folder", rel), shallow=False), rel
    return len(want)


def run(args, env=None, check=True):
    p = subprocess.run(args, env=env or ENV, capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])}… failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


# MARK: clients

def boto3_transfer(config, prefix, src, got):
    from boto3.s3.transfer import create_transfer_manager
    s3 = s3_client()
    manager = create_transfer_manager(s3, config)
    kind = type(manager).__name__
    with manager:
        uploads = [manager.upload(os.path.join(src, "big.bin"), BUCKET, f"{prefix}/big.bin")]
        for rel in files_under(os.path.join(src, "folder")):
            uploads.append(manager.upload(os.path.join(src, "folder", rel), BUCKET, f"{prefix}/folder/{rel}"))
        for u in uploads:
            u.result()
    with create_transfer_manager(s3, config) as manager:
        os.makedirs(got, exist_ok=True)
        downloads = [manager.download(BUCKET, f"{prefix}/big.bin", os.path.join(got, "big.bin"))]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/folder/"):
            for o in page.get("Contents", []):
                path = os.path.join(got, "folder", o["Key"][len(prefix) + 8:])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                downloads.append(manager.download(BUCKET, o["Key"], path))
        for d in downloads:
            d.result()
    return kind


def boto3_bad_secret():
    try:
        s3_client(secret="not-the-secret").list_objects_v2(Bucket=BUCKET)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("a wrong secret was accepted")


def scenario_boto3(transfer_client):
    src = make_data()
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, preferred_transfer_client=transfer_client)
    got = os.path.join(WORK, "got")
    kind = boto3_transfer(config, CLIENT, src, got)
    want = "CRTTransferManager" if transfer_client == "crt" else "TransferManager"
    assert kind == want, f"boto3 used {kind}, not {want} (is awscrt installed?)"
    return {"manager": kind, "files": compare(src, got), "bad_secret": boto3_bad_secret()}


def scenario_awscli():
    src = make_data()
    config = os.path.join(WORK, "aws-config")
    with open(config, "w") as f:
        f.write(f"[default]\ns3 =\n  multipart_threshold = {PART}\n  multipart_chunksize = {PART}\n")
    env = dict(ENV, AWS_CONFIG_FILE=config)
    base = f"s3://{BUCKET}/awscli"
    run(["aws", "s3", "cp", os.path.join(src, "big.bin"), f"{base}/big.bin", "--only-show-errors"], env)
    run(["aws", "s3", "cp", "--recursive", os.path.join(src, "folder"), f"{base}/folder/", "--only-show-errors"], env)
    got = os.path.join(WORK, "got")
    run(["aws", "s3", "cp", f"{base}/big.bin", os.path.join(got, "big.bin"), "--only-show-errors"], env)
    run(["aws", "s3", "cp", "--recursive", f"{base}/folder/", os.path.join(got, "folder"), "--only-show-errors"], env)
    bad = run(["aws", "s3", "ls", f"s3://{BUCKET}/"], dict(env, AWS_SECRET_ACCESS_KEY="not-the-secret"), check=False)
    assert bad.returncode != 0, "a wrong secret was accepted"
    code = "SignatureDoesNotMatch" if "SignatureDoesNotMatch" in bad.stderr else bad.stderr.strip()
    return {"files": compare(src, got), "bad_secret": code}


def scenario_rclone():
    src = make_data()
    env = dict(ENV, RCLONE_CONFIG_LC_TYPE="s3", RCLONE_CONFIG_LC_PROVIDER="Other", RCLONE_CONFIG_LC_ENDPOINT=URL,
               RCLONE_CONFIG_LC_ACCESS_KEY_ID=ENV["AWS_ACCESS_KEY_ID"],
               RCLONE_CONFIG_LC_SECRET_ACCESS_KEY=ENV["AWS_SECRET_ACCESS_KEY"],
               RCLONE_CONFIG_LC_REGION=ENV.get("AWS_REGION", "us-east-1"), RCLONE_CONFIG="/dev/null")
    flags = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--retries", "1", "--low-level-retries", "1"]
    base = f"lc:{BUCKET}/rclone"
    run(["rclone", "copyto", os.path.join(src, "big.bin"), f"{base}/big.bin"] + flags, env)
    run(["rclone", "copy", os.path.join(src, "folder"), f"{base}/folder"] + flags, env)
    got = os.path.join(WORK, "got")
    run(["rclone", "copyto", f"{base}/big.bin", os.path.join(got, "big.bin")] + flags, env)
    run(["rclone", "copy", f"{base}/folder", os.path.join(got, "folder")] + flags, env)
    bad = run(["rclone", "lsf", f"{base}/"] + flags, dict(env, RCLONE_CONFIG_LC_SECRET_ACCESS_KEY="not-the-secret"),
              check=False)
    assert bad.returncode != 0, "a wrong secret was accepted"
    code = "SignatureDoesNotMatch" if "SignatureDoesNotMatch" in bad.stderr else bad.stderr.strip()
    return {"files": compare(src, got), "bad_secret": code}


def main():
    s3 = s3_client()
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    if CLIENT == "boto3-classic":
        result = scenario_boto3("classic")
    elif CLIENT == "boto3-crt":
        result = scenario_boto3("crt")
    elif CLIENT == "awscli":
        result = scenario_awscli()
    elif CLIENT == "rclone":
        result = scenario_rclone()
    else:
        raise SystemExit(f"unknown client {CLIENT}")
    # The big object went up in parts: its ETag is S3's multipart one (md5-of-md5s-3).
    result["big_etag"] = s3.head_object(Bucket=BUCKET, Key=f"{CLIENT}/big.bin")["ETag"]
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
