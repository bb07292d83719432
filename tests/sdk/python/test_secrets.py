"""Secrets Manager through every Python client mode (the old core SDK puts a ~30 KB value in
the query string, the Tea SDKs in a form body): create, read by stage, version and ARN, new
versions, stage moves, version lists, metadata, and the documented errors."""

import json

from helpers import assert_request_id, create_key, expect_error

# 30,720 bytes: the largest value a secret holds.
BIG = "0123456789abcdef" * 1920


def test_secret_round_trip(kms, unique):
    name = f"sdk/{unique}"
    made = kms.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": BIG, "Description": "sdk"})
    assert_request_id(made)
    assert (made["SecretName"], made["VersionId"], made["SecretType"]) == (name, "v1", "Generic")
    assert made["Arn"].startswith("acs:kms:cn-hangzhou:") and made["Arn"].endswith(f":secret/{name}"), made

    got = kms.call("GetSecretValue", {"SecretName": name})
    assert got["SecretData"] == BIG
    assert (got["SecretDataType"], got["VersionId"]) == ("text", "v1")
    assert got["VersionStages"]["VersionStage"] == ["ACSCurrent"]

    put = kms.call("PutSecretValue", {"SecretName": name, "VersionId": "v2", "SecretData": "next value"})
    assert (put["SecretName"], put["VersionId"]) == (name, "v2")
    assert put["VersionStages"]["VersionStage"] == ["ACSCurrent"]
    assert kms.call("GetSecretValue", {"SecretName": name})["SecretData"] == "next value"
    prev = kms.call("GetSecretValue", {"SecretName": made["Arn"], "VersionStage": "ACSPrevious"})
    assert (prev["SecretData"], prev["VersionId"]) == (BIG, "v1")
    by_id = kms.call("GetSecretValue", {"SecretName": name, "VersionId": "v1"})
    assert by_id["VersionStages"]["VersionStage"] == ["ACSPrevious"]

    staged = kms.call("PutSecretValue", {"SecretName": name, "VersionId": "v3", "SecretData": "pending",
                                         "VersionStages": json.dumps(["ACSNext"])})
    assert staged["VersionStages"]["VersionStage"] == ["ACSNext"]
    assert kms.call("GetSecretValue", {"SecretName": name})["SecretData"] == "next value"

    listed = kms.call("ListSecretVersionIds", {"SecretName": name})
    assert [v["VersionId"] for v in listed["VersionIds"]["VersionId"]] == ["v3", "v2", "v1"]
    assert [v["VersionStages"]["VersionStage"] for v in listed["VersionIds"]["VersionId"]] == [
        ["ACSNext"], ["ACSCurrent"], ["ACSPrevious"]]
    assert int(listed["TotalCount"]) == 3

    described = kms.call("DescribeSecret", {"SecretName": name})
    assert (described["SecretName"], described["Description"], described["Arn"]) == (name, "sdk", made["Arn"])
    assert len(described["EncryptionKeyId"]) == 36
    assert "SecretData" not in described


def test_secret_errors(kms, unique):
    name = f"sdk-err/{unique}"
    kms.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "one"})
    expect_error(kms, "CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "x"},
                 "Rejected.ResourceExist", 409)
    expect_error(kms, "PutSecretValue", {"SecretName": name, "VersionId": "v1", "SecretData": "two"},
                 "Rejected.ResourceExist", 409)
    # the same version id with the same value is an idempotent success
    assert kms.call("PutSecretValue", {"SecretName": name, "VersionId": "v1", "SecretData": "one"})["VersionId"] == "v1"
    expect_error(kms, "GetSecretValue", {"SecretName": f"{name}-absent"}, "Forbidden.ResourceNotFound", 404)
    expect_error(kms, "GetSecretValue", {"SecretName": name, "VersionStage": "ACSPrevious"},
                 "Forbidden.ResourceNotFound", 404)
    expect_error(kms, "CreateSecret", {"SecretName": f"acs/{unique}", "VersionId": "v1", "SecretData": "x"},
                 "InvalidParameter", 400)
    expect_error(kms, "CreateSecret", {"SecretName": f"{name}-big", "VersionId": "v1", "SecretData": BIG + "x"},
                 "InvalidParameter", 400)


