#!/usr/bin/env python3
"""boto3 as an independent client of the sous local cloud (driven by SousLocalCloudTests).

Usage: localcloud_boto3.py ENDPOINT_URL WORKDIR SCENARIO   (credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
Scenarios: s3, s3-batch, s3-batch-after-restart, sagemaker-lmi, sagemaker-tgi, badsecret. Prints `RESULT <json>` and exits 0, or raises.
"""
import hashlib
import io
import json
import os
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

URL, WORK, SCENARIO = sys.argv[1:4]
AKID, SECRET = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
REGION = "us-east-1"


def client(service, secret=SECRET):
    return boto3.client(service, endpoint_url=URL, region_name=REGION, aws_access_key_id=AKID,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120))


def expect_error(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e.response["Error"].get("Message", "")
    raise AssertionError(f"expected {code}, the call succeeded")


def s3_scenario():
    s3 = client("s3")
    out = {}
    s3.create_bucket(Bucket="bkt")
    s3.head_bucket(Bucket="bkt")
    assert "bkt" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    expect_error("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket="bkt")
    body = "héllo wörld".encode() * 100
    r = s3.put_object(Bucket="bkt", Key="dir/a b+c.txt", Body=body, ContentType="text/plain", Metadata={"who": "me"})
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r["ETag"]
    g = s3.get_object(Bucket="bkt", Key="dir/a b+c.txt")
    assert g["Body"].read() == body
    assert g["Metadata"] == {"who": "me"}, g["Metadata"]
    assert g["ContentType"] == "text/plain"
    rg = s3.get_object(Bucket="bkt", Key="dir/a b+c.txt", Range="bytes=10-19")
    assert rg["Body"].read() == body[10:20] and rg["ContentRange"] == f"bytes 10-19/{len(body)}", rg["ContentRange"]
    assert s3.get_object(Bucket="bkt", Key="dir/a b+c.txt", Range="bytes=-5")["Body"].read() == body[-5:]
    h = s3.head_object(Bucket="bkt", Key="dir/a b+c.txt")
    assert h["ContentLength"] == len(body)
    # Multipart through upload_file (3 parts of 5 MiB, 5 MiB, 2 MiB).
    big = os.path.join(WORK, "big.bin")
    data = os.urandom(12 * 1024 * 1024)
    with open(big, "wb") as f:
        f.write(data)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, max_concurrency=3)
    s3.upload_file(big, "bkt", "big/big.bin", Config=cfg)
    hb = s3.head_object(Bucket="bkt", Key="big/big.bin")
    md5s = b"".join(hashlib.md5(data[i:i + 5 * 1024 * 1024]).digest() for i in range(0, len(data), 5 * 1024 * 1024))
    assert hb["ETag"] == '"%s-3"' % hashlib.md5(md5s).hexdigest(), hb["ETag"]
    back = os.path.join(WORK, "back.bin")
    s3.download_file("bkt", "big/big.bin", back, Config=cfg)
    with open(back, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    out["multipart_etag"] = hb["ETag"]
    # Explicit multipart calls and their errors.
    up = s3.create_multipart_upload(Bucket="bkt", Key="mp.bin")["UploadId"]
    p1 = s3.upload_part(Bucket="bkt", Key="mp.bin", UploadId=up, PartNumber=1, Body=b"x" * 100)
    parts = s3.list_parts(Bucket="bkt", Key="mp.bin", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1] and parts[0]["Size"] == 100
    expect_error("InvalidPart", s3.complete_multipart_upload, Bucket="bkt", Key="mp.bin", UploadId=up,
                 MultipartUpload={"Parts": [{"ETag": '"0000"', "PartNumber": 1}]})
    s3.complete_multipart_upload(Bucket="bkt", Key="mp.bin", UploadId=up,
                                 MultipartUpload={"Parts": [{"ETag": p1["ETag"], "PartNumber": 1}]})
    assert s3.get_object(Bucket="bkt", Key="mp.bin")["Body"].read() == b"x" * 100
    up2 = s3.create_multipart_upload(Bucket="bkt", Key="mp2.bin")["UploadId"]
    s3.abort_multipart_upload(Bucket="bkt", Key="mp2.bin", UploadId=up2)
    expect_error("NoSuchUpload", s3.upload_part, Bucket="bkt", Key="mp2.bin", UploadId=up2, PartNumber=1, Body=b"y")
    # Listing: prefix, delimiter, pagination.
    for i in range(5):
        s3.put_object(Bucket="bkt", Key=f"list/k{i}", Body=b"%d" % i)
    s3.put_object(Bucket="bkt", Key="list/sub/x", Body=b"x")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="bkt", Prefix="list/", PaginationConfig={"PageSize": 2})
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert keys == ["list/k0", "list/k1", "list/k2", "list/k3", "list/k4", "list/sub/x"], keys
    d = s3.list_objects_v2(Bucket="bkt", Prefix="list/", Delimiter="/")
    assert [c["Prefix"] for c in d["CommonPrefixes"]] == ["list/sub/"], d
    assert len(d["Contents"]) == 5
    top = s3.list_objects_v2(Bucket="bkt", Delimiter="/")
    assert sorted(c["Prefix"] for c in top["CommonPrefixes"]) == ["big/", "dir/", "list/"], top
    # Deletes and errors.
    s3.delete_object(Bucket="bkt", Key="mp.bin")
    expect_error("NoSuchKey", s3.get_object, Bucket="bkt", Key="mp.bin")
    expect_error("404", s3.head_object, Bucket="bkt", Key="mp.bin")
    expect_error("NoSuchBucket", s3.list_objects_v2, Bucket="nope-bucket")
    expect_error("BucketNotEmpty", s3.delete_bucket, Bucket="bkt")
    all_keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bkt") for o in p.get("Contents", [])]
    r = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": k} for k in all_keys]})
    assert sorted(x["Key"] for x in r["Deleted"]) == sorted(all_keys)
    assert s3.list_objects_v2(Bucket="bkt")["KeyCount"] == 0
    s3.delete_bucket(Bucket="bkt")
    expect_error("404", s3.head_bucket, Bucket="bkt")
    ident = client("sts").get_caller_identity()
    out["account"] = ident["Account"]
    return out

MIB = 1024 * 1024
# Bodies of sizes around MD5's block (64) and padding (56) boundaries, and larger ones, twice over.
BATCH_SIZES = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 4095, 65536, 300_001, MIB, 3 * MIB + 7] * 2
# A multipart object of 9 parts (8 x 5 MiB, then 1 MiB + 3 bytes) and ranges that cross its part boundaries.
BIG_SIZE = 41 * MIB + 3
BIG_RANGES = [(5 * MIB - 10, 5 * MIB + 9), (100, 41 * MIB), (10 * MIB - 1, 10 * MIB), (40 * MIB - 1, BIG_SIZE - 1), (0, BIG_SIZE - 1)]


