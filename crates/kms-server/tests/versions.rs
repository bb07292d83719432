//! Versions, manual and automatic rotation, and destruction — the schedules proved with
//! `--dev-clock` instead of waiting days.

mod common;

use common::*;
use kms_testkit::Options;

async fn primary(c: &Client, key: &str) -> String {
    ok(c, "DescribeKey", &[("KeyId", key)]).await["KeyMetadata"]["PrimaryKeyVersion"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn manual_versions_keep_old_ciphertext_decrypting() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let mut blobs = Vec::new();
    let mut versions = vec![primary(&c, &key).await];
    for i in 0..3 {
        let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(format!("v{i}").as_bytes()))]).await;
        assert_eq!(enc["KeyVersionId"], versions.last().unwrap().as_str());
        blobs.push((
            enc["CiphertextBlob"].as_str().unwrap().to_owned(),
            versions.last().unwrap().clone(),
            format!("v{i}"),
        ));
        let made = ok(&c, "CreateKeyVersion", &[("KeyId", &key)]).await;
        let v = &made["KeyVersion"];
        assert_eq!(v["KeyId"], key.as_str());
        assert!(v["CreationDate"].as_str().unwrap().ends_with('Z'));
        let id = v["KeyVersionId"].as_str().unwrap().to_owned();
        assert_eq!(primary(&c, &key).await, id, "the new version is primary");
        versions.push(id);
    }
    for (blob, version, plain) in &blobs {
        let dec = ok(&c, "Decrypt", &[("CiphertextBlob", blob)]).await;
        assert_eq!(&dec["KeyVersionId"], version.as_str());
        assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), plain.as_bytes());
    }
    let listed = ok(&c, "ListKeyVersions", &[("KeyId", &key), ("PageSize", "3")]).await;
    assert_eq!(listed["TotalCount"], 4);
    let ids: Vec<&str> = listed["KeyVersions"]["KeyVersion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["KeyVersionId"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = versions.iter().rev().take(3).map(String::as_str).collect();
    assert_eq!(ids, newest_first);
    let page2 = ok(&c, "ListKeyVersions", &[("KeyId", &key), ("PageSize", "3"), ("PageNumber", "2")]).await;
    assert_eq!(page2["KeyVersions"]["KeyVersion"][0]["KeyVersionId"], versions[0].as_str());

    let d = call(&c, "DescribeKeyVersion", &[("KeyId", "alias/none-yet"), ("KeyVersionId", &versions[1])]).await;
    assert_error(&d, 404, "Forbidden.AliasNotFound");
    let d = ok(&c, "DescribeKeyVersion", &[("KeyId", &key), ("KeyVersionId", &versions[1])]).await;
    assert_eq!(d["KeyVersion"]["KeyVersionId"], versions[1].as_str());
    let other = new_key(&c).await;
    let other_version = primary(&c, &other).await;
    for bad in [other_version.as_str(), "11111111-2222-3333-4444-555555555555", "not-a-version"] {
        assert_error(
            &call(&c, "DescribeKeyVersion", &[("KeyId", &key), ("KeyVersionId", bad)]).await,
            404,
            "Forbidden.KeyVersionNotFound",
        );
    }
    assert_error(&call(&c, "DescribeKeyVersion", &[("KeyId", &key)]).await, 400, "MissingParameter");
}