def test_secret_under_a_disabled_key_is_unreadable(kms, unique):
    key = create_key(kms)["KeyId"]
    name = f"sdk-key/{unique}"
    kms.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "guarded", "EncryptionKeyId": key})
    kms.call("DisableKey", {"KeyId": key})
    expect_error(kms, "GetSecretValue", {"SecretName": name}, "Rejected.Disabled", 409)
    kms.call("EnableKey", {"KeyId": key})
    assert kms.call("GetSecretValue", {"SecretName": name})["SecretData"] == "guarded"


def test_secret_lifecycle_and_passwords(kms, unique):
    name = f"sdk-life/{unique}"
    kms.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "one"})
    kms.call("PutSecretValue", {"SecretName": name, "VersionId": "v2", "SecretData": "two"})
    kms.call("UpdateSecretVersionStage", {"SecretName": name, "VersionStage": "ACSCurrent",
                                          "MoveToVersion": "v1", "RemoveFromVersion": "v2"})
    assert kms.call("GetSecretValue", {"SecretName": name})["SecretData"] == "one"
    kms.call("UpdateSecret", {"SecretName": name, "Description": "updated"})
    assert kms.call("DescribeSecret", {"SecretName": name})["Description"] == "updated"

    deleted = kms.call("DeleteSecret", {"SecretName": name, "RecoveryWindowInDays": "7"})
    assert deleted["SecretName"] == name and deleted["PlannedDeleteTime"].endswith("Z"), deleted
    expect_error(kms, "GetSecretValue", {"SecretName": name}, "Rejected.ResourceInDeleteWindow", 409)
    kms.call("RestoreSecret", {"SecretName": name})
    expect_error(kms, "RestoreSecret", {"SecretName": name}, "Rejected.ResourceInUse", 409)
    kms.call("DeleteSecret", {"SecretName": name, "ForceDeleteWithoutRecovery": "true"})
    expect_error(kms, "DescribeSecret", {"SecretName": name}, "Forbidden.ResourceNotFound", 404)

    password = kms.call("GetRandomPassword", {"PasswordLength": "40", "ExcludePunctuation": "true",
                                              "RequireEachIncludedType": "true"})["RandomPassword"]
    assert len(password) == 40 and password.isalnum(), password
    assert any(c.islower() for c in password) and any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password)


def test_list_and_batch_read(kms, unique):
    names = [f"sdk-list/{unique}/{i}" for i in range(3)]
    for i, name in enumerate(names):
        kms.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": f"value {i}",
                                  "Description": f"list {unique}"})
    filters = json.dumps([{"Key": "SecretName", "Values": [f"sdk-list/{unique}/"]}])
    listed = kms.call("ListSecrets", {"Filters": filters, "PageSize": 2})
    assert int(listed["TotalCount"]) == 3
    assert [s["SecretName"] for s in listed["SecretList"]["Secret"]] == names[:2]
    if kms.mode == "core":
        return  # aliyun-python-sdk-kms has no BatchGetSecretValue request
    wanted = [{"SecretName": names[0]}, {"SecretName": names[2]}, {"SecretName": f"{names[0]}-absent"}]
    batch = kms.call("BatchGetSecretValue", {"SecretsList": wanted})  # the Tea SDK sends it as JSON
    assert [v["SecretData"] for v in batch["SecretValues"]] == ["value 0", "value 2"]
    assert [(e["SecretName"], e["Code"]) for e in batch["Errors"]] == [(f"{names[0]}-absent", "Forbidden.ResourceNotFound")]
