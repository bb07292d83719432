"""Identity policies through every Python client mode, with several access keys made by
`kmsd admin access-key create --name … --policy …`: each application reaches its own keys
(by tag, by alias pattern) and nothing else, an explicit Deny wins, a source-address
condition holds — refusals are `Forbidden.NoPermission` 403 from the real SDKs."""

import json
import time

import pytest

from helpers import b64, create_key, expect_error, unb64

APP1 = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
     "Resource": "acs:kms:*:*:key/*", "Condition": {"StringEquals": {"kms:tag/app": "sdk-app1"}}},
    {"Effect": "Deny", "Action": "kms:GenerateDataKey", "Resource": "*"},
]}
APP2 = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "acs:kms:*:*:alias/sdk-app2-*"},
]}
REMOTE_ONLY = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
     "Condition": {"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}},
]}


def _access_key(kmsd, tmp_path, name, policy):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(policy))
    out = kmsd.admin("create", "--name", name, "--policy", str(path))
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields["AccessKeyId"], fields["AccessKeySecret"]


def _client_when_loaded(kmsd, mode, ak, secret):
    """Servers pick new access keys up within a second; behind a round-robin endpoint every
    node must have, so wait for several answers in a row that know the key."""
    client = kmsd.client(mode, ak, secret)
    deadline = time.monotonic() + 10
    known_in_a_row = 0
    while known_in_a_row < 6:
        try:
            client.call("ListKeys", {})
            known_in_a_row += 1
        except Exception as e:  # noqa: BLE001 — any SDK's error type
            known_in_a_row = 0 if "InvalidAccessKeyId.NotFound" in str(e) else known_in_a_row + 1
            assert time.monotonic() < deadline, f"access key never loaded: {e}"
            if known_in_a_row == 0:
                time.sleep(0.05)
    return client


