"""KMS instances through the Tea SDK (`alibabacloud-kms20160120`), in the order Terraform's
`alicloud_kms_instance` drives them (docs/design/instances.md §5.1, minus the billing calls):
the operator creates the instance (`kmsd admin instance create`, standing in for BSS
CreateInstance), then ConnectKmsInstance, GetKmsInstance polled until Connected,
UpdateKmsInstanceBindVpc, GetKmsInstance, ReleaseKmsInstance — after which the instance is gone
for every call (Forbidden.DKMSInstanceNotFound, 403).
"""

import json
import re
import time

import pytest

from kms_clients import ApiError

TEA_MODES = ("tea-v3", "tea-v2", "tea-v4")
INSTANCE_ID = re.compile(r"^kst-[a-z]{3}[a-z0-9]{18}$")


@pytest.fixture(params=TEA_MODES)
def tea(request, kmsd):
    return kmsd.client(request.param)


def test_the_terraform_instance_sequence(kmsd, tea):
    out = kmsd.admin("create", "--key-num", "10", "--secret-num", "5", "--vpc-num", "3", group="instance")
    instance_id = out.splitlines()[0]
    assert INSTANCE_ID.match(instance_id), out

    # Terraform polls until the id answers, then connects.
    got = tea.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]
    assert (got["InstanceId"], got["Status"]) == (instance_id, "Uninitialized")
    tea.call("ConnectKmsInstance", {
        "KmsInstanceId": instance_id, "KMProvider": "Aliyun", "VpcId": "vpc-tf",
        "ZoneIds": "cn-hangzhou-k,cn-hangzhou-j", "VSwitchIds": "vsw-k,vsw-j",
    })
    deadline = time.monotonic() + 30
    while True:
        got = tea.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]
        if got["Status"] == "Connected":
            break
        assert got["Status"] != "Error", got
        assert time.monotonic() < deadline, got
        time.sleep(0.2)

    # What Terraform's Read sets, with the SDK model's types.
    assert got["VpcId"] == "vpc-tf"
    assert got["ZoneIds"] == ["cn-hangzhou-k", "cn-hangzhou-j"]
    assert got["VswitchIds"] == ["vsw-k", "vsw-j"]
    assert (got["KeyNum"], got["SecretNum"], got["VpcNum"], got["Spec"]) == (10, "5", 3, 1000)
    assert int(got["SecretNum"]) == 5  # Terraform's formatInt
    assert (got["ChargeType"], got["ProductVersion"], got["DeletionProtection"]) == ("POSTPAY", "3", False)
    assert (got["Log"], got["LogStorage"]) == (0, 0)
    assert got["CaCertificateChainPem"].startswith("-----BEGIN CERTIFICATE-----")
    assert got["BindVpcs"] == {"BindVpc": []}
    for field in ("CreateTime", "StartDate"):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", got[field]), got

    # Terraform's Update: the complete desired set, VpcOwnerId a JSON number.
    bind = [{"RegionId": "cn-hangzhou", "VSwitchId": "vsw-b1", "VpcId": "vpc-b1", "VpcOwnerId": 1192853035118888},
            {"RegionId": "cn-hangzhou", "VSwitchId": "vsw-b2", "VpcId": "vpc-b2", "VpcOwnerId": 1192853035118888}]
    tea.call("UpdateKmsInstanceBindVpc", {"KmsInstanceId": instance_id,
                                          "BindVpcs": json.dumps(bind, separators=(",", ":"))})
    got = tea.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]
    assert got["BindVpcs"]["BindVpc"] == [
        {"RegionId": "cn-hangzhou", "VSwitchId": "vsw-b1", "VpcId": "vpc-b1", "VpcOwnerId": "1192853035118888"},
        {"RegionId": "cn-hangzhou", "VSwitchId": "vsw-b2", "VpcId": "vpc-b2", "VpcOwnerId": "1192853035118888"},
    ]
    listed = tea.call("ListKmsInstances", {"PageSize": 50, "PageNumber": 1})
    ids = [i["KmsInstanceId"] for i in listed["KmsInstances"]["KmsInstance"]]
    assert instance_id in ids and listed["PageSize"] == 50

    quotas = tea.call("GetKmsInstanceQuotaInfos", {"KmsInstanceId": instance_id})
    assert quotas["KmsInstanceQuotaInfos"][2] == {"ResourceQuota": 3, "ResourceType": "vpc", "UsedQuantity": 3}

    # Terraform's Delete of a PayAsYouGo instance.
    tea.call("ReleaseKmsInstance", {"KmsInstanceId": instance_id})
    with pytest.raises(ApiError) as e:
        tea.call("GetKmsInstance", {"KmsInstanceId": instance_id})
    assert (e.value.code, e.value.status) == ("Forbidden.DKMSInstanceNotFound", 403)
    ids = [i["KmsInstanceId"] for i in tea.call("ListKmsInstances", {})["KmsInstances"]["KmsInstance"]]
    assert instance_id not in ids
