//! Identity policies: access keys made with `kmsd admin access-key create --name … --policy …`
//! may do what their policy allows and nothing else — by action, by key (also through the
//! alias), by alias pattern, by tag, by source address and by time; an explicit Deny wins; a
//! refusal changes nothing, answers `Forbidden.NoPermission` 403 and is audited under the
//! principal's name; a rotated key keeps the policy; `set-policy` changes it in place.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn denied(r: &Resp) {
    assert_error(r, 403, "Forbidden.NoPermission");
}

const APP1: &str = r#"{"Version":"1","Statement":[
  {"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey","kms:DescribeKey"],
   "Resource":"acs:kms:*:*:key/*","Condition":{"StringEquals":{"kms:tag/app":"app1"}}},
  {"Effect":"Allow","Action":"kms:List*","Resource":"*"},
  {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"127.0.0.0/8"}}}
]}"#;

const APP2: &str = r#"{"Version":"1","Statement":[
  {"Effect":"Allow","Action":["kms:Encrypt","kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],
   "Resource":["acs:kms:*:*:alias/app2-*"]},
  {"Effect":"Allow","Action":"kms:CreateAlias","Resource":"acs:kms:*:*:key/*","Condition":{"StringEquals":{"kms:tag/app":"app2"}}}
]}"#;

