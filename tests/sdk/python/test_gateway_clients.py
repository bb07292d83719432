"""The instance gateway (`kmsd --instance-listen`) driven by the official clients built on, or
next to, the instance SDK — each unmodified, each configured as its documentation says:

1. `alibabacloud-kms-python-sdk` 1.1.3 (installed `--no-deps` by setup.sh, gateway.md §2):
   (a) `alibabacloud_kms_kms20160120.client.Client(kms_instance_config, open_api_config)`: the
       instance operations through the gateway with a ClientKey + the instance CA, the management
       methods through the classic endpoint with an access key;
   (b) `transfer_client.TransferClient`: classic 2016-01-20 calls rewritten to instance calls
       (gateway.md §8), in Advance mode and with `force_low_version_crypto_transfer=True`; its
       ciphertexts and the classic API's are interchangeable when there is no EncryptionContext
       (the transfer client's `Plaintext` is text whose UTF-8 bytes it encrypts; kmsd's classic
       `Plaintext` is base64 of the bytes); its error translation.
2. `alibabacloud-secretsmanager-client-v2` 2.0.0 reading an instance secret through the gateway:
   it has no ClientKey mode, its instance mode is the classic GetSecretValue with an access key
   sent to the gateway host (gateway.md §1, §11, §13 Q1).
3. The v1 `aliyun-secret-manager-client` 0.1.5 + `alibabacloud-dkms-transfer-python` 0.1.2
   (`--no-deps`): a secret through the gateway with a ClientKey, configured by environment
   variables, in a fresh process.
4. The classic Tea SDK (`alibabacloud-kms20160120`, tea-v3 and tea-v2 signatures) pointed at the
   gateway: the cryptographic actions and GetSecretValue on instance keys and secrets; default
   ones do not exist there; ReEncrypt and management actions are UnsupportedOperation.
5. The README's gateway snippet runs as written.

The world (instances, keys, a secret, an access point and its ClientKey) is made through the
classic API by test_gateway.build_world.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from Tea.exceptions import TeaException

# the classic Tea SDK (lock) and the instance SDK (lock)
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_tea_openapi.models import Config as OpenApiConfig
from openapi.models import Config as DkmsConfig
from sdk import models as gcs
# alibabacloud-kms-python-sdk 1.1.3 (--no-deps): a missing package fails the import, on purpose
from alibabacloud_kms_kms20160120.client import Client as KmsSdkClient
from alibabacloud_kms_kms20160120.models import KmsConfig
from alibabacloud_kms_kms20160120.transfer_client import TransferClient
# alibabacloud-secretsmanager-client-v2 2.0.0 (lock)
from alibabacloud_secretsmanager_client_v2.secret_manager_cache_client_builder import SecretManagerCacheClientBuilder
from alibabacloud_secretsmanager_client_v2.service.default_secret_manager_client_builder import \
    DefaultSecretManagerClientBuilder

from conftest import REPO
from helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, b64, expect_error, unb64
from kms_clients import REGION, make_caller
from test_gateway import KEY_USER, SECRET_USER, App, World, _audit_lines, build_world, check_advance_blob, instance_key

# the instance SDK loads PKCS#12 through pyOpenSSL's deprecated API
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:openapi_util.client")


@pytest.fixture(scope="module")
def world(kmsd_gateway, tmp_path_factory) -> World:
    return build_world(kmsd_gateway, tmp_path_factory.mktemp("gateway-clients-ca"))


def classic_config(world: World) -> OpenApiConfig:
    """The classic endpoint (plain HTTP here) with the bootstrap access key."""
    endpoint = world.server.endpoint
    return OpenApiConfig(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, region_id=REGION,
                         endpoint=endpoint.host_port, protocol=endpoint.scheme)


def instance_config(world: World, app: App) -> DkmsConfig:
    return DkmsConfig(endpoint=world.host_port, protocol="https", ca_file_path=world.ca_path,
                      client_key_content=app.content, password=app.password)


def audit_lines(world: World, wanted: set, deadline_s: float = 5) -> dict:
    """RequestId -> audit line, for each of `wanted` (waits for the lines to be written)."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = {line["RequestId"]: line for line in _audit_lines(world) if line.get("RequestId") in wanted}
        if len(found) == len(wanted) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def same_public_key(a: str, b: str) -> bool:
    def der(pem: str) -> bytes:
        return serialization.load_pem_public_key(pem.encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der(a) == der(b)


def verify_digest_locally(pem: str, algorithm: str, signature: bytes, digest: bytes) -> None:
    public = serialization.load_pem_public_key(pem.encode())
    prehashed = utils.Prehashed(hashes.SHA256())
    if algorithm == "ECDSA_SHA_256":
        public.verify(signature, digest, ec.ECDSA(prehashed))
    else:
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) \
            if algorithm == "RSA_PSS_SHA_256" else padding.PKCS1v15()
        public.verify(signature, digest, pad, prehashed)


