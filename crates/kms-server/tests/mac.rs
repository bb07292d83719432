//! HMAC keys at the wire: CreateKey with the HMAC specs, GenerateMac and VerifyMac, and what
//! HMAC keys refuse (spec §7.6, docs/design/surface.md §1).

mod common;

use common::*;

const SPECS: [(&str, usize); 5] =
    [("HMAC_SM3", 32), ("HMAC_SHA_224", 28), ("HMAC_SHA_256", 32), ("HMAC_SHA_384", 48), ("HMAC_SHA_512", 64)];

async fn hmac_key(c: &Client, spec: &str) -> String {
    let m = ok(c, "CreateKey", &[("KeySpec", spec)]).await;
    m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

async fn mac(c: &Client, key: &str, alg: &str, message: &[u8]) -> Vec<u8> {
    let r = ok(c, "GenerateMac", &[("KeyId", key), ("Algorithm", alg), ("Message", &b64(message))]).await;
    assert_eq!(r["Algorithm"], alg);
    unb64(r["Mac"].as_str().unwrap())
}

async fn verify(c: &Client, key: &str, alg: &str, message: &[u8], mac: &[u8]) -> bool {
    let params = [("KeyId", key), ("Algorithm", alg), ("Message", &b64(message)), ("Mac", &b64(mac))];
    let r = ok(c, "VerifyMac", &params).await;
    assert_eq!(r["Algorithm"], alg);
    r["Value"].as_bool().expect("Value is a JSON boolean")
}

#[tokio::test]
async fn every_hmac_spec_macs_deterministically_and_verifies_only_its_own() {
    let k = start();
    let c = k.client();
    for (spec, len) in SPECS {
        let created = ok(&c, "CreateKey", &[("KeySpec", spec)]).await;
        let m = &created["KeyMetadata"];
        assert_eq!((m["KeySpec"].as_str(), m["KeyUsage"].as_str()), (Some(spec), Some("GENERATE/VERIFY_MAC")));
        assert_eq!(m["AutomaticRotation"], "Disabled");
        let key = m["KeyId"].as_str().unwrap();
        let other = hmac_key(&c, spec).await;

        let first = mac(&c, key, spec, b"the message").await;
        assert_eq!(first.len(), len, "{spec}");
        assert_eq!(mac(&c, key, spec, b"the message").await, first, "{spec}: deterministic");
        assert!(verify(&c, key, spec, b"the message", &first).await);
        // Another message, another key, a flipped bit, a truncated MAC: all `false`.
        assert!(!verify(&c, key, spec, b"the messagf", &first).await);
        assert_ne!(mac(&c, &other, spec, b"the message").await, first);
        assert!(!verify(&c, &other, spec, b"the message", &first).await);
        let mut flipped = first.clone();
        flipped[len - 1] ^= 0x80;
        assert!(!verify(&c, key, spec, b"the message", &flipped).await);
        assert!(!verify(&c, key, spec, b"the message", &first[..len - 1]).await);
        // The answer names the real key id when an alias was used.
        let alias = format!("alias/mac-{}", spec.to_lowercase().replace('_', "-"));
        ok(&c, "CreateAlias", &[("AliasName", &alias), ("KeyId", key)]).await;
        let r =
            ok(&c, "GenerateMac", &[("KeyId", &alias), ("Algorithm", spec), ("Message", &b64(b"the message"))]).await;
        assert_eq!((r["KeyId"].as_str(), unb64(r["Mac"].as_str().unwrap())), (Some(key), first));
    }
    // The other spellings of the spec names make the canonical spec.
    for (asked, canonical) in [("HMAC_SHA256", "HMAC_SHA_256"), ("HMAC_512", "HMAC_SHA_512")] {
        let m = ok(&c, "CreateKey", &[("KeySpec", asked), ("KeyUsage", "GENERATE_VERIFY_MAC")]).await;
        assert_eq!(m["KeyMetadata"]["KeySpec"], canonical);
        assert_eq!(m["KeyMetadata"]["KeyUsage"], "GENERATE/VERIFY_MAC");
    }
    // ListKeys filters by the HMAC spec and usage like any other.
    let filters = r#"[{"Key":"KeySpec","Values":["HMAC_SHA_384"]}]"#;
    assert_eq!(ok(&c, "ListKeys", &[("Filters", filters)]).await["TotalCount"], 2);
}

#[tokio::test]
async fn mac_requests_are_checked_with_the_documented_codes() {
    let k = start();
    let c = k.client();
    let key = hmac_key(&c, "HMAC_SHA_256").await;
    let msg = b64(b"m");
    let send = |action: &'static str, params: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(&c, action, &p).await
        }
    };
    let good = |alg: &str| vec![("KeyId", key.clone()), ("Algorithm", alg.to_owned()), ("Message", msg.clone())];
    // The algorithm is the key's own; another HMAC algorithm or an unknown one is a bad parameter.
    assert_error(&send("GenerateMac", good("HMAC_SHA_512")).await, 400, "InvalidParameter");
    assert_error(&send("GenerateMac", good("HMAC_MD5")).await, 400, "InvalidParameter");
    let mut v = good("HMAC_SHA_384");
    v.push(("Mac", b64(&[0; 48])));
    assert_error(&send("VerifyMac", v).await, 400, "InvalidParameter");
    for missing in 0..3 {
        let mut p = good("HMAC_SHA_256");
        p.remove(missing);
        assert_error(&send("GenerateMac", p).await, 400, "MissingParameter");
    }
    assert_error(&send("VerifyMac", good("HMAC_SHA_256")).await, 400, "MissingParameter");
    // Message: base64 of 1 to 6144 bytes.
    let with_message = |m: String| vec![("KeyId", key.clone()), ("Algorithm", "HMAC_SHA_256".into()), ("Message", m)];
    assert_error(&send("GenerateMac", with_message("%%%".into())).await, 400, "InvalidParameter");
    assert_error(&send("GenerateMac", with_message(b64(&[7; 6145]))).await, 400, "InvalidParameter");
    let longest = send("GenerateMac", with_message(b64(&[7; 6144]))).await;
    assert_eq!(longest.status, 200, "{}", longest.text());
    let mut bad_mac = good("HMAC_SHA_256");
    bad_mac.push(("Mac", "not base64!".into()));
    assert_error(&send("VerifyMac", bad_mac).await, 400, "InvalidParameter");
    // DryRun validates and says whether the call would have succeeded.
    let mut dry = good("HMAC_SHA_256");
    dry.push(("DryRun", "true".into()));
    assert_error(&send("GenerateMac", dry).await, 400, "DryRunOperationError");
    let mut dry = good("HMAC_SHA_512");
    dry.push(("DryRun", "true".into()));
    assert_error(&send("GenerateMac", dry).await, 400, "InvalidParameter");
    // Unknown keys and aliases.
    let mut gone = good("HMAC_SHA_256");
    gone[0].1 = "11111111-2222-3333-4444-555555555555".into();
    assert_error(&send("GenerateMac", gone).await, 404, "Forbidden.KeyNotFound");
    let mut gone = good("HMAC_SHA_256");
    gone[0].1 = "alias/none".into();
    assert_error(&send("GenerateMac", gone).await, 404, "Forbidden.AliasNotFound");
}

