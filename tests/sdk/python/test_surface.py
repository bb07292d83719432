"""The whole 2016-01-20 surface: the installed SDK's action list is the one the README is
checked against, every one of its actions is answered (never InvalidAction.NotFound), managed
data keys through the SDK's typed models, DescribeService, and the attestation refusals."""

import inspect
import re
from pathlib import Path

import alibabacloud_kms20160120.client as tea_client
import pytest

from helpers import assert_request_id, expect_error, unb64
from kms_clients import ApiError

REPO = Path(__file__).resolve().parents[3]
TEA_MODES = ("tea-v3", "tea-v2", "tea-v4")


def recorded_actions() -> list:
    text = (REPO / "docs" / "reference" / "sdk-actions.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_the_recorded_action_list_is_the_installed_sdks():
    installed = sorted(set(re.findall(r"action = '([A-Za-z]+)'", inspect.getsource(tea_client))))
    assert installed == recorded_actions()
    assert len(installed) == 91


def test_every_sdk_action_is_answered(kmsd):
    """Each action with no parameters (CreateKey with a bad spec, so nothing is made): its
    result or a documented refusal, never the code of an action that does not exist."""
    tea = kmsd.client("tea-v3")
    answered = {}
    for action in recorded_actions():
        params = {"KeySpec": "Bogus"} if action == "CreateKey" else {}
        try:
            tea.call_generic(action, query=params)
            answered[action] = "ok"
        except ApiError as e:
            assert e.code != "InvalidAction.NotFound", action
            assert e.request_id, action
            answered[action] = e.code
    assert answered["CreateKey"] == "InvalidParameter"
    assert answered["GetManagedDataKey"] == "MissingParameter"
    assert answered["GetChallenge"] == "UnsupportedOperation"
    assert answered["DescribeRegions"] == "ok"


@pytest.fixture(params=TEA_MODES)
def tea(kmsd, request):
    return kmsd.client(request.param)


def test_managed_data_keys(kmsd, tea, unique):
    name = f"sdk/orders-{unique}"
    versions = [kmsd.admin("create", name, group="datakey").strip() for _ in range(3)]
    first = tea.call("GetManagedDataKey", {"DataKeyName": name})
    assert_request_id(first)
    assert (first["DataKeyName"], first["DataKeyVersionId"]) == (name, versions[0])
    assert first["DataKeyVersionName"] == f"kms-datakeyversion!{name}!{versions[0]}"
    assert len(unb64(first["Plaintext"])) == 32
    latest = tea.call("GetManagedDataKey", {"DataKeyName": name, "UseLatest": True})
    assert latest["DataKeyVersionId"] == versions[2]
    named = tea.call("GetManagedDataKey", {"DataKeyName": name, "DataKeyVersionId": versions[1]})
    assert named["DataKeyVersionId"] == versions[1]
    assert len({first["Plaintext"], latest["Plaintext"], named["Plaintext"]}) == 3
    assert tea.call("GetManagedDataKey", {"DataKeyName": name, "DataKeyVersionId": versions[1]})["Plaintext"] == \
        named["Plaintext"]

    listed = tea.call("ListManagedDataKeyVersions", {"DataKeyName": name, "PageSize": 2})
    assert (listed["DataKeyName"], listed["TotalCount"], listed["PageNumber"], listed["PageSize"]) == (name, 3, 1, 2)
    rows = listed["ManagedDataKeyVersions"]["ManagedDataKeyVersion"]
    assert [r["DataKeyVersionId"] for r in rows] == versions[:2]
    assert rows[0]["DataKeyVersionName"] == f"kms-datakeyversion!{name}!{versions[0]}"

    expect_error(tea, "GetManagedDataKey", {"DataKeyName": f"none-{unique}"}, "Forbidden.ResourceNotFound", 404)
    expect_error(tea, "GetManagedDataKey", {"DataKeyName": name, "DataKeyVersionId": "AAAAAAAA"},
                 "Forbidden.ResourceNotFound", 404)
    expect_error(tea, "ListManagedDataKeyVersions", {"DataKeyName": f"none-{unique}"},
                 "Forbidden.ResourceNotFound", 404)


def test_describe_service_and_attestation(tea):
    """Neither Python SDK has a DescribeService model (older Tea SDKs of other languages do):
    the Tea SDK's generic call sends it. GetChallenge has its typed model."""
    body = tea.call_generic("DescribeService")
    assert_request_id(body)
    assert body["ProtectionLevels"]["ProtectionLevel"] == [{"Type": "SOFTWARE"}]
    specs = {s["Name"]: s["Usages"]["Usage"] for s in body["KeySpecs"]["KeySpec"]}
    assert specs["Aliyun_AES_256"] == ["ENCRYPT/DECRYPT"]
    assert specs["HMAC_SM3"] == ["GENERATE/VERIFY_MAC"]
    assert specs["EC_P256"] == ["SIGN/VERIFY"]
    assert "Aliyun_DES3_192" not in specs
    err = expect_error(tea, "GetChallenge", None, "UnsupportedOperation", 400)
    assert "trusted execution environment" in err.message
