"""Bring your own key through every Python client mode: material wrapped locally (Python
`cryptography` for the RSA algorithms, the `openssl` command for SM2PKE) with the public key
GetParametersForImport hands out, imported, used, and a ciphertext built off-line from the
same material with the spec §8.1 layout decrypted by kmsd; DeleteKeyMaterial and its rules."""

import base64
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helpers import b64, create_key, expect_error, unb64

RSA_ALGORITHMS = {
    "RSAES_OAEP_SHA_256": padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    "RSAES_OAEP_SHA_1": padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
    "RSAES_PKCS1_V1_5": padding.PKCS1v15(),
}


def _wrap(kms, key_id, algorithm, material, tmp_path):
    spec = "EC_SM2" if algorithm == "SM2PKE" else "RSA_2048"
    params = kms.call("GetParametersForImport", {"KeyId": key_id, "WrappingAlgorithm": algorithm,
                                                 "WrappingKeySpec": spec})
    assert params["KeyId"] == key_id and params["TokenExpireTime"].endswith("Z")
    der = base64.b64decode(params["PublicKey"])
    if algorithm == "SM2PKE":
        (tmp_path / "wrap.der").write_bytes(der)
        (tmp_path / "material.bin").write_bytes(material)
        out = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "wrap.der",
                              "-in", "material.bin", "-out", "wrapped.bin"], cwd=tmp_path, capture_output=True)
        assert out.returncode == 0, out.stderr
        wrapped = (tmp_path / "wrapped.bin").read_bytes()
    else:
        wrapped = serialization.load_der_public_key(der).encrypt(material, RSA_ALGORITHMS[algorithm])
    return params["ImportToken"], b64(wrapped)


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "SM2PKE"])
def test_imported_material_works_like_the_callers_own(kms, algorithm, tmp_path):
    material = os.urandom(32)
    md = create_key(kms, KeySpec="Aliyun_AES_256", Origin="EXTERNAL")
    key_id, version = md["KeyId"], md["PrimaryKeyVersion"]
    assert (md["Origin"], md["KeyState"]) == ("EXTERNAL", "PendingImport")
    expect_error(kms, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"x")}, "Rejected.PendingImport", 409)

    token, wrapped = _wrap(kms, key_id, algorithm, material, tmp_path)
    kms.call("ImportKeyMaterial", {"KeyId": key_id, "ImportToken": token, "EncryptedKeyMaterial": wrapped,
                                   "KeyMaterialExpireUnix": 0})
    assert kms.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "Enabled"

    # A blob built off-line: version id ‖ IV ‖ AES-256-GCM(material, AAD = compact sorted context).
    iv = os.urandom(12)
    sealed = AESGCM(material).encrypt(iv, b"sealed off-line", b'{"app":"byok"}')
    offline = b64(version.encode() + iv + sealed)
    dec = kms.call("Decrypt", {"CiphertextBlob": offline, "EncryptionContext": {"app": "byok"}})
    assert (unb64(dec["Plaintext"]), dec["KeyId"]) == (b"sealed off-line", key_id)
    # And kmsd's own ciphertext opens off-line with the material.
    enc = kms.call("Encrypt", {"KeyId": key_id, "Plaintext": b64(b"made by kmsd")})
    blob = unb64(enc["CiphertextBlob"])
    assert blob[:36] == version.encode()
    assert AESGCM(material).decrypt(blob[36:48], blob[48:], b"") == b"made by kmsd"

    kms.call("DeleteKeyMaterial", {"KeyId": key_id})
    assert kms.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "PendingImport"
    expect_error(kms, "Decrypt", {"CiphertextBlob": enc["CiphertextBlob"]}, "Rejected.PendingImport", 409)


def test_import_refusals(kms, tmp_path):
    md = create_key(kms, KeySpec="Aliyun_AES_256", Origin="EXTERNAL")
    key_id = md["KeyId"]
    token, short = _wrap(kms, key_id, "RSAES_OAEP_SHA_256", os.urandom(16), tmp_path)
    expect_error(kms, "ImportKeyMaterial", {"KeyId": key_id, "ImportToken": token, "EncryptedKeyMaterial": short,
                                            "KeyMaterialExpireUnix": 0}, "InvalidKeyMaterial", 400)
    expect_error(kms, "ImportKeyMaterial", {"KeyId": key_id, "ImportToken": b64(b"forged"),
                                            "EncryptedKeyMaterial": short, "KeyMaterialExpireUnix": 0},
                 "InvalidImportToken", 400)
    own = create_key(kms)["KeyId"]
    expect_error(kms, "GetParametersForImport", {"KeyId": own, "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
                                                 "WrappingKeySpec": "RSA_2048"}, "Unsupported.Origin", 400)
    expect_error(kms, "GetParametersForImport", {"KeyId": key_id, "WrappingAlgorithm": "SM2PKE",
                                                 "WrappingKeySpec": "RSA_2048"}, "InvalidParameter", 400)