# ---- 1a. alibabacloud-kms-python-sdk: Client(kms_instance_config, open_api_config) -----------------

def test_kms_sdk_client(world):
    client = KmsSdkClient(instance_config(world, world.app), classic_config(world))

    # management methods: the classic endpoint, access key
    made = client.create_key(kms_models.CreateKeyRequest(dkmsinstance_id=world.instance)).body.key_metadata
    key = made.key_id
    assert made.dkmsinstance_id == world.instance, made.to_map()
    described = client.describe_key(kms_models.DescribeKeyRequest(key_id=key)).body.key_metadata
    assert (described.key_id, described.key_state, described.dkmsinstance_id) == (key, "Enabled", world.instance)
    listed, page = set(), 1
    while True:
        body = client.list_keys(kms_models.ListKeysRequest(page_number=page, page_size=100)).body
        listed |= {k.key_id for k in body.keys.key}
        if len(listed) >= body.total_count or not body.keys.key:
            break
        page += 1
    assert key in listed and world.key("aes") in listed
    signer = client.create_key(kms_models.CreateKeyRequest(dkmsinstance_id=world.instance, key_spec="EC_P256",
                                                           key_usage="SIGN/VERIFY")).body.key_metadata
    name = f"gwc/made-by-client-{world.unique}"
    client.create_secret(kms_models.CreateSecretRequest(secret_name=name, secret_data="from the kms sdk",
                                                        version_id="v1", dkmsinstance_id=world.instance,
                                                        encryption_key_id=key))

    # instance operations: the gateway, ClientKey (the instance SDK's methods, unchanged)
    enc = client.encrypt(gcs.EncryptRequest(key_id=key, plaintext=b"via the kms sdk", aad=b"ctx"))
    assert enc.key_id == key and len(enc.iv) == 12
    assert client.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=enc.iv,
                                             aad=b"ctx")).plaintext == b"via the kms sdk"
    data_key = client.generate_data_key(gcs.GenerateDataKeyRequest(key_id=key, number_of_bytes=24))
    assert len(data_key.plaintext) == 24
    assert client.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=data_key.ciphertext_blob,
                                             iv=data_key.iv)).plaintext == data_key.plaintext
    adv = client.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=b"advance via the kms sdk"))
    check_advance_blob(adv.ciphertext_blob, made.primary_key_version, adv.iv, len(b"advance via the kms sdk"))
    back = client.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv.ciphertext_blob))
    assert (back.plaintext, back.key_id) == (b"advance via the kms sdk", key)
    adv_key = client.advance_generate_data_key(gcs.AdvanceGenerateDataKeyRequest(key_id=key, number_of_bytes=16))
    check_advance_blob(adv_key.ciphertext_blob, made.primary_key_version, adv_key.iv, 16)
    assert client.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv_key.ciphertext_blob)).plaintext \
        == adv_key.plaintext
    # the Advance blob minus its 3-byte prefix is a classic CiphertextBlob
    opened = world.tea.call("Decrypt", {"CiphertextBlob": b64(adv.ciphertext_blob[3:])})
    assert unb64(opened["Plaintext"]) == b"advance via the kms sdk"

    message = b"signed through the kms sdk"
    public = client.get_public_key(gcs.GetPublicKeyRequest(key_id=signer.key_id)).public_key
    classic_public = world.tea.call("GetPublicKey", {"KeyId": signer.key_id,
                                                     "KeyVersionId": signer.primary_key_version})["PublicKey"]
    assert same_public_key(public, classic_public)
    signed = client.sign(gcs.SignRequest(key_id=signer.key_id, algorithm="ECDSA_SHA_256", message=message))
    verify_digest_locally(public, "ECDSA_SHA_256", signed.signature, hashlib.sha256(message).digest())
    assert client.verify(gcs.VerifyRequest(key_id=signer.key_id, algorithm="ECDSA_SHA_256", message=message,
                                           signature=signed.signature)).value is True
    assert client.verify(gcs.VerifyRequest(key_id=signer.key_id, algorithm="ECDSA_SHA_256", message=message + b"!",
                                           signature=signed.signature)).value is False

    secret = client.get_secret_value(gcs.GetSecretValueRequest(secret_name=name))
    assert (secret.secret_name, secret.secret_data, secret.version_id) == (name, "from the kms sdk", "v1")
    assert client.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret)).secret_data == world.secret_v1

    # every instance call above was the ClientKey's, on the gateway's audit trail
    found = audit_lines(world, {enc.request_id, adv.request_id, signed.request_id, secret.request_id})
    assert {line["Action"] for line in found.values()} == {"Encrypt", "AdvanceEncrypt", "Sign", "GetSecretValue"}
    assert all(line["AccessKeyId"] == world.app.id and line["Code"] == "OK" for line in found.values()), found


