"""Harness check, not a test of the collection: the real S3 server the backup tests store sets in.

SeaweedFS's S3 gateway, started on loopback ports with one identity, must
behave as the backup Job's boto3 (the bench image's Python) expects of a
bucket: objects put, listed under a prefix, read back and deleted; wrong
credentials and a missing bucket refused with S3's own error codes, so the
tests of a bad configuration see what a cloud bucket would answer.
"""

import sys

import pytest

from support import REPO

sys.path.insert(0, str(REPO / "tests" / "harness"))
import bench_python  # noqa: E402

pytestmark = [pytest.mark.s3]

# Runs in the bench image's Python; argv: endpoint, access key, secret key, then what to do.
CLIENT = """
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, access_key, secret_key, action = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=access_key,
                  aws_secret_access_key=secret_key,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
out = {}
try:
    if action == "round-trip":
        s3.create_bucket(Bucket="backups")
        for key in ("shop/erp/20261203T021500Z/database.sql.gz.gpg", "shop/erp/20261203T021500Z/manifest.json",
                    "shop/other/20261203T021500Z/manifest.json"):
            s3.put_object(Bucket="backups", Key=key, Body=b"set " + key.encode())
        listed = s3.list_objects_v2(Bucket="backups", Prefix="shop/erp/")
        out["listed"] = sorted(o["Key"] for o in listed["Contents"])
        sets = s3.list_objects_v2(Bucket="backups", Prefix="shop/erp/", Delimiter="/")
        out["sets"] = [p["Prefix"] for p in sets["CommonPrefixes"]]
        out["body"] = s3.get_object(Bucket="backups", Key="shop/erp/20261203T021500Z/manifest.json")["Body"].read().decode()
        s3.delete_objects(Bucket="backups", Delete={"Objects": [{"Key": k} for k in out["listed"]]})
        out["after"] = s3.list_objects_v2(Bucket="backups", Prefix="shop/erp/")["KeyCount"]
        out["other"] = s3.list_objects_v2(Bucket="backups", Prefix="shop/other/")["KeyCount"]
    elif action == "create":
        s3.create_bucket(Bucket="backups")
    elif action == "list":
        out["count"] = s3.list_objects_v2(Bucket=sys.argv[5])["KeyCount"]
    elif action == "put":
        s3.put_object(Bucket=sys.argv[5], Key="x", Body=b"x")
except ClientError as exc:
    out["error"] = exc.response["Error"]["Code"]
print(json.dumps(out))
"""


def s3(server, action, *args, access_key=None, secret_key=None):
    return bench_python.run(CLIENT, server.endpoint, access_key or server.access_key,
                            secret_key or server.secret_key, action, *args)


def test_objects_are_put_listed_by_prefix_read_back_and_deleted(s3_server):
    out = s3(s3_server, "round-trip")
    assert out["listed"] == ["shop/erp/20261203T021500Z/database.sql.gz.gpg",
                             "shop/erp/20261203T021500Z/manifest.json"]
    # The sets of a site, one level down, as the backup Job lists them to prune.
    assert out["sets"] == ["shop/erp/20261203T021500Z/"]
    assert out["body"] == "set shop/erp/20261203T021500Z/manifest.json"
    assert (out["after"], out["other"]) == (0, 1)


def test_wrong_credentials_and_a_missing_bucket_are_refused_with_the_codes_of_s3(s3_server):
    assert s3(s3_server, "create") == {}
    assert s3(s3_server, "list", "backups", access_key="nobody") == {"error": "InvalidAccessKeyId"}
    assert s3(s3_server, "put", "backups", secret_key="wrong") == {"error": "SignatureDoesNotMatch"}
    assert s3(s3_server, "list", "missing") == {"error": "NoSuchBucket"}
    assert s3(s3_server, "list", "backups") == {"count": 0}
