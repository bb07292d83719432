//! The key-state × operation table of spec §5.4 at the wire, row by row for every action that
//! touches a key, and compare-and-set under concurrent conflicting changes.

mod common;

use common::*;

#[derive(Clone, Copy, Debug)]
enum State {
    Enabled,
    Disabled,
    PendingDeletion,
}

/// A fresh key in `state`, with one ciphertext made while it was enabled and one alias.
async fn key_in(c: &Client, state: State, alias: &str) -> (String, String, String) {
    let key = new_key(c).await;
    let version =
        ok(c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["PrimaryKeyVersion"].as_str().unwrap().to_owned();
    let blob = ok(c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(c, "CreateAlias", &[("AliasName", alias), ("KeyId", &key)]).await;
    match state {
        State::Enabled => {}
        State::Disabled => {
            ok(c, "DisableKey", &[("KeyId", &key)]).await;
        }
        State::PendingDeletion => {
            ok(c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
        }
    }
    (key, version, blob)
}

#[tokio::test]
async fn every_key_action_follows_the_state_table() {
    let k = start();
    let c = k.client();
    const OK: &str = "OK";
    const SMF: &str = "Rejected.StateModifiedFailed";
    // (action, expected in Enabled, Disabled, PendingDeletion); "{key}", "{version}", "{blob}",
    // "{alias}" and "{other}" are filled in per case.
    let use_key = [OK, "Rejected.Disabled", "Rejected.PendingDeletion"];
    let read = [OK, OK, OK];
    let metadata = [OK, OK, "Rejected.PendingDeletion"];
    let modify = [OK, OK, SMF];
    type Row<'a> = (&'a str, Vec<(&'a str, &'a str)>, [&'a str; 3]);
    let rows: Vec<Row> = vec![
        ("DescribeKey", vec![("KeyId", "{key}")], read),
        ("ListAliasesByKeyId", vec![("KeyId", "{key}")], read),
        ("DescribeKeyVersion", vec![("KeyId", "{key}"), ("KeyVersionId", "{version}")], read),
        ("ListKeyVersions", vec![("KeyId", "{key}")], read),
        ("DeleteAlias", vec![("AliasName", "{alias}")], read),
        ("Encrypt", vec![("KeyId", "{key}"), ("Plaintext", "aGk=")], use_key),
        ("Decrypt", vec![("CiphertextBlob", "{blob}")], use_key),
        ("GenerateDataKey", vec![("KeyId", "{key}")], use_key),
        ("GenerateDataKeyWithoutPlaintext", vec![("KeyId", "{key}")], use_key),
        ("CreateKeyVersion", vec![("KeyId", "{key}")], use_key),
        (
            "UpdateRotationPolicy",
            vec![("KeyId", "{key}"), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")],
            use_key,
        ),
        ("UpdateKeyDescription", vec![("KeyId", "{key}"), ("Description", "new")], metadata),
        ("SetDeletionProtection", vec![("KeyId", "{key}"), ("EnableDeletionProtection", "true")], metadata),
        ("UpdateAlias", vec![("AliasName", "{other}"), ("KeyId", "{key}")], metadata),
        ("EnableKey", vec![("KeyId", "{key}")], modify),
        ("DisableKey", vec![("KeyId", "{key}")], modify),
        ("ScheduleKeyDeletion", vec![("KeyId", "{key}"), ("PendingWindowInDays", "30")], modify),
        ("CreateAlias", vec![("AliasName", "{new-alias}"), ("KeyId", "{key}")], modify),
        ("CancelKeyDeletion", vec![("KeyId", "{key}")], [SMF, SMF, OK]),
    ];
    let other = new_key(&c).await;
    let mut n = 0;
    for (action, params, expected) in rows {
        for (i, state) in [State::Enabled, State::Disabled, State::PendingDeletion].into_iter().enumerate() {
            n += 1;
            let alias = format!("alias/case-{n}");
            let other_alias = format!("alias/other-{n}");
            ok(&c, "CreateAlias", &[("AliasName", &other_alias), ("KeyId", &other)]).await;
            let (key, version, blob) = key_in(&c, state, &alias).await;
            let new_alias = format!("alias/new-{n}");
            let filled: Vec<(&str, String)> = params
                .iter()
                .map(|(name, v)| {
                    let v = match *v {
                        "{key}" => key.clone(),
                        "{version}" => version.clone(),
                        "{blob}" => blob.clone(),
                        "{alias}" => alias.clone(),
                        "{other}" => other_alias.clone(),
                        "{new-alias}" => new_alias.clone(),
                        other => other.to_owned(),
                    };
                    (*name, v)
                })
                .collect();
            let p: Vec<(&str, &str)> = filled.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = call(&c, action, &p).await;
            if expected[i] == OK {
                assert_eq!(r.status, 200, "{action} on {state:?}: {}", r.text());
            } else {
                let status = if expected[i] == "Rejected.UnsupportedOperation" { 400 } else { 409 };
                assert_error(&r, status, expected[i]);
            }
        }
    }
}

#[tokio::test]
async fn deletion_lifecycle_and_protection() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let before = time::OffsetDateTime::now_utc();
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
    assert_eq!(m["KeyState"], "PendingDeletion");
    let delete_date =
        time::OffsetDateTime::parse(m["DeleteDate"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let expected = before + time::Duration::days(7);
    assert!((delete_date - expected).abs() < time::Duration::seconds(5), "{delete_date} vs {expected}");
    ok(&c, "CancelKeyDeletion", &[("KeyId", &key)]).await;
    let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
    assert_eq!(m["KeyState"], "Enabled");
    assert!(m.get("DeleteDate").is_none());

    for (days, code) in [("6", "InvalidParameter"), ("367", "InvalidParameter"), ("x", "InvalidParameter")] {
        assert_error(
            &call(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", days)]).await,
            400,
            code,
        );
    }
    assert_error(&call(&c, "ScheduleKeyDeletion", &[("KeyId", &key)]).await, 400, "MissingParameter");
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "366")]).await;
    ok(&c, "CancelKeyDeletion", &[("KeyId", &key)]).await;

    let arn = m["Arn"].as_str().unwrap().to_owned();
    ok(
        &c,
        "SetDeletionProtection",
        &[
            ("ProtectedResourceArn", &arn),
            ("EnableDeletionProtection", "True"),
            ("DeletionProtectionDescription", "used by billing"),
        ],
    )
    .await;
    let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
    assert_eq!(
        (m["DeletionProtection"].as_str(), m["DeletionProtectionDescription"].as_str()),
        (Some("Enabled"), Some("used by billing"))
    );
    let r = call(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    assert_error(&r, 400, "Rejected.UnsupportedOperation");
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["KeyState"], "Enabled");
    ok(&c, "SetDeletionProtection", &[("ProtectedResourceArn", &arn), ("EnableDeletionProtection", "false")]).await;
    let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
    assert_eq!(m["DeletionProtection"], "Disabled");
    assert!(m.get("DeletionProtectionDescription").is_none());
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    assert_error(&call(&c, "SetDeletionProtection", &[("ProtectedResourceArn", &arn)]).await, 400, "MissingParameter");
    assert_error(
        &call(&c, "SetDeletionProtection", &[("EnableDeletionProtection", "true")]).await,
        400,
        "MissingParameter",
    );
    assert_error(
        &call(
            &c,
            "SetDeletionProtection",
            &[("ProtectedResourceArn", "not-an-arn"), ("EnableDeletionProtection", "true")],
        )
        .await,
        400,
        "InvalidParameter",
    );

    // UpdateKeyDescription replaces, and an empty value clears.
    let other = new_key(&c).await;
    ok(&c, "UpdateKeyDescription", &[("KeyId", &other), ("Description", "first")]).await;
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", &other)]).await["KeyMetadata"]["Description"], "first");
    ok(&c, "UpdateKeyDescription", &[("KeyId", &other), ("Description", "")]).await;
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", &other)]).await["KeyMetadata"]["Description"], "");
    assert_error(&call(&c, "UpdateKeyDescription", &[("KeyId", &other)]).await, 400, "MissingParameter");
}

/// Conflicting changes raced against each other: exactly one wins; independent changes raced
/// against each other: none is lost.
#[tokio::test]
async fn concurrent_changes_are_compare_and_set() {
    let k = start();
    let c = k.client();
    for _ in 0..5 {
        let key = new_key(&c).await;
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let (c, key) = (c.clone(), key.clone());
                tokio::spawn(async move {
                    call(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await
                })
            })
            .collect();
        let mut wins = 0;
        for a in attempts {
            let r = a.await.unwrap();
            if r.status == 200 {
                wins += 1;
            } else {
                assert_error(&r, 409, "Rejected.StateModifiedFailed");
            }
        }
        assert_eq!(wins, 1, "exactly one ScheduleKeyDeletion wins");
    }
    for round in 0..5 {
        let key = new_key(&c).await;
        let description = format!("round {round}");
        let (c1, c2, c3, k1, k2, k3) = (c.clone(), c.clone(), c.clone(), key.clone(), key.clone(), key.clone());
        let a = tokio::spawn(async move {
            call(&c1, "UpdateKeyDescription", &[("KeyId", &k1), ("Description", &description)]).await
        });
        let b = tokio::spawn(async move {
            call(&c2, "SetDeletionProtection", &[("KeyId", &k2), ("EnableDeletionProtection", "true")]).await
        });
        let d = tokio::spawn(async move {
            call(
                &c3,
                "UpdateRotationPolicy",
                &[("KeyId", &k3), ("EnableAutomaticRotation", "true"), ("RotationInterval", "30d")],
            )
            .await
        });
        for r in [a.await.unwrap(), b.await.unwrap(), d.await.unwrap()] {
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
        assert_eq!(m["Description"], format!("round {round}"));
        assert_eq!(m["DeletionProtection"], "Enabled");
        assert_eq!(m["AutomaticRotation"], "Enabled");
    }
    // Concurrent rotations: every one adds a version, none is lost.
    let key = new_key(&c).await;
    let rotations: Vec<_> = (0..10)
        .map(|_| {
            let (c, key) = (c.clone(), key.clone());
            tokio::spawn(async move {
                ok(&c, "CreateKeyVersion", &[("KeyId", &key)]).await["KeyVersion"]["KeyVersionId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let mut made = Vec::new();
    for r in rotations {
        made.push(r.await.unwrap());
    }
    let listed = ok(&c, "ListKeyVersions", &[("KeyId", &key), ("PageSize", "100")]).await;
    assert_eq!(listed["TotalCount"], 11);
    let primary = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["PrimaryKeyVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(made.contains(&primary));
}

#[tokio::test]
async fn deletion_protection_takes_a_key_arn_only() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    ok(&c, "CreateAlias", &[("AliasName", "alias/protected"), ("KeyId", &key)]).await;
    let arn = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let alias_arn = arn.replace(&format!("key/{key}"), "alias/protected");
    let p = |a: &str| vec![("ProtectedResourceArn", a.to_owned()), ("EnableDeletionProtection", "true".to_owned())];
    let call_with = |v: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let p: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(&c, "SetDeletionProtection", &p).await
        }
    };
    assert_error(&call_with(p(&alias_arn)).await, 400, "InvalidParameter");
    assert_error(
        &call_with(p(&arn.replace(&key, "11111111-2222-3333-4444-555555555555"))).await,
        404,
        "Forbidden.KeyNotFound",
    );
    assert_eq!(call_with(p(&arn)).await.status, 200);
}
