#!/usr/bin/env python3
"""Reads endpoints of stream_server.py with boto3's invoke_endpoint_with_response_stream.

Usage: stream_boto3_read.py PORT NAME [NAME...]
Prints one JSON object per name: {"name", "payload_b64", "error_code", "error_message", "content_type"}.
"""
import base64
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

port = int(sys.argv[1])
client = boto3.client(
    "sagemaker-runtime", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % port,
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    config=Config(retries={"max_attempts": 1, "mode": "standard"}))

for name in sys.argv[2:]:
    out = {"name": name, "payload_b64": "", "error_code": None, "error_message": None, "content_type": None}
    payload = b""
    try:
        resp = client.invoke_endpoint_with_response_stream(
            EndpointName=name, Body=json.dumps({"inputs": "hi"}), ContentType="application/json",
            CustomAttributes="accept_eula=true")
        out["content_type"] = resp.get("ContentType")
        for event in resp["Body"]:
            if "PayloadPart" in event:
                payload += event["PayloadPart"]["Bytes"]
    except ClientError as e:
        out["error_code"] = e.response.get("Error", {}).get("Code")
        out["error_message"] = e.response.get("Error", {}).get("Message")
    except (BotoCoreError, Exception) as e:  # botocore's ChecksumMismatch is a plain Exception subclass
        out["error_code"] = type(e).__name__
        out["error_message"] = str(e)
    out["payload_b64"] = base64.b64encode(payload).decode()
    print(json.dumps(out), flush=True)