def seeded(n, seed):
    """Deterministic bytes (so the check after a restart knows them without storing them)."""
    out = bytearray()
    block = hashlib.sha256(b"%d" % seed).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def check_big(s3, data):
    for a, b in BIG_RANGES:
        r = s3.get_object(Bucket="batch", Key="big.bin", Range=f"bytes={a}-{b}")
        assert r["Body"].read() == data[a:b + 1], f"range {a}-{b}"
        assert r["ContentRange"] == f"bytes {a}-{b}/{len(data)}", r["ContentRange"]
    assert s3.get_object(Bucket="batch", Key="big.bin", Range="bytes=-3")["Body"].read() == data[-3:]
    assert s3.get_object(Bucket="batch", Key="big.bin")["Body"].read() == data


def s3_batch_scenario():
    """Many bodies at once, so the server hashes them together (MD5Batcher): every ETag must still be the
    MD5 of its own body; and a multipart object served from its parts."""
    s3 = client("s3")
    s3.create_bucket(Bucket="batch")
    bodies = [os.urandom(n) for n in BATCH_SIZES]

    def put(i):
        return s3.put_object(Bucket="batch", Key=f"small/{i}", Body=bodies[i])["ETag"]

    with ThreadPoolExecutor(12) as ex:
        etags = list(ex.map(put, range(len(bodies))))
    for i, (b, e) in enumerate(zip(bodies, etags)):
        assert e == '"%s"' % hashlib.md5(b).hexdigest(), f"body {i} ({len(b)} bytes): ETag {e}"
        assert s3.get_object(Bucket="batch", Key=f"small/{i}")["Body"].read() == b
    data = seeded(BIG_SIZE, 1)
    big = os.path.join(WORK, "batch-big.bin")
    with open(big, "wb") as f:
        f.write(data)
    cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=8)
    s3.upload_file(big, "batch", "big.bin", Config=cfg)
    md5s = b"".join(hashlib.md5(data[i:i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB))
    etag = s3.head_object(Bucket="batch", Key="big.bin")["ETag"]
    assert etag == '"%s-9"' % hashlib.md5(md5s).hexdigest(), etag
    check_big(s3, data)
    return {"objects": len(bodies) + 1, "multipart_etag": etag}


def s3_batch_after_restart_scenario():
    """After a restart the multipart object still reads back whole and by ranges; then it is overwritten."""
    s3 = client("s3")
    check_big(s3, seeded(BIG_SIZE, 1))
    s3.put_object(Bucket="batch", Key="big.bin", Body=b"small now")
    assert s3.get_object(Bucket="batch", Key="big.bin")["Body"].read() == b"small now"
    s3.delete_object(Bucket="batch", Key="small/0")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="batch")["Contents"]]
    return {"keys": len(keys)}


