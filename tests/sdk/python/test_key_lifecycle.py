"""Key states, versions and rotation through every Python client mode; rotation and deletion
on schedule through kmsd's --dev-clock."""

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from conftest import _start_kmsd, _stop_kmsd
from helpers import assert_recent_date, assert_request_id, b64, create_alias, create_key, expect_error, random_uuid, unb64

DAY = 86_400


def describe(kms, key_id):
    return kms.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]


def encrypt(kms, key_id, plaintext=b"data"):
    return kms.call("Encrypt", {"KeyId": key_id, "Plaintext": b64(plaintext)})


def test_description_enable_disable(kms):
    key = create_key(kms, Description="first")["KeyId"]
    assert_request_id(kms.call("UpdateKeyDescription", {"KeyId": key, "Description": "second"}))
    assert describe(kms, key)["Description"] == "second"
    blob = encrypt(kms, key)["CiphertextBlob"]
    assert_request_id(kms.call("DisableKey", {"KeyId": key}))
    assert_request_id(kms.call("DisableKey", {"KeyId": key}))  # no-op when already disabled
    assert describe(kms, key)["KeyState"] == "Disabled"
    expect_error(kms, "Encrypt", {"KeyId": key, "Plaintext": b64(b"x")}, "Rejected.Disabled", 409)
    expect_error(kms, "Decrypt", {"CiphertextBlob": blob}, "Rejected.Disabled", 409)
    expect_error(kms, "GenerateDataKey", {"KeyId": key}, "Rejected.Disabled", 409)
    assert_request_id(kms.call("EnableKey", {"KeyId": key}))
    assert describe(kms, key)["KeyState"] == "Enabled"
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": blob})["Plaintext"]) == b"data"
    expect_error(kms, "EnableKey", {"KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)


def test_schedule_and_cancel_deletion(kms, unique):
    key = create_key(kms)["KeyId"]
    before = datetime.now(timezone.utc)
    assert_request_id(kms.call("ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7}))
    md = describe(kms, key)
    assert md["KeyState"] == "PendingDeletion"
    delete_date = datetime.strptime(md["DeleteDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(delete_date - (before + timedelta(days=7))) < timedelta(seconds=10)
    expect_error(kms, "Encrypt", {"KeyId": key, "Plaintext": b64(b"x")}, "Rejected.PendingDeletion", 409)
    expect_error(kms, "DisableKey", {"KeyId": key}, "Rejected.StateModifiedFailed", 409)
    expect_error(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7}, "Rejected.StateModifiedFailed", 409)
    expect_error(kms, "UpdateKeyDescription", {"KeyId": key, "Description": "x"}, "Rejected.PendingDeletion", 409)
    expect_error(kms, "CreateAlias", {"AliasName": f"alias/sdk-{unique}", "KeyId": key}, "Rejected.StateModifiedFailed", 409)
    assert_request_id(kms.call("CancelKeyDeletion", {"KeyId": key}))
    md = describe(kms, key)
    assert md["KeyState"] == "Enabled" and not md.get("DeleteDate")
    expect_error(kms, "CancelKeyDeletion", {"KeyId": key}, "Rejected.StateModifiedFailed", 409)
    for days in (6, 367):
        expect_error(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": days}, "InvalidParameter", 400)


def test_deletion_protection(kms):
    md = create_key(kms)
    key, arn = md["KeyId"], md["Arn"]
    assert_request_id(kms.call("SetDeletionProtection", {
        "ProtectedResourceArn": arn, "EnableDeletionProtection": True, "DeletionProtectionDescription": "in use"}))
    md = describe(kms, key)
    assert md["DeletionProtection"] == "Enabled"
    assert md["DeletionProtectionDescription"] == "in use"
    expect_error(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7}, "Rejected.UnsupportedOperation", 400)
    assert_request_id(kms.call("SetDeletionProtection", {"ProtectedResourceArn": arn, "EnableDeletionProtection": False}))
    assert_request_id(kms.call("ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7}))


def test_versions(kms):
    md = create_key(kms)
    key, first = md["KeyId"], md["PrimaryKeyVersion"]
    old = encrypt(kms, key, b"old")
    made = kms.call("CreateKeyVersion", {"KeyId": key})["KeyVersion"]
    assert made["KeyId"] == key
    assert_recent_date(made["CreationDate"])
    second = made["KeyVersionId"]
    assert describe(kms, key)["PrimaryKeyVersion"] == second
    assert encrypt(kms, key)["KeyVersionId"] == second
    dec = kms.call("Decrypt", {"CiphertextBlob": old["CiphertextBlob"]})
    assert (dec["KeyVersionId"], unb64(dec["Plaintext"])) == (first, b"old")
    got = kms.call("DescribeKeyVersion", {"KeyId": key, "KeyVersionId": first})["KeyVersion"]
    assert (got["KeyId"], got["KeyVersionId"]) == (key, first)
    listed = kms.call("ListKeyVersions", {"KeyId": key, "PageNumber": 1, "PageSize": 10})
    assert int(listed["TotalCount"]) == 2
    assert [v["KeyVersionId"] for v in listed["KeyVersions"]["KeyVersion"]] == [second, first]
    expect_error(kms, "DescribeKeyVersion", {"KeyId": key, "KeyVersionId": random_uuid()}, "Forbidden.KeyVersionNotFound", 404)


def test_rotation_policy(kms):
    md = create_key(kms, EnableAutomaticRotation=True, RotationInterval="7d")
    key = md["KeyId"]
    md = describe(kms, key)
    assert (md["AutomaticRotation"], md["RotationInterval"]) == ("Enabled", "604800s")
    assert md["NextRotationDate"] and md["LastRotationDate"]
    assert_request_id(kms.call("UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": True, "RotationInterval": "30d"}))
    assert describe(kms, key)["RotationInterval"] == "2592000s"
    kms.call("DisableKey", {"KeyId": key})
    assert describe(kms, key)["AutomaticRotation"] == "Suspended"
    kms.call("EnableKey", {"KeyId": key})
    assert_request_id(kms.call("UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": False}))
    md = describe(kms, key)
    assert md["AutomaticRotation"] == "Disabled" and not md.get("RotationInterval") and not md.get("NextRotationDate")
    expect_error(kms, "UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": True}, "MissingParameter", 400)
    expect_error(kms, "UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": True, "RotationInterval": "6d"},
                 "InvalidParameter", 400)


@pytest.fixture(scope="module")
def dev_kmsd(tmp_path_factory):
    server = _start_kmsd(tmp_path_factory.mktemp("kmsd-dev-clock"), ["--dev-clock"])
    yield server
    _stop_kmsd(server)


def advance(server, seconds):
    req = urllib.request.Request(f"{server.endpoint.url}/-/clock/advance?seconds={seconds}", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("mode", ["core", "tea-v3"])
def test_rotation_and_deletion_on_the_dev_clock(dev_kmsd, mode, unique):
    kms = dev_kmsd.client(mode)
    md = create_key(kms, EnableAutomaticRotation=True, RotationInterval="7d")
    key, first = md["KeyId"], md["PrimaryKeyVersion"]
    old = encrypt(kms, key, b"before rotation")
    assert advance(dev_kmsd, 7 * DAY + 60)["Rotated"] >= 1
    second = describe(kms, key)["PrimaryKeyVersion"]
    assert second != first
    assert encrypt(kms, key)["KeyVersionId"] == second
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": old["CiphertextBlob"]})["Plaintext"]) == b"before rotation"

    alias = create_alias(kms, key, unique)
    kms.call("ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7})
    assert advance(dev_kmsd, 7 * DAY + 60)["Destroyed"] >= 1
    expect_error(kms, "DescribeKey", {"KeyId": key}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "Decrypt", {"CiphertextBlob": old["CiphertextBlob"]}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "DescribeKey", {"KeyId": alias}, "Forbidden.AliasNotFound", 404)
