"""Asymmetric keys through every Python client mode, checked by independent implementations:
kmsd's signatures are verified by `cryptography` (RSA, ECDSA P-256, secp256k1) and by the
`openssl` command (SM2DSA, which computes Z and the SM3 digest itself); ciphertexts made locally
with the public key (`cryptography` OAEP, `openssl pkeyutl` SM2) decrypt on kmsd."""

import base64
import hashlib
import subprocess

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from helpers import assert_request_id, b64, create_key, expect_error, unb64

# GB/T 32918.5 curve parameters, for Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA).
SM2_A = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
SM2_B = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
SM2_XG = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
SM2_YG = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
SM2_ID = b"1234567812345678"

SIGNING = [("RSA_2048", "RSA_PSS_SHA_256"), ("RSA_2048", "RSA_PKCS1_SHA_256"), ("RSA_3072", "RSA_PSS_SHA_256"),
           ("EC_P256", "ECDSA_SHA_256"), ("EC_P256K", "ECDSA_SHA_256"), ("EC_SM2", "SM2DSA")]
ENCRYPTING = [("RSA_2048", "RSAES_OAEP_SHA_256"), ("RSA_2048", "RSAES_OAEP_SHA_1"), ("RSA_3072", "RSAES_OAEP_SHA_256"),
              ("EC_SM2", "SM2PKE")]


@pytest.fixture(scope="module")
def keys(kmsd):
    """One key per spec and usage, made once: (spec, usage) -> (KeyId, KeyVersionId, PEM)."""
    admin = kmsd.client("tea-v3")
    made = {}
    for spec, usage in {(s, "SIGN/VERIFY") for s, _ in SIGNING} | {(s, "ENCRYPT/DECRYPT") for s, _ in ENCRYPTING}:
        md = create_key(admin, KeySpec=spec, KeyUsage=usage)
        assert (md["KeySpec"], md["KeyUsage"], md["KeyState"]) == (spec, usage, "Enabled")
        version = md["PrimaryKeyVersion"]
        pem = admin.call("GetPublicKey", {"KeyId": md["KeyId"], "KeyVersionId": version})["PublicKey"]
        made[(spec, usage)] = (md["KeyId"], version, pem)
    return made


def _sm2_digest(pem: str, message: bytes) -> bytes:
    """e = SM3(Z ‖ M) for the default ID: what AsymmetricSign takes for SM2DSA. (`cryptography`
    cannot load SM2 keys: the public point is the SubjectPublicKeyInfo's last 65 bytes.)"""
    der = base64.b64decode("".join(pem.strip().splitlines()[1:-1]))
    point = der[-65:]
    assert point[0] == 0x04, "uncompressed public point at the end of the SubjectPublicKeyInfo"
    z = hashlib.new("sm3", (len(SM2_ID) * 8).to_bytes(2, "big") + SM2_ID
                    + bytes.fromhex(SM2_A + SM2_B + SM2_XG + SM2_YG) + point[1:]).digest()
    return hashlib.new("sm3", z + message).digest()


def _openssl(args, tmp_path, **files):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return subprocess.run(["openssl", *args], cwd=tmp_path, capture_output=True)


