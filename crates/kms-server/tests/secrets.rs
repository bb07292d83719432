//! Secrets Manager at the wire: create, read by stage and version, new versions and stage
//! moves, metadata, version lists, the documented errors, and values that never reach the
//! store in the clear.

mod common;

use common::*;

async fn create(c: &Client, name: &str, data: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let mut params = vec![("SecretName", name), ("VersionId", "v1"), ("SecretData", data)];
    params.extend_from_slice(extra);
    ok(c, "CreateSecret", &params).await
}

#[tokio::test]
async fn a_secret_is_created_read_and_versioned() {
    let k = start();
    let c = k.client();
    let made = create(&c, "app/db-password", "s3cr3t-value", &[("Description", "the db")]).await;
    assert_eq!(made["SecretName"], "app/db-password");
    assert_eq!(made["VersionId"], "v1");
    assert_eq!(made["SecretType"], "Generic");
    let arn = made["Arn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("acs:kms:cn-hangzhou:") && arn.ends_with(":secret/app/db-password"), "{arn}");

    let got = ok(&c, "GetSecretValue", &[("SecretName", "app/db-password")]).await;
    assert_eq!(got["SecretData"], "s3cr3t-value");
    assert_eq!(got["SecretDataType"], "text");
    assert_eq!(got["VersionId"], "v1");
    assert_eq!(got["VersionStages"]["VersionStage"], serde_json::json!(["ACSCurrent"]));
    assert!(got["CreateTime"].as_str().unwrap().ends_with('Z'));
    // The ARN works wherever the name does.
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", &arn)]).await["SecretData"], "s3cr3t-value");

    // A new version becomes current, the old one previous.
    let put =
        ok(&c, "PutSecretValue", &[("SecretName", "app/db-password"), ("VersionId", "v2"), ("SecretData", "rotated")])
            .await;
    assert_eq!(put["VersionStages"]["VersionStage"], serde_json::json!(["ACSCurrent"]));
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "app/db-password")]).await["SecretData"], "rotated");
    let prev = ok(&c, "GetSecretValue", &[("SecretName", "app/db-password"), ("VersionStage", "ACSPrevious")]).await;
    assert_eq!((prev["SecretData"].as_str(), prev["VersionId"].as_str()), (Some("s3cr3t-value"), Some("v1")));
    let by_id = ok(&c, "GetSecretValue", &[("SecretName", "app/db-password"), ("VersionId", "v1")]).await;
    assert_eq!(by_id["VersionStages"]["VersionStage"], serde_json::json!(["ACSPrevious"]));

    // The same version id again: same value succeeds, another value is refused and changes nothing.
    ok(&c, "PutSecretValue", &[("SecretName", "app/db-password"), ("VersionId", "v2"), ("SecretData", "rotated")])
        .await;
    let r =
        call(&c, "PutSecretValue", &[("SecretName", "app/db-password"), ("VersionId", "v2"), ("SecretData", "other")])
            .await;
    assert_error(&r, 409, "Rejected.ResourceExist");
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "app/db-password")]).await["SecretData"], "rotated");

    // A custom stage that is not current leaves the current version alone.
    let staged = ok(
        &c,
        "PutSecretValue",
        &[
            ("SecretName", "app/db-password"),
            ("VersionId", "v3"),
            ("SecretData", "next"),
            ("VersionStages", r#"["ACSNext"]"#),
        ],
    )
    .await;
    assert_eq!(staged["VersionStages"]["VersionStage"], serde_json::json!(["ACSNext"]));
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "app/db-password")]).await["SecretData"], "rotated");
    let next = ok(&c, "GetSecretValue", &[("SecretName", "app/db-password"), ("VersionStage", "ACSNext")]).await;
    assert_eq!(next["SecretData"], "next");

    let listed = ok(&c, "ListSecretVersionIds", &[("SecretName", "app/db-password")]).await;
    let ids: Vec<&str> = listed["VersionIds"]["VersionId"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VersionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["v3", "v2", "v1"], "newest first");
    assert_eq!((listed["TotalCount"].as_u64(), listed["PageSize"].as_u64()), (Some(3), Some(20)));

    let d = ok(&c, "DescribeSecret", &[("SecretName", "app/db-password"), ("FetchTags", "true")]).await;
    assert_eq!((d["Description"].as_str(), d["Arn"].as_str()), (Some("the db"), Some(arn.as_str())));
    assert!(d["EncryptionKeyId"].as_str().is_some_and(|k| k.len() == 36), "{d}");
    assert!(d.get("SecretData").is_none() && d.get("PlannedDeleteTime").is_none(), "{d}");
    assert_eq!(d["Tags"]["Tag"], serde_json::json!([]));
}

