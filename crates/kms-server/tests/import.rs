//! Bring your own key at the wire: EXTERNAL keys, import tokens, every wrapping algorithm,
//! material rules (length, the same material again), expiry on the dev clock, deletion of
//! material, and a ciphertext built off-line from the imported material with the §8.1 layout.

mod common;

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, Algorithm, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey,
};
use common::*;

async fn external_key(c: &Client, spec: &str) -> (String, String) {
    let made = ok(c, "CreateKey", &[("KeySpec", spec), ("Origin", "EXTERNAL")]).await;
    let meta = &made["KeyMetadata"];
    assert_eq!((meta["Origin"].as_str(), meta["KeyState"].as_str()), (Some("EXTERNAL"), Some("PendingImport")));
    (meta["KeyId"].as_str().unwrap().to_owned(), meta["PrimaryKeyVersion"].as_str().unwrap().to_owned())
}

/// GetParametersForImport, then `material` wrapped as the algorithm says: (token, wrapped).
async fn wrap_for_import(c: &Client, key: &str, algorithm: &str, material: &[u8]) -> (String, String) {
    let spec = if algorithm == "SM2PKE" { "EC_SM2" } else { "RSA_2048" };
    let params =
        ok(c, "GetParametersForImport", &[("KeyId", key), ("WrappingAlgorithm", algorithm), ("WrappingKeySpec", spec)])
            .await;
    assert_eq!(params["KeyId"], key);
    assert!(params["TokenExpireTime"].as_str().unwrap().ends_with('Z'));
    let public = unb64(params["PublicKey"].as_str().unwrap());
    assert_eq!(public[0], 0x30, "base64 DER SubjectPublicKeyInfo, no PEM armour");
    let wrapped = match algorithm {
        "SM2PKE" => kms_crypto::public::encrypt(
            &public,
            kms_types::KeySpec::EcSm2,
            kms_types::AsymmetricAlgorithm::Sm2Pke,
            material,
        )
        .unwrap(),
        "RSAES_PKCS1_V1_5" => {
            let k = Pkcs1PublicEncryptingKey::new(PublicEncryptingKey::from_der(&public).unwrap()).unwrap();
            let mut out = vec![0u8; k.ciphertext_size()];
            k.encrypt(material, &mut out).unwrap().to_vec()
        }
        _ => {
            let alg = if algorithm == "RSAES_OAEP_SHA_256" { &OAEP_SHA256_MGF1SHA256 } else { &OAEP_SHA1_MGF1SHA1 };
            let k = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&public).unwrap()).unwrap();
            let mut out = vec![0u8; k.ciphertext_size()];
            k.encrypt(alg, material, &mut out, None).unwrap().to_vec()
        }
    };
    (params["ImportToken"].as_str().unwrap().to_owned(), b64(&wrapped))
}

async fn import(c: &Client, key: &str, token: &str, wrapped: &str, expire: &str) -> Resp {
    call(
        c,
        "ImportKeyMaterial",
        &[("KeyId", key), ("ImportToken", token), ("EncryptedKeyMaterial", wrapped), ("KeyMaterialExpireUnix", expire)],
    )
    .await
}

async fn state(c: &Client, key: &str) -> serde_json::Value {
    ok(c, "DescribeKey", &[("KeyId", key)]).await["KeyMetadata"].clone()
}

/// A blob made off-line, as spec §8.1 lays it out: version id ‖ IV ‖ AES-256-GCM(material).
fn offline_blob(version: &str, material: &[u8], context_json: &str, plaintext: &[u8]) -> String {
    offline_blob_with(&AES_256_GCM, version, material, context_json, plaintext)
}

fn offline_blob_with(
    alg: &'static Algorithm,
    version: &str,
    material: &[u8],
    context_json: &str,
    plaintext: &[u8],
) -> String {
    let key = LessSafeKey::new(UnboundKey::new(alg, material).unwrap());
    let iv = [7u8; 12];
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(context_json.as_bytes()), &mut sealed)
        .unwrap();
    let mut blob = version.as_bytes().to_vec();
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&sealed);
    b64(&blob)
}