@pytest.fixture(scope="module")
def setup(kmsd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("policies")
    admin = kmsd.client("tea-v3")
    k1 = create_key(admin, Tags=json.dumps([{"TagKey": "app", "TagValue": "sdk-app1"}]))["KeyId"]
    k2 = create_key(admin, Tags=json.dumps([{"TagKey": "app", "TagValue": "sdk-app2"}]))["KeyId"]
    suffix = k2[:8]
    alias2 = f"alias/sdk-app2-{suffix}"
    admin.call("CreateAlias", {"AliasName": alias2, "KeyId": k2})
    blob2 = admin.call("Encrypt", {"KeyId": k2, "Plaintext": b64(b"app2 data")})["CiphertextBlob"]
    keys = {
        "app1": _access_key(kmsd, tmp, f"sdk-app1-{suffix}", APP1),
        "app2": _access_key(kmsd, tmp, f"sdk-app2-{suffix}", APP2),
        "remote": _access_key(kmsd, tmp, f"sdk-remote-{suffix}", REMOTE_ONLY),
    }
    # Every test may use them first (whatever order they run in): wait until all nodes know them.
    for ak, secret in keys.values():
        _client_when_loaded(kmsd, "tea-v3", ak, secret)
    return {"k1": k1, "k2": k2, "alias2": alias2, "blob2": blob2, "app1_name": f"sdk-app1-{suffix}", **keys}


def test_policy_matrix(kmsd, mode, setup):
    app1 = _client_when_loaded(kmsd, mode, *setup["app1"])
    app2 = _client_when_loaded(kmsd, mode, *setup["app2"])
    remote = _client_when_loaded(kmsd, mode, *setup["remote"])
    k1, k2 = setup["k1"], setup["k2"]

    # allow, by tag condition
    enc = app1.call("Encrypt", {"KeyId": k1, "Plaintext": b64(b"app1 data")})
    assert unb64(app1.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"]})["Plaintext"]) == b"app1 data"
    # not allowed: another application's key, by id and by ciphertext
    expect_error(app1, "Encrypt", {"KeyId": k2, "Plaintext": b64(b"x")}, "Forbidden.NoPermission", 403)
    expect_error(app1, "Decrypt", {"CiphertextBlob": setup["blob2"]}, "Forbidden.NoPermission", 403)
    # explicit Deny wins over the Allow
    expect_error(app1, "GenerateDataKey", {"KeyId": k1}, "Forbidden.NoPermission", 403)
    # actions never granted
    expect_error(app1, "DisableKey", {"KeyId": k1}, "Forbidden.NoPermission", 403)
    expect_error(app1, "CreateKey", {}, "Forbidden.NoPermission", 403)

    # alias-scoped: through its alias only
    app2.call("Encrypt", {"KeyId": setup["alias2"], "Plaintext": b64(b"y")})
    expect_error(app2, "Encrypt", {"KeyId": k2, "Plaintext": b64(b"y")}, "Forbidden.NoPermission", 403)
    expect_error(app2, "Encrypt", {"KeyId": k1, "Plaintext": b64(b"y")}, "Forbidden.NoPermission", 403)

    # source address condition: these requests come from 127.0.0.1
    expect_error(remote, "ListKeys", {}, "Forbidden.NoPermission", 403)

    # the unrestricted key still reaches everything
    assert kmsd.client(mode).call("DescribeKey", {"KeyId": k2})["KeyMetadata"]["KeyState"] == "Enabled"


def test_temporary_credentials_through_the_sdks(kmsd, mode, setup):
    """`kmsd admin access-key temporary`: the SDKs' own STS credential support (core
    `StsTokenCredential`, Tea `Config.security_token`) signs with the token; the temporary key
    acts under the policy of the key it came from."""
    out = kmsd.admin("temporary", setup["app1"][0], "--duration", "900")
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert fields["AccessKeyId"].startswith("STS.")
    sts = kmsd.client(mode, fields["AccessKeyId"], fields["AccessKeySecret"], fields["SecurityToken"])
    enc = sts.call("Encrypt", {"KeyId": setup["k1"], "Plaintext": b64(b"temporary")})
    assert unb64(sts.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"]})["Plaintext"]) == b"temporary"
    expect_error(sts, "Encrypt", {"KeyId": setup["k2"], "Plaintext": b64(b"x")}, "Forbidden.NoPermission", 403)
    forged = kmsd.client(mode, fields["AccessKeyId"], fields["AccessKeySecret"], fields["SecurityToken"][:-8] + "AAAAAAA=")
    expect_error(forged, "Encrypt", {"KeyId": setup["k1"], "Plaintext": b64(b"x")},
                 "InvalidSecurityToken.Malformed", 400)


def _principal(setup):
    return setup["app1_name"]


def test_key_and_secret_policies(kmsd, mode, setup, unique):
    """SetKeyPolicy / SetSecretPolicy through each SDK: a resource policy grants app1 what its
    identity policy does not, and Get*Policy reads the document back."""
    admin = kmsd.client(mode)
    app1 = _client_when_loaded(kmsd, mode, *setup["app1"])
    account = admin.call("DescribeKey", {"KeyId": setup["k2"]})["KeyMetadata"]["Arn"].split(":")[3]
    principal = f"acs:ram::{account}:user/{_principal(setup)}"
    policy = json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Principal": {"RAM": [principal]}, "Action": "kms:Decrypt", "Resource": "*"}]})
    admin.call("SetKeyPolicy", {"KeyId": setup["k2"], "Policy": policy})
    assert json.loads(admin.call("GetKeyPolicy", {"KeyId": setup["k2"]})["Policy"]) == json.loads(policy)
    assert unb64(app1.call("Decrypt", {"CiphertextBlob": setup["blob2"]})["Plaintext"]) == b"app2 data"
    expect_error(app1, "Encrypt", {"KeyId": setup["k2"], "Plaintext": b64(b"x")}, "Forbidden.NoPermission", 403)
    expect_error(admin, "SetKeyPolicy", {"KeyId": setup["k2"], "Policy": "{}"}, "InvalidParameter", 400)

    name = f"sdk-policy/{unique}"
    admin.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "shared"})
    assert ":root" in admin.call("GetSecretPolicy", {"SecretName": name})["Policy"]
    expect_error(app1, "GetSecretValue", {"SecretName": name}, "Forbidden.NoPermission", 403)
    secret_policy = json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Principal": {"RAM": principal}, "Action": "kms:GetSecretValue", "Resource": "*"}]})
    admin.call("SetSecretPolicy", {"SecretName": name, "Policy": secret_policy})
    assert app1.call("GetSecretValue", {"SecretName": name})["SecretData"] == "shared"
