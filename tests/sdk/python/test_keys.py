"""CreateKey, DescribeKey, ListKeys through every Python client mode."""

import json

import pytest

from helpers import (
    DEFAULT_KEY_FIELDS,
    assert_recent_date,
    assert_request_id,
    assert_uuid,
    create_alias,
    create_key,
    expect_error,
    key_arn_account,
    list_all,
    random_uuid,
)

# Exercises the query encoding of every SDK: space, +, &, =, *, ~, %, quotes, non-ASCII.
AWKWARD_TEXT = "sdk test: a+b & c=d *~ %20 'q' \"dq\" ü 中文 /slash/"


def check_metadata(md: dict) -> str:
    """Checks the KeyMetadata of a freshly created default key; returns the account id."""
    for field, value in DEFAULT_KEY_FIELDS.items():
        assert md[field] == value, (field, md)
    assert_uuid(md["KeyId"])
    assert_uuid(md["PrimaryKeyVersion"])
    assert_recent_date(md["CreationDate"])
    account = key_arn_account(md["Arn"], md["KeyId"])
    assert md["Creator"] == account
    if "DeletionProtection" in md:  # the Tea 3.3.1 CreateKey model has no such field
        assert md["DeletionProtection"] == "Disabled"
    return account


CONTRACT_FIELDS = {"Arn", "AutomaticRotation", "CreationDate", "Creator", "DeletionProtection", "Description",
                   "KeyId", "KeySpec", "KeyState", "KeyUsage", "Origin", "PrimaryKeyVersion", "ProtectionLevel"}


def test_create_key_defaults(kms):
    md = create_key(kms)
    check_metadata(md)
    assert md.get("Description", "") == ""
    if kms.mode == "core":  # core hands back the raw JSON: every contract field is on the wire
        assert CONTRACT_FIELDS <= set(md), CONTRACT_FIELDS - set(md)
        assert md["DeletionProtection"] == "Disabled"


def test_create_key_explicit_parameters(kms):
    md = create_key(kms, Description=AWKWARD_TEXT, KeySpec="Aliyun_AES_256", KeyUsage="ENCRYPT/DECRYPT",
                    Origin="Aliyun_KMS", ProtectionLevel="SOFTWARE")
    check_metadata(md)
    assert md["Description"] == AWKWARD_TEXT


def test_key_ids_are_distinct(kms):
    a, b = create_key(kms), create_key(kms)
    assert a["KeyId"] != b["KeyId"]
    assert a["PrimaryKeyVersion"] != b["PrimaryKeyVersion"]
    assert a["Arn"] != b["Arn"]


def test_describe_key_by_id_alias_and_arn(kms, unique):
    created = create_key(kms, Description="describe me")
    alias = create_alias(kms, created["KeyId"], unique)
    for ref in (created["KeyId"], alias, created["Arn"]):
        body = kms.call("DescribeKey", {"KeyId": ref})
        assert_request_id(body)
        md = body["KeyMetadata"]
        check_metadata(md)
        assert md["DeletionProtection"] == "Disabled"
        # DescribeKey repeats what CreateKey said, whatever reference was used
        for field, value in created.items():
            assert md.get(field) == value, (ref, field, md)


def test_list_keys_contains_new_keys_with_arns(kms):
    mine = {md["KeyId"]: md["Arn"] for md in (create_key(kms), create_key(kms))}
    keys, total = list_all(kms, "ListKeys", "Keys", "Key")
    assert total >= 2
    ids = [k["KeyId"] for k in keys]
    assert len(ids) == len(set(ids)), "a key listed twice"
    by_id = {k["KeyId"]: k["KeyArn"] for k in keys}
    for key_id, arn in mine.items():
        assert by_id.get(key_id) == arn