#[tokio::test]
async fn imported_material_encrypts_and_decrypts_like_the_callers_own() {
    let k = start();
    let c = k.client();
    for (i, algorithm) in ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "SM2PKE"].iter().enumerate() {
        let material = [i as u8 + 1; 32];
        let (key, version) = external_key(&c, "Aliyun_AES_256").await;
        assert_error(
            &call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await,
            409,
            "Rejected.PendingImport",
        );
        let (token, wrapped) = wrap_for_import(&c, &key, algorithm, &material).await;
        let r = import(&c, &key, &token, &wrapped, "0").await;
        assert_eq!(r.status, 200, "{algorithm}: {}", r.text());
        let meta = state(&c, &key).await;
        assert_eq!((meta["KeyState"].as_str(), meta["MaterialExpireTime"].as_str()), (Some("Enabled"), Some("")));

        // kmsd's ciphertext and one built off-line from the same material both decrypt.
        let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(b"hello"))]).await;
        let dec = ok(&c, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await;
        assert_eq!(dec["Plaintext"], b64(b"hello").as_str());
        let offline = offline_blob(&version, &material, r#"{"app":"offline"}"#, b"made elsewhere");
        let dec =
            ok(&c, "Decrypt", &[("CiphertextBlob", &offline), ("EncryptionContext", r#"{"app":"offline"}"#)]).await;
        assert_eq!(
            (dec["Plaintext"].as_str(), dec["KeyId"].as_str()),
            (Some(b64(b"made elsewhere").as_str()), Some(key.as_str()))
        );
    }
}

/// AES-128 and AES-192 keys take material of their own length only; AES-128 ciphertext made
/// off-line from the same material decrypts (the one blob layout for every spec).
#[tokio::test]
async fn aes_128_and_192_keys_import_material_of_their_length() {
    let k = start();
    let c = k.client();
    for (spec, len) in [("Aliyun_AES_128", 16), ("Aliyun_AES_192", 24)] {
        let (key, version) = external_key(&c, spec).await;
        for wrong in [16, 24, 32].into_iter().filter(|l| *l != len) {
            let (token, wrapped) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &vec![3u8; wrong]).await;
            let r = import(&c, &key, &token, &wrapped, "0").await;
            assert_error(&r, 400, "InvalidKeyMaterial");
        }
        assert_eq!(state(&c, &key).await["KeyState"], "PendingImport");
        let material = vec![5u8; len];
        let (token, wrapped) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &material).await;
        assert_eq!(import(&c, &key, &token, &wrapped, "0").await.status, 200, "{spec}");
        let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(b"sized"))]).await;
        let dec = ok(&c, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await;
        assert_eq!(dec["Plaintext"], b64(b"sized").as_str());
        if len == 16 {
            let ctx = r#"{"app":"offline"}"#;
            let offline = offline_blob_with(&AES_128_GCM, &version, &material, ctx, b"made elsewhere");
            let dec = ok(&c, "Decrypt", &[("CiphertextBlob", &offline), ("EncryptionContext", ctx)]).await;
            assert_eq!(dec["Plaintext"], b64(b"made elsewhere").as_str());
        }
    }
}

