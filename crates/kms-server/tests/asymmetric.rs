//! Asymmetric keys at the wire: every spec and usage creates, serves its public key, signs and
//! verifies or encrypts and decrypts through its named version; the limits and refusals of
//! spec §6.3/§7.5. (Signatures and ciphertexts checked by independent libraries: the SDK
//! suite, tests/sdk/python/test_asymmetric.py.)

mod common;

use common::*;

fn as_refs<'a>(p: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    p.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref().to_vec()
}

/// Creates a key of `spec`/`usage` and answers (key id, its one version id).
async fn key_of(c: &Client, spec: &str, usage: &str) -> (String, String) {
    let made = ok(c, "CreateKey", &[("KeySpec", spec), ("KeyUsage", usage)]).await;
    let meta = &made["KeyMetadata"];
    assert_eq!((meta["KeySpec"].as_str(), meta["KeyUsage"].as_str()), (Some(spec), Some(usage)));
    assert_eq!(meta["KeyState"], "Enabled");
    assert_eq!(meta["AutomaticRotation"], "Disabled");
    let key = meta["KeyId"].as_str().unwrap().to_owned();
    let listed = ok(c, "ListKeyVersions", &[("KeyId", &key)]).await;
    let versions = listed["KeyVersions"]["KeyVersion"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    let version = versions[0]["KeyVersionId"].as_str().unwrap().to_owned();
    assert_eq!(meta["PrimaryKeyVersion"], version.as_str());
    (key, version)
}

const SIGNING: [(&str, &[&str]); 5] = [
    ("RSA_2048", &["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"]),
    ("RSA_3072", &["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"]),
    ("EC_P256", &["ECDSA_SHA_256"]),
    ("EC_P256K", &["ECDSA_SHA_256"]),
    ("EC_SM2", &["SM2DSA"]),
];

const ENCRYPTING: [(&str, &[(&str, usize)]); 3] = [
    ("RSA_2048", &[("RSAES_OAEP_SHA_256", 190), ("RSAES_OAEP_SHA_1", 214)]),
    ("RSA_3072", &[("RSAES_OAEP_SHA_256", 318), ("RSAES_OAEP_SHA_1", 342)]),
    ("EC_SM2", &[("SM2PKE", 6047)]),
];

#[tokio::test]
async fn every_signing_spec_signs_and_verifies_through_its_version() {
    let k = start();
    let c = k.client();
    for (spec, algorithms) in SIGNING {
        let (key, version) = key_of(&c, spec, "SIGN/VERIFY").await;
        let pem = ok(&c, "GetPublicKey", &[("KeyId", &key), ("KeyVersionId", &version)]).await;
        let public = pem["PublicKey"].as_str().unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n") && public.ends_with("-----END PUBLIC KEY-----\n"));
        assert_eq!((pem["KeyId"].as_str(), pem["KeyVersionId"].as_str()), (Some(key.as_str()), Some(version.as_str())));
        let alias = format!("alias/sign-{}", spec.to_lowercase().replace('_', "-"));
        ok(&c, "CreateAlias", &[("AliasName", &alias), ("KeyId", &key)]).await;
        let by_alias = ok(&c, "GetPublicKey", &[("KeyId", &alias), ("KeyVersionId", &version)]).await;
        assert_eq!(by_alias["PublicKey"], pem["PublicKey"]);

        for alg in algorithms {
            let digest = b64(&sha256(format!("message for {spec} {alg}").as_bytes()));
            let base = [("KeyId", key.as_str()), ("KeyVersionId", version.as_str()), ("Algorithm", alg)];
            let with = |extra: &[(&'static str, &str)]| {
                let mut p: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.to_string())).collect();
                p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
                p
            };
            let signed = ok(&c, "AsymmetricSign", &as_refs(&with(&[("Digest", &digest)]))).await;
            assert_eq!(signed["KeyVersionId"], version.as_str());
            let signature = signed["Value"].as_str().unwrap().to_owned();
            let sig = unb64(&signature);
            if spec.starts_with("RSA_2048") {
                assert_eq!(sig.len(), 256);
            } else if spec.starts_with("RSA_3072") {
                assert_eq!(sig.len(), 384);
            } else {
                assert_eq!(sig[0], 0x30, "{spec}: DER SEQUENCE {{r, s}}");
            }
            let verify = |d: String, s: String| {
                let params = with(&[("Digest", &d), ("Value", &s)]);
                let c = c.clone();
                async move { ok(&c, "AsymmetricVerify", &as_refs(&params)).await["Value"].clone() }
            };
            assert_eq!(verify(digest.clone(), signature.clone()).await, serde_json::json!(true), "{spec} {alg}");
            let other = b64(&sha256(b"another message"));
            assert_eq!(verify(other, signature.clone()).await, serde_json::json!(false), "{spec} {alg}");
            let mut bent = sig.clone();
            let mid = bent.len() / 2;
            bent[mid] ^= 1;
            assert_eq!(verify(digest.clone(), b64(&bent)).await, serde_json::json!(false));
            assert_eq!(verify(digest.clone(), b64(b"not a signature")).await, serde_json::json!(false));

            // A digest that is not 32 bytes is refused, not signed.
            let r = call(&c, "AsymmetricSign", &as_refs(&with(&[("Digest", &b64(&[7u8; 31]))]))).await;
            assert_error(&r, 400, "InvalidParameter");
            // DryRun validates and answers whether the call would succeed.
            let r = call(&c, "AsymmetricSign", &as_refs(&with(&[("Digest", &digest), ("DryRun", "true")]))).await;
            assert_error(&r, 400, "DryRunOperationError");
        }
    }
}