def test_list_keys_paging(kms):
    for _ in range(3):
        create_key(kms)
    first = kms.call("ListKeys")  # defaults: page 1, size 10
    assert (int(first["PageNumber"]), int(first["PageSize"])) == (1, 10)
    total = int(first["TotalCount"])
    assert len(first["Keys"]["Key"]) == min(10, total)
    # small pages (about 4 of them, at most 99 keys each) walk the same set as big pages,
    # without overlap; the session's key count depends on which tests ran before
    small, small_total = list_all(kms, "ListKeys", "Keys", "Key", page_size=min(99, max(2, total // 4 + 1)))
    big, big_total = list_all(kms, "ListKeys", "Keys", "Key", page_size=100)
    assert small_total == big_total == total
    assert sorted(k["KeyId"] for k in small) == sorted(k["KeyId"] for k in big)
    # past the last page: empty list, same TotalCount
    beyond = kms.call("ListKeys", {"PageNumber": total + 1, "PageSize": 1})
    assert beyond["Keys"]["Key"] == []
    assert int(beyond["TotalCount"]) == total


@pytest.mark.parametrize("filters, listed", [
    ([{"Key": "KeyState", "Values": ["Enabled"]}], True),
    ([{"Key": "KeyState", "Values": ["Disabled", "PendingDeletion"]}], False),
    ([{"Key": "KeySpec", "Values": ["Aliyun_AES_256"]}], True),
    ([{"Key": "KeySpec", "Values": ["RSA_2048", "EC_P256"]}], False),
    ([{"Key": "KeyUsage", "Values": ["ENCRYPT/DECRYPT"]}], True),
    ([{"Key": "KeyUsage", "Values": ["SIGN/VERIFY"]}], False),
    ([{"Key": "KeyState", "Values": ["Enabled"]}, {"Key": "KeySpec", "Values": ["Aliyun_AES_256"]}], True),
    ([{"Key": "KeyState", "Values": ["Enabled"]}, {"Key": "KeyUsage", "Values": ["SIGN/VERIFY"]}], False),
], ids=lambda v: json.dumps(v, separators=(",", ":")) if isinstance(v, list) else str(v))
def test_list_keys_filters(kms, filters, listed):
    key_id = create_key(kms)["KeyId"]
    keys, _ = list_all(kms, "ListKeys", "Keys", "Key", {"Filters": json.dumps(filters)})
    assert (key_id in {k["KeyId"] for k in keys}) is listed


# --- errors -------------------------------------------------------------------------

def test_describe_unknown_key_id(kms):
    expect_error(kms, "DescribeKey", {"KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)


def test_describe_unknown_key_arn(kms):
    arn = create_key(kms)["Arn"]
    unknown = arn.rsplit("/", 1)[0] + "/" + random_uuid()
    expect_error(kms, "DescribeKey", {"KeyId": unknown}, "Forbidden.KeyNotFound", 404)


def test_describe_unknown_alias(kms):
    expect_error(kms, "DescribeKey", {"KeyId": "alias/nope"}, "Forbidden.AliasNotFound", 404)


def test_describe_key_without_key_id(kms):
    expect_error(kms, "DescribeKey", {}, "MissingParameter", 400)


def test_create_key_legacy_3des_spec_is_refused(kms):
    expect_error(kms, "CreateKey", {"KeySpec": "Aliyun_DES3_192"}, "UnsupportedOperation", 400)


def test_create_key_unknown_key_spec(kms):
    expect_error(kms, "CreateKey", {"KeySpec": "Bogus"}, "InvalidParameter", 400)


def test_list_keys_page_size_over_100(kms):
    expect_error(kms, "ListKeys", {"PageSize": 101}, "InvalidParameter", 400)


def test_list_keys_page_size_100_is_fine(kms):
    assert int(kms.call("ListKeys", {"PageSize": 100})["PageSize"]) == 100


def test_list_keys_malformed_filters(kms):
    expect_error(kms, "ListKeys", {"Filters": "not json"}, "InvalidParameter", 400)