@pytest.mark.parametrize("spec,algorithm", SIGNING)
def test_signatures_verify_with_independent_libraries(kms, keys, spec, algorithm, tmp_path):
    key_id, version, pem = keys[(spec, "SIGN/VERIFY")]
    message = f"signed by kmsd with {spec} {algorithm} through {kms.mode}".encode()
    digest = _sm2_digest(pem, message) if spec == "EC_SM2" else hashlib.sha256(message).digest()
    params = {"KeyId": key_id, "KeyVersionId": version, "Algorithm": algorithm, "Digest": b64(digest)}
    signed = kms.call("AsymmetricSign", params)
    assert_request_id(signed)
    assert (signed["KeyId"], signed["KeyVersionId"]) == (key_id, version)
    signature = unb64(signed["Value"])

    if spec == "EC_SM2":
        out = _openssl(["dgst", "-sm3", "-verify", "pub.pem", "-signature", "sig.der",
                        "-sigopt", "distid:1234567812345678", "msg.bin"],
                       tmp_path, **{"pub.pem": pem.encode(), "sig.der": signature, "msg.bin": message})
        assert out.returncode == 0 and b"Verified OK" in out.stdout, (out.stdout, out.stderr)
        bad = _openssl(["dgst", "-sm3", "-verify", "pub.pem", "-signature", "sig.der",
                        "-sigopt", "distid:1234567812345678", "other.bin"], tmp_path, **{"other.bin": message + b"!"})
        assert bad.returncode != 0
    else:
        public = serialization.load_pem_public_key(pem.encode())
        prehashed = utils.Prehashed(hashes.SHA256())
        if spec.startswith("RSA"):
            assert isinstance(public, rsa.RSAPublicKey) and public.key_size == int(spec[4:])
            pad = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
                   if algorithm == "RSA_PSS_SHA_256" else padding.PKCS1v15())
            public.verify(signature, digest, pad, prehashed)
            with pytest.raises(InvalidSignature):
                public.verify(signature, hashlib.sha256(message + b"!").digest(), pad, prehashed)
        else:
            curve = ec.SECP256R1 if spec == "EC_P256" else ec.SECP256K1
            assert isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, curve)
            public.verify(signature, digest, ec.ECDSA(prehashed))  # DER-encoded (r, s)

    verified = kms.call("AsymmetricVerify", {**params, "Value": signed["Value"]})
    assert verified["Value"] is True
    flipped = bytearray(signature)
    flipped[len(flipped) // 2] ^= 1
    assert kms.call("AsymmetricVerify", {**params, "Value": b64(bytes(flipped))})["Value"] is False


@pytest.mark.parametrize("spec,algorithm", ENCRYPTING)
def test_local_public_key_ciphertexts_decrypt_on_kmsd(kms, keys, spec, algorithm, tmp_path):
    key_id, version, pem = keys[(spec, "ENCRYPT/DECRYPT")]
    plaintext = f"for {spec} {algorithm} via {kms.mode}".encode()
    if spec == "EC_SM2":
        out = _openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "pt.bin", "-out", "ct.bin"],
                       tmp_path, **{"pub.pem": pem.encode(), "pt.bin": plaintext})
        assert out.returncode == 0, out.stderr
        ciphertext = (tmp_path / "ct.bin").read_bytes()
        assert ciphertext[0] == 0x30  # GM/T 0009 DER, as kmsd's own
    else:
        public = serialization.load_pem_public_key(pem.encode())
        h = hashes.SHA256() if algorithm == "RSAES_OAEP_SHA_256" else hashes.SHA1()
        ciphertext = public.encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
    params = {"KeyId": key_id, "KeyVersionId": version, "Algorithm": algorithm}
    dec = kms.call("AsymmetricDecrypt", {**params, "CiphertextBlob": b64(ciphertext)})
    assert_request_id(dec)
    assert unb64(dec["Plaintext"]) == plaintext
    assert (dec["KeyId"], dec["KeyVersionId"]) == (key_id, version)

    # And kmsd's own ciphertext of the same plaintext round-trips.
    enc = kms.call("AsymmetricEncrypt", {**params, "Plaintext": b64(plaintext)})
    assert unb64(enc["CiphertextBlob"]) != ciphertext
    assert unb64(kms.call("AsymmetricDecrypt", {**params, "CiphertextBlob": enc["CiphertextBlob"]})["Plaintext"]) \
        == plaintext