#[tokio::test]
async fn material_rules_tokens_and_deletion() {
    let k = start();
    let c = k.client();
    let material = [0x42u8; 32];
    let (key, version) = external_key(&c, "Aliyun_AES_256").await;

    // Not an EXTERNAL key; no rotation for imported material.
    let own = new_key(&c).await;
    let r = call(
        &c,
        "GetParametersForImport",
        &[("KeyId", &own), ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"), ("WrappingKeySpec", "RSA_2048")],
    )
    .await;
    assert_error(&r, 400, "Unsupported.Origin");
    assert_error(&call(&c, "DeleteKeyMaterial", &[("KeyId", &own)]).await, 400, "Unsupported.Origin");
    assert_error(&call(&c, "CreateKeyVersion", &[("KeyId", &key)]).await, 409, "Rejected.PendingImport");
    let r = call(
        &c,
        "CreateKey",
        &[("Origin", "EXTERNAL"), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")],
    )
    .await;
    assert_error(&r, 400, "UnsupportedOperation");
    let r = call(&c, "CreateKey", &[("Origin", "EXTERNAL"), ("KeySpec", "RSA_2048")]).await;
    assert_error(&r, 400, "UnsupportedOperation");

    // Wrong length, a token of another key, a token that is not one, a past expiry.
    let (token, short) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &[1u8; 16]).await;
    assert_error(&import(&c, &key, &token, &short, "0").await, 400, "InvalidKeyMaterial");
    let (other, _) = external_key(&c, "Aliyun_AES_256").await;
    let (other_token, other_wrapped) = wrap_for_import(&c, &other, "RSAES_OAEP_SHA_256", &material).await;
    assert_error(&import(&c, &key, &other_token, &other_wrapped, "0").await, 400, "InvalidImportToken");
    assert_error(&import(&c, &key, "bm90IGEgdG9rZW4=", &other_wrapped, "0").await, 400, "InvalidImportToken");
    let mut bent = unb64(&token);
    bent[20] ^= 1;
    assert_error(&import(&c, &key, &b64(&bent), &short, "0").await, 400, "InvalidImportToken");
    let (token, wrapped) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &material).await;
    assert_error(&import(&c, &key, &token, &wrapped, "1000").await, 400, "InvalidParameter");
    // Material wrapped for another token's key pair does not open.
    assert_error(&import(&c, &key, &token, &other_wrapped, "0").await, 400, "InvalidKeyMaterial");
    assert_eq!(state(&c, &key).await["KeyState"], "PendingImport");

    assert_eq!(import(&c, &key, &token, &wrapped, "0").await.status, 200);
    let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(b"kept"))]).await;
    let blob = enc["CiphertextBlob"].as_str().unwrap().to_owned();
    assert_eq!(enc["KeyVersionId"], version.as_str());
    // The same material again is fine; other material is refused while it is there and after.
    assert_eq!(import(&c, &key, &token, &wrapped, "0").await.status, 200);
    let (t2, different) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_1", &[0x43u8; 32]).await;
    assert_error(&import(&c, &key, &t2, &different, "0").await, 400, "InvalidKeyMaterial");

    // Deleting the material: PendingImport, nothing decrypts, the stored material is gone.
    ok(&c, "DeleteKeyMaterial", &[("KeyId", &key)]).await;
    assert_eq!(state(&c, &key).await["KeyState"], "PendingImport");
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await, 409, "Rejected.PendingImport");
    assert!(stored_materials(&k.data_dir, &key).iter().all(|m| m.is_empty()));
    assert_error(&call(&c, "EnableKey", &[("KeyId", &key)]).await, 409, "Rejected.StateModifiedFailed");
    assert_error(&import(&c, &key, &t2, &different, "0").await, 400, "InvalidKeyMaterial");
    // The same material brings the key and its old ciphertext back.
    let (t3, again) = wrap_for_import(&c, &key, "SM2PKE", &material).await;
    assert_eq!(import(&c, &key, &t3, &again, "0").await.status, 200);
    assert_eq!(ok(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await["Plaintext"], b64(b"kept").as_str());

    // The same material imported into a second key: each key's ciphertext names its own key.
    let (second, _) = external_key(&c, "Aliyun_AES_256").await;
    let (t4, w4) = wrap_for_import(&c, &second, "RSAES_OAEP_SHA_256", &material).await;
    assert_eq!(import(&c, &second, &t4, &w4, "0").await.status, 200);
    let enc2 = ok(&c, "Encrypt", &[("KeyId", &second), ("Plaintext", &b64(b"second"))]).await;
    let dec2 = ok(&c, "Decrypt", &[("CiphertextBlob", enc2["CiphertextBlob"].as_str().unwrap())]).await;
    assert_eq!(dec2["KeyId"], second.as_str());
    assert_eq!(ok(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await["KeyId"], key.as_str());

    // SM4 keys take 16 bytes.
    let (sm4, _) = external_key(&c, "Aliyun_SM4").await;
    let (t5, w5) = wrap_for_import(&c, &sm4, "RSAES_OAEP_SHA_256", &[9u8; 16]).await;
    assert_eq!(import(&c, &sm4, &t5, &w5, "0").await.status, 200);
    assert_eq!(state(&c, &sm4).await["KeyState"], "Enabled");

    // A key pending deletion keeps its state when its material goes.
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &sm4), ("PendingWindowInDays", "7")]).await;
    let (t6, w6) = wrap_for_import(&c, &sm4, "RSAES_OAEP_SHA_256", &[9u8; 16]).await;
    assert_error(&import(&c, &sm4, &t6, &w6, "0").await, 409, "Rejected.StateModifiedFailed");
    ok(&c, "DeleteKeyMaterial", &[("KeyId", &sm4)]).await;
    assert_eq!(state(&c, &sm4).await["KeyState"], "PendingDeletion");
}

