"""The official Secrets Manager client (`alibabacloud-secretsmanager-client-v2`) reading secrets
from kmsd: the cache client an application puts in front of GetSecretValue, pointed at kmsd the
way the client allows for a custom endpoint — a Tea `Config` handed to `add_config` (its
`RegionInfo(endpoint=…)` path always speaks HTTPS and trusts only the public CAs, so the same
Config carries kmsd's CA). Run over plain HTTP and over HTTPS with kmsd's self-signed certificate.
"""

import base64
import json

import pytest
from alibabacloud_secretsmanager_client_v2.secret_manager_cache_client_builder import SecretManagerCacheClientBuilder
from alibabacloud_secretsmanager_client_v2.service.default_secret_manager_client_builder import \
    DefaultSecretManagerClientBuilder
from alibabacloud_tea_openapi.models import Config
from Tea.exceptions import TeaException

from helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from kms_clients import REGION

# the largest value a secret holds, as in test_secrets.py
BIG = "0123456789abcdef" * 1920


def _cache_client(server):
    config = Config(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        region_id=REGION,
        endpoint=server.endpoint.host_port,
        protocol=server.endpoint.scheme,
        ca=server.ca,
    )
    secret_client = DefaultSecretManagerClientBuilder.standard().add_config(config).build()
    return SecretManagerCacheClientBuilder.new_cache_client_builder(secret_client).build()


@pytest.fixture(params=["http", "https"])
def server(request, kmsd, kmsd_tls):
    return {"http": kmsd, "https": kmsd_tls}[request.param]


def test_cache_client_reads_text_and_binary_secrets(server, unique):
    admin = server.client("tea-v3")
    text_name, binary_name = f"client/{unique}/db", f"client/{unique}/blob"
    admin.call("CreateSecret", {"SecretName": text_name, "VersionId": "v1", "SecretData": BIG})
    blob = base64.b64encode(bytes(range(256))).decode()
    admin.call("CreateSecret", {"SecretName": binary_name, "VersionId": "b1", "SecretData": blob,
                                "SecretDataType": "binary"})

    client = _cache_client(server)
    try:
        info = client.get_secret_info(text_name)
        assert (info.secret_name, info.version_id, info.secret_data_type, info.secret_type) == \
            (text_name, "v1", "text", "Generic")
        assert info.secret_value == BIG
        assert client.get_secret_value(text_name) == BIG

        # binary values come back as the base64 text they were stored as (the client's own
        # get_binary_value cannot wrap bytes with the bytebuffer release it installs, so read the info)
        binary = client.get_secret_info(binary_name)
        assert (binary.secret_data_type, binary.version_id, binary.secret_value) == ("binary", "b1", blob)
        with pytest.raises(ValueError):
            client.get_secret_value(binary_name)

        # rotation by a new version: the cached value holds until the application refreshes
        admin.call("PutSecretValue", {"SecretName": text_name, "VersionId": "v2",
                                      "SecretData": json.dumps({"user": "app", "password": "n3w"})})
        assert client.get_secret_info(text_name).version_id == "v1"
        assert client.refresh_now(text_name) is True
        info = client.get_secret_info(text_name)
        assert (info.version_id, json.loads(info.secret_value)["password"]) == ("v2", "n3w")

        # an unknown secret is the service's error, not an empty value
        with pytest.raises(TeaException) as caught:
            client.get_secret_info(f"client/{unique}/missing")
        assert caught.value.code == "Forbidden.ResourceNotFound", caught.value

        # a secret in its recovery window cannot be fetched through the client either
        admin.call("DeleteSecret", {"SecretName": binary_name, "RecoveryWindowInDays": "7"})
        assert client.refresh_now(binary_name) is False
    finally:
        client.close()


def test_cache_client_with_wrong_secret_key_is_refused(server, unique):
    name = f"client/{unique}/denied"
    server.client("tea-v3").call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "s"})
    config = Config(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET + "x", region_id=REGION,
                    endpoint=server.endpoint.host_port, protocol=server.endpoint.scheme, ca=server.ca)
    secret_client = DefaultSecretManagerClientBuilder.standard().add_config(config).build()
    client = SecretManagerCacheClientBuilder.new_cache_client_builder(secret_client).build()
    try:
        with pytest.raises(TeaException) as caught:
            client.get_secret_info(name)
        assert caught.value.code == "SignatureDoesNotMatch", caught.value
    finally:
        client.close()