#[tokio::test]
async fn secret_errors_are_the_documented_codes() {
    let k = start();
    let c = k.client();
    create(&c, "dup", "x", &[]).await;
    assert_error(
        &call(&c, "CreateSecret", &[("SecretName", "dup"), ("VersionId", "v1"), ("SecretData", "y")]).await,
        409,
        "Rejected.ResourceExist",
    );
    for bad in ["acs/reserved", "with space", &"n".repeat(193)] {
        let r = call(&c, "CreateSecret", &[("SecretName", bad), ("VersionId", "v1"), ("SecretData", "y")]).await;
        assert_error(&r, 400, "InvalidParameter");
    }
    let too_big = "x".repeat(30_721);
    assert_error(
        &call(&c, "CreateSecret", &[("SecretName", "big"), ("VersionId", "v1"), ("SecretData", &too_big)]).await,
        400,
        "InvalidParameter",
    );
    let just_fits = "x".repeat(30_720);
    create(&c, "big", &just_fits, &[]).await;
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "big")]).await["SecretData"], just_fits.as_str());
    assert_error(&call(&c, "CreateSecret", &[("SecretName", "m"), ("VersionId", "v1")]).await, 400, "MissingParameter");
    assert_error(&call(&c, "GetSecretValue", &[("SecretName", "absent")]).await, 404, "Forbidden.ResourceNotFound");
    assert_error(
        &call(&c, "GetSecretValue", &[("SecretName", "dup"), ("VersionId", "nope")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    assert_error(
        &call(&c, "GetSecretValue", &[("SecretName", "dup"), ("VersionStage", "ACSPrevious")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    assert_error(
        &call(&c, "DescribeSecret", &[("SecretName", "acs:kms:cn-shanghai:123:secret/dup")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    assert_error(
        &call(&c, "PutSecretValue", &[("SecretName", "absent"), ("VersionId", "v2"), ("SecretData", "x")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    let r = call(
        &c,
        "CreateSecret",
        &[("SecretName", "bin"), ("VersionId", "v1"), ("SecretData", "not base64!"), ("SecretDataType", "binary")],
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");
    let r = call(
        &c,
        "CreateSecret",
        &[("SecretName", "rds"), ("VersionId", "v1"), ("SecretData", "x"), ("SecretType", "Rds")],
    )
    .await;
    assert_error(&r, 400, "UnsupportedOperation");
    let r = call(&c, "GetSecretValue", &[("SecretName", "dup"), ("DryRun", "true")]).await;
    assert_error(&r, 400, "DryRunOperationError");
}

/// The secret's key governs it: disabled, its values cannot be read or written.
#[tokio::test]
async fn the_encryption_key_governs_the_secret() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    create(&c, "guarded", "value", &[("EncryptionKeyId", &key)]).await;
    assert_eq!(ok(&c, "DescribeSecret", &[("SecretName", "guarded")]).await["EncryptionKeyId"], key.as_str());
    ok(&c, "DisableKey", &[("KeyId", &key)]).await;
    assert_error(&call(&c, "GetSecretValue", &[("SecretName", "guarded")]).await, 409, "Rejected.Disabled");
    let r = call(&c, "PutSecretValue", &[("SecretName", "guarded"), ("VersionId", "v2"), ("SecretData", "x")]).await;
    assert_error(&r, 409, "Rejected.Disabled");
    ok(&c, "EnableKey", &[("KeyId", &key)]).await;
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "guarded")]).await["SecretData"], "value");
    let r = call(
        &c,
        "CreateSecret",
        &[("SecretName", "nokey"), ("VersionId", "v1"), ("SecretData", "x"), ("EncryptionKeyId", "alias/none")],
    )
    .await;
    assert_error(&r, 404, "Forbidden.AliasNotFound");
}

/// A secret value is never in the store's files in the clear.
#[tokio::test]
async fn secret_values_never_reach_the_store_in_the_clear() {
    let k = start();
    let c = k.client();
    let marker = "SECRET-MARKER-7f3a9c-the-value-itself";
    create(&c, "marked", marker, &[]).await;
    ok(&c, "PutSecretValue", &[("SecretName", "marked"), ("VersionId", "v2"), ("SecretData", &format!("{marker}-2"))])
        .await;
    assert!(!holds(&store_contents(&k.data_dir), marker.as_bytes()), "a secret value is in the store in the clear");
    assert!(!k.stderr().contains(marker), "a secret value reached the log");
}

/// Deletion: a recovery window refuses reads and writes, RestoreSecret brings the secret back,
/// the dev clock's jobs purge it when the window ends, and a forced delete purges at once.
#[tokio::test]
async fn deletion_windows_restore_and_purge() {
    let k =
        Kmsd::start_with(&bin(), kms_testkit::Options { extra_args: vec!["--dev-clock".into()], ..Default::default() })
            .unwrap();
    let c = k.client();
    let advance = |seconds: i64| {
        let c = c.clone();
        async move {
            let r = c.raw("POST", &format!("/-/clock/advance?seconds={seconds}"), &[], vec![], false).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    };
    create(&c, "doomed", "v", &[]).await;
    assert_error(&call(&c, "RestoreSecret", &[("SecretName", "doomed")]).await, 409, "Rejected.ResourceInUse");
    for bad in ["6", "31", "x"] {
        let r = call(&c, "DeleteSecret", &[("SecretName", "doomed"), ("RecoveryWindowInDays", bad)]).await;
        assert_error(&r, 400, "InvalidParameter");
    }
    let r = call(
        &c,
        "DeleteSecret",
        &[("SecretName", "doomed"), ("ForceDeleteWithoutRecovery", "true"), ("RecoveryWindowInDays", "7")],
    )
    .await;
    assert_error(&r, 400, "InvalidParameter");

    let d = ok(&c, "DeleteSecret", &[("SecretName", "doomed"), ("RecoveryWindowInDays", "7")]).await;
    assert_eq!(d["SecretName"], "doomed");
    let planned = d["PlannedDeleteTime"].as_str().unwrap().to_owned();
    assert_eq!(ok(&c, "DescribeSecret", &[("SecretName", "doomed")]).await["PlannedDeleteTime"], planned.as_str());
    assert_error(
        &call(&c, "GetSecretValue", &[("SecretName", "doomed")]).await,
        409,
        "Rejected.ResourceInDeleteWindow",
    );
    let r = call(&c, "PutSecretValue", &[("SecretName", "doomed"), ("VersionId", "v2"), ("SecretData", "x")]).await;
    assert_error(&r, 409, "Rejected.ResourceInDeleteWindow");
    assert_error(&call(&c, "DeleteSecret", &[("SecretName", "doomed")]).await, 409, "Rejected.ResourceInDeleteWindow");
    let r = call(&c, "CreateSecret", &[("SecretName", "doomed"), ("VersionId", "v1"), ("SecretData", "x")]).await;
    assert_error(&r, 409, "Rejected.ResourceInDeleteWindow");

    // Restored inside the window, it reads again; deleted again, the window's end purges it.
    ok(&c, "RestoreSecret", &[("SecretName", "doomed")]).await;
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "doomed")]).await["SecretData"], "v");
    ok(&c, "DeleteSecret", &[("SecretName", "doomed"), ("RecoveryWindowInDays", "7")]).await;
    advance(7 * 86_400 - 60).await;
    assert!(ok(&c, "DescribeSecret", &[("SecretName", "doomed")]).await["PlannedDeleteTime"].is_string());
    advance(120).await;
    assert_error(&call(&c, "DescribeSecret", &[("SecretName", "doomed")]).await, 404, "Forbidden.ResourceNotFound");
    // The name is free again.
    create(&c, "doomed", "reborn", &[]).await;

    ok(&c, "DeleteSecret", &[("SecretName", "doomed"), ("ForceDeleteWithoutRecovery", "true")]).await;
    assert_error(&call(&c, "GetSecretValue", &[("SecretName", "doomed")]).await, 404, "Forbidden.ResourceNotFound");
    assert_error(&call(&c, "DeleteSecret", &[("SecretName", "doomed")]).await, 404, "Forbidden.ResourceNotFound");
}

#[tokio::test]
async fn stages_move_and_descriptions_change() {
    let k = start();
    let c = k.client();
    create(&c, "staged", "one", &[]).await;
    ok(&c, "PutSecretValue", &[("SecretName", "staged"), ("VersionId", "v2"), ("SecretData", "two")]).await;
    let stages_of = |listed: &serde_json::Value| -> Vec<(String, Vec<String>)> {
        listed["VersionIds"]["VersionId"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let stages = v["VersionStages"]["VersionStage"].as_array().unwrap();
                (
                    v["VersionId"].as_str().unwrap().to_owned(),
                    stages.iter().map(|s| s.as_str().unwrap().to_owned()).collect(),
                )
            })
            .collect()
    };
    // Roll back: ACSCurrent to v1; v2 (its former holder) becomes ACSPrevious.
    let r = ok(
        &c,
        "UpdateSecretVersionStage",
        &[
            ("SecretName", "staged"),
            ("VersionStage", "ACSCurrent"),
            ("MoveToVersion", "v1"),
            ("RemoveFromVersion", "v2"),
        ],
    )
    .await;
    assert_eq!(r["SecretName"], "staged");
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "staged")]).await["SecretData"], "one");
    let listed = ok(&c, "ListSecretVersionIds", &[("SecretName", "staged")]).await;
    assert_eq!(
        stages_of(&listed),
        [("v2".to_owned(), vec!["ACSPrevious".to_owned()]), ("v1".to_owned(), vec!["ACSCurrent".to_owned()])]
    );
    // A custom stage on and off; a version without stages shows only with IncludeDeprecated.
    ok(
        &c,
        "UpdateSecretVersionStage",
        &[("SecretName", "staged"), ("VersionStage", "ACSPrevious"), ("MoveToVersion", "v1")],
    )
    .await;
    let listed = ok(&c, "ListSecretVersionIds", &[("SecretName", "staged")]).await;
    assert_eq!(stages_of(&listed), [("v1".to_owned(), vec!["ACSCurrent".to_owned(), "ACSPrevious".to_owned()])]);
    let all = ok(&c, "ListSecretVersionIds", &[("SecretName", "staged"), ("IncludeDeprecated", "true")]).await;
    assert_eq!(all["TotalCount"], 2);
    let r = call(
        &c,
        "UpdateSecretVersionStage",
        &[("SecretName", "staged"), ("VersionStage", "ACSNext"), ("RemoveFromVersion", "v2")],
    )
    .await;
    assert_error(&r, 400, "Rejected.InvalidRequest");
    let r = call(
        &c,
        "UpdateSecretVersionStage",
        &[("SecretName", "staged"), ("VersionStage", "ACSCurrent"), ("RemoveFromVersion", "v1")],
    )
    .await;
    assert_error(&r, 400, "MissingParameter");
    let r = call(
        &c,
        "UpdateSecretVersionStage",
        &[("SecretName", "staged"), ("VersionStage", "ACSNext"), ("MoveToVersion", "v9")],
    )
    .await;
    assert_error(&r, 404, "Forbidden.ResourceNotFound");

    ok(&c, "UpdateSecret", &[("SecretName", "staged"), ("Description", "now described")]).await;
    assert_eq!(ok(&c, "DescribeSecret", &[("SecretName", "staged")]).await["Description"], "now described");
    for action in ["RotateSecret", "UpdateSecretRotationPolicy"] {
        let r = call(&c, action, &[("SecretName", "staged"), ("VersionId", "r1"), ("EnableAutomaticRotation", "true")])
            .await;
        assert_error(&r, 400, "Rejected.UnsupportedOperation");
        let r = call(&c, action, &[("SecretName", "absent"), ("VersionId", "r1"), ("EnableAutomaticRotation", "true")])
            .await;
        assert_error(&r, 404, "Forbidden.ResourceNotFound");
    }
}