#[tokio::test]
async fn every_encrypting_spec_round_trips_up_to_its_limit() {
    let k = start();
    let c = k.client();
    for (spec, algorithms) in ENCRYPTING {
        let (key, version) = key_of(&c, spec, "ENCRYPT/DECRYPT").await;
        for (alg, max) in algorithms {
            let base = vec![("KeyId", key.as_str()), ("KeyVersionId", version.as_str()), ("Algorithm", *alg)];
            let plaintext: Vec<u8> = (0..*max).map(|i| (i % 251) as u8).collect();
            let mut p = base.clone();
            let pt = b64(&plaintext);
            p.push(("Plaintext", &pt));
            let enc = ok(&c, "AsymmetricEncrypt", &p).await;
            assert_eq!(
                (enc["KeyId"].as_str(), enc["KeyVersionId"].as_str()),
                (Some(key.as_str()), Some(version.as_str()))
            );
            let blob = enc["CiphertextBlob"].as_str().unwrap().to_owned();
            let raw = unb64(&blob);
            if spec == "RSA_2048" {
                assert_eq!(raw.len(), 256);
            } else if spec == "RSA_3072" {
                assert_eq!(raw.len(), 384);
            } else {
                // GM/T 0009 DER: SEQUENCE { x, y, SM3 hash, ciphertext }, the plaintext's length
                // plus the point, the hash and at most 16 bytes of DER headers and sign bytes.
                assert!(raw[0] == 0x30 && raw.len() <= max + 64 + 32 + 16, "SM2: {} bytes", raw.len());
            }
            let mut d = base.clone();
            d.push(("CiphertextBlob", &blob));
            let dec = ok(&c, "AsymmetricDecrypt", &d).await;
            assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), plaintext, "{spec} {alg}");

            // One byte over the limit is refused.
            let over = b64(&vec![1u8; max + 1]);
            let mut p = base.clone();
            p.push(("Plaintext", &over));
            assert_error(&call(&c, "AsymmetricEncrypt", &p).await, 400, "InvalidParameter");
            // A ciphertext that does not decrypt: one answer, whatever the cause.
            let mut bent = raw.clone();
            let last = bent.len() - 1;
            bent[last] ^= 1;
            for bad in [b64(&bent), b64(b"short")] {
                let mut d = base.clone();
                d.push(("CiphertextBlob", &bad));
                let r = call(&c, "AsymmetricDecrypt", &d).await;
                assert_error(&r, 400, "InvalidParameter");
                assert!(r.json()["Message"].as_str().unwrap().contains("CiphertextBlob"), "{}", r.text());
            }
        }
    }
}