/// CancelKeyDeletion restores an `EXTERNAL` key to what its material allows: `PendingImport`
/// without material (never imported, or deleted while pending deletion), `Enabled` with.
#[tokio::test]
async fn restored_external_keys_without_material_wait_for_it() {
    let k = start();
    let c = k.client();
    let (sm4, _) = external_key(&c, "Aliyun_SM4").await;
    let (t5, w5) = wrap_for_import(&c, &sm4, "RSAES_OAEP_SHA_256", &[9u8; 16]).await;
    // KeyMaterialExpireUnix is required (0: never expires).
    let r =
        call(&c, "ImportKeyMaterial", &[("KeyId", &sm4), ("ImportToken", &t5), ("EncryptedKeyMaterial", &w5)]).await;
    assert_error(&r, 400, "MissingParameter");
    assert_eq!(import(&c, &sm4, &t5, &w5, "0").await.status, 200);
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &sm4), ("PendingWindowInDays", "7")]).await;
    ok(&c, "DeleteKeyMaterial", &[("KeyId", &sm4)]).await;
    ok(&c, "CancelKeyDeletion", &[("KeyId", &sm4)]).await;
    assert_eq!(state(&c, &sm4).await["KeyState"], "PendingImport");
    assert_error(&call(&c, "Encrypt", &[("KeyId", &sm4), ("Plaintext", "aGk=")]).await, 409, "Rejected.PendingImport");
    let (t7, w7) = wrap_for_import(&c, &sm4, "RSAES_OAEP_SHA_256", &[9u8; 16]).await;
    assert_eq!(import(&c, &sm4, &t7, &w7, "0").await.status, 200);
    assert_eq!(state(&c, &sm4).await["KeyState"], "Enabled");
    // Likewise a key that never had material; one with material comes back Enabled.
    let (never, _) = external_key(&c, "Aliyun_AES_256").await;
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &never), ("PendingWindowInDays", "7")]).await;
    ok(&c, "CancelKeyDeletion", &[("KeyId", &never)]).await;
    assert_eq!(state(&c, &never).await["KeyState"], "PendingImport");
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &sm4), ("PendingWindowInDays", "7")]).await;
    ok(&c, "CancelKeyDeletion", &[("KeyId", &sm4)]).await;
    assert_eq!(state(&c, &sm4).await["KeyState"], "Enabled");
}

/// Material expiry and token lifetime on the dev clock.
#[tokio::test]
async fn material_expires_and_tokens_last_a_day() {
    let k = dev_clock();
    let c = k.client();
    // The dev clock runs with real time plus what was advanced (nothing yet).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let material = [0x55u8; 32];
    let (key, _) = external_key(&c, "Aliyun_AES_256").await;
    let (token, wrapped) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &material).await;
    let expire = (now + 3600).to_string();
    assert_eq!(import(&c, &key, &token, &wrapped, &expire).await.status, 200);
    let meta = state(&c, &key).await;
    assert_eq!(meta["KeyState"], "Enabled");
    assert!(meta["MaterialExpireTime"].as_str().unwrap().ends_with('Z'));
    ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;

    advance(&c, 3601).await;
    let meta = state(&c, &key).await;
    assert_eq!((meta["KeyState"].as_str(), meta["MaterialExpireTime"].as_str()), (Some("PendingImport"), Some("")));
    assert_error(&call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await, 409, "Rejected.PendingImport");

    // The token is good for 24 hours from GetParametersForImport, then expired.
    let (token, wrapped) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &material).await;
    advance(&c, 24 * 3600 + 1).await;
    assert_error(&import(&c, &key, &token, &wrapped, "0").await, 400, "ExpiredImportToken");
    let (token, wrapped) = wrap_for_import(&c, &key, "RSAES_OAEP_SHA_256", &material).await;
    assert_eq!(import(&c, &key, &token, &wrapped, "0").await.status, 200);
    assert_eq!(state(&c, &key).await["KeyState"], "Enabled");
}
