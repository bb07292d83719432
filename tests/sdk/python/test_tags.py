"""Tags on keys through every Python client mode: TagResource, UntagResource, ListResourceTags,
TagResources, UntagResources, ListTagResources, and CreateKey's Tags."""

import json

from helpers import assert_request_id, create_key, expect_error, random_uuid


def tags_json(pairs):
    return json.dumps([{"TagKey": k, "TagValue": v} for k, v in pairs])


def resource_tags(kms, key_id):
    body = kms.call("ListResourceTags", {"KeyId": key_id})
    assert_request_id(body)
    rows = body["Tags"]["Tag"]
    assert all(r["KeyId"] == key_id for r in rows), rows
    return [(r["TagKey"], r["TagValue"]) for r in rows]


def batch(kms, ids=None, tags=None, tag_keys=None, **extra):
    """Parameters of the batch tag actions in each SDK's own shape (repeat lists)."""
    params = {"ResourceType": "key", **extra}
    core = kms.mode == "core"
    if ids is not None:
        params["ResourceIds" if core else "ResourceId"] = ids
    if tags is not None:
        params["Tags" if core else "Tag"] = [{"Key": k, "Value": v} for k, v in tags]
    if tag_keys is not None:
        params["TagKeys" if core else "TagKey"] = tag_keys
    return params


def test_single_resource_tags(kms):
    key = create_key(kms, Tags=tags_json([("team", "pay"), ("env", "prod")]))["KeyId"]
    assert resource_tags(kms, key) == [("env", "prod"), ("team", "pay")]
    assert_request_id(kms.call("TagResource", {"KeyId": key, "Tags": tags_json([("team", "ops"), ("tier", "1")])}))
    assert resource_tags(kms, key) == [("env", "prod"), ("team", "ops"), ("tier", "1")]
    assert_request_id(kms.call("UntagResource", {"KeyId": key, "TagKeys": json.dumps(["team", "unknown"])}))
    assert resource_tags(kms, key) == [("env", "prod"), ("tier", "1")]

    expect_error(kms, "TagResource", {"KeyId": key, "Tags": tags_json([("aliyun-x", "v")])}, "InvalidParameter", 400)
    expect_error(kms, "TagResource", {"KeyId": key, "Tags": "not json"}, "InvalidParameter", 400)
    many = [(f"k{i:02}", "v") for i in range(19)]
    expect_error(kms, "TagResource", {"KeyId": key, "Tags": tags_json(many)}, "Rejected.LimitExceeded", 400)
    assert len(resource_tags(kms, key)) == 2
    expect_error(kms, "ListResourceTags", {"KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)


def test_batch_tags(kms):
    a, b = create_key(kms)["KeyId"], create_key(kms)["KeyId"]
    assert_request_id(kms.call("TagResources", batch(kms, ids=[a, b], tags=[("team", "pay"), ("env", "prod")])))
    assert resource_tags(kms, b) == [("env", "prod"), ("team", "pay")]

    listed = kms.call("ListTagResources", batch(kms, ids=[a]))
    assert listed.get("NextToken", "") == ""
    rows = [(r["ResourceId"], r["ResourceType"], r["TagKey"], r["TagValue"]) for r in listed["TagResources"]["TagResource"]]
    assert rows == [(a, "key", "env", "prod"), (a, "key", "team", "pay")]

    assert_request_id(kms.call("UntagResources", batch(kms, ids=[a], tag_keys=["team"])))
    assert resource_tags(kms, a) == [("env", "prod")]
    assert_request_id(kms.call("UntagResources", batch(kms, ids=[b], All=True)))
    assert resource_tags(kms, b) == []

    expect_error(kms, "TagResources", batch(kms, ids=[a, random_uuid()], tags=[("x", "1")]), "InvalidResourceId.NotFound", 404)
    expect_error(kms, "TagResources", batch(kms, ids=[a], tags=[("x", "1"), ("x", "2")]), "Duplicate.TagKey", 400)
    expect_error(kms, "TagResources", batch(kms, ids=[a], tags=[("acs:x", "1")]), "InvalidParameter.TagKey", 400)
    expect_error(kms, "TagResources", batch(kms, ids=[a], tags=[("x", "bad#")]), "InvalidParameter.TagValue", 400)
    assert resource_tags(kms, a) == [("env", "prod")]