#[tokio::test]
async fn usage_spec_version_and_state_rules_are_enforced() {
    let k = start();
    let c = k.client();
    // Usage rules at creation (spec §6.1) and the defaults.
    assert_error(
        &call(&c, "CreateKey", &[("KeySpec", "EC_P256"), ("KeyUsage", "ENCRYPT/DECRYPT")]).await,
        400,
        "InvalidParameter",
    );
    let p256 = ok(&c, "CreateKey", &[("KeySpec", "EC_P256K")]).await;
    assert_eq!(p256["KeyMetadata"]["KeyUsage"], "SIGN/VERIFY");
    let rsa_default = ok(&c, "CreateKey", &[("KeySpec", "RSA_2048")]).await;
    assert_eq!(rsa_default["KeyMetadata"]["KeyUsage"], "ENCRYPT/DECRYPT");
    // Asymmetric keys do not rotate (CreateKey answers the plain form, spec §5.5).
    let r = call(
        &c,
        "CreateKey",
        &[("KeySpec", "EC_SM2"), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")],
    )
    .await;
    assert_error(&r, 400, "UnsupportedOperation");

    let (signer, signer_version) = key_of(&c, "RSA_2048", "SIGN/VERIFY").await;
    let (encrypter, encrypter_version) = key_of(&c, "EC_SM2", "ENCRYPT/DECRYPT").await;
    assert_error(&call(&c, "CreateKeyVersion", &[("KeyId", &signer)]).await, 400, "Rejected.UnsupportedOperation");
    let r = call(
        &c,
        "UpdateRotationPolicy",
        &[("KeyId", &signer), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")],
    )
    .await;
    assert_error(&r, 400, "Rejected.UnsupportedOperation");
    // Symmetric actions on an asymmetric key, and the reverse.
    assert_error(
        &call(&c, "Encrypt", &[("KeyId", &encrypter), ("Plaintext", "aGk=")]).await,
        400,
        "UnsupportedOperation",
    );
    let aes = new_key(&c).await;
    let aes_version = ok(&c, "DescribeKey", &[("KeyId", &aes)]).await["KeyMetadata"]["PrimaryKeyVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(&c, "GetPublicKey", &[("KeyId", &aes), ("KeyVersionId", &aes_version)]).await;
    assert_error(&r, 400, "UnsupportedOperation");

    let digest = b64(&sha256(b"m"));
    let sign = |key: &str, version: &str, alg: &str| {
        vec![
            ("KeyId", key.to_owned()),
            ("KeyVersionId", version.to_owned()),
            ("Algorithm", alg.to_owned()),
            ("Digest", digest.clone()),
        ]
    };
    let send = |action: &'static str, p: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(&c, action, &refs).await
        }
    };
    // The other usage's action; an algorithm of another spec; an unknown algorithm.
    assert_error(
        &send("AsymmetricSign", sign(&encrypter, &encrypter_version, "SM2DSA")).await,
        400,
        "UnsupportedOperation",
    );
    assert_error(
        &send("AsymmetricSign", sign(&signer, &signer_version, "ECDSA_SHA_256")).await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &send("AsymmetricSign", sign(&signer, &signer_version, "RSA_PSS_SHA_512")).await,
        400,
        "InvalidParameter",
    );
    let mut enc = sign(&encrypter, &encrypter_version, "RSAES_OAEP_SHA_256");
    enc[3] = ("Plaintext", "aGk=".into());
    assert_error(&send("AsymmetricEncrypt", enc).await, 400, "InvalidParameter");
    // An algorithm of the other family, even one the spec has: InvalidParameter, never a 500.
    assert_error(
        &send("AsymmetricSign", sign(&encrypter, &encrypter_version, "SM2PKE")).await,
        400,
        "InvalidParameter",
    );
    let mut verify = sign(&signer, &signer_version, "RSAES_OAEP_SHA_256");
    verify.push(("Value", "AAAA".into()));
    assert_error(&send("AsymmetricVerify", verify).await, 400, "InvalidParameter");
    let mut dec = sign(&encrypter, &encrypter_version, "SM2DSA");
    dec[3] = ("CiphertextBlob", "AAAA".into());
    assert_error(&send("AsymmetricDecrypt", dec).await, 400, "InvalidParameter");
    // AsymmetricEncrypt/Decrypt with a key that cannot: the `Rejected.` form (spec §5.5).
    let mut enc = sign(&signer, &signer_version, "RSAES_OAEP_SHA_256");
    enc[3] = ("Plaintext", "aGk=".into());
    assert_error(&send("AsymmetricEncrypt", enc).await, 400, "Rejected.UnsupportedOperation");
    let mut dec = sign(&aes, &aes_version, "RSAES_OAEP_SHA_256");
    dec[3] = ("CiphertextBlob", "AAAA".into());
    assert_error(&send("AsymmetricDecrypt", dec).await, 400, "Rejected.UnsupportedOperation");
    // Decrypt of a blob that names a key pair's version: not a symmetric ciphertext.
    let mut forged = encrypter_version.as_bytes().to_vec();
    forged.extend_from_slice(&[7u8; 40]);
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &b64(&forged))]).await, 400, "UnsupportedOperation");
    // A version of another key, or no version at all.
    assert_error(
        &send("AsymmetricSign", sign(&signer, &encrypter_version, "RSA_PSS_SHA_256")).await,
        404,
        "Forbidden.KeyVersionNotFound",
    );
    assert_error(
        &send("AsymmetricSign", sign(&signer, "not-a-version", "RSA_PSS_SHA_256")).await,
        404,
        "Forbidden.KeyVersionNotFound",
    );
    let mut no_version = sign(&signer, &signer_version, "RSA_PSS_SHA_256");
    no_version.remove(1);
    assert_error(&send("AsymmetricSign", no_version).await, 400, "MissingParameter");

    // Key states govern every asymmetric action (spec §5.4).
    ok(&c, "DisableKey", &[("KeyId", &signer)]).await;
    assert_error(
        &send("AsymmetricSign", sign(&signer, &signer_version, "RSA_PSS_SHA_256")).await,
        409,
        "Rejected.Disabled",
    );
    let r = call(&c, "GetPublicKey", &[("KeyId", &signer), ("KeyVersionId", &signer_version)]).await;
    assert_error(&r, 409, "Rejected.Disabled");
    ok(&c, "EnableKey", &[("KeyId", &signer)]).await;
    let signed = send("AsymmetricSign", sign(&signer, &signer_version, "RSA_PSS_SHA_256")).await;
    assert_eq!(signed.status, 200, "{}", signed.text());
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &signer), ("PendingWindowInDays", "7")]).await;
    assert_error(
        &send("AsymmetricSign", sign(&signer, &signer_version, "RSA_PSS_SHA_256")).await,
        409,
        "Rejected.PendingDeletion",
    );
}