#[tokio::test]
async fn hmac_keys_follow_the_state_table_and_refuse_other_usages() {
    let k = start();
    let c = k.client();
    let key = hmac_key(&c, "HMAC_SM3").await;
    let version = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["PrimaryKeyVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let good_mac = mac(&c, &key, "HMAC_SM3", b"x").await;
    let generate = [("KeyId", key.as_str()), ("Algorithm", "HMAC_SM3"), ("Message", "eA==")];
    let mac_b64 = b64(&good_mac);
    let ver = [("KeyId", key.as_str()), ("Algorithm", "HMAC_SM3"), ("Message", "eA=="), ("Mac", &mac_b64)];

    // The actions of other usages refuse an HMAC key…
    assert_error(&call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await, 400, "UnsupportedOperation");
    assert_error(&call(&c, "GenerateDataKey", &[("KeyId", &key)]).await, 400, "UnsupportedOperation");
    let sign =
        [("KeyId", key.as_str()), ("KeyVersionId", &version), ("Algorithm", "SM2DSA"), ("Digest", &b64(&[0; 32]))];
    assert_error(&call(&c, "AsymmetricSign", &sign).await, 400, "UnsupportedOperation");
    let public = [("KeyId", key.as_str()), ("KeyVersionId", version.as_str())];
    assert_error(&call(&c, "GetPublicKey", &public).await, 400, "UnsupportedOperation");
    let secret = [("SecretName", "s"), ("SecretData", "v"), ("VersionId", "v1"), ("EncryptionKeyId", &key)];
    assert_error(&call(&c, "CreateSecret", &secret).await, 400, "UnsupportedOperation");
    // …and the MAC actions refuse every other kind of key.
    let aes = new_key(&c).await;
    let r = call(&c, "GenerateMac", &[("KeyId", &aes), ("Algorithm", "HMAC_SM3"), ("Message", "eA==")]).await;
    assert_error(&r, 400, "UnsupportedOperation");
    let ec = ok(&c, "CreateKey", &[("KeySpec", "EC_P256")]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let r = call(&c, "VerifyMac", &[("KeyId", &ec), ("Algorithm", "HMAC_SM3"), ("Message", "eA=="), ("Mac", &mac_b64)])
        .await;
    assert_error(&r, 400, "UnsupportedOperation");
    // HMAC keys do not rotate.
    assert_error(&call(&c, "CreateKeyVersion", &[("KeyId", &key)]).await, 400, "Rejected.UnsupportedOperation");
    let policy = [("KeyId", key.as_str()), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")];
    assert_error(&call(&c, "UpdateRotationPolicy", &policy).await, 400, "Rejected.UnsupportedOperation");
    assert_eq!(ok(&c, "ListKeyVersions", &[("KeyId", &key)]).await["TotalCount"], 1);

    // The state table (spec §5.4): disabled and pending deletion refuse both actions.
    ok(&c, "DisableKey", &[("KeyId", &key)]).await;
    assert_error(&call(&c, "GenerateMac", &generate).await, 409, "Rejected.Disabled");
    assert_error(&call(&c, "VerifyMac", &ver).await, 409, "Rejected.Disabled");
    ok(&c, "EnableKey", &[("KeyId", &key)]).await;
    assert!(verify(&c, &key, "HMAC_SM3", b"x", &good_mac).await, "the same material after re-enabling");
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    assert_error(&call(&c, "GenerateMac", &generate).await, 409, "Rejected.PendingDeletion");
    assert_error(&call(&c, "VerifyMac", &ver).await, 409, "Rejected.PendingDeletion");
    ok(&c, "CancelKeyDeletion", &[("KeyId", &key)]).await;
    // Cancelling brings the key back, with the same secret.
    assert_eq!(mac(&c, &key, "HMAC_SM3", b"x").await, good_mac);
}

/// The HMAC secret never leaves kmsd in the clear: the store holds it wrapped.
#[tokio::test]
async fn hmac_material_is_stored_wrapped() {
    let k = start();
    let c = k.client();
    let key = hmac_key(&c, "HMAC_SHA_512").await;
    let materials = stored_materials(&k.data_dir, &key);
    assert_eq!(materials.len(), 1);
    // 64 bytes of secret, sealed: the root key's name (4-byte mark, 8-byte id), then IV and
    // tag around it, never the bare 64 bytes.
    assert_eq!(materials[0].len(), 4 + 8 + 12 + 64 + 16);
}
