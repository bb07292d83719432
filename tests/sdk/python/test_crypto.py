"""Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext through every Python client mode."""

import os

import pytest

from helpers import (
    assert_request_id,
    b64,
    create_alias,
    create_key,
    expect_error,
    random_uuid,
    unb64,
)
from kms_clients import MODES

MAX_PLAINTEXT = 6144
CONTEXT = {"purpose": "sdk-test", "tenant": "a b/c+d=é"}  # needs escaping in every encoding


@pytest.fixture
def key(kms):
    return create_key(kms)


def encrypt(kms, key_ref, plaintext: bytes, context=None) -> dict:
    params = {"KeyId": key_ref, "Plaintext": b64(plaintext)}
    if context is not None:
        params["EncryptionContext"] = context
    body = kms.call("Encrypt", params)
    assert_request_id(body)
    return body


def decrypt(kms, blob: str, context=None) -> dict:
    params = {"CiphertextBlob": blob}
    if context is not None:
        params["EncryptionContext"] = context
    body = kms.call("Decrypt", params)
    assert_request_id(body)
    return body


def check_blob(blob: str, key_version_id: str) -> bytes:
    raw = unb64(blob)
    # layout (spec §8): KeyVersionId (36 ASCII) || IV (12) || ciphertext || tag (16)
    assert raw[:36] == key_version_id.encode("ascii"), raw[:36]
    return raw


# --- Encrypt / Decrypt ----------------------------------------------------------------

@pytest.mark.parametrize("plaintext", [
    b"Hello world",
    bytes(range(256)),
    b"\x00",
    os.urandom(MAX_PLAINTEXT),
], ids=["text", "all-bytes", "one-zero-byte", "max-6144"])
def test_encrypt_decrypt_round_trip(kms, key, plaintext):
    enc = encrypt(kms, key["KeyId"], plaintext)
    assert enc["KeyId"] == key["KeyId"]
    assert enc["KeyVersionId"] == key["PrimaryKeyVersion"]
    raw = check_blob(enc["CiphertextBlob"], enc["KeyVersionId"])
    assert len(raw) == 36 + 12 + len(plaintext) + 16
    assert plaintext not in raw[36:] or len(plaintext) < 4

    dec = decrypt(kms, enc["CiphertextBlob"])
    assert unb64(dec["Plaintext"]) == plaintext
    assert dec["KeyId"] == key["KeyId"]
    assert dec["KeyVersionId"] == enc["KeyVersionId"]


def test_encrypt_by_alias_and_arn_returns_real_key_id(kms, key, unique):
    alias = create_alias(kms, key["KeyId"], unique)
    for ref in (alias, key["Arn"]):
        enc = encrypt(kms, ref, b"by reference")
        assert enc["KeyId"] == key["KeyId"], ref
        assert enc["KeyVersionId"] == key["PrimaryKeyVersion"]
        dec = decrypt(kms, enc["CiphertextBlob"])
        assert (dec["KeyId"], unb64(dec["Plaintext"])) == (key["KeyId"], b"by reference")


def test_encryption_is_randomised(kms, key):
    blobs = {encrypt(kms, key["KeyId"], b"same")["CiphertextBlob"] for _ in range(3)}
    assert len(blobs) == 3


def test_encryption_context_round_trip_any_order(kms, key):
    enc = encrypt(kms, key["KeyId"], b"bound", CONTEXT)
    reordered = dict(reversed(list(CONTEXT.items())))
    for ctx in (CONTEXT, reordered):
        assert unb64(decrypt(kms, enc["CiphertextBlob"], ctx)["Plaintext"]) == b"bound"


def test_encryption_context_whitespace_is_irrelevant(kmsd):
    kms = kmsd.client("core")  # the only SDK that sends the context string verbatim
    key = create_key(kms)
    enc = encrypt(kms, key["KeyId"], b"ws", '{"a":"1","b":"2"}')
    spaced = '{ "b" : "2" ,\n  "a" : "1" }'
    assert unb64(decrypt(kms, enc["CiphertextBlob"], spaced)["Plaintext"]) == b"ws"


def test_empty_encryption_context_equals_none(kms, key):
    enc = encrypt(kms, key["KeyId"], b"no ctx", {})
    assert unb64(decrypt(kms, enc["CiphertextBlob"])["Plaintext"]) == b"no ctx"
    enc = encrypt(kms, key["KeyId"], b"no ctx")
    assert unb64(decrypt(kms, enc["CiphertextBlob"], {})["Plaintext"]) == b"no ctx"