#[tokio::test]
async fn automatic_rotation_happens_on_schedule_and_pauses_while_disabled() {
    let k = dev_clock();
    let c = k.client();
    let created = ok(&c, "CreateKey", &[("EnableAutomaticRotation", "true"), ("RotationInterval", "7d")]).await;
    let m = &created["KeyMetadata"];
    let key = m["KeyId"].as_str().unwrap().to_owned();
    assert_eq!((m["AutomaticRotation"].as_str(), m["RotationInterval"].as_str()), (Some("Enabled"), Some("604800s")));
    assert_eq!(m["LastRotationDate"], m["CreationDate"]);
    let first = m["PrimaryKeyVersion"].as_str().unwrap().to_owned();
    let blob1 = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "b25l")]).await["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();

    // Not yet due: nothing happens.
    assert_eq!(advance(&c, 6 * 86_400).await["Rotated"], 0);
    assert_eq!(primary(&c, &key).await, first);
    // Due: exactly one rotation, even if the jobs run again at the same time.
    let report = advance(&c, 86_400 + 60).await;
    assert_eq!(report["Rotated"], 1);
    assert_eq!(advance(&c, 0).await["Rotated"], 0);
    let second = primary(&c, &key).await;
    assert_ne!(second, first);
    let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
    let date = |v: &serde_json::Value| {
        time::OffsetDateTime::parse(v.as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
    };
    let (last, next) = (date(&m["LastRotationDate"]), date(&m["NextRotationDate"]));
    // The clock keeps running: the rotation happened within the second before `Now` was read.
    let rotated_ago = date(&report["Now"]) - last;
    assert!(rotated_ago >= time::Duration::ZERO && rotated_ago <= time::Duration::seconds(1), "{rotated_ago}");
    assert_eq!(next - last, time::Duration::days(7));
    let enc2 = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "dHdv")]).await;
    assert_eq!(enc2["KeyVersionId"], second.as_str());

    // Disabled: rotation is suspended and does not happen while due.
    ok(&c, "DisableKey", &[("KeyId", &key)]).await;
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["AutomaticRotation"], "Suspended");
    assert_eq!(advance(&c, 8 * 86_400).await["Rotated"], 0);
    assert_eq!(primary(&c, &key).await, second);
    // Enabled again while overdue: it rotates at the next run (which may be the server's own
    // periodic one, so the test looks at the key rather than at its report).
    ok(&c, "EnableKey", &[("KeyId", &key)]).await;
    advance(&c, 0).await;
    let third = primary(&c, &key).await;
    assert!(third != second && third != first);

    // Ciphertext of every version decrypts.
    for (blob, version, plain) in
        [(blob1, first, "b25l"), (enc2["CiphertextBlob"].as_str().unwrap().to_owned(), second, "dHdv")]
    {
        let dec = ok(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await;
        assert_eq!((dec["KeyVersionId"].as_str(), dec["Plaintext"].as_str()), (Some(version.as_str()), Some(plain)));
    }
    assert_eq!(ok(&c, "ListKeyVersions", &[("KeyId", &key)]).await["TotalCount"], 3);

    // Turning rotation off stops it.
    ok(&c, "UpdateRotationPolicy", &[("KeyId", &key), ("EnableAutomaticRotation", "false")]).await;
    let m = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"].clone();
    assert_eq!(m["AutomaticRotation"], "Disabled");
    assert!(m.get("RotationInterval").is_none() && m.get("NextRotationDate").is_none());
    assert_eq!(advance(&c, 30 * 86_400).await["Rotated"], 0);
    for (interval, code) in
        [(None, "MissingParameter"), (Some("6d"), "InvalidParameter"), (Some("731d"), "InvalidParameter")]
    {
        let mut p = vec![("KeyId", key.as_str()), ("EnableAutomaticRotation", "true")];
        if let Some(i) = interval {
            p.push(("RotationInterval", i));
        }
        assert_error(&call(&c, "UpdateRotationPolicy", &p).await, 400, code);
    }
}

/// When the window ends the key is destroyed: every operation answers not-found, and its
/// wrapped material is gone from the database files themselves.
#[tokio::test]
async fn deletion_destroys_the_key_and_its_material_on_disk() {
    let k = dev_clock();
    let c = k.client();
    let key = new_key(&c).await;
    ok(&c, "CreateKeyVersion", &[("KeyId", &key)]).await;
    ok(&c, "CreateAlias", &[("AliasName", "alias/doomed"), ("KeyId", &key)]).await;
    let blob = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "Ynll")]).await["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let survivor = new_key(&c).await;

    let materials = stored_materials(&k.data_dir, &key);
    assert_eq!(materials.len(), 2);
    // SQLite: the database files; PostgreSQL: what the database holds.
    let on_disk = |m: &[u8]| holds(&store_contents(&k.data_dir), m);
    assert!(materials.iter().all(|m| on_disk(m)), "the wrapped material is in the store before deletion");

    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    assert_eq!(advance(&c, 7 * 86_400 - 120).await["Destroyed"], 0);
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await, 409, "Rejected.PendingDeletion");
    assert_eq!(advance(&c, 180).await["Destroyed"], 1);

    assert_error(&call(&c, "DescribeKey", &[("KeyId", &key)]).await, 404, "Forbidden.KeyNotFound");
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await, 404, "Forbidden.KeyNotFound");
    assert_error(
        &call(&c, "Encrypt", &[("KeyId", "alias/doomed"), ("Plaintext", "Ynll")]).await,
        404,
        "Forbidden.AliasNotFound",
    );
    assert_error(&call(&c, "CancelKeyDeletion", &[("KeyId", &key)]).await, 404, "Forbidden.KeyNotFound");
    assert!(materials.iter().all(|m| !on_disk(m)), "destroyed material is still in a store file");
    // Other keys are untouched.
    assert_eq!(ok(&c, "DescribeKey", &[("KeyId", &survivor)]).await["KeyMetadata"]["KeyState"], "Enabled");
}

#[tokio::test]
async fn the_dev_clock_is_off_unless_asked_for() {
    let k = start();
    let c = k.client();
    let r = c.raw("POST", "/-/clock/advance?seconds=10", &[], vec![], false).await;
    assert_error(&r, 400, "InvalidAction.NotFound");
    let k = dev_clock();
    let c = k.client();
    assert_error(&c.raw("GET", "/-/clock/advance?seconds=10", &[], vec![], false).await, 403, "UnsupportedHTTPMethod");
    assert_error(&c.raw("POST", "/-/clock/advance?seconds=-5", &[], vec![], false).await, 400, "InvalidParameter");
}