/// A secret keeps ten versions: the oldest without a stage goes.
#[tokio::test]
async fn a_secret_keeps_ten_versions() {
    let k = start();
    let c = k.client();
    create(&c, "many", "0", &[]).await;
    for i in 1..=11 {
        ok(
            &c,
            "PutSecretValue",
            &[("SecretName", "many"), ("VersionId", &format!("v{}", i + 1)), ("SecretData", &i.to_string())],
        )
        .await;
    }
    let all = ok(&c, "ListSecretVersionIds", &[("SecretName", "many"), ("IncludeDeprecated", "true")]).await;
    let ids: Vec<&str> =
        all["VersionIds"]["VersionId"].as_array().unwrap().iter().map(|v| v["VersionId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 10, "{ids:?}");
    assert_eq!((ids[0], ids[9]), ("v12", "v3"));
    assert_eq!(
        ok(&c, "GetSecretValue", &[("SecretName", "many"), ("VersionStage", "ACSPrevious")]).await["VersionId"],
        "v11"
    );
}

#[tokio::test]
async fn random_passwords_honour_every_option() {
    let k = start();
    let c = k.client();
    let pw = |params: Vec<(&'static str, &'static str)>| {
        let c = c.clone();
        async move { ok(&c, "GetRandomPassword", &params).await["RandomPassword"].as_str().unwrap().to_owned() }
    };
    let p = pw(vec![]).await;
    assert_eq!(p.chars().count(), 32);
    let p = pw(vec![("PasswordLength", "128"), ("ExcludePunctuation", "true"), ("ExcludeUppercase", "true")]).await;
    assert_eq!(p.len(), 128);
    assert!(p.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()), "{p}");
    let p = pw(vec![
        ("PasswordLength", "8"),
        ("ExcludeLowercase", "true"),
        ("ExcludeUppercase", "true"),
        ("ExcludePunctuation", "true"),
        ("ExcludeCharacters", "0123"),
    ])
    .await;
    assert!(p.len() == 8 && p.chars().all(|ch| "456789".contains(ch)), "{p}");
    for _ in 0..20 {
        let p = pw(vec![("PasswordLength", "8"), ("RequireEachIncludedType", "true")]).await;
        assert!(p.chars().any(|c| c.is_ascii_lowercase()) && p.chars().any(|c| c.is_ascii_uppercase()), "{p}");
        assert!(p.chars().any(|c| c.is_ascii_digit()) && p.chars().any(|c| c.is_ascii_punctuation()), "{p}");
    }
    for bad in ["7", "129", "x"] {
        assert_error(&call(&c, "GetRandomPassword", &[("PasswordLength", bad)]).await, 400, "InvalidParameter");
    }
    let none_left = [
        ("ExcludeLowercase", "true"),
        ("ExcludeUppercase", "true"),
        ("ExcludeNumbers", "true"),
        ("ExcludePunctuation", "true"),
    ];
    assert_error(&call(&c, "GetRandomPassword", &none_left).await, 400, "InvalidParameter");
}

/// ListSecrets: name order, paging, filters, tags; tag actions on secrets.
#[tokio::test]
async fn secrets_are_listed_filtered_and_tagged() {
    let k = start();
    let c = k.client();
    create(&c, "b-orders", "x", &[("Description", "orders db"), ("Tags", r#"[{"TagKey":"team","TagValue":"shop"}]"#)])
        .await;
    create(&c, "a-users", "x", &[("Description", "users db")]).await;
    create(&c, "c-cache", "x", &[]).await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["SecretList"]["Secret"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["SecretName"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ok(&c, "ListSecrets", &[]).await;
    assert_eq!(names(&all), ["a-users", "b-orders", "c-cache"]);
    assert_eq!((all["TotalCount"].as_u64(), all["PageSize"].as_u64()), (Some(3), Some(10)));
    assert!(all["SecretList"]["Secret"][0].get("Tags").is_none());
    let page = ok(&c, "ListSecrets", &[("PageSize", "2"), ("PageNumber", "2")]).await;
    assert_eq!(names(&page), ["c-cache"]);

    let f = |json: &str| vec![("Filters", json.to_owned())];
    let by = |params: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ok(&c, "ListSecrets", &p).await
        }
    };
    assert_eq!(names(&by(f(r#"[{"Key":"SecretName","Values":["users","cache"]}]"#)).await), ["a-users", "c-cache"]);
    assert_eq!(
        names(&by(f(r#"[{"Key":"Description","Values":["db"]},{"Key":"TagKey","Values":["team"]}]"#)).await),
        ["b-orders"]
    );
    let tagged =
        by(vec![("Filters", r#"[{"Key":"TagValue","Values":["shop"]}]"#.into()), ("FetchTags", "true".into())]).await;
    assert_eq!(tagged["TotalCount"], 1);
    assert_eq!(
        tagged["SecretList"]["Secret"][0]["Tags"]["Tag"],
        serde_json::json!([{"TagKey": "team", "TagValue": "shop"}])
    );
    // Creator is the account UID (every secret is the account's own); no secret lives in a
    // dedicated KMS instance, so a DKMSInstanceId filter matches nothing.
    let arn = ok(&c, "DescribeSecret", &[("SecretName", "a-users")]).await["Arn"].as_str().unwrap().to_owned();
    let account = arn.split(':').nth(3).unwrap().to_owned();
    let creator = format!(r#"[{{"Key":"Creator","Values":["{account}"]}}]"#);
    assert_eq!(names(&by(f(&creator)).await), ["a-users", "b-orders", "c-cache"]);
    assert_eq!(by(f(r#"[{"Key":"Creator","Values":["1234"]}]"#)).await["TotalCount"], 0);
    assert_eq!(by(f(r#"[{"Key":"DKMSInstanceId","Values":["kst-hzz62ee"]}]"#)).await["TotalCount"], 0);
    for bad in [r#"[{"Key":"Colour","Values":["x"]}]"#, r#"[{"Key":"SecretName","Values":[]}]"#, "not json"] {
        assert_error(&call(&c, "ListSecrets", &[("Filters", bad)]).await, 400, "InvalidParameter");
    }

    // Tags through the tag actions: by name, and by ResourceType=secret.
    ok(&c, "TagResource", &[("SecretName", "a-users"), ("Tags", r#"[{"TagKey":"env","TagValue":"prod"}]"#)]).await;
    ok(
        &c,
        "TagResources",
        &[("ResourceType", "secret"), ("ResourceId.1", "c-cache"), ("Tag.1.Key", "env"), ("Tag.1.Value", "dev")],
    )
    .await;
    let listed = ok(
        &c,
        "ListTagResources",
        &[("ResourceType", "secret"), ("ResourceId.1", "a-users"), ("ResourceId.2", "c-cache")],
    )
    .await;
    let rows: Vec<(String, String)> = listed["TagResources"]["TagResource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["ResourceId"].as_str().unwrap().to_owned(), r["TagValue"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(rows, [("a-users".to_owned(), "prod".to_owned()), ("c-cache".to_owned(), "dev".to_owned())]);
    ok(&c, "UntagResource", &[("SecretName", "a-users"), ("TagKeys", r#"["env"]"#)]).await;
    let d = ok(&c, "DescribeSecret", &[("SecretName", "a-users"), ("FetchTags", "true")]).await;
    assert_eq!(d["Tags"]["Tag"], serde_json::json!([]));
    assert_error(
        &call(&c, "TagResource", &[("SecretName", "absent"), ("Tags", r#"[{"TagKey":"a","TagValue":"b"}]"#)]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
    let r = call(
        &c,
        "TagResources",
        &[("ResourceType", "secret"), ("ResourceId.1", "absent"), ("Tag.1.Key", "a"), ("Tag.1.Value", "b")],
    )
    .await;
    assert_error(&r, 404, "InvalidResourceId.NotFound");
}

#[tokio::test]
async fn batch_reads_report_failures_per_secret() {
    let k = start();
    let c = k.client();
    create(&c, "one", "first", &[]).await;
    create(&c, "two", "second", &[]).await;
    ok(&c, "PutSecretValue", &[("SecretName", "two"), ("VersionId", "v2"), ("SecretData", "second-new")]).await;
    let list = r#"[{"SecretName":"one"},{"SecretName":"two","VersionStage":"ACSPrevious"},{"SecretName":"absent"}]"#;
    let r = ok(&c, "BatchGetSecretValue", &[("SecretsList", list)]).await;
    let values: Vec<(&str, &str)> = r["SecretValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["SecretName"].as_str().unwrap(), v["SecretData"].as_str().unwrap()))
        .collect();
    assert_eq!(values, [("one", "first"), ("two", "second")]);
    assert_eq!(
        r["Errors"],
        serde_json::json!([{"SecretName": "absent", "Code": "Forbidden.ResourceNotFound", "HttpStatus": 404, "Message": "The resource is not found."}])
    );
    // A version selector of no valid shape fails its own entry only.
    let odd = format!(r#"[{{"SecretName":"one"}},{{"SecretName":"two","VersionId":"{}"}}]"#, "v".repeat(65));
    let r = ok(&c, "BatchGetSecretValue", &[("SecretsList", &odd)]).await;
    assert_eq!(r["SecretValues"].as_array().unwrap().len(), 1);
    assert_eq!(r["Errors"][0]["SecretName"], "two");
    assert_eq!(r["Errors"][0]["Code"], "Forbidden.ResourceNotFound");
    let too_many = format!("[{}]", vec![r#"{"SecretName":"one"}"#; 21].join(","));
    assert_error(&call(&c, "BatchGetSecretValue", &[("SecretsList", &too_many)]).await, 400, "InvalidParameter");
    assert_error(&call(&c, "BatchGetSecretValue", &[("SecretsList", "[]")]).await, 400, "InvalidParameter");
}
