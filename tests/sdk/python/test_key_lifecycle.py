"""Key states, deletion protection, versions and rotation through every Python client mode:
UpdateKeyDescription, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion,
SetDeletionProtection, CreateKeyVersion, DescribeKeyVersion, ListKeyVersions and
UpdateRotationPolicy (spec §7.2), checked against the key-state matrix of spec §5.4; rotation
and destruction on schedule through kmsd's --dev-clock."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from helpers import (
    assert_recent_date,
    assert_request_id,
    assert_uuid,
    b64,
    create_alias,
    create_key,
    expect_error,
    list_all,
    parse_date,
    random_uuid,
    unb64,
)
from kms_clients import MODES

DAY = 86_400
SLACK = timedelta(seconds=60)  # between the test's clock and kmsd's


def now():
    return datetime.now(timezone.utc)


def ok(kms, action, params=None):
    body = kms.call(action, params)
    assert_request_id(body)
    return body


def describe(kms, key_ref):
    return ok(kms, "DescribeKey", {"KeyId": key_ref})["KeyMetadata"]


def encrypt(kms, key_ref, plaintext=b"data"):
    return ok(kms, "Encrypt", {"KeyId": key_ref, "Plaintext": b64(plaintext)})


def decrypt(kms, blob):
    body = ok(kms, "Decrypt", {"CiphertextBlob": blob})
    return body["KeyVersionId"], unb64(body["Plaintext"])


def use_calls(key_id, blob):
    """The §5.4 row refused with Rejected.<KeyState> unless the key is Enabled."""
    return [
        ("Encrypt", {"KeyId": key_id, "Plaintext": b64(b"x")}),
        ("Decrypt", {"CiphertextBlob": blob}),
        ("GenerateDataKey", {"KeyId": key_id}),
        ("GenerateDataKeyWithoutPlaintext", {"KeyId": key_id}),
        ("ReEncrypt", {"CiphertextBlob": blob, "DestinationKeyId": key_id}),
        ("CreateKeyVersion", {"KeyId": key_id}),
        ("UpdateRotationPolicy", {"KeyId": key_id, "EnableAutomaticRotation": True, "RotationInterval": "30d"}),
    ]


def read_calls(key_id, version_id):
    """The §5.4 row allowed in every key state."""
    return [
        ("DescribeKey", {"KeyId": key_id}),
        ("DescribeKeyVersion", {"KeyId": key_id, "KeyVersionId": version_id}),
        ("ListKeyVersions", {"KeyId": key_id}),
        ("ListResourceTags", {"KeyId": key_id}),
    ]


TAGS = json.dumps([{"TagKey": "team", "TagValue": "pay"}])


def listed_in_state(kms, state):
    keys, _ = list_all(kms, "ListKeys", "Keys", "Key", {"Filters": json.dumps([{"Key": "KeyState", "Values": [state]}])})
    return {k["KeyId"] for k in keys}


# --- UpdateKeyDescription -------------------------------------------------------------

def test_update_key_description(kms, unique):
    md = create_key(kms, Description="first")
    key = md["KeyId"]
    alias = create_alias(kms, key, unique)
    for ref in (key, alias, md["Arn"]):  # newer docs: the key by id, alias or ARN
        ok(kms, "UpdateKeyDescription", {"KeyId": ref, "Description": f"set via {ref}"})
        assert describe(kms, key)["Description"] == f"set via {ref}"
    ok(kms, "UpdateKeyDescription", {"KeyId": key, "Description": ""})  # empty clears
    assert describe(kms, key).get("Description", "") == ""
    expect_error(kms, "UpdateKeyDescription", {"KeyId": key}, "MissingParameter", 400)


def test_update_key_description_length(kms):
    key = create_key(kms)["KeyId"]
    longest = "中" * 8192  # 0–8192 characters (not bytes)
    ok(kms, "UpdateKeyDescription", {"KeyId": key, "Description": longest})
    assert describe(kms, key)["Description"] == longest
    expect_error(kms, "UpdateKeyDescription", {"KeyId": key, "Description": "x" * 8193}, "InvalidParameter", 400)
    assert describe(kms, key)["Description"] == longest


# --- EnableKey / DisableKey -----------------------------------------------------------

def test_disabled_key(kms, unique):
    md = create_key(kms)
    key, version = md["KeyId"], md["PrimaryKeyVersion"]
    alias = create_alias(kms, key, unique)
    blob = encrypt(kms, key)["CiphertextBlob"]
    ok(kms, "EnableKey", {"KeyId": key})  # no-op on an Enabled key
    assert describe(kms, key)["KeyState"] == "Enabled"
    ok(kms, "DisableKey", {"KeyId": alias})
    ok(kms, "DisableKey", {"KeyId": md["Arn"]})  # no-op on a Disabled key
    assert describe(kms, key)["KeyState"] == "Disabled"
    assert key in listed_in_state(kms, "Disabled")

    for action, params in use_calls(key, blob):
        expect_error(kms, action, params, "Rejected.Disabled", 409)
    for action, params in read_calls(key, version):
        ok(kms, action, params)
    # metadata, tags and aliases may still change
    ok(kms, "UpdateKeyDescription", {"KeyId": key, "Description": "while disabled"})
    ok(kms, "TagResource", {"KeyId": key, "Tags": TAGS})
    create_alias(kms, key, unique, "-2")
    expect_error(kms, "CancelKeyDeletion", {"KeyId": key}, "Rejected.StateModifiedFailed", 409)

    ok(kms, "EnableKey", {"KeyId": alias})
    ok(kms, "EnableKey", {"KeyId": key})
    after = describe(kms, key)
    assert (after["KeyState"], after["Description"], after["PrimaryKeyVersion"]) == ("Enabled", "while disabled", version)
    assert decrypt(kms, blob) == (version, b"data")


def test_cancelling_deletion_of_a_disabled_key_enables_it(kms):
    key = create_key(kms)["KeyId"]
    ok(kms, "DisableKey", {"KeyId": key})
    ok(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 30})  # allowed from Disabled
    assert describe(kms, key)["KeyState"] == "PendingDeletion"
    ok(kms, "CancelKeyDeletion", {"KeyId": key})
    assert describe(kms, key)["KeyState"] == "Enabled"  # spec §5.4: CancelKeyDeletion → Enabled


# --- ScheduleKeyDeletion / CancelKeyDeletion ------------------------------------------

def test_pending_deletion(kms, unique):
    md = create_key(kms, EnableAutomaticRotation=True, RotationInterval="30d")
    key, version = md["KeyId"], md["PrimaryKeyVersion"]
    alias = create_alias(kms, key, unique)
    other = create_key(kms)["KeyId"]
    other_alias = create_alias(kms, other, unique, "-other")
    blob = encrypt(kms, key)["CiphertextBlob"]
    scheduled_at = now()
    ok(kms, "ScheduleKeyDeletion", {"KeyId": alias, "PendingWindowInDays": 7})
    pending = describe(kms, key)
    assert (pending["KeyState"], pending["AutomaticRotation"]) == ("PendingDeletion", "Suspended")
    assert abs(parse_date(pending["DeleteDate"]) - (scheduled_at + timedelta(days=7))) < SLACK
    assert key in listed_in_state(kms, "PendingDeletion")

    for action, params in use_calls(key, blob):
        expect_error(kms, action, params, "Rejected.PendingDeletion", 409)
    for action, params in read_calls(key, version):
        ok(kms, action, params)
    for action, params, code in [
        ("EnableKey", {"KeyId": key}, "Rejected.StateModifiedFailed"),
        ("DisableKey", {"KeyId": key}, "Rejected.StateModifiedFailed"),
        ("ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 30}, "Rejected.StateModifiedFailed"),
        ("CreateAlias", {"AliasName": f"alias/sdk-{unique}-2", "KeyId": key}, "Rejected.StateModifiedFailed"),
        ("UpdateKeyDescription", {"KeyId": key, "Description": "x"}, "Rejected.PendingDeletion"),
        ("TagResource", {"KeyId": key, "Tags": TAGS}, "Rejected.PendingDeletion"),
        ("UpdateAlias", {"AliasName": other_alias, "KeyId": key}, "Rejected.PendingDeletion"),  # checks the target
        # docs: "the key must not be PendingDeletion" (the code is our reading of §5.4)
        ("SetDeletionProtection", {"ProtectedResourceArn": md["Arn"], "EnableDeletionProtection": True},
         "Rejected.PendingDeletion"),
    ]:
        expect_error(kms, action, params, code, 409)
    assert describe(kms, key)["DeleteDate"] == pending["DeleteDate"]  # the refused calls changed nothing
    assert describe(kms, other_alias)["KeyId"] == other
    # an alias of a PendingDeletion key may be re-pointed (only the target counts) or deleted
    ok(kms, "UpdateAlias", {"AliasName": alias, "KeyId": other})
    ok(kms, "DeleteAlias", {"AliasName": alias})

    ok(kms, "CancelKeyDeletion", {"KeyId": md["Arn"]})
    cancelled = describe(kms, key)
    assert (cancelled["KeyState"], cancelled["AutomaticRotation"]) == ("Enabled", "Enabled")
    assert not cancelled.get("DeleteDate"), cancelled
    expect_error(kms, "CancelKeyDeletion", {"KeyId": key}, "Rejected.StateModifiedFailed", 409)
    assert decrypt(kms, blob) == (version, b"data")


@pytest.mark.parametrize("days", [7, 366])
def test_pending_window_bounds(kms, days):
    key = create_key(kms)["KeyId"]
    scheduled_at = now()
    ok(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": days})
    assert abs(parse_date(describe(kms, key)["DeleteDate"]) - (scheduled_at + timedelta(days=days))) < SLACK


@pytest.mark.parametrize("days, code", [
    (6, "InvalidParameter"),
    (367, "InvalidParameter"),
    (0, "InvalidParameter"),
    (None, "MissingParameter"),
])
def test_pending_window_invalid(kms, days, code):
    key = create_key(kms)["KeyId"]
    params = {"KeyId": key} if days is None else {"KeyId": key, "PendingWindowInDays": days}
    expect_error(kms, "ScheduleKeyDeletion", params, code, 400)
    assert describe(kms, key)["KeyState"] == "Enabled"


# --- SetDeletionProtection ------------------------------------------------------------

def test_deletion_protection(kms):
    md = create_key(kms)
    key, arn = md["KeyId"], md["Arn"]
    ok(kms, "SetDeletionProtection", {
        "ProtectedResourceArn": arn, "EnableDeletionProtection": True, "DeletionProtectionDescription": "used by billing"})
    got = describe(kms, key)
    assert (got["DeletionProtection"], got["DeletionProtectionDescription"]) == ("Enabled", "used by billing")
    expect_error(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7}, "Rejected.UnsupportedOperation", 400)
    assert describe(kms, key)["KeyState"] == "Enabled"

    ok(kms, "SetDeletionProtection", {"ProtectedResourceArn": arn, "EnableDeletionProtection": False})
    assert describe(kms, key)["DeletionProtection"] == "Disabled"
    ok(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7})
    assert describe(kms, key)["KeyState"] == "PendingDeletion"


def test_deletion_protection_errors(kms):
    arn = create_key(kms)["Arn"]
    expect_error(kms, "SetDeletionProtection", {"ProtectedResourceArn": arn}, "MissingParameter", 400)
    expect_error(kms, "SetDeletionProtection", {"EnableDeletionProtection": True}, "MissingParameter", 400)
    unknown = arn.rsplit("/", 1)[0] + "/" + random_uuid()
    expect_error(kms, "SetDeletionProtection", {"ProtectedResourceArn": unknown, "EnableDeletionProtection": True},
                 "Forbidden.KeyNotFound", 404)


# the Tea 3.3.1 model has the newer KeyId field (instead of the ARN); core's request class has not
@pytest.mark.parametrize("mode", [m for m in MODES if m != "core"])
def test_deletion_protection_by_key_id(kms):
    key = create_key(kms)["KeyId"]
    ok(kms, "SetDeletionProtection", {"KeyId": key, "EnableDeletionProtection": True})
    assert describe(kms, key)["DeletionProtection"] == "Enabled"
    ok(kms, "SetDeletionProtection", {"KeyId": key, "EnableDeletionProtection": False})
    assert describe(kms, key)["DeletionProtection"] == "Disabled"


# --- CreateKeyVersion / DescribeKeyVersion / ListKeyVersions --------------------------

def test_key_versions(kms, unique):
    md = create_key(kms)
    key, first = md["KeyId"], md["PrimaryKeyVersion"]
    alias = create_alias(kms, key, unique)
    old = encrypt(kms, key, b"old")["CiphertextBlob"]

    made = ok(kms, "CreateKeyVersion", {"KeyId": alias})["KeyVersion"]
    assert made["KeyId"] == key
    assert_uuid(made["KeyVersionId"])
    assert_recent_date(made["CreationDate"])
    second = made["KeyVersionId"]
    assert describe(kms, key)["PrimaryKeyVersion"] == second
    assert encrypt(kms, key)["KeyVersionId"] == second
    third = ok(kms, "CreateKeyVersion", {"KeyId": md["Arn"]})["KeyVersion"]["KeyVersionId"]
    assert len({first, second, third}) == 3
    assert describe(kms, key)["PrimaryKeyVersion"] == third
    new = encrypt(kms, key, b"new")
    assert new["KeyVersionId"] == third
    assert decrypt(kms, old) == (first, b"old")  # older versions keep decrypting
    assert decrypt(kms, new["CiphertextBlob"]) == (third, b"new")

    listed, total = list_all(kms, "ListKeyVersions", "KeyVersions", "KeyVersion", {"KeyId": key}, page_size=2)
    assert total == 3
    assert [v["KeyVersionId"] for v in listed] == [third, second, first]  # newest first
    for v in listed:
        assert v["KeyId"] == key
        assert_recent_date(v["CreationDate"])
        got = ok(kms, "DescribeKeyVersion", {"KeyId": alias, "KeyVersionId": v["KeyVersionId"]})["KeyVersion"]
        # Usage counters are live: each node adds its own unflushed uses and the others' arrive
        # with the next flush (every few seconds), so only the metadata must agree.
        assert without_usage(got) == without_usage(v)
    first_page = ok(kms, "ListKeyVersions", {"KeyId": key})
    assert (int(first_page["PageNumber"]), int(first_page["PageSize"]), int(first_page["TotalCount"])) == (1, 10, 3)



def without_usage(version: dict) -> dict:
    return {k: v for k, v in version.items() if k not in ("EncryptCount", "DecryptCount", "LastUsedDate")}


def test_describe_key_version_not_found(kms):
    key, other = create_key(kms), create_key(kms)
    for version in (random_uuid(), other["PrimaryKeyVersion"]):  # unknown, or another key's
        expect_error(kms, "DescribeKeyVersion", {"KeyId": key["KeyId"], "KeyVersionId": version},
                     "Forbidden.KeyVersionNotFound", 404)
    expect_error(kms, "DescribeKeyVersion", {"KeyId": key["KeyId"]}, "MissingParameter", 400)


# --- UpdateRotationPolicy -------------------------------------------------------------

def test_rotation_policy(kms):
    md = create_key(kms, EnableAutomaticRotation=True, RotationInterval="7d")
    key = md["KeyId"]
    assert (md["AutomaticRotation"], md["RotationInterval"]) == ("Enabled", "604800s")
    got = describe(kms, key)
    assert (got["AutomaticRotation"], got["RotationInterval"]) == ("Enabled", "604800s")
    assert_recent_date(got["LastRotationDate"])
    last = parse_date(got["LastRotationDate"])
    assert parse_date(got["NextRotationDate"]) == last + timedelta(days=7)  # §6.8: LastRotationDate + interval

    ok(kms, "UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": True, "RotationInterval": "30d"})
    got = describe(kms, key)
    assert (got["AutomaticRotation"], got["RotationInterval"]) == ("Enabled", "2592000s")
    assert parse_date(got["NextRotationDate"]) == last + timedelta(days=30)

    ok(kms, "DisableKey", {"KeyId": key})
    got = describe(kms, key)
    assert (got["AutomaticRotation"], got["RotationInterval"]) == ("Suspended", "2592000s")
    assert got["NextRotationDate"]
    ok(kms, "EnableKey", {"KeyId": key})
    assert describe(kms, key)["AutomaticRotation"] == "Enabled"

    ok(kms, "UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": False})
    got = describe(kms, key)
    assert got["AutomaticRotation"] == "Disabled"
    assert not got.get("RotationInterval") and not got.get("NextRotationDate"), got
    expect_error(kms, "UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": True}, "MissingParameter", 400)
    expect_error(kms, "UpdateRotationPolicy", {"KeyId": key, "RotationInterval": "30d"}, "MissingParameter", 400)
    expect_error(kms, "CreateKey", {"EnableAutomaticRotation": True}, "MissingParameter", 400)
    assert describe(kms, key)["AutomaticRotation"] == "Disabled"


@pytest.mark.parametrize("interval, seconds", [
    ("7d", 604_800), ("168h", 604_800), ("10080m", 604_800), ("604800s", 604_800), ("730d", 63_072_000),
])
def test_rotation_interval_units(kms, interval, seconds):
    key = create_key(kms)["KeyId"]
    ok(kms, "UpdateRotationPolicy", {"KeyId": key, "EnableAutomaticRotation": True, "RotationInterval": interval})
    assert describe(kms, key)["RotationInterval"] == f"{seconds}s"  # output is always seconds


@pytest.mark.parametrize("interval", ["6d", "731d", "604799s", "7", "7w"])
@pytest.mark.parametrize("action", ["UpdateRotationPolicy", "CreateKey"])
def test_rotation_interval_invalid(kms, action, interval):
    params = {"EnableAutomaticRotation": True, "RotationInterval": interval}
    if action == "UpdateRotationPolicy":
        params["KeyId"] = create_key(kms)["KeyId"]
    expect_error(kms, action, params, "InvalidParameter", 400)


# --- the key reference, for every action of this module -------------------------------

KEY_ACTIONS = {
    "UpdateKeyDescription": {"Description": "x"},
    "EnableKey": {},
    "DisableKey": {},
    "ScheduleKeyDeletion": {"PendingWindowInDays": 7},
    "CancelKeyDeletion": {},
    "CreateKeyVersion": {},
    "DescribeKeyVersion": {"KeyVersionId": random_uuid()},
    "ListKeyVersions": {},
    "UpdateRotationPolicy": {"EnableAutomaticRotation": False},
}


@pytest.mark.parametrize("action", KEY_ACTIONS)
def test_key_reference_errors(kms, action):
    params = KEY_ACTIONS[action]
    expect_error(kms, action, params, "MissingParameter", 400)
    expect_error(kms, action, {**params, "KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, action, {**params, "KeyId": "alias/sdk-nope"}, "Forbidden.AliasNotFound", 404)


# --- on schedule, through --dev-clock (a fresh server per test) -----------------------

def test_rotation_on_the_dev_clock(dev_kmsd, mode):
    kms = dev_kmsd.client(mode)
    md = create_key(kms, EnableAutomaticRotation=True, RotationInterval="7d")
    key, first = md["KeyId"], md["PrimaryKeyVersion"]
    paused = create_key(kms, EnableAutomaticRotation=True, RotationInterval="7d")
    ok(kms, "DisableKey", {"KeyId": paused["KeyId"]})  # rotation is suspended while Disabled
    old = encrypt(kms, key, b"before rotation")["CiphertextBlob"]

    tick = dev_kmsd.advance_clock(7 * DAY - 60)
    assert (tick["Rotated"], tick["Destroyed"]) == (0, 0), tick
    assert describe(kms, key)["PrimaryKeyVersion"] == first
    tick = dev_kmsd.advance_clock(120)
    assert (tick["Rotated"], tick["Destroyed"]) == (1, 0), tick

    got = describe(kms, key)
    second = got["PrimaryKeyVersion"]
    assert_uuid(second)
    assert second != first
    assert got["AutomaticRotation"] == "Enabled"
    last = parse_date(got["LastRotationDate"])
    assert abs(last - parse_date(tick["Now"])) < SLACK
    assert parse_date(got["NextRotationDate"]) == last + timedelta(days=7)
    listed = ok(kms, "ListKeyVersions", {"KeyId": key})
    assert int(listed["TotalCount"]) == 2
    assert [v["KeyVersionId"] for v in listed["KeyVersions"]["KeyVersion"]] == [second, first]
    assert encrypt(kms, key)["KeyVersionId"] == second
    assert decrypt(kms, old) == (first, b"before rotation")

    still = describe(kms, paused["KeyId"])
    assert (still["AutomaticRotation"], still["PrimaryKeyVersion"]) == ("Suspended", paused["PrimaryKeyVersion"])


def test_deletion_on_the_dev_clock(dev_kmsd, mode, unique):
    kms = dev_kmsd.client(mode)
    doomed = create_key(kms)["KeyId"]
    alias = create_alias(kms, doomed, unique)
    spared = create_key(kms)["KeyId"]
    blob = encrypt(kms, doomed, b"doomed")["CiphertextBlob"]
    spared_blob = encrypt(kms, spared, b"spared")["CiphertextBlob"]
    for key in (doomed, spared):
        ok(kms, "ScheduleKeyDeletion", {"KeyId": key, "PendingWindowInDays": 7})
    ok(kms, "CancelKeyDeletion", {"KeyId": spared})
    delete_date = parse_date(describe(kms, doomed)["DeleteDate"])

    tick = dev_kmsd.advance_clock(7 * DAY - 60)
    assert (tick["Destroyed"], tick["Rotated"]) == (0, 0), tick
    assert describe(kms, doomed)["KeyState"] == "PendingDeletion"
    tick = dev_kmsd.advance_clock(120)
    assert (tick["Destroyed"], tick["Rotated"]) == (1, 0), tick
    assert parse_date(tick["Now"]) >= delete_date

    expect_error(kms, "DescribeKey", {"KeyId": doomed}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "Decrypt", {"CiphertextBlob": blob}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "CancelKeyDeletion", {"KeyId": doomed}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "DescribeKey", {"KeyId": alias}, "Forbidden.AliasNotFound", 404)
    keys, _ = list_all(kms, "ListKeys", "Keys", "Key")
    assert doomed not in {k["KeyId"] for k in keys}
    aliases, _ = list_all(kms, "ListAliases", "Aliases", "Alias")
    assert alias not in {a["AliasName"] for a in aliases}
    create_alias(kms, spared, unique)  # the destroyed key's alias name is free again

    assert describe(kms, spared)["KeyState"] == "Enabled"
    assert decrypt(kms, spared_blob)[1] == b"spared"
