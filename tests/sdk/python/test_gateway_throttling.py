"""The instance gateway's throttling code is the one the instance SDK retries: with a per-client
budget (`--quota-crypto-qps`, charged to the ClientKey on the gateway as to the access key on the
classic API), a burst past it is answered `Rejected.Throttling` (429) in a protobuf Error; the
SDK without retries surfaces it, the SDK with its default retries (1 s apart) gets through.
"""

from __future__ import annotations

import time

import pytest
from openapi_util.models import RuntimeOptions as DkmsRuntimeOptions
from sdk import models as gcs
from Tea.exceptions import TeaException

from conftest import _start_kmsd, _stop_kmsd
from test_gateway import build_world

# the instance SDK loads PKCS#12 through pyOpenSSL's deprecated API: that is the point
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:openapi_util.client")


@pytest.fixture(scope="module")
def throttled_world(tmp_path_factory):
    server = _start_kmsd(tmp_path_factory.mktemp("kmsd-gateway-throttled"),
                         ["--instance-listen", "127.0.0.1:0", "--quota-crypto-qps", "2"], gateway=True)
    try:
        yield build_world(server, tmp_path_factory.mktemp("gateway-throttled-ca"))
    finally:
        _stop_kmsd(server)


def test_a_spent_budget_is_the_throttling_code_the_sdk_retries(throttled_world):
    w = throttled_world
    client = w.client(w.app.key, w.app.password)
    key = w.key("aes")
    no_retry = DkmsRuntimeOptions(autoretry=False)
    codes = []
    for _ in range(8):  # a burst well past 2 per second
        try:
            client.encrypt_with_options(gcs.EncryptRequest(key_id=key, plaintext=b"x"), no_retry)
            codes.append("OK")
        except TeaException as e:
            codes.append((e.code, e.data.get("httpCode")))
    assert "OK" in codes, codes
    assert ("Rejected.Throttling", 429) in codes, codes
    assert all(c == "OK" or c == ("Rejected.Throttling", 429) for c in codes), codes

    # With the SDK's own retries (4 attempts, 1 s apart) a throttled call gets through.
    time.sleep(1.1)
    started = time.monotonic()
    for _ in range(4):
        assert client.encrypt(gcs.EncryptRequest(key_id=key, plaintext=b"y")).ciphertext_blob
    assert time.monotonic() - started >= 0.5, "the budget did not hold the burst back"

    # GetSecretValue draws from no crypto budget.
    for _ in range(5):
        assert client.get_secret_value(gcs.GetSecretValueRequest(secret_name=w.secret)).secret_data == w.secret_v1
