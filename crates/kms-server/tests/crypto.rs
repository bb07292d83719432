//! Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext at the wire.

mod common;

use common::*;

#[tokio::test]
async fn encrypt_decrypt_round_trip_with_context_in_any_spelling() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let primary = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["PrimaryKeyVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let plaintext = "secret ü data".as_bytes();
    let enc = ok(
        &c,
        "Encrypt",
        &[("KeyId", &key), ("Plaintext", &b64(plaintext)), ("EncryptionContext", r#"{"b":"2","a":"1 2"}"#)],
    )
    .await;
    assert_eq!(enc["KeyId"], key.as_str());
    assert_eq!(enc["KeyVersionId"], primary.as_str());
    let blob = unb64(enc["CiphertextBlob"].as_str().unwrap());
    assert_eq!(&blob[..36], primary.as_bytes(), "the blob starts with the version id");
    assert_eq!(blob.len(), 36 + 12 + plaintext.len() + 16);
    let blob_b64 = enc["CiphertextBlob"].as_str().unwrap();
    // Key order, whitespace and the npm flattened form are all the same context.
    for ctx in [
        vec![("EncryptionContext", r#"{ "a" : "1 2", "b" : "2" }"#)],
        vec![("EncryptionContext.a", "1 2"), ("EncryptionContext.b", "2")],
    ] {
        let mut params = vec![("CiphertextBlob", blob_b64)];
        params.extend(ctx);
        let dec = ok(&c, "Decrypt", &params).await;
        assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), plaintext);
        assert_eq!(dec["KeyId"], key.as_str());
        assert_eq!(dec["KeyVersionId"], primary.as_str());
    }
    // No context and {} are the same thing.
    let plain = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    let dec = ok(
        &c,
        "Decrypt",
        &[("CiphertextBlob", plain["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", "{}")],
    )
    .await;
    assert_eq!(dec["Plaintext"], "aGk=");
    // Two encryptions of the same plaintext differ (fresh IV).
    let again = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    assert_ne!(again["CiphertextBlob"], plain["CiphertextBlob"]);
}

#[tokio::test]
async fn decrypt_refuses_wrong_context_tampering_and_foreign_blobs() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let enc =
        ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "c2VjcmV0"), ("EncryptionContext", r#"{"k":"v"}"#)]).await;
    let blob = unb64(enc["CiphertextBlob"].as_str().unwrap());
    let ctx = r#"{"k":"v"}"#;
    for wrong in [r#"{"k":"w"}"#, r#"{"k":"v","x":"y"}"#, "{}"] {
        let r = call(
            &c,
            "Decrypt",
            &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", wrong)],
        )
        .await;
        assert_error(&r, 400, "InvalidParameter");
    }
    // Every single-byte change after the version id is refused with InvalidParameter.
    for i in 36..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        let r = call(&c, "Decrypt", &[("CiphertextBlob", &b64(&bad)), ("EncryptionContext", ctx)]).await;
        assert_error(&r, 400, "InvalidParameter");
    }
    // A version id that is not a version id, a truncated blob, not base64.
    let mut garbled = blob.clone();
    garbled[0] = b'Z';
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &b64(&garbled))]).await, 400, "InvalidParameter");
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &b64(&blob[..60]))]).await, 400, "InvalidParameter");
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", "***")]).await, 400, "InvalidParameter");
    // A well-formed version id this deployment does not have: not found.
    let mut foreign = blob.clone();
    foreign[..36].copy_from_slice(b"11111111-2222-3333-4444-555555555555");
    assert_error(
        &call(&c, "Decrypt", &[("CiphertextBlob", &b64(&foreign)), ("EncryptionContext", ctx)]).await,
        404,
        "Forbidden.KeyNotFound",
    );
    assert_error(&call(&c, "Decrypt", &[]).await, 400, "MissingParameter");
}