def read_stream(resp):
    parts = []
    for ev in resp["Body"]:
        if "PayloadPart" in ev:
            parts.append(ev["PayloadPart"]["Bytes"])
    return parts


def deploy(sm, name, image, env, model_data=None, source=None):
    kw = {"ModelName": name, "ExecutionRoleArn": "arn:aws:iam::000000000000:role/local",
          "PrimaryContainer": {"Image": image, "Environment": env}}
    if model_data:
        kw["PrimaryContainer"]["ModelDataUrl"] = model_data
    if source:
        kw["PrimaryContainer"]["ModelDataSource"] = {"S3DataSource": {"S3Uri": source, "S3DataType": "S3Prefix", "CompressionType": "None"}}
    sm.create_model(**kw)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.g5.2xlarge", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=[{"Key": "owner", "Value": "sous"}])
    msg = expect_error("ValidationException", sm.create_endpoint, EndpointName=name, EndpointConfigName=name)
    assert "Cannot create already existing endpoint" in msg, msg
    first = sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    return first


def teardown(sm, name):
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    sm.delete_endpoint_config(EndpointConfigName=name)
    sm.delete_model(ModelName=name)
    msg = expect_error("ValidationException", sm.describe_endpoint, EndpointName=name)
    assert "Could not find endpoint" in msg, msg


def upload_model(s3, bucket, prefix, model_dir):
    for root, _, files in os.walk(model_dir):
        for f in files:
            p = os.path.join(root, f)
            s3.upload_file(p, bucket, prefix + os.path.relpath(p, model_dir))


