"""Quotas through the official SDKs: with `--quota-crypto-qps`, calls past the rate get
`Rejected.Throttling` (429) with `x-acs-retry-after`, which the Tea SDK (v2/v3 signing) turns
into a `ThrottlingException` carrying the wait in milliseconds; the old core SDK and the v4
gateway surface the code and status. Management calls are never throttled."""

from __future__ import annotations

import time

import pytest

from helpers import b64, create_key
from kms_clients import ApiError

RATE = 2  # the quota_kmsd fixture's, per second, per access key, per node


def test_calls_past_the_quota_are_throttled_with_a_retry_delay(quota_kmsd, mode):
    kms = quota_kmsd.client(mode)
    key_id = create_key(kms)["KeyId"]
    params = {"KeyId": key_id, "Plaintext": b64(b"over quota")}
    # One second's worth per node fits; a few nodes behind one endpoint each have their own.
    for _ in range(40):
        try:
            kms.call("Encrypt", params)
        except ApiError as e:
            err = e
            break
    else:
        pytest.fail("40 Encrypt calls in a row were never throttled")
    assert (err.code, err.status) == ("Rejected.Throttling", 429), err
    assert err.request_id
    if mode in ("tea-v3", "tea-v2"):
        # The bucket refills at RATE a second: room again within 1000 / RATE ms.
        assert 1 <= err.sdk_exception.retry_after <= 1000 // RATE, err.sdk_exception.retry_after
    # Management actions are not limited, even with the budget spent.
    for _ in range(5):
        assert kms.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyId"] == key_id
    # Waiting out the refill serves again (a throttled call may still be a node's turn away).
    time.sleep(1.1)
    assert kms.call("Encrypt", params)["KeyId"] == key_id

