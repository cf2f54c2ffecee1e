#!/usr/bin/env python3
"""boto3 as an independent client of moto for the AWS step end-to-end tests (SousCLITests).

Usage: aws_steps_peer.py ENDPOINT COMMAND [ARGS]
  bootstrap             create IAM user sous-e2e, an access key and an allow-* policy (the unauthenticated
                        first actions of moto_launcher.py --no-auth-count 3), then (signed with that key) the roles the
                        recipes name: sagemaker_execution_role (trusts SageMaker) and sous-scheduler (trusts EventBridge
                        Scheduler); prints {"key", "secret"}
  state                 prints everything sous could have left: {"endpoints": {name: {status, config, tags}},
                        "configs": {name: [models]}, "models": {name: {tags, env}}, "buckets": {name:
                        {key: {sha256, size, tags}}}, "uploads": [[bucket, key]]} (multipart uploads in progress)
  delete-endpoint NAME  deletes an endpoint behind sous's back
  schedule NAME         the EventBridge Scheduler schedule NAME ({} when there is none)
  put-object B K / delete-object B K   an object sous did not upload
  serve                 reads the commands above (state, delete-endpoint NAME) one per line on stdin and answers
                        each with one JSON line (saves starting python and boto3 for every question)
Credentials come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), never from arguments.
"""
import hashlib
import json
import sys

import boto3
from botocore.config import Config

endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")


def client(name):
    if name == "s3":
        return boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
    return boto3.client(name, **kw)


def state():
    sm, s3 = client("sagemaker"), client("s3")
    out = {"endpoints": {}, "configs": {}, "models": {}, "buckets": {}, "uploads": []}

    def tags(arn):
        return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}

    for e in sm.list_endpoints(MaxResults=100)["Endpoints"]:
        d = sm.describe_endpoint(EndpointName=e["EndpointName"])
        out["endpoints"][e["EndpointName"]] = {"status": d["EndpointStatus"], "config": d["EndpointConfigName"],
                                               "tags": tags(d["EndpointArn"])}
    for c in sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]:
        d = sm.describe_endpoint_config(EndpointConfigName=c["EndpointConfigName"])
        out["configs"][c["EndpointConfigName"]] = {
            "models": [v["ModelName"] for v in d["ProductionVariants"]],
            "variants": d["ProductionVariants"], "tags": tags(d["EndpointConfigArn"])}
    for m in sm.list_models(MaxResults=100)["Models"]:
        d = sm.describe_model(ModelName=m["ModelName"])
        source = d["PrimaryContainer"].get("ModelDataSource", {}).get("S3DataSource", {})
        out["models"][m["ModelName"]] = {"tags": tags(d["ModelArn"]), "env": d["PrimaryContainer"].get("Environment", {}),
                                         "image": d["PrimaryContainer"].get("Image"),
                                         "model_data": d["PrimaryContainer"].get("ModelDataUrl"),
                                         "model_data_source": source.get("S3Uri")}
    for b in s3.list_buckets().get("Buckets", []):
        objs = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"]):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read()
                t = {x["Key"]: x["Value"] for x in s3.get_object_tagging(Bucket=b["Name"], Key=o["Key"])["TagSet"]}
                objs[o["Key"]] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "tags": t}
        out["buckets"][b["Name"]] = objs
        for u in s3.list_multipart_uploads(Bucket=b["Name"]).get("Uploads", []):
            out["uploads"].append([b["Name"], u["Key"]])
    return out


def answer(cmd, cmd_args):
    if cmd == "state":
        return state()
    if cmd == "put-object":
        client("s3").put_object(Bucket=cmd_args[0], Key=cmd_args[1], Body=b"not sous's")
        return {}
    if cmd == "delete-object":
        client("s3").delete_object(Bucket=cmd_args[0], Key=cmd_args[1])
        return {}
    if cmd == "create-upload":  # an unfinished multipart upload sous knows nothing about
        return {"upload_id": client("s3").create_multipart_upload(Bucket=cmd_args[0], Key=cmd_args[1])["UploadId"]}
    if cmd == "abort-uploads":  # every unfinished multipart upload of KEY
        s3 = client("s3")
        for u in s3.list_multipart_uploads(Bucket=cmd_args[0]).get("Uploads", []):
            if u["Key"] == cmd_args[1]:
                s3.abort_multipart_upload(Bucket=cmd_args[0], Key=u["Key"], UploadId=u["UploadId"])
        return {}
    if cmd == "delete-bucket":
        client("s3").delete_bucket(Bucket=cmd_args[0])
        return {}
    if cmd == "delete-endpoint":
        client("sagemaker").delete_endpoint(EndpointName=cmd_args[0])
        return {}
    if cmd == "schedule":
        sched = client("scheduler")
        try:
            s = sched.get_schedule(Name=cmd_args[0])
        except sched.exceptions.ResourceNotFoundException:
            return {}
        return {"expression": s["ScheduleExpression"], "timezone": s.get("ScheduleExpressionTimezone"),
                "target": s["Target"]["Arn"], "role": s["Target"]["RoleArn"], "input": s["Target"].get("Input"),
                "after": s.get("ActionAfterCompletion"), "state": s.get("State")}
    raise SystemExit(f"unknown command {cmd}")


if command == "bootstrap":
    # moto does not check these first calls' signatures; boto3 still needs some keys to sign with.
    iam = boto3.client("iam", aws_access_key_id="AKIABOOTSTRAP0000000", aws_secret_access_key="bootstrap", **kw)
    iam.create_user(UserName="sous-e2e")
    key = iam.create_access_key(UserName="sous-e2e")["AccessKey"]
    iam.put_user_policy(UserName="sous-e2e", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    signed = boto3.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], **kw)
    for role, service in [("sagemaker_execution_role", "sagemaker.amazonaws.com"), ("sous-scheduler", "scheduler.amazonaws.com")]:
        signed.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
    print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
elif command == "serve":
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        words = line.split()
        if not words:
            continue
        try:
            print(json.dumps(answer(words[0], words[1:]), default=str), flush=True)
        except Exception as e:  # report, keep serving
            print(json.dumps({"error": str(e)}), flush=True)
else:
    print(json.dumps(answer(command, args), default=str))