/// Per-version usage: Encrypt-side and Decrypt-side calls and the last use, per version.
#[tokio::test]
async fn versions_report_their_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let k = Kmsd::start_with(&bin(), Options { data_dir: Some(dir.clone()), ..Default::default() }).unwrap();
    let c = k.client();
    let key = new_key(&c).await;
    let first = primary(&c, &key).await;
    let mut blobs = Vec::new();
    for _ in 0..3 {
        blobs.push(
            ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await["CiphertextBlob"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ok(&c, "GenerateDataKey", &[("KeyId", &key)]).await;
    ok(&c, "Decrypt", &[("CiphertextBlob", &blobs[0])]).await;
    let second =
        ok(&c, "CreateKeyVersion", &[("KeyId", &key)]).await["KeyVersion"]["KeyVersionId"].as_str().unwrap().to_owned();
    ok(&c, "Decrypt", &[("CiphertextBlob", &blobs[1])]).await;
    ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    // A failed decrypt is not a use.
    call(&c, "Decrypt", &[("CiphertextBlob", &blobs[2]), ("EncryptionContext", r#"{"x":"y"}"#)]).await;

    let v1 = ok(&c, "DescribeKeyVersion", &[("KeyId", &key), ("KeyVersionId", &first)]).await["KeyVersion"].clone();
    assert_eq!((v1["EncryptCount"].as_u64(), v1["DecryptCount"].as_u64()), (Some(4), Some(2)));
    assert!(v1["LastUsedDate"].as_str().unwrap().ends_with('Z'));
    let v2 = ok(&c, "DescribeKeyVersion", &[("KeyId", &key), ("KeyVersionId", &second)]).await["KeyVersion"].clone();
    assert_eq!((v2["EncryptCount"].as_u64(), v2["DecryptCount"].as_u64()), (Some(1), Some(0)));
    // Counts are flushed to the store in batches and survive a restart.
    assert_eq!(k.terminate(), Some(0));
    let k = Kmsd::start_with(&bin(), Options { data_dir: Some(dir), ..Default::default() }).unwrap();
    let c = k.client();
    let v1 = ok(&c, "DescribeKeyVersion", &[("KeyId", &key), ("KeyVersionId", &first)]).await["KeyVersion"].clone();
    assert_eq!((v1["EncryptCount"].as_u64(), v1["DecryptCount"].as_u64()), (Some(4), Some(2)));
    let listed = ok(&c, "ListKeyVersions", &[("KeyId", &key)]).await;
    assert_eq!(listed["KeyVersions"]["KeyVersion"][0]["EncryptCount"], 1);
}

/// Usage is also a Prometheus counter at `GET /metrics`: by operation, over all versions (per
/// version it is DescribeKeyVersion's, above).
#[tokio::test]
async fn metrics_expose_version_usage_and_requests() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let version = primary(&c, &key).await;
    let blob = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    ok(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    call(&c, "DescribeKey", &[("KeyId", "alias/none")]).await;
    let r = c.raw("GET", "/metrics", &[], vec![], false).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let line = |needle: &str| {
        text.lines().find(|l| l.starts_with(needle) || (l.contains(needle) && !l.starts_with('#'))).map(str::to_owned)
    };
    let enc = line("kmsd_key_version_uses_total{operation=\"encrypt\"}");
    assert_eq!(enc.as_deref().and_then(|l| l.rsplit(' ').next()), Some("2"), "{text}");
    let dec = line("kmsd_key_version_uses_total{operation=\"decrypt\"}");
    assert_eq!(dec.as_deref().and_then(|l| l.rsplit(' ').next()), Some("1"), "{text}");
    assert!(!text.contains(version.as_str()), "no series per version: {text}");
    assert!(text.contains("kmsd_requests_total{action=\"DescribeKey\",code=\"Forbidden.AliasNotFound\"} 1"), "{text}");
    assert!(!text.contains("aGk="), "no values in metrics");
    // Latency per action as a histogram: every Encrypt under the largest bucket boundary.
    let count = line("kmsd_request_duration_seconds_count{action=\"Encrypt\"}");
    assert_eq!(count.as_deref().and_then(|l| l.rsplit(' ').next()), Some("2"), "{text}");
    let inf = line("kmsd_request_duration_seconds_bucket{action=\"Encrypt\",le=\"+Inf\"}");
    assert_eq!(inf.as_deref().and_then(|l| l.rsplit(' ').next()), Some("2"), "{text}");
    // Keys by state, as of the scrape.
    ok(&c, "DisableKey", &[("KeyId", &new_key(&c).await)]).await;
    let text = c.raw("GET", "/metrics", &[], vec![], false).await.text();
    let gauge = |state: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("kmsd_keys{{state=\"{state}\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!((gauge("Enabled").as_deref(), gauge("Disabled").as_deref()), (Some("1"), Some("1")), "{text}");
    assert_eq!(gauge("PendingDeletion").as_deref(), Some("0"));
}