# ---- 1b. alibabacloud-kms-python-sdk: TransferClient ----------------------------------------------

MODES = ("advance", "low-version")


def transfer_client(world: World, app: App, mode: str, with_config: bool = True) -> TransferClient:
    """As gateway.md §8: KmsConfig has no ca_file_path parameter (set it on the object); the
    low-version path is taken only when the classic `config` is given too."""
    kms_config = KmsConfig(protocol="https", endpoint=world.host_port, client_key_content=app.content,
                           password=app.password, force_low_version_crypto_transfer=(mode == "low-version"))
    kms_config.ca_file_path = world.ca_path
    if not with_config:
        return TransferClient(kms_config=kms_config)
    return TransferClient(config=classic_config(world), kms_config=kms_config)


@pytest.fixture(scope="module")
def rotated(world) -> dict:
    """An instance key with a second version: the initial version (Encrypt, low-version) and the
    primary one (AdvanceEncrypt) differ, so the mode shows in KeyVersionId."""
    md = instance_key(world.tea, world.instance)
    second = world.tea.call("CreateKeyVersion", {"KeyId": md["KeyId"]})["KeyVersion"]["KeyVersionId"]
    assert second != md["PrimaryKeyVersion"]
    return {"KeyId": md["KeyId"], "initial": md["PrimaryKeyVersion"], "primary": second}


@pytest.mark.parametrize("mode", MODES)
def test_transfer_client_symmetric(world, rotated, mode):
    tc = transfer_client(world, world.app, mode)
    key = rotated["KeyId"]
    version = rotated["primary" if mode == "advance" else "initial"]
    instance_action = {"advance": "AdvanceEncrypt", "low-version": "Encrypt"}[mode]
    ctx = {"tenant": "a", "purpose": mode}
    text = f"transfer {mode} plaintext ✓"

    enc = tc.encrypt(kms_models.EncryptRequest(key_id=key, plaintext=text, encryption_context=ctx)).body
    assert (enc.key_id, enc.key_version_id) == (key, version)
    blob = unb64(enc.ciphertext_blob)
    assert blob[:36] == version.encode() and len(blob) == 36 + 12 + len(text.encode()) + 16  # classic layout
    dec = tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=enc.ciphertext_blob, encryption_context=ctx)).body
    assert (dec.plaintext, dec.key_id, dec.key_version_id) == (text, key, version)
    # the context is bound: another one does not open it
    with pytest.raises(TeaException) as info:
        tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=enc.ciphertext_blob, encryption_context={"tenant": "b"}))
    assert info.value.code == "InvalidParameter", info.value
    # it went through the gateway as the instance call of the mode, signed by the ClientKey
    found = audit_lines(world, {enc.request_id, dec.request_id})
    assert found[enc.request_id]["Action"] == instance_action, found
    assert found[dec.request_id]["Action"] == {"advance": "AdvanceDecrypt", "low-version": "Decrypt"}[mode], found
    assert all(line["AccessKeyId"] == world.app.id for line in found.values()), found

    # GenerateDataKey: the data key comes back base64; the blob decrypts to that base64 text
    made = tc.generate_data_key(kms_models.GenerateDataKeyRequest(key_id=key, number_of_bytes=16,
                                                                  encryption_context=ctx)).body
    assert len(unb64(made.plaintext)) == 16 and (made.key_id, made.key_version_id) == (key, version)
    assert tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=made.ciphertext_blob,
                                                encryption_context=ctx)).body.plaintext == made.plaintext
    made = tc.generate_data_key(kms_models.GenerateDataKeyRequest(key_id=key, key_spec="AES_256")).body
    assert len(unb64(made.plaintext)) == 32
    assert tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=made.ciphertext_blob)).body.plaintext == made.plaintext
    bare = tc.generate_data_key_without_plaintext(kms_models.GenerateDataKeyWithoutPlaintextRequest(
        key_id=key, key_spec="AES_128", encryption_context=ctx)).body
    assert (bare.key_id, bare.key_version_id) == (key, version)
    assert not getattr(bare, "plaintext", None)
    assert len(unb64(tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=bare.ciphertext_blob,
                                                          encryption_context=ctx)).body.plaintext)) == 16

    # management calls of the TransferClient go to the classic endpoint
    assert tc.describe_key(kms_models.DescribeKeyRequest(key_id=key)).body.key_metadata.primary_key_version \
        == rotated["primary"]


