"""HMAC keys through the Tea SDK (`alibabacloud-kms20160120` 3.3.1, its typed `generate_mac` and
`verify_mac`) in each of its signing modes. The older core SDK (`aliyun-python-sdk-kms` 2.16.5)
has no request classes for these actions, so it is not a client of them."""

import hmac
import os

import pytest

from helpers import assert_request_id, b64, create_key, expect_error, unb64

SPECS = [("HMAC_SM3", 32), ("HMAC_SHA_224", 28), ("HMAC_SHA_256", 32), ("HMAC_SHA_384", 48), ("HMAC_SHA_512", 64)]
TEA_MODES = ("tea-v3", "tea-v2", "tea-v4")


@pytest.fixture(params=TEA_MODES)
def tea(kmsd, request):
    return kmsd.client(request.param)


def generate(kms, key_id: str, algorithm: str, message: bytes) -> bytes:
    body = kms.call("GenerateMac", {"KeyId": key_id, "Algorithm": algorithm, "Message": b64(message)})
    assert_request_id(body)
    assert (body["KeyId"], body["Algorithm"]) == (key_id, algorithm)
    return unb64(body["Mac"])


def verify(kms, key_id: str, algorithm: str, message: bytes, mac: bytes) -> bool:
    body = kms.call("VerifyMac", {"KeyId": key_id, "Algorithm": algorithm, "Message": b64(message),
                                  "Mac": b64(mac)})
    assert_request_id(body)
    assert (body["KeyId"], body["Algorithm"]) == (key_id, algorithm)
    assert isinstance(body["Value"], bool), body
    return body["Value"]


@pytest.mark.parametrize("spec,length", SPECS)
def test_macs_are_deterministic_and_verify_only_their_own(tea, spec, length):
    md = create_key(tea, KeySpec=spec)
    assert (md["KeySpec"], md["KeyUsage"], md["KeyState"]) == (spec, "GENERATE/VERIFY_MAC", "Enabled")
    key = md["KeyId"]
    other = create_key(tea, KeySpec=spec)["KeyId"]
    message = os.urandom(257)

    mac = generate(tea, key, spec, message)
    assert len(mac) == length
    assert generate(tea, key, spec, message) == mac
    assert verify(tea, key, spec, message, mac) is True
    assert verify(tea, key, spec, message + b"\0", mac) is False
    assert generate(tea, other, spec, message) != mac
    assert verify(tea, other, spec, message, mac) is False
    assert verify(tea, key, spec, message, bytes([mac[0] ^ 1]) + mac[1:]) is False
    assert verify(tea, key, spec, message, mac[:-1]) is False
    # Python's own HMAC of the message under a random key of the right size is not the key's MAC.
    digest = {"HMAC_SM3": "sm3"}.get(spec, spec.replace("HMAC_SHA_", "sha"))
    try:
        foreign = hmac.new(os.urandom(length), message, digest).digest()
    except ValueError:  # an OpenSSL without SM3
        foreign = bytes(length)
    assert len(foreign) == length
    assert verify(tea, key, spec, message, foreign) is False


def test_mac_refusals(tea):
    key = create_key(tea, KeySpec="HMAC_SHA_384")["KeyId"]
    aes = create_key(tea)["KeyId"]
    msg = b64(b"m")
    expect_error(tea, "GenerateMac", {"KeyId": key, "Algorithm": "HMAC_SHA_256", "Message": msg},
                 "InvalidParameter", 400)
    expect_error(tea, "GenerateMac", {"KeyId": aes, "Algorithm": "HMAC_SHA_256", "Message": msg},
                 "UnsupportedOperation", 400)
    expect_error(tea, "Encrypt", {"KeyId": key, "Plaintext": msg}, "UnsupportedOperation", 400)
    expect_error(tea, "GenerateMac", {"KeyId": key, "Algorithm": "HMAC_SHA_384", "Message": msg, "DryRun": "true"},
                 "DryRunOperationError", 400)
    expect_error(tea, "VerifyMac", {"KeyId": key, "Algorithm": "HMAC_SHA_384", "Message": msg,
                                    "Mac": b64(bytes(48)), "DryRun": "true"}, "DryRunOperationError", 400)
    expect_error(tea, "CreateKeyVersion", {"KeyId": key}, "Rejected.UnsupportedOperation", 400)
    tea.call("DisableKey", {"KeyId": key})
    expect_error(tea, "GenerateMac", {"KeyId": key, "Algorithm": "HMAC_SHA_384", "Message": msg},
                 "Rejected.Disabled", 409)


@pytest.mark.parametrize("spec", ["Aliyun_AES_128", "Aliyun_AES_192"])
def test_aes_128_and_192_keys(kms, spec):
    """The other AES sizes serve the symmetric actions in every client mode."""
    md = create_key(kms, KeySpec=spec)
    assert (md["KeySpec"], md["KeyUsage"]) == (spec, "ENCRYPT/DECRYPT")
    key = md["KeyId"]
    enc = kms.call("Encrypt", {"KeyId": key, "Plaintext": b64(b"sized"), "EncryptionContext": {"k": "v"}})
    blob = unb64(enc["CiphertextBlob"])
    assert blob[:36].decode() == md["PrimaryKeyVersion"] and len(blob) == 36 + 12 + 5 + 16
    dec = kms.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": {"k": "v"}})
    assert (unb64(dec["Plaintext"]), dec["KeyId"]) == (b"sized", key)
    dk = kms.call("GenerateDataKey", {"KeyId": key, "NumberOfBytes": 24})
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": dk["CiphertextBlob"]})["Plaintext"]) == unb64(dk["Plaintext"])
    kms.call("CreateKeyVersion", {"KeyId": key})
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"],
                                      "EncryptionContext": {"k": "v"}})["Plaintext"]) == b"sized"
    expect_error(kms, "Decrypt", {"CiphertextBlob": enc["CiphertextBlob"]}, "InvalidParameter", 400)