@pytest.mark.parametrize("other", MODES)
def test_ciphertext_interoperates_across_sdks(kmsd, kms, key, other):
    """Each SDK serialises the context differently (json.dumps vs compact JSON, %20 vs +)."""
    enc = encrypt(kms, key["KeyId"], b"interop", CONTEXT)
    dec = decrypt(kmsd.client(other), enc["CiphertextBlob"], CONTEXT)
    assert (unb64(dec["Plaintext"]), dec["KeyId"]) == (b"interop", key["KeyId"])


# --- GenerateDataKey / GenerateDataKeyWithoutPlaintext ---------------------------------

@pytest.mark.parametrize("params, size", [
    ({}, 32),
    ({"KeySpec": "AES_256"}, 32),
    ({"KeySpec": "AES_128"}, 16),
    ({"NumberOfBytes": 1}, 1),
    ({"NumberOfBytes": 1024}, 1024),
    ({"KeySpec": "AES_128", "NumberOfBytes": 7}, 7),  # both given: NumberOfBytes wins
], ids=["default", "AES_256", "AES_128", "1-byte", "1024-bytes", "both"])
def test_generate_data_key(kms, key, params, size):
    body = kms.call("GenerateDataKey", {"KeyId": key["KeyId"], **params})
    assert_request_id(body)
    assert body["KeyId"] == key["KeyId"]
    assert body["KeyVersionId"] == key["PrimaryKeyVersion"]
    data_key = unb64(body["Plaintext"])
    assert len(data_key) == size
    check_blob(body["CiphertextBlob"], body["KeyVersionId"])
    dec = decrypt(kms, body["CiphertextBlob"])
    assert unb64(dec["Plaintext"]) == data_key
    assert dec["KeyId"] == key["KeyId"]


def test_generate_data_key_is_random(kms, key):
    keys = {kms.call("GenerateDataKey", {"KeyId": key["KeyId"]})["Plaintext"] for _ in range(3)}
    assert len(keys) == 3


def test_generate_data_key_with_context_and_alias(kms, key, unique):
    alias = create_alias(kms, key["KeyId"], unique)
    body = kms.call("GenerateDataKey", {"KeyId": alias, "EncryptionContext": CONTEXT})
    assert body["KeyId"] == key["KeyId"]
    assert decrypt(kms, body["CiphertextBlob"], CONTEXT)["Plaintext"] == body["Plaintext"]
    expect_error(kms, "Decrypt", {"CiphertextBlob": body["CiphertextBlob"]}, "InvalidParameter", 400)


@pytest.mark.parametrize("params, size", [
    ({}, 32),
    ({"KeySpec": "AES_128"}, 16),
    ({"NumberOfBytes": 100}, 100),
], ids=["default", "AES_128", "100-bytes"])
def test_generate_data_key_without_plaintext(kms, key, params, size):
    body = kms.call("GenerateDataKeyWithoutPlaintext",
                    {"KeyId": key["Arn"], "EncryptionContext": CONTEXT, **params})
    assert_request_id(body)
    assert "Plaintext" not in body
    assert body["KeyId"] == key["KeyId"]
    assert body["KeyVersionId"] == key["PrimaryKeyVersion"]
    check_blob(body["CiphertextBlob"], body["KeyVersionId"])
    dec = decrypt(kms, body["CiphertextBlob"], CONTEXT)
    assert len(unb64(dec["Plaintext"])) == size


# --- errors -------------------------------------------------------------------------

def test_encrypt_unknown_key(kms):
    expect_error(kms, "Encrypt", {"KeyId": random_uuid(), "Plaintext": b64(b"x")}, "Forbidden.KeyNotFound", 404)


def test_encrypt_unknown_alias(kms):
    expect_error(kms, "Encrypt", {"KeyId": "alias/nope", "Plaintext": b64(b"x")}, "Forbidden.AliasNotFound", 404)


def test_encrypt_plaintext_too_long(kms, key):
    expect_error(kms, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": b64(b"\x01" * (MAX_PLAINTEXT + 1))},
                 "InvalidParameter", 400)


@pytest.mark.parametrize("plaintext", ["not base64!", "@@@@", "YWJj$"])
def test_encrypt_plaintext_not_base64(kms, key, plaintext):
    expect_error(kms, "Encrypt", {"KeyId": key["KeyId"], "Plaintext": plaintext}, "InvalidParameter", 400)