/// XML renders the verify answer's boolean as text, as every other field.
#[tokio::test]
async fn verify_renders_in_xml() {
    let k = start();
    let c = k.client();
    let (key, version) = key_of(&c, "EC_P256", "SIGN/VERIFY").await;
    let digest = b64(&sha256(b"xml"));
    let base = [("KeyId", key.as_str()), ("KeyVersionId", version.as_str()), ("Algorithm", "ECDSA_SHA_256")];
    let mut p = base.to_vec();
    p.push(("Digest", &digest));
    let sig = ok(&c, "AsymmetricSign", &p).await["Value"].as_str().unwrap().to_owned();
    p.push(("Value", &sig));
    p.push(("Format", "XML"));
    let r = call(&c, "AsymmetricVerify", &p).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("<AsymmetricVerifyResponse>") && text.contains("<Value>true</Value>"), "{text}");
}

/// The DER SubjectPublicKeyInfo inside GetPublicKey's PEM, base64 (what `PublicKeyBlob` takes).
async fn public_key_blob(c: &Client, key: &str, version: &str) -> String {
    let pem = ok(c, "GetPublicKey", &[("KeyId", key), ("KeyVersionId", version)]).await;
    pem["PublicKey"].as_str().unwrap().lines().filter(|l| !l.starts_with("-----")).collect()
}