#[tokio::test]
async fn each_application_reaches_only_what_its_policy_allows() {
    let k = start();
    let admin_c = k.client();
    let key_of = |tag: &'static str| {
        let c = admin_c.clone();
        async move {
            let tags = format!(r#"[{{"TagKey":"app","TagValue":"{tag}"}}]"#);
            let m = ok(&c, "CreateKey", &[("Tags", &tags)]).await;
            m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
        }
    };
    let (ka, kb) = (key_of("app1").await, key_of("app2").await);
    ok(&admin_c, "CreateAlias", &[("AliasName", "alias/app1-main"), ("KeyId", &ka)]).await;
    ok(&admin_c, "CreateAlias", &[("AliasName", "alias/app2-main"), ("KeyId", &kb)]).await;
    let blob_b = ok(&admin_c, "Encrypt", &[("KeyId", &kb), ("Plaintext", "YjE=")]).await["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();

    let (app1, app1_id) = app(&k, "app1", Some(APP1)).await;
    let (app2, _) = app(&k, "app2", Some(APP2)).await;

    // app1: its own key by id and by alias (tag condition), never app2's.
    let enc = ok(&app1, "Encrypt", &[("KeyId", &ka), ("Plaintext", "YTE=")]).await;
    ok(&app1, "Encrypt", &[("KeyId", "alias/app1-main"), ("Plaintext", "YTE=")]).await;
    ok(&app1, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await;
    ok(&app1, "DescribeKey", &[("KeyId", &ka)]).await;
    ok(&app1, "ListKeys", &[]).await;
    denied(&call(&app1, "Encrypt", &[("KeyId", &kb), ("Plaintext", "YTE=")]).await);
    denied(&call(&app1, "Encrypt", &[("KeyId", "alias/app2-main"), ("Plaintext", "YTE=")]).await);
    denied(&call(&app1, "Decrypt", &[("CiphertextBlob", &blob_b)]).await);
    // Actions it was not given, on its own key too; and nothing changed.
    denied(&call(&app1, "ScheduleKeyDeletion", &[("KeyId", &ka), ("PendingWindowInDays", "7")]).await);
    denied(&call(&app1, "DisableKey", &[("KeyId", &ka)]).await);
    denied(&call(&app1, "CreateKey", &[]).await);
    denied(&call(&app1, "CreateSecret", &[("SecretName", "s"), ("SecretData", "x"), ("VersionId", "v1")]).await);
    assert_eq!(ok(&admin_c, "DescribeKey", &[("KeyId", &ka)]).await["KeyMetadata"]["KeyState"], "Enabled");

    // app2: only through aliases named app2-*, and alias management there.
    ok(&app2, "Encrypt", &[("KeyId", "alias/app2-main"), ("Plaintext", "YTI=")]).await;
    denied(&call(&app2, "Encrypt", &[("KeyId", &kb), ("Plaintext", "YTI=")]).await);
    denied(&call(&app2, "Encrypt", &[("KeyId", "alias/app1-main"), ("Plaintext", "YTI=")]).await);
    denied(&call(&app2, "Decrypt", &[("CiphertextBlob", &blob_b)]).await);
    ok(&app2, "CreateAlias", &[("AliasName", "alias/app2-extra"), ("KeyId", &kb)]).await;
    denied(&call(&app2, "CreateAlias", &[("AliasName", "alias/app2-steal"), ("KeyId", &ka)]).await);
    denied(&call(&app2, "CreateAlias", &[("AliasName", "alias/other"), ("KeyId", &kb)]).await);
    ok(&app2, "DeleteAlias", &[("AliasName", "alias/app2-extra")]).await;

    // The bootstrap key is unrestricted.
    ok(&admin_c, "Decrypt", &[("CiphertextBlob", &blob_b)]).await;

    // Refusals are audited under the principal.
    let audit = std::fs::read_to_string(k.data_dir.join("audit.log")).unwrap();
    let refused: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["Code"] == "Forbidden.NoPermission")
        .collect();
    assert!(refused.iter().any(|l| l["Principal"] == "app1" && l["AccessKeyId"] == app1_id.as_str()));
    assert!(refused.iter().all(|l| l["HttpStatus"] == 403));

    // A rotated key keeps principal and policy.
    let (ok_, out, err) = admin(&k, &["rotate", &app1_id]);
    assert!(ok_, "{err}");
    let field = |f: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{f}: "))).unwrap().to_owned();
    let rotated = kms_testkit::Client {
        addr: k.client().addr,
        access_key_id: field("AccessKeyId"),
        secret: field("AccessKeySecret"),
    };
    wait_until_known(&rotated).await;
    ok(&rotated, "Encrypt", &[("KeyId", &ka), ("Plaintext", "YTE=")]).await;
    denied(&call(&rotated, "Encrypt", &[("KeyId", &kb), ("Plaintext", "YTE=")]).await);
    let (_, list, _) = admin(&k, &["list"]);
    assert_eq!(list.lines().filter(|l| l.contains("\tapp1\tpolicy")).count(), 2, "{list}");
}

/// `kmsd admin access-key set-policy`: a running server applies a new policy to the same
/// access key (no new secret to hand out), or lifts it with `--unrestricted`; a policy that
/// does not parse, or an unknown key, is refused and changes nothing.
#[tokio::test]
async fn set_policy_changes_what_a_key_may_do_in_place() {
    let k = start();
    let admin_c = k.client();
    let tags = r#"[{"TagKey":"app","TagValue":"app1"}]"#;
    let ka = ok(&admin_c, "CreateKey", &[("Tags", tags)]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let kb = ok(&admin_c, "CreateKey", &[]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let (app1, id) = app(&k, "app1", Some(APP1)).await;
    let encrypt = |key: &str| {
        let (c, key) = (app1.clone(), key.to_owned());
        async move { call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "YTE=")]).await }
    };
    denied(&encrypt(&kb).await);
    // Servers pick changed access keys up within a second.
    let until = |want: u16, key: String| {
        let encrypt = &encrypt;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let r = encrypt(&key).await;
                if r.status == want {
                    return r;
                }
                assert!(Instant::now() < deadline, "still {} after 10 s: {}", r.status, r.text());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    let any_key =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"acs:kms:*:*:key/*"}]}"#;
    let file = k.data_dir.with_extension("any-key.json");
    std::fs::write(&file, any_key).unwrap();
    let (ok_, out, err) = admin(&k, &["set-policy", &id, "--policy", file.to_str().unwrap()]);
    assert!(ok_, "{err}");
    assert!(out.contains(&id), "{out}");
    until(200, kb.clone()).await;
    ok(&app1, "Encrypt", &[("KeyId", &ka), ("Plaintext", "YTE=")]).await;
    // What the new policy does not give, the key no longer has (APP1 gave DescribeKey).
    denied(&call(&app1, "DescribeKey", &[("KeyId", &ka)]).await);

    // Refused, and nothing changes: a policy that does not parse, an unknown key, both or
    // neither of --policy / --unrestricted.
    let bad = k.data_dir.with_extension("bad.json");
    std::fs::write(&bad, r#"{"Version":"1","Statement":[{"Effect":"Perhaps","Action":"*","Resource":"*"}]}"#).unwrap();
    let (ok_, _, err) = admin(&k, &["set-policy", &id, "--policy", bad.to_str().unwrap()]);
    assert!(!ok_ && err.contains("policy"), "{err}");
    let (ok_, _, err) = admin(&k, &["set-policy", "LTAInone", "--unrestricted"]);
    assert!(!ok_ && err.contains("LTAInone"), "{err}");
    assert!(!admin(&k, &["set-policy", &id]).0);
    assert!(!admin(&k, &["set-policy", &id, "--unrestricted", "--policy", file.to_str().unwrap()]).0);
    ok(&app1, "Encrypt", &[("KeyId", &kb), ("Plaintext", "YTE=")]).await;
    denied(&call(&app1, "CreateKey", &[]).await);

    // Unrestricted: everything, and `list` says so; the principal stays.
    assert!(admin(&k, &["set-policy", &id, "--unrestricted"]).0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while call(&app1, "CreateKey", &[]).await.status != 200 {
        assert!(Instant::now() < deadline, "the policy was never lifted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, list, _) = admin(&k, &["list"]);
    assert!(list.lines().any(|l| l.starts_with(&id) && l.ends_with("\tapp1\tunrestricted")), "{list}");
}

#[tokio::test]
async fn source_address_and_time_conditions() {
    let k = start();
    let (office, _) = app(
        &k,
        "office-only",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#),
    )
    .await;
    denied(&call(&office, "DescribeRegions", &[]).await);
    let (local, _) = app(
        &k,
        "local",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","127.0.0.1/32"]}}}]}"#),
    )
    .await;
    ok(&local, "DescribeRegions", &[]).await;
    let (expired, _) = app(
        &k,
        "expired",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2001-01-01T00:00:00Z"}}}]}"#),
    )
    .await;
    denied(&call(&expired, "DescribeRegions", &[]).await);
    // An unnamed key without a policy is unrestricted; a policy kmsd cannot read is refused
    // at creation, not stored.
    let (free, _) = app(&k, "free", None).await;
    ok(&free, "CreateKey", &[]).await;
    let bad = k.data_dir.with_extension("bad.json");
    std::fs::write(&bad, r#"{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"kms:*","Resource":"*"}]}"#)
        .unwrap();
    let (ok_, _, err) = admin(&k, &["create", "--name", "bad", "--policy", bad.to_str().unwrap()]);
    assert!(!ok_ && err.contains("NotAction"), "{err}");
}

/// Temporary credentials from `kmsd admin access-key temporary`: an `STS.` key with a
/// security token, acting as the key it was issued from (policy and principal), refused when
/// the token is altered, another key's, expired, or when that key is disabled.
#[tokio::test]
async fn temporary_credentials_act_as_their_key_until_they_expire() {
    let k = start();
    let admin_c = k.client();
    let tagged = |tag: &'static str| {
        let c = admin_c.clone();
        async move {
            let tags = format!(r#"[{{"TagKey":"app","TagValue":"{tag}"}}]"#);
            ok(&c, "CreateKey", &[("Tags", &tags)]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
        }
    };
    let (ka, kb) = (tagged("app1").await, tagged("app2").await);
    let (_, app1_id) = app(&k, "app1", Some(APP1)).await;
    let issue = |duration: &str| {
        let (ok_, out, err) = admin(&k, &["temporary", &app1_id, "--duration", duration]);
        assert!(ok_, "{err}");
        assert!(!err.contains("AccessKeySecret"), "{err}");
        let field = |f: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{f}: "))).unwrap().to_owned();
        let c = kms_testkit::Client {
            addr: k.client().addr,
            access_key_id: field("AccessKeyId"),
            secret: field("AccessKeySecret"),
        };
        assert!(c.access_key_id.starts_with("STS.") && field("Expiration").ends_with('Z'), "{out}");
        let expiration =
            time::OffsetDateTime::parse(&field("Expiration"), &time::format_description::well_known::Rfc3339).unwrap();
        (c, field("SecurityToken"), expiration)
    };
    // Long enough for the checks below on a slow machine; expiry is then awaited by its date.
    let (sts, token, expiration) = issue("10");
    let enc = |key: &str, token: &str| {
        vec![("KeyId", key.to_owned()), ("Plaintext", "aGk=".to_owned()), ("SecurityToken", token.to_owned())]
    };
    let send = |c: &Client, p: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(&c, "Encrypt", &refs).await
        }
    };
    // The parent's policy applies: its own key, not the other application's.
    let r = send(&sts, enc(&ka, &token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    denied(&send(&sts, enc(&kb, &token)).await);
    // Without its token the STS id is no stored key; an altered token does not open; another
    // temporary key's token does not fit.
    let r = call(&sts, "Encrypt", &[("KeyId", &ka), ("Plaintext", "aGk=")]).await;
    assert_error(&r, 404, "InvalidAccessKeyId.NotFound");
    let mut bent = unb64(&token);
    bent[30] ^= 1;
    assert_error(&send(&sts, enc(&ka, &b64(&bent))).await, 400, "InvalidSecurityToken.Malformed");
    let (other, other_token, _) = issue("600");
    assert_error(&send(&sts, enc(&ka, &other_token)).await, 400, "InvalidSecurityToken.MismatchWithAccessKey");
    // The audit trail names the temporary key and the principal it acts as.
    let audit = std::fs::read_to_string(k.data_dir.join("audit.log")).unwrap();
    assert!(audit.lines().any(|l| l.contains(&format!("\"AccessKeyId\":\"{}\"", sts.access_key_id))
        && l.contains("\"Principal\":\"app1\"")
        && l.contains("\"Code\":\"OK\"")));
    // Expiry, by real time: refused from the second the token names on.
    let left = expiration - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1100);
    tokio::time::sleep(left.try_into().unwrap_or_default()).await;
    assert_error(&send(&sts, enc(&ka, &token)).await, 400, "InvalidSecurityToken.Expired");
    // Disabling the parent cuts its temporary keys off.
    assert_eq!(send(&other, enc(&ka, &other_token)).await.status, 200);
    assert!(admin(&k, &["disable", &app1_id]).0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = send(&other, enc(&ka, &other_token)).await;
        if r.status != 200 {
            assert_error(&r, 400, "InvalidAccessKeyId.Inactive");
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (ok_, _, err) = admin(&k, &["temporary", &app1_id, "--duration", "99999"]);
    assert!(!ok_ && err.contains("--duration"), "{err}");
}

/// Key and secret policies, evaluated together with identity policies: a resource policy can
/// grant a named principal what its identity policy does not, and a Deny in either wins —
/// also over the unrestricted keys, which act as the account (`…:root`).
#[tokio::test]
async fn key_and_secret_policies_grant_and_deny_with_identity_policies() {
    let k = start();
    let admin_c = k.client();
    let tags = r#"[{"TagKey":"app","TagValue":"app2"}]"#;
    let kb = ok(&admin_c, "CreateKey", &[("Tags", tags)]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let blob = ok(&admin_c, "Encrypt", &[("KeyId", &kb), ("Plaintext", "Yg==")]).await["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let (app1, _) = app(&k, "app1", Some(APP1)).await;
    denied(&call(&app1, "Decrypt", &[("CiphertextBlob", &blob)]).await);

    // The default policy names the account only.
    let default = ok(&admin_c, "GetKeyPolicy", &[("KeyId", &kb)]).await["Policy"].as_str().unwrap().to_owned();
    let parsed: serde_json::Value = serde_json::from_str(&default).unwrap();
    let account = ok(&admin_c, "DescribeKey", &[("KeyId", &kb)]).await["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(3)
        .unwrap()
        .to_owned();
    assert_eq!(parsed["Statement"][0]["Principal"]["RAM"][0], format!("acs:ram::{account}:root"));

    let policy = format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Principal":{{"RAM":["acs:ram::{account}:user/app1"]}},"Action":"kms:Decrypt","Resource":"*"}},
            {{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}}]}}"#
    );
    ok(&admin_c, "SetKeyPolicy", &[("KeyId", &kb), ("Policy", &policy), ("PolicyName", "default")]).await;
    assert_eq!(ok(&admin_c, "GetKeyPolicy", &[("KeyId", &kb)]).await["Policy"], policy.as_str());
    // The key policy grants app1 what its identity policy does not; not more.
    ok(&app1, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    denied(&call(&app1, "Encrypt", &[("KeyId", &kb), ("Plaintext", "Yg==")]).await);
    // Its Deny binds the unrestricted key too, and changes nothing.
    denied(&call(&admin_c, "ScheduleKeyDeletion", &[("KeyId", &kb), ("PendingWindowInDays", "7")]).await);
    assert_eq!(ok(&admin_c, "DescribeKey", &[("KeyId", &kb)]).await["KeyMetadata"]["KeyState"], "Enabled");
    // Documents kmsd cannot apply are refused.
    let no_principal = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    assert_error(
        &call(&admin_c, "SetKeyPolicy", &[("KeyId", &kb), ("Policy", no_principal)]).await,
        400,
        "InvalidParameter",
    );
    assert_error(
        &call(&admin_c, "SetKeyPolicy", &[("KeyId", &kb), ("Policy", &policy), ("PolicyName", "other")]).await,
        400,
        "InvalidParameter",
    );
    assert_error(&call(&admin_c, "GetKeyPolicy", &[("KeyId", "alias/none")]).await, 404, "Forbidden.AliasNotFound");
    // CreateKey takes a policy too.
    let made = ok(&admin_c, "CreateKey", &[("Policy", &policy)]).await;
    let kc = made["KeyMetadata"]["KeyId"].as_str().unwrap();
    assert_eq!(ok(&admin_c, "GetKeyPolicy", &[("KeyId", kc)]).await["Policy"], policy.as_str());

    // A secret policy: app1 may read this one secret.
    ok(&admin_c, "CreateSecret", &[("SecretName", "shared/db"), ("VersionId", "v1"), ("SecretData", "pw")]).await;
    denied(&call(&app1, "GetSecretValue", &[("SecretName", "shared/db")]).await);
    assert!(
        ok(&admin_c, "GetSecretPolicy", &[("SecretName", "shared/db")]).await["Policy"]
            .as_str()
            .unwrap()
            .contains(":root")
    );
    let secret_policy = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Principal":{{"RAM":"acs:ram::{account}:user/app1"}},"Action":"kms:GetSecretValue","Resource":"*"}}]}}"#
    );
    ok(&admin_c, "SetSecretPolicy", &[("SecretName", "shared/db"), ("Policy", &secret_policy)]).await;
    assert_eq!(ok(&app1, "GetSecretValue", &[("SecretName", "shared/db")]).await["SecretData"], "pw");
    denied(&call(&app1, "DeleteSecret", &[("SecretName", "shared/db")]).await);
    assert_error(
        &call(&admin_c, "GetSecretPolicy", &[("SecretName", "none")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
}