@pytest.mark.parametrize("mode", MODES)
def test_transfer_client_and_classic_ciphertexts(world, rotated, mode):
    """Without an EncryptionContext a TransferClient ciphertext is a classic CiphertextBlob and the
    other way round. The transfer client encrypts the UTF-8 bytes of its `Plaintext` string and
    gives them back decoded; kmsd's classic API takes and returns base64 of the bytes."""
    tc = transfer_client(world, world.app, mode)
    key = rotated["KeyId"]
    text = f"made by the transfer client in {mode} mode"
    enc = tc.encrypt(kms_models.EncryptRequest(key_id=key, plaintext=text)).body
    classic = world.tea.call("Decrypt", {"CiphertextBlob": enc.ciphertext_blob})
    assert (unb64(classic["Plaintext"]), classic["KeyId"], classic["KeyVersionId"]) == \
        (text.encode(), key, enc.key_version_id)

    # a classic Encrypt (the primary version) opens through the transfer client
    raw = f"made by the classic API, opened in {mode} mode".encode()
    classic = world.tea.call("Encrypt", {"KeyId": key, "Plaintext": b64(raw)})
    assert unb64(classic["CiphertextBlob"])[:36] == rotated["primary"].encode()
    dec = tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=classic["CiphertextBlob"])).body
    assert (dec.plaintext, dec.key_id, dec.key_version_id) == (raw.decode(), key, rotated["primary"])

    # the transfer client's data key blob holds the base64 text of the key (as it documents)
    made = tc.generate_data_key(kms_models.GenerateDataKeyRequest(key_id=key, number_of_bytes=32)).body
    classic = world.tea.call("Decrypt", {"CiphertextBlob": made.ciphertext_blob})
    assert unb64(classic["Plaintext"]) == made.plaintext.encode()


@pytest.mark.parametrize("mode", MODES)
def test_transfer_client_asymmetric_and_secret(world, mode):
    tc = transfer_client(world, world.app, mode)
    # sign / verify a digest (RSA and EC)
    for name, algorithm in (("ec_sign", "ECDSA_SHA_256"), ("rsa_sign", "RSA_PSS_SHA_256")):
        key, version = world.key(name), world.keys[name]["PrimaryKeyVersion"]
        public = tc.get_public_key(kms_models.GetPublicKeyRequest(key_id=key, key_version_id=version)).body
        assert (public.key_id, public.key_version_id) == (key, version)
        classic_public = world.tea.call("GetPublicKey", {"KeyId": key, "KeyVersionId": version})["PublicKey"]
        assert same_public_key(public.public_key, classic_public)
        digest = hashlib.sha256(f"{mode} {name}".encode()).digest()
        signed = tc.asymmetric_sign(kms_models.AsymmetricSignRequest(key_id=key, key_version_id=version,
                                                                     algorithm=algorithm, digest=b64(digest))).body
        assert (signed.key_id, signed.key_version_id) == (key, version)
        verify_digest_locally(public.public_key, algorithm, unb64(signed.value), digest)
        ok = tc.asymmetric_verify(kms_models.AsymmetricVerifyRequest(key_id=key, key_version_id=version,
                                                                     algorithm=algorithm, digest=b64(digest),
                                                                     value=signed.value)).body
        assert ok.value is True and ok.key_id == key
        other = hashlib.sha256(b"another message").digest()
        assert tc.asymmetric_verify(kms_models.AsymmetricVerifyRequest(key_id=key, key_version_id=version,
                                                                       algorithm=algorithm, digest=b64(other),
                                                                       value=signed.value)).body.value is False
        # the classic API agrees
        assert world.tea.call("AsymmetricVerify", {"KeyId": key, "KeyVersionId": version, "Algorithm": algorithm,
                                                   "Digest": b64(digest), "Value": signed.value})["Value"] is True

    # asymmetric encryption: both ways between the transfer client and the classic API
    key, version = world.key("rsa_enc"), world.keys["rsa_enc"]["PrimaryKeyVersion"]
    raw = f"rsa through the transfer client ({mode})".encode()
    enc = tc.asymmetric_encrypt(kms_models.AsymmetricEncryptRequest(key_id=key, key_version_id=version,
                                                                    algorithm="RSAES_OAEP_SHA_256",
                                                                    plaintext=b64(raw))).body
    assert enc.key_id == key and len(unb64(enc.ciphertext_blob)) == 256
    dec = tc.asymmetric_decrypt(kms_models.AsymmetricDecryptRequest(key_id=key, key_version_id=version,
                                                                    algorithm="RSAES_OAEP_SHA_256",
                                                                    ciphertext_blob=enc.ciphertext_blob)).body
    assert (unb64(dec.plaintext), dec.key_id) == (raw, key)
    classic = world.tea.call("AsymmetricDecrypt", {"KeyId": key, "KeyVersionId": version,
                                                   "Algorithm": "RSAES_OAEP_SHA_256",
                                                   "CiphertextBlob": enc.ciphertext_blob})
    assert unb64(classic["Plaintext"]) == raw
    classic = world.tea.call("AsymmetricEncrypt", {"KeyId": key, "KeyVersionId": version,
                                                   "Algorithm": "RSAES_OAEP_SHA_256", "Plaintext": b64(b"classic")})
    dec = tc.asymmetric_decrypt(kms_models.AsymmetricDecryptRequest(key_id=key, key_version_id=version,
                                                                    algorithm="RSAES_OAEP_SHA_256",
                                                                    ciphertext_blob=classic["CiphertextBlob"])).body
    assert unb64(dec.plaintext) == b"classic"

    # GetSecretValue
    got = tc.get_secret_value(kms_models.GetSecretValueRequest(secret_name=world.secret)).body
    assert (got.secret_name, got.secret_data, got.secret_data_type, got.version_id) == \
        (world.secret, world.secret_v1, "text", "v1")
    assert "ACSCurrent" in got.version_stages.version_stage
    found = audit_lines(world, {got.request_id})
    assert (found[got.request_id]["Action"], found[got.request_id]["AccessKeyId"]) == \
        ("GetSecretValue", world.app.id), found


