"""Authentication errors per signing mode, and an HTTPS smoke test."""

from helpers import ACCESS_KEY_SECRET, assert_request_id, b64, create_key, expect_error, unb64


def test_wrong_access_key_secret(kmsd, mode):
    kms = kmsd.client(mode, secret=ACCESS_KEY_SECRET + "x")
    # aliyunsdkcore compares the server's string-to-sign (after the ':' in Message) with its
    # own and, when equal, renames SignatureDoesNotMatch to InvalidAccessKeySecret.
    code = "InvalidAccessKeySecret" if mode == "core" else "SignatureDoesNotMatch"
    expect_error(kms, "DescribeRegions", None, code, 400)
    expect_error(kms, "Encrypt", {"KeyId": "alias/whatever", "Plaintext": b64(b"x")}, code, 400)


def test_unknown_access_key_id(kmsd, mode):
    kms = kmsd.client(mode, ak="LTAI5tUnknownKeyId99", secret=ACCESS_KEY_SECRET)
    expect_error(kms, "DescribeRegions", None, "InvalidAccessKeyId.NotFound", 404)


def test_signature_mismatch_message_carries_string_to_sign(kmsd):
    """Tea exposes the raw Message: it must follow the POP form '...string to sign is:<sts>'."""
    kms = kmsd.client("tea-v2", secret="not-the-secret")
    err = expect_error(kms, "DescribeRegions", None, "SignatureDoesNotMatch", 400)
    message = err.body["Message"]
    assert ":" in message, message
    sts = message.split(":", 1)[1]
    assert sts.startswith("POST&%2F&"), message
    assert "Action%3DDescribeRegions" in sts, message


def test_https_smoke(kmsd_tls, mode):
    kms = kmsd_tls.client(mode)
    assert_request_id(kms.call("DescribeRegions"))
    key = create_key(kms)
    enc = kms.call("Encrypt", {"KeyId": key["KeyId"], "Plaintext": b64(b"over tls")})
    assert unb64(kms.call("Decrypt", {"CiphertextBlob": enc["CiphertextBlob"]})["Plaintext"]) == b"over tls"