/// ExportDataKey and GenerateAndExportDataKey, to an RSA and an SM2 public key (here kmsd's
/// own asymmetric keys, so AsymmetricDecrypt can unwrap what was exported).
#[tokio::test]
async fn data_keys_export_to_a_public_key() {
    let k = start();
    let c = k.client();
    let aes = new_key(&c).await;
    for (spec, algorithm, limit) in
        [("RSA_2048", "RSAES_OAEP_SHA_256", 190), ("RSA_2048", "RSAES_OAEP_SHA_1", 214), ("EC_SM2", "SM2PKE", 1024)]
    {
        let (recipient, version) = key_of(&c, spec, "ENCRYPT/DECRYPT").await;
        let blob = public_key_blob(&c, &recipient, &version).await;
        let wrap = [("PublicKeyBlob", blob.as_str()), ("WrappingAlgorithm", algorithm), ("WrappingKeySpec", spec)];
        let unwrap = |exported: String| {
            let (c, recipient, version) = (c.clone(), recipient.clone(), version.clone());
            async move {
                let p = [
                    ("KeyId", recipient.as_str()),
                    ("KeyVersionId", version.as_str()),
                    ("Algorithm", algorithm),
                    ("CiphertextBlob", exported.as_str()),
                ];
                unb64(ok(&c, "AsymmetricDecrypt", &p).await["Plaintext"].as_str().unwrap())
            }
        };

        // ExportDataKey: the data key of a GenerateDataKey blob, under its context.
        let dk = ok(&c, "GenerateDataKey", &[("KeyId", &aes), ("EncryptionContext", r#"{"app":"x"}"#)]).await;
        let mut p =
            vec![("CiphertextBlob", dk["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", r#"{"app":"x"}"#)];
        p.extend_from_slice(&wrap);
        let exported = ok(&c, "ExportDataKey", &p).await;
        assert_eq!(
            (exported["KeyId"].as_str(), exported["KeyVersionId"].clone()),
            (Some(aes.as_str()), dk["KeyVersionId"].clone())
        );
        let data_key = unb64(dk["Plaintext"].as_str().unwrap());
        assert_eq!(
            unwrap(exported["ExportedDataKey"].as_str().unwrap().to_owned()).await,
            data_key,
            "{spec} {algorithm}"
        );
        // The wrong context opens nothing.
        p[1] = ("EncryptionContext", r#"{"app":"y"}"#);
        assert_error(&call(&c, "ExportDataKey", &p).await, 400, "InvalidParameter");

        // GenerateAndExportDataKey: the blob decrypts to the key that was exported.
        let n = limit.min(64).to_string();
        let mut g = vec![("KeyId", aes.as_str()), ("NumberOfBytes", n.as_str())];
        g.extend_from_slice(&wrap);
        let made = ok(&c, "GenerateAndExportDataKey", &g).await;
        assert!(made.get("Plaintext").is_none());
        let inside = unb64(
            ok(&c, "Decrypt", &[("CiphertextBlob", made["CiphertextBlob"].as_str().unwrap())]).await["Plaintext"]
                .as_str()
                .unwrap(),
        );
        assert_eq!(inside.len(), limit.min(64));
        assert_eq!(unwrap(made["ExportedDataKey"].as_str().unwrap().to_owned()).await, inside);
        if limit < 1024 {
            // A data key longer than the wrapping algorithm takes.
            let over = (limit + 1).to_string();
            let mut g = vec![("KeyId", aes.as_str()), ("NumberOfBytes", over.as_str())];
            g.extend_from_slice(&wrap);
            assert_error(&call(&c, "GenerateAndExportDataKey", &g).await, 400, "InvalidParameter");
        }
    }

    // Wrapping parameters that do not fit together, or a public key that is not of the spec.
    let (rsa, rsa_version) = key_of(&c, "RSA_3072", "ENCRYPT/DECRYPT").await;
    let rsa3072 = public_key_blob(&c, &rsa, &rsa_version).await;
    for (blob, algorithm, spec) in [
        (rsa3072.as_str(), "RSAES_OAEP_SHA_256", "RSA_2048"),
        (rsa3072.as_str(), "SM2PKE", "RSA_2048"),
        (rsa3072.as_str(), "RSAES_OAEP_SHA_256", "RSA_3072"),
        (rsa3072.as_str(), "RSA_PSS_SHA_256", "RSA_2048"),
        ("AAAA", "RSAES_OAEP_SHA_256", "RSA_2048"),
        (rsa3072.as_str(), "SM2PKE", "EC_SM2"),
    ] {
        let g = [
            ("KeyId", aes.as_str()),
            ("PublicKeyBlob", blob),
            ("WrappingAlgorithm", algorithm),
            ("WrappingKeySpec", spec),
        ];
        let r = call(&c, "GenerateAndExportDataKey", &g).await;
        assert_error(&r, 400, "InvalidParameter");
    }
}

/// ReEncrypt from a public-key ciphertext: SourceKeyId, SourceKeyVersionId and
/// SourceEncryptionAlgorithm name the asymmetric key version that opens it.
#[tokio::test]
async fn re_encrypt_takes_a_public_key_source() {
    let k = start();
    let c = k.client();
    let aes = new_key(&c).await;
    let (rsa, version) = key_of(&c, "RSA_2048", "ENCRYPT/DECRYPT").await;
    let secret = b64(b"moved from RSA to AES");
    let enc = ok(
        &c,
        "AsymmetricEncrypt",
        &[("KeyId", &rsa), ("KeyVersionId", &version), ("Algorithm", "RSAES_OAEP_SHA_256"), ("Plaintext", &secret)],
    )
    .await;
    let source = enc["CiphertextBlob"].as_str().unwrap();
    let p = [
        ("CiphertextBlob", source),
        ("SourceKeyId", rsa.as_str()),
        ("SourceKeyVersionId", version.as_str()),
        ("SourceEncryptionAlgorithm", "RSAES_OAEP_SHA_256"),
        ("DestinationKeyId", aes.as_str()),
        ("DestinationEncryptionContext", r#"{"to":"aes"}"#),
    ];
    let moved = ok(&c, "ReEncrypt", &p).await;
    assert_eq!(moved["KeyId"], aes.as_str());
    let back = ok(
        &c,
        "Decrypt",
        &[("CiphertextBlob", moved["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", r#"{"to":"aes"}"#)],
    )
    .await;
    assert_eq!(back["Plaintext"], secret.as_str());
    // All three Source* or none; the algorithm must be one that encrypts.
    assert_error(
        &call(&c, "ReEncrypt", &p[..2].iter().chain(&p[4..]).copied().collect::<Vec<_>>()).await,
        400,
        "MissingParameter",
    );
    let mut wrong = p;
    wrong[3] = ("SourceEncryptionAlgorithm", "RSA_PSS_SHA_256");
    assert_error(&call(&c, "ReEncrypt", &wrong).await, 400, "InvalidParameter");
    wrong[3] = ("SourceEncryptionAlgorithm", "RSAES_OAEP_SHA_1");
    assert_error(&call(&c, "ReEncrypt", &wrong).await, 400, "InvalidParameter");
}

/// Signatures made outside kmsd verify with AsymmetricVerify: `openssl` signs with the
/// version's private key, read back from the store and unwrapped with the root-key file (a
/// white-box test: nothing else can hold a kmsd private key, as the cloud does not import
/// asymmetric material into default keys).
#[tokio::test]
async fn signatures_made_by_openssl_verify() {
    use kms_crypto::{MaterialLabel, RootKey as _};
    let k = start();
    let c = k.client();
    // Records name the root key that wrapped them; the ring reads that name.
    let root = kms_crypto::RootKeyRing::new(std::sync::Arc::new(
        kms_crypto::soft::SoftRootKey::load(&k.data_dir.join("root.key")).unwrap(),
    ));
    let tmp = tempfile::tempdir().unwrap();
    for (spec, algorithms) in SIGNING {
        let (key, version) = key_of(&c, spec, "SIGN/VERIFY").await;
        let materials = stored_materials(&k.data_dir, &key);
        let (key_id, version_id) =
            (kms_types::KeyId::parse(&key).unwrap(), kms_types::KeyVersionId::parse(&version).unwrap());
        let label = MaterialLabel { key_id: &key_id, version_id: &version_id, spec: spec.parse().unwrap() };
        let pkcs8 = root.unwrap(&label.aad(), &materials[0]).unwrap();
        let key_file = tmp.path().join(format!("{spec}.der"));
        std::fs::write(&key_file, &*pkcs8).unwrap();
        for alg in algorithms {
            let digest = sha256(format!("signed by openssl: {spec} {alg}").as_bytes());
            let digest_file = tmp.path().join("digest.bin");
            std::fs::write(&digest_file, &digest).unwrap();
            let mut args = vec!["pkeyutl", "-sign", "-keyform", "DER", "-inkey", key_file.to_str().unwrap()];
            args.extend(["-in", digest_file.to_str().unwrap()]);
            match *alg {
                "RSA_PSS_SHA_256" => args.extend([
                    "-pkeyopt",
                    "digest:sha256",
                    "-pkeyopt",
                    "rsa_padding_mode:pss",
                    "-pkeyopt",
                    "rsa_pss_saltlen:32",
                ]),
                "RSA_PKCS1_SHA_256" => args.extend(["-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pkcs1"]),
                "ECDSA_SHA_256" => args.extend(["-pkeyopt", "digest:sha256"]),
                _ => {} // SM2: the input is the digest e = SM3(Z ‖ M) itself
            }
            let out = std::process::Command::new("openssl").args(&args).output().expect("the openssl command");
            assert!(out.status.success(), "{spec} {alg}: {}", String::from_utf8_lossy(&out.stderr));
            let signature = b64(&out.stdout);
            let verify = |d: Vec<u8>| {
                let (c, key, version, signature) = (c.clone(), key.clone(), version.clone(), signature.clone());
                async move {
                    let p = [
                        ("KeyId", key.as_str()),
                        ("KeyVersionId", version.as_str()),
                        ("Algorithm", *alg),
                        ("Digest", &b64(&d)),
                        ("Value", &signature),
                    ];
                    ok(&c, "AsymmetricVerify", &p).await["Value"].clone()
                }
            };
            assert_eq!(verify(digest.clone()).await, serde_json::json!(true), "{spec} {alg}");
            assert_eq!(verify(sha256(b"something else")).await, serde_json::json!(false), "{spec} {alg}");
        }
    }
}