def test_asymmetric_errors(kms, keys):
    key_id, version, _ = keys[("RSA_2048", "ENCRYPT/DECRYPT")]
    sign_key, sign_version, _ = keys[("EC_P256", "SIGN/VERIFY")]
    digest = b64(hashlib.sha256(b"x").digest())
    expect_error(kms, "AsymmetricEncrypt", {"KeyId": key_id, "KeyVersionId": version,
                                           "Algorithm": "RSAES_OAEP_SHA_256", "Plaintext": b64(b"x" * 191)},
                 "InvalidParameter", 400)
    expect_error(kms, "AsymmetricSign", {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "RSA_PSS_SHA_256",
                                        "Digest": digest}, "UnsupportedOperation", 400)
    expect_error(kms, "AsymmetricSign", {"KeyId": sign_key, "KeyVersionId": version, "Algorithm": "ECDSA_SHA_256",
                                        "Digest": digest}, "Forbidden.KeyVersionNotFound", 404)
    expect_error(kms, "AsymmetricSign", {"KeyId": sign_key, "KeyVersionId": sign_version, "Algorithm": "SM2DSA",
                                        "Digest": digest}, "InvalidParameter", 400)
    expect_error(kms, "AsymmetricDecrypt", {"KeyId": key_id, "KeyVersionId": version,
                                           "Algorithm": "RSAES_OAEP_SHA_256", "CiphertextBlob": b64(b"\0" * 256)},
                 "InvalidParameter", 400)
    expect_error(kms, "CreateKeyVersion", {"KeyId": sign_key}, "Rejected.UnsupportedOperation", 400)
    # An algorithm of the other family is an invalid parameter; an encrypt/decrypt with a key
    # that cannot is the `Rejected.` form (spec §5.5).
    expect_error(kms, "AsymmetricSign", {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "RSAES_OAEP_SHA_256",
                                        "Digest": digest}, "InvalidParameter", 400)
    expect_error(kms, "AsymmetricEncrypt", {"KeyId": sign_key, "KeyVersionId": sign_version,
                                           "Algorithm": "RSAES_OAEP_SHA_256", "Plaintext": b64(b"x")},
                 "Rejected.UnsupportedOperation", 400)


@pytest.mark.parametrize("wrapping", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE"])
def test_data_keys_export_to_a_local_public_key(kms, wrapping, tmp_path):
    """ExportDataKey / GenerateAndExportDataKey to a key pair made here; unwrapped here."""
    aes = create_key(kms)["KeyId"]
    if wrapping == "SM2PKE":
        assert _openssl(["genpkey", "-algorithm", "SM2", "-out", "sm2.pem"], tmp_path).returncode == 0
        assert _openssl(["pkey", "-in", "sm2.pem", "-pubout", "-outform", "DER", "-out", "sm2.der"],
                        tmp_path).returncode == 0
        public_der = (tmp_path / "sm2.der").read_bytes()

        def unwrap(exported: bytes) -> bytes:
            out = _openssl(["pkeyutl", "-decrypt", "-inkey", "sm2.pem", "-in", "exported.bin"], tmp_path,
                           **{"exported.bin": exported})
            assert out.returncode == 0, out.stderr
            return out.stdout
        spec = "EC_SM2"
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        h = hashes.SHA256() if wrapping == "RSAES_OAEP_SHA_256" else hashes.SHA1()

        def unwrap(exported: bytes) -> bytes:
            return private.decrypt(exported, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
        spec = "RSA_2048"
    wrap = {"PublicKeyBlob": b64(public_der), "WrappingAlgorithm": wrapping, "WrappingKeySpec": spec}

    made = kms.call("GenerateAndExportDataKey", {"KeyId": aes, "NumberOfBytes": 32, **wrap})
    assert "Plaintext" not in made
    inside = unb64(kms.call("Decrypt", {"CiphertextBlob": made["CiphertextBlob"]})["Plaintext"])
    assert unwrap(unb64(made["ExportedDataKey"])) == inside and len(inside) == 32

    dk = kms.call("GenerateDataKey", {"KeyId": aes, "EncryptionContext": {"use": "export"}})
    exported = kms.call("ExportDataKey", {"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": {"use": "export"},
                                          **wrap})
    assert (exported["KeyId"], exported["KeyVersionId"]) == (aes, dk["KeyVersionId"])
    assert unwrap(unb64(exported["ExportedDataKey"])) == unb64(dk["Plaintext"])


def test_re_encrypt_from_a_public_key_ciphertext(kms, keys):
    """A ciphertext made here with kmsd's RSA public key moves under a symmetric key."""
    key_id, version, pem = keys[("RSA_2048", "ENCRYPT/DECRYPT")]
    aes = create_key(kms)["KeyId"]
    public = serialization.load_pem_public_key(pem.encode())
    ciphertext = public.encrypt(b"to be re-encrypted", padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                                     algorithm=hashes.SHA1(), label=None))
    moved = kms.call("ReEncrypt", {"CiphertextBlob": b64(ciphertext), "SourceKeyId": key_id,
                                   "SourceKeyVersionId": version, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_1",
                                   "DestinationKeyId": aes})
    assert moved["KeyId"] == aes
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": moved["CiphertextBlob"]})["Plaintext"]) == b"to be re-encrypted"
