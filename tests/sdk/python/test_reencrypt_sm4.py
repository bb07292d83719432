"""ReEncrypt and Aliyun_SM4 keys through every Python client mode."""

import json

from helpers import assert_request_id, b64, create_key, expect_error, unb64


def context(kms, obj):
    """A map-typed parameter other than EncryptionContext: core takes the JSON string."""
    return json.dumps(obj) if kms.mode == "core" else obj


def test_re_encrypt_moves_ciphertext(kms):
    src, dst = create_key(kms)["KeyId"], create_key(kms)
    enc = kms.call("Encrypt", {"KeyId": src, "Plaintext": b64(b"re-encrypt me"), "EncryptionContext": {"a": "1"}})
    body = kms.call("ReEncrypt", {
        "CiphertextBlob": enc["CiphertextBlob"],
        "SourceEncryptionContext": context(kms, {"a": "1"}),
        "DestinationKeyId": dst["KeyId"],
        "DestinationEncryptionContext": context(kms, {"b": "2"}),
    })
    assert_request_id(body)
    assert body["KeyId"] == dst["KeyId"]
    assert body["KeyVersionId"] == dst["PrimaryKeyVersion"]
    dec = kms.call("Decrypt", {"CiphertextBlob": body["CiphertextBlob"], "EncryptionContext": {"b": "2"}})
    assert unb64(dec["Plaintext"]) == b"re-encrypt me"
    assert dec["KeyId"] == dst["KeyId"]
    expect_error(kms, "Decrypt", {"CiphertextBlob": body["CiphertextBlob"], "EncryptionContext": {"a": "1"}},
                 "InvalidParameter", 400)
    expect_error(kms, "ReEncrypt", {"CiphertextBlob": enc["CiphertextBlob"], "DestinationKeyId": dst["KeyId"],
                                    "SourceEncryptionContext": context(kms, {"a": "2"})}, "InvalidParameter", 400)
    expect_error(kms, "ReEncrypt", {"CiphertextBlob": enc["CiphertextBlob"], "DestinationKeyId": "alias/none",
                                    "SourceEncryptionContext": context(kms, {"a": "1"})}, "Forbidden.AliasNotFound", 404)


def test_sm4_keys(kms):
    md = create_key(kms, KeySpec="Aliyun_SM4")
    assert md["KeySpec"] == "Aliyun_SM4"
    key = md["KeyId"]
    enc = kms.call("Encrypt", {"KeyId": key, "Plaintext": b64(b"sm4 data"), "EncryptionContext": {"alg": "sm4"}})
    assert len(unb64(enc["CiphertextBlob"])) == 36 + 12 + len(b"sm4 data") + 16
    dec = kms.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": {"alg": "sm4"}})
    assert unb64(dec["Plaintext"]) == b"sm4 data"
    dk = kms.call("GenerateDataKey", {"KeyId": key, "NumberOfBytes": 16})
    assert len(unb64(dk["Plaintext"])) == 16
    assert kms.call("Decrypt", {"CiphertextBlob": dk["CiphertextBlob"]})["Plaintext"] == dk["Plaintext"]
