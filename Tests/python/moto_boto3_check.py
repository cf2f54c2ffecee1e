#!/usr/bin/env python3
"""Reads S3 objects back with boto3 (an independent client) for SousAWSTests.

Usage: moto_boto3_check.py <endpoint> <bucket> [<key> ...]
Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), never from arguments.
Prints one JSON object: {"objects": {key: {"sha256", "size", "crc32", "checksum_crc32", "checksum_type"}},
"listing": [all keys in the bucket]}: `crc32` is computed here from the bytes read (zlib, base64 of the
big-endian value as AWS writes it), `checksum_crc32` / `checksum_type` are what the server reports with
ChecksumMode=ENABLED (absent when it keeps no checksum).
"""
import base64
import hashlib
import json
import sys
import zlib

import boto3
from botocore.config import Config

endpoint, bucket, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
out = {"objects": {}, "listing": []}
for key in keys:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    out["objects"][key] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
                           "crc32": base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode(),
                           "checksum_crc32": head.get("ChecksumCRC32"), "checksum_type": head.get("ChecksumType")}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    out["listing"] += [o["Key"] for o in page.get("Contents", [])]
print(json.dumps(out))
