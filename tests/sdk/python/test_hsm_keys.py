"""ProtectionLevel=HSM through every Python client mode: with the root key in a PKCS#11 token
(tests/sdk/run.sh KMSD_TEST_ROOT=pkcs11) HSM keys are made and used in the token; without one
CreateKey refuses them with the documented code."""

import os

from helpers import b64, create_key, expect_error, unb64


def test_protection_level_hsm(kms):
    if not os.environ.get("KMSD_TEST_ROOT_URI_PREFIX"):
        expect_error(kms, "CreateKey", {"ProtectionLevel": "HSM"}, "UnsupportedOperation", 400)
        return
    md = create_key(kms, ProtectionLevel="HSM", KeySpec="Aliyun_AES_256")
    assert (md["ProtectionLevel"], md["KeyState"]) == ("HSM", "Enabled")
    enc = kms.call("Encrypt", {"KeyId": md["KeyId"], "Plaintext": b64(b"in the token"),
                               "EncryptionContext": {"k": "v"}})
    assert unb64(enc["CiphertextBlob"])[:36].decode() == md["PrimaryKeyVersion"]
    dec = kms.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": {"k": "v"}})
    assert unb64(dec["Plaintext"]) == b"in the token"
    expect_error(kms, "CreateKey", {"ProtectionLevel": "HSM", "KeySpec": "RSA_2048"}, "UnsupportedOperation", 400)