def sagemaker_scenario(kind):
    s3, sm, rt = client("s3"), client("sagemaker"), client("sagemaker-runtime")
    model_dir = os.path.join(WORK, "model")
    s3.create_bucket(Bucket="models")
    upload_model(s3, "models", "weights/", model_dir)
    out = {}
    if kind == "lmi":
        buf = io.BytesIO()
        props = "engine=Python\noption.rolling_batch=lmi-dist\noption.model_id=s3://models/weights/\n".encode()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            info = tarfile.TarInfo("code/serving.properties")
            info.size = len(props)
            t.addfile(info, io.BytesIO(props))
        s3.put_object(Bucket="models", Key="code/model.tar.gz", Body=buf.getvalue())
        image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.28.0-lmi10.0.0-cu124"
        out["first_status"] = deploy(sm, "ep-lmi", image, {}, model_data="s3://models/code/model.tar.gz")
        name = "ep-lmi"
        payloads = {
            "json": {"inputs": "Once", "parameters": {"max_new_tokens": 8}},
            "jsonl": {"inputs": "Once", "parameters": {"max_new_tokens": 8}, "stream": True},
        }
    else:
        image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04"
        out["first_status"] = deploy(sm, "ep-tgi", image, {"HF_MODEL_ID": "/opt/ml/model", "MAX_TOTAL_TOKENS": "64"},
                                     source="s3://models/weights/")
        name = "ep-tgi"
        payloads = {
            "sse": {"inputs": "Once", "parameters": {"max_new_tokens": 8, "details": True}, "stream": True},
            "array": {"inputs": "Once", "parameters": {"max_new_tokens": 8}},
        }
        # TGI validation: top_p must be in (0, 1).
        try:
            rt.invoke_endpoint(EndpointName=name, ContentType="application/json",
                               Body=json.dumps({"inputs": "x", "parameters": {"top_p": 1.0}}))
            raise AssertionError("top_p=1.0 was accepted")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ModelError", e.response
            assert "top_p" in e.response["Error"]["Message"], e.response
            out["validation"] = e.response["Error"]["Message"]
        parts = read_stream(rt.invoke_endpoint_with_response_stream(
            EndpointName=name, ContentType="application/json",
            Body=json.dumps({"inputs": "x", "parameters": {"top_p": 1.5}, "stream": True})))
        out["stream_validation"] = b"".join(parts).decode()
    d = sm.describe_endpoint(EndpointName=name)
    assert d["EndpointStatus"] == "InService", d
    assert sm.list_tags(ResourceArn=d["EndpointArn"])["Tags"] == [{"Key": "owner", "Value": "sous"}]
    sm.add_tags(ResourceArn=d["EndpointArn"], Tags=[{"Key": "k2", "Value": "v2"}])
    assert len(sm.list_tags(ResourceArn=d["EndpointArn"])["Tags"]) == 2
    assert name in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    for label, payload in payloads.items():
        if payload.get("stream") or label == "json":
            r = rt.invoke_endpoint_with_response_stream(EndpointName=name, ContentType="application/json", Body=json.dumps(payload))
            parts = read_stream(r)
            out[label] = {"parts": len(parts), "body": b"".join(parts).decode("utf-8"),
                          "content_type": r["ContentType"]}
        if not payload.get("stream"):
            r = rt.invoke_endpoint(EndpointName=name, ContentType="application/json", Body=json.dumps(payload))
            out[label + "_invoke"] = {"body": r["Body"].read().decode("utf-8"), "content_type": r["ContentType"]}
    expect_error("ValidationError", rt.invoke_endpoint, EndpointName="missing-endpoint", ContentType="application/json", Body=b"{}")
    teardown(sm, name)
    for o in s3.list_objects_v2(Bucket="models").get("Contents", []):
        s3.delete_object(Bucket="models", Key=o["Key"])
    s3.delete_bucket(Bucket="models")
    return out


def badsecret_scenario():
    out = {}
    try:
        client("s3", secret="wrong" + SECRET).list_buckets()
    except ClientError as e:
        out["s3"] = e.response["Error"]["Code"]
    try:
        client("sagemaker", secret="wrong" + SECRET).list_models()
    except ClientError as e:
        out["sagemaker"] = e.response["Error"]["Code"]
    return out


if __name__ == "__main__":
    if SCENARIO == "s3":
        result = s3_scenario()
    elif SCENARIO == "s3-batch":
        result = s3_batch_scenario()
    elif SCENARIO == "s3-batch-after-restart":
        result = s3_batch_after_restart_scenario()
    elif SCENARIO == "sagemaker-lmi":
        result = sagemaker_scenario("lmi")
    elif SCENARIO == "sagemaker-tgi":
        result = sagemaker_scenario("tgi")
    elif SCENARIO == "badsecret":
        result = badsecret_scenario()
    else:
        raise SystemExit(f"unknown scenario {SCENARIO}")
    print("RESULT " + json.dumps(result), flush=True)
