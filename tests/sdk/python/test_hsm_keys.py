"""ProtectionLevel=HSM through every Python client mode: with the root key in a PKCS#11 token
(tests/sdk/run.sh KMSD_TEST_ROOT=pkcs11) HSM keys are made and used in the token; without one
CreateKey refuses them with the documented code."""

import hashlib
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
    # Key pairs in the token: the SDK's signatures verify with the public key it reads back, and
    # what it encrypts to the public key the token decrypts.
    digest = b64(hashlib.sha256(b"signed in the token").digest())
    for spec, alg in (("RSA_2048", "RSA_PSS_SHA_256"), ("EC_P256", "ECDSA_SHA_256")):
        pair = create_key(kms, ProtectionLevel="HSM", KeySpec=spec, KeyUsage="SIGN/VERIFY")
        assert pair["ProtectionLevel"] == "HSM"
        ref = {"KeyId": pair["KeyId"], "KeyVersionId": pair["PrimaryKeyVersion"], "Algorithm": alg}
        signature = kms.call("AsymmetricSign", {**ref, "Digest": digest})["Value"]
        assert kms.call("AsymmetricVerify", {**ref, "Digest": digest, "Value": signature})["Value"] is True
        assert "BEGIN PUBLIC KEY" in kms.call("GetPublicKey", {"KeyId": pair["KeyId"],
                                                               "KeyVersionId": pair["PrimaryKeyVersion"]})["PublicKey"]
    pair = create_key(kms, ProtectionLevel="HSM", KeySpec="RSA_3072", KeyUsage="ENCRYPT/DECRYPT")
    ref = {"KeyId": pair["KeyId"], "KeyVersionId": pair["PrimaryKeyVersion"], "Algorithm": "RSAES_OAEP_SHA_1"}
    blob = kms.call("AsymmetricEncrypt", {**ref, "Plaintext": b64(b"to the token")})["CiphertextBlob"]
    assert unb64(kms.call("AsymmetricDecrypt", {**ref, "CiphertextBlob": blob})["Plaintext"]) == b"to the token"
    expect_error(kms, "CreateKey", {"ProtectionLevel": "HSM", "KeySpec": "EC_SM2"}, "UnsupportedOperation", 400)
