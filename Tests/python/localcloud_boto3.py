#!/usr/bin/env python3
"""boto3 as an independent client of the sous local cloud (driven by SousLocalCloudTests).

Usage: localcloud_boto3.py ENDPOINT_URL WORKDIR SCENARIO   (credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
Scenarios: s3, s3-batch, s3-batch-after-restart, s3-checksums (needs awscrt, the reference for CRC32C and
CRC64NVME), s3-copies, sagemaker-lmi, sagemaker-tgi, badsecret. Prints `RESULT <json>` and exits 0, or raises.
"""
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import zlib
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


def b64(digest):
    return base64.b64encode(digest).decode()


def reference_checksum(algorithm, data):
    """The checksum of `data` from independent implementations (zlib, awscrt, hashlib), base64 as S3 writes it."""
    import awscrt.checksums
    if algorithm == "CRC32":
        return b64(zlib.crc32(data).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        return b64(awscrt.checksums.crc32c(data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        return b64(awscrt.checksums.crc64nvme(data).to_bytes(8, "big"))
    return b64(hashlib.new(algorithm.lower(), data).digest())


def s3_checksums_scenario():
    """Flexible checksums on PutObject, GetObject/HeadObject (ChecksumMode), multipart COMPOSITE and FULL_OBJECT,
    GetObjectAttributes and GetObject PartNumber, checked against independent implementations; bad values refused."""
    s3 = client("s3")
    s3.create_bucket(Bucket="sums")
    out = {}
    data = seeded(300_000, 7)
    for algorithm in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]:
        key = f"one/{algorithm}"
        want = reference_checksum(algorithm, data)
        r = s3.put_object(Bucket="sums", Key=key, Body=data, ChecksumAlgorithm=algorithm)
        assert r["Checksum" + algorithm] == want, (algorithm, r.get("Checksum" + algorithm), want)
        h = s3.head_object(Bucket="sums", Key=key, ChecksumMode="ENABLED")
        assert h["Checksum" + algorithm] == want and h["ChecksumType"] == "FULL_OBJECT", h
        g = s3.get_object(Bucket="sums", Key=key, ChecksumMode="ENABLED")  # botocore validates the body against it
        assert g["Body"].read() == data and g["Checksum" + algorithm] == want
        assert "Checksum" + algorithm not in s3.get_object(Bucket="sums", Key=key, Range="bytes=0-9", ChecksumMode="ENABLED")
        out[algorithm] = want
    # A value that does not match the body, and a malformed one.
    out["bad_digest"] = expect_error("BadDigest", s3.put_object, Bucket="sums", Key="bad", Body=data, ChecksumCRC32="AAAAAA==")
    out["bad_value"] = expect_error("InvalidRequest", s3.put_object, Bucket="sums", Key="bad", Body=data, ChecksumSHA256="nope")
    assert "bad" not in [o["Key"] for o in s3.list_objects_v2(Bucket="sums").get("Contents", [])]

    part = 5 << 20
    big = seeded(2 * part + 12345, 8)
    pieces = [big[:part], big[part:2 * part], big[2 * part:]]

    def multipart(key, algorithm, checksum_type=None, declared=None):
        extra = {"ChecksumType": checksum_type} if checksum_type else {}
        up = s3.create_multipart_upload(Bucket="sums", Key=key, ChecksumAlgorithm=algorithm, **extra)
        parts = []
        for i, p in enumerate(pieces, 1):
            r = s3.upload_part(Bucket="sums", Key=key, UploadId=up["UploadId"], PartNumber=i, Body=p, ChecksumAlgorithm=algorithm)
            assert r["Checksum" + algorithm] == reference_checksum(algorithm, p)
            parts.append({"PartNumber": i, "ETag": r["ETag"], "Checksum" + algorithm: r["Checksum" + algorithm]})
        kw = {"Checksum" + algorithm: declared, "ChecksumType": "FULL_OBJECT"} if declared else {}
        return up["UploadId"], parts, lambda: s3.complete_multipart_upload(
            Bucket="sums", Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts}, **kw)

    # COMPOSITE: the checksum of the parts' checksums, then -<parts>.
    _, parts, complete = multipart("composite", "SHA256")
    r = complete()
    composite = b64(hashlib.sha256(b"".join(base64.b64decode(p["ChecksumSHA256"]) for p in parts)).digest()) + "-3"
    assert r["ChecksumSHA256"] == composite and r["ChecksumType"] == "COMPOSITE", r
    h = s3.head_object(Bucket="sums", Key="composite", ChecksumMode="ENABLED")
    assert h["ChecksumSHA256"] == composite, h
    second = s3.get_object(Bucket="sums", Key="composite", PartNumber=2, ChecksumMode="ENABLED")
    assert second["Body"].read() == pieces[1] and second["PartsCount"] == 3
    assert second["ChecksumSHA256"] == parts[1]["ChecksumSHA256"]
    attrs = s3.get_object_attributes(Bucket="sums", Key="composite", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize"])
    assert attrs["ObjectSize"] == len(big) and attrs["ObjectParts"]["TotalPartsCount"] == 3, attrs
    assert attrs["Checksum"]["ChecksumSHA256"] == composite[:-2] and attrs["Checksum"]["ChecksumType"] == "COMPOSITE", attrs
    assert [p["Size"] for p in attrs["ObjectParts"]["Parts"]] == [len(p) for p in pieces], attrs
    out["composite"] = composite

    # FULL_OBJECT: the parts' CRCs combined into the whole object's, and a declared whole-object value checked.
    for algorithm in ["CRC32", "CRC64NVME"]:
        whole = reference_checksum(algorithm, big)
        _, _, complete = multipart(f"full-{algorithm}", algorithm, "FULL_OBJECT", declared=whole)
        r = complete()
        assert r["Checksum" + algorithm] == whole and r["ChecksumType"] == "FULL_OBJECT", (algorithm, r)
        g = s3.get_object(Bucket="sums", Key=f"full-{algorithm}", ChecksumMode="ENABLED")
        assert g["Body"].read() == big and g["Checksum" + algorithm] == whole
        out["full_" + algorithm] = whole
    _, _, complete = multipart("full-bad", "CRC32", "FULL_OBJECT", declared="AAAAAA==")
    out["full_bad"] = expect_error("BadDigest", complete)
    # A part's checksum that is not the one uploaded is an unknown part.
    upload_id, parts, _ = multipart("wrong-part", "CRC32")
    parts[0]["ChecksumCRC32"] = "AAAAAA=="
    out["wrong_part"] = expect_error("InvalidPart", s3.complete_multipart_upload, Bucket="sums", Key="wrong-part",
                                     UploadId=upload_id, MultipartUpload={"Parts": parts})
    # A part in another algorithm than the upload's.
    out["mismatch"] = expect_error("InvalidRequest", s3.upload_part, Bucket="sums", Key="wrong-part", UploadId=upload_id,
                                   PartNumber=1, Body=pieces[0], ChecksumAlgorithm="SHA1")
    s3.abort_multipart_upload(Bucket="sums", Key="wrong-part", UploadId=upload_id)
    return out


def s3_copies_scenario():
    """CopyObject (metadata and tagging directives, a new checksum), UploadPartCopy with ranges,
    ListMultipartUploads with prefix, delimiter and paging."""
    s3 = client("s3")
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    data = seeded(11 << 20, 9)
    s3.put_object(Bucket="src", Key="a b/obj", Body=data, ContentType="text/x-src", Metadata={"from": "src"}, Tagging="t=1")
    src_etag = s3.head_object(Bucket="src", Key="a b/obj")["ETag"]
    r = s3.copy_object(Bucket="dst", Key="copy", CopySource={"Bucket": "src", "Key": "a b/obj"})
    assert r["CopyObjectResult"]["ETag"] == src_etag
    h = s3.head_object(Bucket="dst", Key="copy")
    assert h["Metadata"] == {"from": "src"} and h["ContentType"] == "text/x-src", h
    assert s3.get_object(Bucket="dst", Key="copy")["Body"].read() == data
    assert s3.get_object_tagging(Bucket="dst", Key="copy")["TagSet"] == [{"Key": "t", "Value": "1"}]
    s3.copy_object(Bucket="dst", Key="replaced", CopySource="src/a b/obj", MetadataDirective="REPLACE",
                   Metadata={"new": "yes"}, ContentType="text/x-new", TaggingDirective="REPLACE", Tagging="u=2",
                   ChecksumAlgorithm="CRC32")
    h = s3.head_object(Bucket="dst", Key="replaced", ChecksumMode="ENABLED")
    assert h["Metadata"] == {"new": "yes"} and h["ContentType"] == "text/x-new", h
    assert h["ChecksumCRC32"] == reference_crc32(data), h
    assert s3.get_object_tagging(Bucket="dst", Key="replaced")["TagSet"] == [{"Key": "u", "Value": "2"}]
    # Deleting the source leaves the copies whole (they share its files).
    s3.delete_object(Bucket="src", Key="a b/obj")
    assert s3.get_object(Bucket="dst", Key="copy")["Body"].read() == data
    out = {"self_copy": expect_error("InvalidRequest", s3.copy_object, Bucket="dst", Key="copy",
                                     CopySource={"Bucket": "dst", "Key": "copy"})}
    out["missing_source"] = expect_error("NoSuchKey", s3.copy_object, Bucket="dst", Key="x", CopySource="src/none")
    out["if_match"] = expect_error("PreconditionFailed", s3.copy_object, Bucket="dst", Key="x",
                                   CopySource="dst/copy", CopySourceIfMatch='"0000"')

    # UploadPartCopy: the object's first 6 MiB, then the rest, then a range past its end.
    up = s3.create_multipart_upload(Bucket="dst", Key="assembled")
    p1 = s3.upload_part_copy(Bucket="dst", Key="assembled", UploadId=up["UploadId"], PartNumber=1, CopySource="dst/copy",
                             CopySourceRange=f"bytes=0-{(6 << 20) - 1}")
    p2 = s3.upload_part_copy(Bucket="dst", Key="assembled", UploadId=up["UploadId"], PartNumber=2, CopySource="dst/copy",
                             CopySourceRange=f"bytes={6 << 20}-{len(data) - 1}")
    assert p1["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(data[:6 << 20]).hexdigest()
    out["bad_range"] = expect_error("InvalidArgument", s3.upload_part_copy, Bucket="dst", Key="assembled",
                                    UploadId=up["UploadId"], PartNumber=3, CopySource="dst/copy",
                                    CopySourceRange=f"bytes=0-{len(data)}")
    s3.complete_multipart_upload(Bucket="dst", Key="assembled", UploadId=up["UploadId"], MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="dst", Key="assembled")["Body"].read() == data

    # ListMultipartUploads: prefix, delimiter, and paging with max-uploads and the markers.
    ids = {}
    for k in ["logs/a", "logs/b", "logs/b", "models/x/1", "models/y/2", "top"]:
        ids.setdefault(k, []).append(s3.create_multipart_upload(Bucket="dst", Key=k)["UploadId"])
    r = s3.list_multipart_uploads(Bucket="dst", Prefix="models/", Delimiter="/")
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["models/x/", "models/y/"] and "Uploads" not in r, r
    seen = []
    kw = {"MaxUploads": 2}
    while True:
        page = s3.list_multipart_uploads(Bucket="dst", **kw)
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kw = {"MaxUploads": 2, "KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    want = sorted((k, i) for k, v in ids.items() for i in v)
    assert seen == want, (seen, want)
    out["uploads_listed"] = len(seen)
    return out


def reference_crc32(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


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
    elif SCENARIO == "s3-checksums":
        result = s3_checksums_scenario()
    elif SCENARIO == "s3-copies":
        result = s3_copies_scenario()
    elif SCENARIO == "sagemaker-lmi":
        result = sagemaker_scenario("lmi")
    elif SCENARIO == "sagemaker-tgi":
        result = sagemaker_scenario("tgi")
    elif SCENARIO == "badsecret":
        result = badsecret_scenario()
    else:
        raise SystemExit(f"unknown scenario {SCENARIO}")
    print("RESULT " + json.dumps(result), flush=True)