@pytest.mark.parametrize("context", [
    [1],
    ["a", "b"],
    {"a": 1},
    {"a": {"b": "c"}},
    {"a": None},
    "not json",
], ids=["list-of-int", "list-of-str", "int-value", "nested", "null-value", "not-json"])
def test_encrypt_invalid_encryption_context(kms, key, context):
    params = {"KeyId": key["KeyId"], "Plaintext": b64(b"x"), "EncryptionContext": context}
    expect_error(kms, "Encrypt", params, "InvalidParameter", 400)


def test_encrypt_without_key_id(kms):
    expect_error(kms, "Encrypt", {"Plaintext": b64(b"x")}, "MissingParameter", 400)


def test_encrypt_without_plaintext(kms, key):
    expect_error(kms, "Encrypt", {"KeyId": key["KeyId"]}, "MissingParameter", 400)


def test_decrypt_without_ciphertext(kms):
    expect_error(kms, "Decrypt", {}, "MissingParameter", 400)


@pytest.mark.parametrize("wrong", [
    None,
    {},
    {"purpose": "sdk-test"},
    {**CONTEXT, "extra": "x"},
    {**CONTEXT, "purpose": "other"},
], ids=["missing", "empty", "subset", "superset", "other-value"])
def test_decrypt_with_wrong_context(kms, key, wrong):
    blob = encrypt(kms, key["KeyId"], b"bound", CONTEXT)["CiphertextBlob"]
    params = {"CiphertextBlob": blob}
    if wrong is not None:
        params["EncryptionContext"] = wrong
    expect_error(kms, "Decrypt", params, "InvalidParameter", 400)


def test_decrypt_context_given_but_none_at_encrypt(kms, key):
    blob = encrypt(kms, key["KeyId"], b"unbound")["CiphertextBlob"]
    expect_error(kms, "Decrypt", {"CiphertextBlob": blob, "EncryptionContext": CONTEXT}, "InvalidParameter", 400)


@pytest.mark.parametrize("offset", [36, 36 + 12, -1], ids=["iv", "ciphertext", "tag"])
def test_decrypt_tampered_blob(kms, key, offset):
    raw = bytearray(unb64(encrypt(kms, key["KeyId"], b"tamper me")["CiphertextBlob"]))
    raw[offset] ^= 0x01
    expect_error(kms, "Decrypt", {"CiphertextBlob": b64(bytes(raw))}, "InvalidParameter", 400)


def test_decrypt_blob_of_unknown_key_version(kms, key):
    raw = unb64(encrypt(kms, key["KeyId"], b"orphan")["CiphertextBlob"])
    forged = random_uuid().encode("ascii") + raw[36:]
    expect_error(kms, "Decrypt", {"CiphertextBlob": b64(forged)}, "Forbidden.KeyNotFound", 404)


@pytest.mark.parametrize("blob", ["not base64!", b64(b"short"), b64(b"x" * 36)],
                         ids=["not-base64", "too-short", "version-id-only"])
def test_decrypt_malformed_blob(kms, blob):
    expect_error(kms, "Decrypt", {"CiphertextBlob": blob}, "InvalidParameter", 400)


@pytest.mark.parametrize("action", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
@pytest.mark.parametrize("number", [0, 1025])
def test_generate_data_key_number_of_bytes_out_of_range(kms, key, action, number):
    expect_error(kms, action, {"KeyId": key["KeyId"], "NumberOfBytes": number}, "InvalidParameter", 400)


@pytest.mark.parametrize("action", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
def test_generate_data_key_bad_key_spec(kms, key, action):
    expect_error(kms, action, {"KeyId": key["KeyId"], "KeySpec": "AES_512"}, "InvalidParameter", 400)


@pytest.mark.parametrize("action", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
def test_generate_data_key_unknown_key(kms, action):
    expect_error(kms, action, {"KeyId": random_uuid()}, "Forbidden.KeyNotFound", 404)
    expect_error(kms, action, {"KeyId": "alias/nope"}, "Forbidden.AliasNotFound", 404)


def test_generate_data_key_invalid_context(kms, key):
    expect_error(kms, "GenerateDataKey", {"KeyId": key["KeyId"], "EncryptionContext": {"a": 1}},
                 "InvalidParameter", 400)