def test_transfer_client_kms_config_only(world):
    """`TransferClient(kms_config=…)` alone: always the Advance path (gateway.md §8)."""
    tc = transfer_client(world, world.app, "low-version", with_config=False)
    key = world.key("rotating")
    enc = tc.encrypt(kms_models.EncryptRequest(key_id=key, plaintext="kms_config only")).body
    found = audit_lines(world, {enc.request_id})
    assert found[enc.request_id]["Action"] == "AdvanceEncrypt", found
    assert tc.decrypt(kms_models.DecryptRequest(ciphertext_blob=enc.ciphertext_blob)).body.plaintext \
        == "kms_config only"


@pytest.mark.parametrize("mode", MODES)
def test_transfer_client_errors(world, mode):
    """The gateway's codes as the transfer client translates them (gateway.md §8)."""
    secrets_only = world.new_app(f"gwc-sec-{mode}-{world.unique}", [SECRET_USER], ["key/*", "secret/*"],
                                 [world.rule])
    tc = transfer_client(world, secrets_only, mode)
    with pytest.raises(TeaException) as info:
        tc.encrypt(kms_models.EncryptRequest(key_id=world.key("aes"), plaintext="not allowed"))
    e = info.value
    assert (e.code, e.message) == ("Forbidden.NoPermission", "This operation is forbidden by permission system."), e
    assert e.data["httpCode"] == 403 and e.data["requestId"], e.data
    # the secret template is granted
    assert tc.get_secret_value(kms_models.GetSecretValueRequest(secret_name=world.secret)).body.secret_data \
        == world.secret_v1

    # a default key does not exist on the gateway
    full = transfer_client(world, world.app, mode)
    with pytest.raises(TeaException) as info:
        full.encrypt(kms_models.EncryptRequest(key_id=world.key("default"), plaintext="x"))
    assert (info.value.code, info.value.message) == ("Forbidden.KeyNotFound", "The specified Key is not found."), \
        info.value
    assert info.value.data["httpCode"] == 404

    # a deleted ClientKey: Unauthorized, translated to the classic InvalidAccessKeyId.NotFound
    gone = world.new_client_key(secrets_only.aap)
    world.tea.call("DeleteClientKey", {"ClientKeyId": gone.id})
    with pytest.raises(TeaException) as info:
        transfer_client(world, gone, mode).get_secret_value(kms_models.GetSecretValueRequest(secret_name=world.secret))
    assert (info.value.code, info.value.message) == \
        ("InvalidAccessKeyId.NotFound", "The Access Key ID provided does not exist in our records."), info.value
    assert info.value.data["httpCode"] == 401


# ---- 2. alibabacloud-secretsmanager-client-v2 through the gateway (access key) --------------------

def test_secretsmanager_client_v2_through_the_gateway(world):
    config = OpenApiConfig(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, region_id=REGION,
                           endpoint=world.host_port, protocol="https", ca=world.ca_path)
    secret_client = DefaultSecretManagerClientBuilder.standard().add_config(config).build()
    client = SecretManagerCacheClientBuilder.new_cache_client_builder(secret_client).build()
    default_secret = f"gwc-default-{world.unique}"
    world.tea.call("CreateSecret", {"SecretName": default_secret, "VersionId": "v1", "SecretData": "not here"})
    try:
        info = client.get_secret_info(world.secret)
        assert (info.secret_name, info.version_id, info.secret_data_type, info.secret_value) == \
            (world.secret, "v1", "text", world.secret_v1)
        assert client.get_secret_value(world.secret) == world.secret_v1
        # a default (non-instance) secret does not exist on the gateway
        with pytest.raises(TeaException) as caught:
            client.get_secret_info(default_secret)
        assert caught.value.code == "Forbidden.ResourceNotFound", caught.value
    finally:
        client.close()
    # ... while the classic endpoint serves it
    assert world.tea.call("GetSecretValue", {"SecretName": default_secret})["SecretData"] == "not here"