#[tokio::test]
async fn encrypt_parameter_errors() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(&[1; 6144]))]).await;
    type Case<'a> = (Vec<(&'a str, String)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("KeyId", key.clone()), ("Plaintext", b64(&[1; 6145]))], 400, "InvalidParameter"),
        (vec![("KeyId", key.clone()), ("Plaintext", "not base64!".into())], 400, "InvalidParameter"),
        (vec![("KeyId", key.clone())], 400, "MissingParameter"),
        (vec![("Plaintext", "aGk=".into())], 400, "MissingParameter"),
        (vec![("KeyId", "alias/none".into()), ("Plaintext", "aGk=".into())], 404, "Forbidden.AliasNotFound"),
        (
            vec![("KeyId", "11111111-2222-3333-4444-555555555555".into()), ("Plaintext", "aGk=".into())],
            404,
            "Forbidden.KeyNotFound",
        ),
        (
            vec![("KeyId", key.clone()), ("Plaintext", "aGk=".into()), ("EncryptionContext", "[1]".into())],
            400,
            "InvalidParameter",
        ),
        (
            vec![("KeyId", key.clone()), ("Plaintext", "aGk=".into()), ("EncryptionContext", r#"{"a":1}"#.into())],
            400,
            "InvalidParameter",
        ),
        (
            vec![
                ("KeyId", key.clone()),
                ("Plaintext", "aGk=".into()),
                ("EncryptionContext", format!(r#"{{"a":"{}"}}"#, "x".repeat(8192))),
            ],
            400,
            "InvalidParameter",
        ),
        (
            vec![("KeyId", key.clone()), ("Plaintext", "aGk=".into()), ("DryRun", "perhaps".into())],
            400,
            "InvalidParameter",
        ),
    ];
    for (params, status, code) in cases {
        let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_error(&call(&c, "Encrypt", &p).await, status, code);
    }
    let r = call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(&[1; 6145]))]).await;
    assert_eq!(r.json()["Message"], "The specified parameter \"Plaintext\" is not valid.");
}

#[tokio::test]
async fn data_keys() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let ctx = r#"{"purpose":"envelope"}"#;
    for (params, len) in [
        (vec![], 32),
        (vec![("KeySpec", "AES_128")], 16),
        (vec![("KeySpec", "AES_256")], 32),
        (vec![("NumberOfBytes", "1")], 1),
        (vec![("NumberOfBytes", "1024"), ("KeySpec", "AES_128")], 1024),
    ] {
        let mut p = vec![("KeyId", key.as_str()), ("EncryptionContext", ctx)];
        p.extend(params);
        let dk = ok(&c, "GenerateDataKey", &p).await;
        let plain = unb64(dk["Plaintext"].as_str().unwrap());
        assert_eq!(plain.len(), len);
        assert_eq!(dk["KeyId"], key.as_str());
        let dec = ok(
            &c,
            "Decrypt",
            &[("CiphertextBlob", dk["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", ctx)],
        )
        .await;
        assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), plain);
        assert_eq!(dec["KeyVersionId"], dk["KeyVersionId"]);

        let without = ok(&c, "GenerateDataKeyWithoutPlaintext", &p).await;
        assert!(without.get("Plaintext").is_none());
        let dec = ok(
            &c,
            "Decrypt",
            &[("CiphertextBlob", without["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", ctx)],
        )
        .await;
        assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()).len(), len);
    }
    for action in ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"] {
        for (name, value) in [("NumberOfBytes", "0"), ("NumberOfBytes", "1025"), ("KeySpec", "AES_512")] {
            assert_error(&call(&c, action, &[("KeyId", &key), (name, value)]).await, 400, "InvalidParameter");
        }
        assert_error(&call(&c, action, &[("KeyId", "alias/none")]).await, 404, "Forbidden.AliasNotFound");
    }
    assert_error(
        &call(&c, "GenerateDataKey", &[("KeyId", &key), ("Recipient", "attestation")]).await,
        400,
        "InvalidParameter",
    );
}

#[tokio::test]
async fn dry_run_validates_and_answers_dry_run_operation_error() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    let blob = enc["CiphertextBlob"].as_str().unwrap();
    for (action, params) in [
        ("Encrypt", vec![("KeyId", key.as_str()), ("Plaintext", "aGk=")]),
        ("Decrypt", vec![("CiphertextBlob", blob)]),
        ("GenerateDataKey", vec![("KeyId", key.as_str())]),
        ("GenerateDataKeyWithoutPlaintext", vec![("KeyId", key.as_str())]),
    ] {
        let mut p = params.clone();
        p.push(("DryRun", "true"));
        let r = call(&c, action, &p).await;
        assert_error(&r, 400, "DryRunOperationError");
        assert!(r.json().get("Plaintext").is_none() && r.json().get("CiphertextBlob").is_none());
    }
    // A dry run of a call that would fail answers that failure.
    assert_error(
        &call(&c, "Encrypt", &[("KeyId", "alias/none"), ("Plaintext", "aGk="), ("DryRun", "true")]).await,
        404,
        "Forbidden.AliasNotFound",
    );
}

