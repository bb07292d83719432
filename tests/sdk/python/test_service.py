"""DescribeRegions, DescribeAccountKmsStatus, OpenKmsService through every Python client mode."""

from helpers import assert_request_id


def test_describe_regions(kms):
    body = kms.call("DescribeRegions")
    assert_request_id(body)
    assert body["Regions"]["Region"] == [{"RegionId": "cn-hangzhou"}]


def test_describe_account_kms_status(kms):
    body = kms.call("DescribeAccountKmsStatus")
    assert_request_id(body)
    assert body["AccountStatus"] == "Enabled"


def test_open_kms_service_is_a_no_op_success(kms):
    for _ in range(2):  # idempotent: the second call succeeds too
        body = kms.call("OpenKmsService")
        assert set(body) == {"RequestId"}, body
        assert_request_id(body)


def test_request_ids_are_unique(kms):
    ids = {kms.call("DescribeRegions")["RequestId"] for _ in range(3)}
    assert len(ids) == 3