# ---- 3. the v1 aliyun-secret-manager-client: a secret through the gateway with a ClientKey ----------

_SMC1 = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from alibaba_cloud_secretsmanager_client.secret_manager_cache_client_builder import SecretManagerCacheClientBuilder
client = SecretManagerCacheClientBuilder.new_client()
out = {}
try:
    for name in sys.argv[1:]:
        try:
            info = client.get_secret_info(name)
            out[name] = {"value": info.secret_value, "version": info.version_id, "type": info.secret_data_type}
        except Exception as e:
            out[name] = {"error": type(e).__name__, "code": getattr(e, "error_code", None), "text": str(e)}
finally:
    client.close()
print(json.dumps(out))
"""


def test_secret_manager_client_v1_with_a_client_key(world, tmp_path):
    """Configured as its README says, by environment (`cache_client_dkms_config_info` with the
    ClientKey file, its password and the instance CA), in a fresh process with a clean environment
    (it keeps module-global state) and an empty working directory (its properties-file loader
    breaks on Python >= 3.11 when ./secretsmanager.properties exists). The audit trail shows the
    route: the gateway's GetSecretValue under the ClientKey's id."""
    app = world.new_client_key(world.app.aap)  # its own ClientKey: every audit line of that id is this process's
    key_file = tmp_path / f"clientKey_{app.id}.json"
    key_file.write_text(app.content)
    name = f"gwc/v1-{world.unique}"
    world.tea.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "read by the v1 client",
                                    "DKMSInstanceId": world.instance, "EncryptionKeyId": world.key("aes")})
    password_file = tmp_path / f"password_{app.id}.txt"
    password_file.write_text(app.password + "\n")  # the client strips the line end
    work = tmp_path / "cwd"
    work.mkdir()

    def environment(**password) -> dict:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "cache_client_dkms_config_info": json.dumps([{
                "regionId": REGION, "endpoint": world.host_port, "clientKeyFile": str(key_file),
                "caFilePath": world.ca_path, "ignoreSslCerts": False, **password}]),
        }

    # the password from a file; or from an environment variable — which 0.1.5 reads only when
    # passwordFromFilePathName is set too (without it, get_password looks up os.environ[None]
    # and the whole configuration is "illegal")
    by_file = environment(passwordFromFilePath=str(password_file))
    by_variable = dict(environment(passwordFromEnvVariable="GW_CLIENT_KEY_PASSWORD",
                                   passwordFromFilePathName="GW_CLIENT_KEY_PASSWORD_FILE"),
                       GW_CLIENT_KEY_PASSWORD=app.password)
    for env in (by_file, by_variable):
        out = subprocess.run([sys.executable, "-c", _SMC1, name, world.secret], capture_output=True, text=True,
                             env=env, cwd=str(work), timeout=120)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout.strip().splitlines()[-1])
        assert got[name] == {"value": "read by the v1 client", "version": "v1", "type": "text"}, (got, out.stderr)
        assert got[world.secret] == {"value": world.secret_v1, "version": "v1", "type": "text"}, (got, out.stderr)

    # the route: the gateway's GetSecretValue, signed by that ClientKey
    deadline = time.monotonic() + 5
    while True:
        lines = [x for x in _audit_lines(world) if x.get("AccessKeyId") == app.id]
        if len(lines) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    secret_arn = world.tea.call("DescribeSecret", {"SecretName": name})["Arn"]
    assert len(lines) == 4, lines  # two secrets, two processes
    assert all((x["Action"], x["Code"], x["Principal"]) == ("GetSecretValue", "OK", app.aap) for x in lines), lines
    assert any(secret_arn in x.get("Resources", []) for x in lines), lines

    # the operator deletes that ClientKey: the gateway refuses it (Unauthorized), which the client
    # translates into the classic code
    world.tea.call("DeleteClientKey", {"ClientKeyId": app.id})
    out = subprocess.run([sys.executable, "-c", _SMC1, name], capture_output=True, text=True, env=by_file,
                         cwd=str(work), timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])[name]
    assert got.get("code") == "InvalidAccessKeyId.NotFound" and "value" not in got, (got, out.stderr)


# ---- 4. the classic Tea SDK pointed at the gateway ----------------------------------------------

@pytest.fixture(params=["tea-v3", "tea-v2"])
def gateway_tea(request, world):
    return make_caller(request.param, world.server.gateway, ACCESS_KEY_ID, ACCESS_KEY_SECRET, world.ca_path)


def test_classic_api_on_the_gateway(world, gateway_tea):
    kms = gateway_tea
    key = world.key("aes")
    ctx = {"app": "gateway", "mode": kms.mode}
    raw = os.urandom(40)
    enc = kms.call("Encrypt", {"KeyId": key, "Plaintext": b64(raw), "EncryptionContext": ctx})
    assert enc["KeyId"] == key and enc["KeyVersionId"] == world.keys["aes"]["PrimaryKeyVersion"], enc
    assert enc["RequestId"]
    dec = kms.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": ctx})
    assert (unb64(dec["Plaintext"]), dec["KeyId"]) == (raw, key)
    # the same blob on the classic endpoint, and the other way round
    assert unb64(world.tea.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": ctx})
                 ["Plaintext"]) == raw
    there = world.tea.call("Encrypt", {"KeyId": key, "Plaintext": b64(b"from the classic endpoint")})
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": there["CiphertextBlob"]})["Plaintext"]) \
        == b"from the classic endpoint"

    made = kms.call("GenerateDataKey", {"KeyId": key, "NumberOfBytes": 32, "EncryptionContext": ctx})
    assert len(unb64(made["Plaintext"])) == 32 and made["KeyId"] == key
    assert kms.call("Decrypt", {"CiphertextBlob": made["CiphertextBlob"], "EncryptionContext": ctx})["Plaintext"] \
        == made["Plaintext"]
    bare = kms.call("GenerateDataKeyWithoutPlaintext", {"KeyId": key, "KeySpec": "AES_128"})
    assert "Plaintext" not in bare and bare["KeyId"] == key
    assert len(unb64(kms.call("Decrypt", {"CiphertextBlob": bare["CiphertextBlob"]})["Plaintext"])) == 16

    signer, version = world.key("ec_sign"), world.keys["ec_sign"]["PrimaryKeyVersion"]
    public = kms.call("GetPublicKey", {"KeyId": signer, "KeyVersionId": version})
    assert public["KeyId"] == signer and public["PublicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    digest = hashlib.sha256(f"classic on the gateway {kms.mode}".encode()).digest()
    signed = kms.call("AsymmetricSign", {"KeyId": signer, "KeyVersionId": version, "Algorithm": "ECDSA_SHA_256",
                                         "Digest": b64(digest)})
    verify_digest_locally(public["PublicKey"], "ECDSA_SHA_256", unb64(signed["Value"]), digest)
    assert kms.call("AsymmetricVerify", {"KeyId": signer, "KeyVersionId": version, "Algorithm": "ECDSA_SHA_256",
                                         "Digest": b64(digest), "Value": signed["Value"]})["Value"] is True
    assert kms.call("AsymmetricVerify", {"KeyId": signer, "KeyVersionId": version, "Algorithm": "ECDSA_SHA_256",
                                         "Digest": b64(hashlib.sha256(b"other").digest()),
                                         "Value": signed["Value"]})["Value"] is False

    rsa, rsa_version = world.key("rsa_enc"), world.keys["rsa_enc"]["PrimaryKeyVersion"]
    enc = kms.call("AsymmetricEncrypt", {"KeyId": rsa, "KeyVersionId": rsa_version, "Algorithm": "RSAES_OAEP_SHA_256",
                                         "Plaintext": b64(b"rsa via the gateway")})
    dec = kms.call("AsymmetricDecrypt", {"KeyId": rsa, "KeyVersionId": rsa_version, "Algorithm": "RSAES_OAEP_SHA_256",
                                         "CiphertextBlob": enc["CiphertextBlob"]})
    assert unb64(dec["Plaintext"]) == b"rsa via the gateway"

    secret = kms.call("GetSecretValue", {"SecretName": world.secret})
    assert (secret["SecretName"], secret["SecretData"], secret["VersionId"]) == (world.secret, world.secret_v1, "v1")
    assert "ACSCurrent" in secret["VersionStages"]["VersionStage"]


def test_classic_api_on_the_gateway_refusals(world, gateway_tea):
    kms = gateway_tea
    default_secret = f"gwc-classic-default-{world.unique}-{kms.mode}"
    world.tea.call("CreateSecret", {"SecretName": default_secret, "VersionId": "v1", "SecretData": "default"})
    before = world.state()
    default_key = world.key("default")
    expect_error(kms, "Encrypt", {"KeyId": default_key, "Plaintext": b64(b"x")}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "GenerateDataKey", {"KeyId": default_key}, "Forbidden.KeyNotFound", 404)
    classic = world.tea.call("Encrypt", {"KeyId": default_key, "Plaintext": b64(b"default")})
    expect_error(kms, "Decrypt", {"CiphertextBlob": classic["CiphertextBlob"]}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, "GetSecretValue", {"SecretName": default_secret}, "Forbidden.ResourceNotFound", 404)

    instance_blob = world.tea.call("Encrypt", {"KeyId": world.key("aes"), "Plaintext": b64(b"re")})["CiphertextBlob"]
    expect_error(kms, "ReEncrypt", {"CiphertextBlob": instance_blob, "DestinationKeyId": world.key("rotating")},
                 "UnsupportedOperation", 400)
    expect_error(kms, "CreateKey", {"DKMSInstanceId": world.instance}, "UnsupportedOperation", 400)
    expect_error(kms, "ListKeys", {}, "UnsupportedOperation", 400)
    expect_error(kms, "DescribeKey", {"KeyId": world.key("aes")}, "UnsupportedOperation", 400)
    expect_error(kms, "CreateSecret", {"SecretName": f"gwc-never-{world.unique}", "VersionId": "v1",
                                       "SecretData": "x", "DKMSInstanceId": world.instance,
                                       "EncryptionKeyId": world.key("aes")}, "UnsupportedOperation", 400)
    assert world.state() == before


def test_classic_api_on_the_gateway_answers_like_the_classic_endpoint(world):
    """The whole JSON bodies (every field, not only the typed model's) have the classic endpoint's shape."""
    gateway = make_caller("tea-v3", world.server.gateway, ACCESS_KEY_ID, ACCESS_KEY_SECRET, world.ca_path)
    classic = world.tea
    key = world.key("aes")
    cases = [
        ("Encrypt", {"KeyId": key, "Plaintext": b64(b"shape")}),
        ("GenerateDataKey", {"KeyId": key, "NumberOfBytes": "16"}),
        ("GetSecretValue", {"SecretName": world.secret}),
        ("GetPublicKey", {"KeyId": world.key("ec_sign"), "KeyVersionId": world.keys["ec_sign"]["PrimaryKeyVersion"]}),
    ]
    for action, query in cases:
        here = gateway.call_generic(action, query=query)
        there = classic.call_generic(action, query=query)
        assert set(here) == set(there), (action, here, there)
        assert here["RequestId"] != there["RequestId"]
    blob = gateway.call_generic("Encrypt", query={"KeyId": key, "Plaintext": b64(b"shape")})["CiphertextBlob"]
    here = gateway.call_generic("Decrypt", query={"CiphertextBlob": blob})
    there = classic.call_generic("Decrypt", query={"CiphertextBlob": blob})
    assert {k: v for k, v in here.items() if k != "RequestId"} == {k: v for k, v in there.items() if k != "RequestId"}


# ---- 5. the README's gateway snippet -----------------------------------------------------------

def readme_gateway_snippet() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("**The instance gateway.**"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the instance gateway paragraph is followed by a Python snippet"
    return match.group(1)


def test_readme_gateway_snippet_runs(world, tmp_path):
    # a fresh application: an instance key, a policy + access point for it, a ClientKey file
    md = instance_key(world.tea, world.instance)
    app = world.new_app(f"gwc-readme-{world.unique}", [KEY_USER], [f"key/{md['KeyId']}"], [world.rule])
    key_file = tmp_path / "clientKey.json"
    key_file.write_text(json.dumps(app.key))  # {"KeyId", "PrivateKeyData"}, as CreateClientKey gave them
    assert set(json.loads(key_file.read_text())) == {"KeyId", "PrivateKeyData"}

    snippet = readme_gateway_snippet()
    replacements = [
        ('"127.0.0.1:8443"', json.dumps(world.host_port)),
        ('"ca.pem"', json.dumps(world.ca_path)),
        ('"clientKey.json"', json.dumps(str(key_file))),
        ('password="…"', f"password={json.dumps(app.password)}"),
        ('"key-hzz…"', json.dumps(md["KeyId"])),
    ]
    for old, new in replacements:
        assert old in snippet, f"the README snippet no longer has {old}"
        snippet = snippet.replace(old, new)
    namespace = {"__name__": "readme"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(snippet, "README.md instance gateway", "exec"), namespace)
    # it ran to its end (its own assert on dec.plaintext included)
    assert namespace["dec"].plaintext == b"hello"
    enc = namespace["enc"]
    assert enc.key_id == md["KeyId"] and len(enc.iv) == 12
    found = audit_lines(world, {enc.request_id, namespace["dec"].request_id})
    assert {line["Action"] for line in found.values()} == {"Encrypt", "Decrypt"}, found
    assert all(line["AccessKeyId"] == app.id for line in found.values()), found