#[tokio::test]
async fn re_encrypt_moves_ciphertext_to_another_key_and_context() {
    let k = start();
    let c = k.client();
    let (src, dst) = (new_key(&c).await, new_key(&c).await);
    ok(&c, "CreateAlias", &[("AliasName", "alias/dst"), ("KeyId", &dst)]).await;
    let enc =
        ok(&c, "Encrypt", &[("KeyId", &src), ("Plaintext", "bW92ZSBtZQ=="), ("EncryptionContext", r#"{"a":"1"}"#)])
            .await;
    let blob = enc["CiphertextBlob"].as_str().unwrap();
    let re = ok(
        &c,
        "ReEncrypt",
        &[
            ("CiphertextBlob", blob),
            ("SourceEncryptionContext", r#"{"a":"1"}"#),
            ("DestinationKeyId", "alias/dst"),
            ("DestinationEncryptionContext", r#"{"b":"2"}"#),
        ],
    )
    .await;
    let dst_primary = ok(&c, "DescribeKey", &[("KeyId", &dst)]).await["KeyMetadata"]["PrimaryKeyVersion"].clone();
    assert_eq!(re["KeyId"], dst.as_str());
    assert_eq!(re["KeyVersionId"], dst_primary);
    let new_blob = re["CiphertextBlob"].as_str().unwrap();
    let dec = ok(&c, "Decrypt", &[("CiphertextBlob", new_blob), ("EncryptionContext", r#"{"b":"2"}"#)]).await;
    assert_eq!((dec["Plaintext"].as_str(), dec["KeyId"].as_str()), (Some("bW92ZSBtZQ=="), Some(dst.as_str())));
    // Only the destination context opens it.
    for wrong in [r#"{"a":"1"}"#, "{}"] {
        assert_error(
            &call(&c, "Decrypt", &[("CiphertextBlob", new_blob), ("EncryptionContext", wrong)]).await,
            400,
            "InvalidParameter",
        );
    }
    // The source context must be right; the source key must be usable; the destination must exist.
    assert_error(
        &call(&c, "ReEncrypt", &[("CiphertextBlob", blob), ("DestinationKeyId", &dst)]).await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &call(
            &c,
            "ReEncrypt",
            &[
                ("CiphertextBlob", blob),
                ("SourceEncryptionContext", r#"{"a":"1"}"#),
                ("DestinationKeyId", "alias/none"),
            ],
        )
        .await,
        404,
        "Forbidden.AliasNotFound",
    );
    ok(&c, "DisableKey", &[("KeyId", &src)]).await;
    let p = [("CiphertextBlob", blob), ("SourceEncryptionContext", r#"{"a":"1"}"#), ("DestinationKeyId", dst.as_str())];
    assert_error(&call(&c, "ReEncrypt", &p).await, 409, "Rejected.Disabled");
    ok(&c, "EnableKey", &[("KeyId", &src)]).await;
    ok(&c, "DisableKey", &[("KeyId", &dst)]).await;
    assert_error(&call(&c, "ReEncrypt", &p).await, 409, "Rejected.Disabled");
    ok(&c, "EnableKey", &[("KeyId", &dst)]).await;
    let mut dry = p.to_vec();
    dry.push(("DryRun", "true"));
    assert_error(&call(&c, "ReEncrypt", &dry).await, 400, "DryRunOperationError");
    // Naming a public-key source takes all three Source* parameters (tests/asymmetric.rs).
    let mut asym = p.to_vec();
    asym.push(("SourceKeyId", src.as_str()));
    assert_error(&call(&c, "ReEncrypt", &asym).await, 400, "MissingParameter");
    // A symmetric key as the public-key source cannot open a public-key ciphertext.
    let version = ok(&c, "DescribeKey", &[("KeyId", &src)]).await["KeyMetadata"]["PrimaryKeyVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    asym.push(("SourceKeyVersionId", version.as_str()));
    asym.push(("SourceEncryptionAlgorithm", "RSAES_OAEP_SHA_256"));
    assert_error(&call(&c, "ReEncrypt", &asym).await, 400, "UnsupportedOperation");
    assert_error(&call(&c, "ReEncrypt", &[("CiphertextBlob", blob)]).await, 400, "MissingParameter");
}

/// `Aliyun_SM4`, `Aliyun_AES_128` and `Aliyun_AES_192` keys serve every symmetric operation
/// in the one blob layout, and ciphertext moves between them and AES-256 keys with ReEncrypt.
#[tokio::test]
async fn every_symmetric_spec_serves_every_symmetric_operation() {
    let k = start();
    let c = k.client();
    for spec in ["Aliyun_SM4", "Aliyun_AES_128", "Aliyun_AES_192"] {
        symmetric_spec_round(&c, spec).await;
    }
}

async fn symmetric_spec_round(c: &Client, spec: &str) {
    let c = c.clone();
    let created = ok(&c, "CreateKey", &[("KeySpec", spec)]).await;
    assert_eq!(created["KeyMetadata"]["KeySpec"], spec);
    assert_eq!(created["KeyMetadata"]["KeyUsage"], "ENCRYPT/DECRYPT");
    let sm4 = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let ctx = r#"{"alg":"sm4"}"#;
    let enc =
        ok(&c, "Encrypt", &[("KeyId", &sm4), ("Plaintext", &b64(b"sm4 plaintext")), ("EncryptionContext", ctx)]).await;
    let blob = unb64(enc["CiphertextBlob"].as_str().unwrap());
    assert_eq!(blob.len(), 36 + 12 + 13 + 16);
    let dec =
        ok(&c, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", ctx)])
            .await;
    assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), b"sm4 plaintext");
    let mut bad = blob.clone();
    bad[50] ^= 1;
    assert_error(
        &call(&c, "Decrypt", &[("CiphertextBlob", &b64(&bad)), ("EncryptionContext", ctx)]).await,
        400,
        "InvalidParameter",
    );
    let dk = ok(&c, "GenerateDataKey", &[("KeyId", &sm4), ("NumberOfBytes", "16")]).await;
    let back = ok(&c, "Decrypt", &[("CiphertextBlob", dk["CiphertextBlob"].as_str().unwrap())]).await;
    assert_eq!(back["Plaintext"], dk["Plaintext"]);
    let without = ok(&c, "GenerateDataKeyWithoutPlaintext", &[("KeyId", &sm4)]).await;
    assert_eq!(
        unb64(
            ok(&c, "Decrypt", &[("CiphertextBlob", without["CiphertextBlob"].as_str().unwrap())]).await["Plaintext"]
                .as_str()
                .unwrap()
        )
        .len(),
        32
    );
    // A new version, and the old ciphertext still opens.
    ok(&c, "CreateKeyVersion", &[("KeyId", &sm4)]).await;
    ok(&c, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", ctx)]).await;
    // This spec → AES-256 → this spec.
    let aes = new_key(&c).await;
    let to_aes = ok(
        &c,
        "ReEncrypt",
        &[
            ("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap()),
            ("SourceEncryptionContext", ctx),
            ("DestinationKeyId", &aes),
        ],
    )
    .await;
    let to_sm4 = ok(
        &c,
        "ReEncrypt",
        &[("CiphertextBlob", to_aes["CiphertextBlob"].as_str().unwrap()), ("DestinationKeyId", &sm4)],
    )
    .await;
    assert_eq!(to_sm4["KeyId"], sm4.as_str());
    let last = ok(&c, "Decrypt", &[("CiphertextBlob", to_sm4["CiphertextBlob"].as_str().unwrap())]).await;
    assert_eq!(unb64(last["Plaintext"].as_str().unwrap()), b"sm4 plaintext");
    // They rotate like AES-256 keys.
    ok(&c, "UpdateRotationPolicy", &[("KeyId", &sm4), ("EnableAutomaticRotation", "true"), ("RotationInterval", "7d")])
        .await;
}
