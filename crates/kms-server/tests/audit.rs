//! The audit trail: a line for every API request of every action family, allowed or refused,
//! with who, what, on which resources and the result; nothing secret in it; audit or fail;
//! rotation by size; stdout for a collector.

mod common;

use std::io::BufRead as _;

use common::*;
use kms_testkit::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Call, Options};

fn audit_lines(data_dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(data_dir.join("audit.log")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The outcome line of a request (the one with its result).
fn line_of<'a>(lines: &'a [serde_json::Value], request_id: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["RequestId"] == request_id && l.get("Phase").is_none())
        .unwrap_or_else(|| panic!("no audit line for {request_id}"))
}

/// Every line of the trail at `data_dir/audit.log`, rotated files first, oldest first.
fn whole_trail(data_dir: &std::path::Path) -> String {
    let live = data_dir.join("audit.log");
    let mut text = String::new();
    for f in kms_server::audit::rotated_files(&live).unwrap().iter().chain([&live]) {
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    text
}

#[tokio::test]
async fn every_request_is_audited_with_nothing_secret_in_it() {
    let k = start();
    let c = k.client();
    let plaintext = b"AUDIT-PLAINTEXT-4f1c9e2b";
    let secret_value = "AUDIT-SECRET-VALUE-77c2d1";
    let mut expected: Vec<(String, &str, &str)> = Vec::new(); // (request id, action, code)
    let mut secrets_sent: Vec<String> = vec![b64(plaintext), secret_value.to_owned()];
    let mut track = |r: &serde_json::Value, action: &'static str, code: &'static str| {
        expected.push((r["RequestId"].as_str().unwrap().to_owned(), action, code));
    };

    let key = ok(&c, "CreateKey", &[("Description", "audited")]).await;
    track(&key, "CreateKey", "OK");
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let key_arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let alias = ok(&c, "CreateAlias", &[("AliasName", "alias/audited"), ("KeyId", &key_id)]).await;
    track(&alias, "CreateAlias", "OK");
    let enc = ok(&c, "Encrypt", &[("KeyId", "alias/audited"), ("Plaintext", &b64(plaintext))]).await;
    track(&enc, "Encrypt", "OK");
    let blob = enc["CiphertextBlob"].as_str().unwrap().to_owned();
    secrets_sent.push(blob.clone());
    let dec = ok(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    track(&dec, "Decrypt", "OK");
    let dk = ok(&c, "GenerateDataKey", &[("KeyId", &key_id)]).await;
    track(&dk, "GenerateDataKey", "OK");
    secrets_sent.push(dk["Plaintext"].as_str().unwrap().to_owned());
    secrets_sent.push(dk["CiphertextBlob"].as_str().unwrap().to_owned());
    let made =
        ok(&c, "CreateSecret", &[("SecretName", "audited/db"), ("VersionId", "v1"), ("SecretData", secret_value)])
            .await;
    track(&made, "CreateSecret", "OK");
    let got = ok(&c, "GetSecretValue", &[("SecretName", "audited/db")]).await;
    track(&got, "GetSecretValue", "OK");
    let tagged = ok(&c, "TagResource", &[("KeyId", &key_id), ("Tags", r#"[{"TagKey":"team","TagValue":"a"}]"#)]).await;
    track(&tagged, "TagResource", "OK");
    let disabled = ok(&c, "DisableKey", &[("KeyId", &key_id)]).await;
    track(&disabled, "DisableKey", "OK");
    let refused = call(&c, "Encrypt", &[("KeyId", &key_id), ("Plaintext", &b64(plaintext))]).await;
    assert_error(&refused, 409, "Rejected.Disabled");
    track(&refused.json(), "Encrypt", "Rejected.Disabled");
    let regions = ok(&c, "DescribeRegions", &[]).await;
    track(&regions, "DescribeRegions", "OK");
    let (signer, version) = {
        let m = ok(&c, "CreateKey", &[("KeySpec", "EC_P256")]).await;
        track(&m, "CreateKey", "OK");
        (
            m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned(),
            m["KeyMetadata"]["PrimaryKeyVersion"].as_str().unwrap().to_owned(),
        )
    };
    let digest = b64(&[5u8; 32]);
    let signed = ok(
        &c,
        "AsymmetricSign",
        &[("KeyId", &signer), ("KeyVersionId", &version), ("Algorithm", "ECDSA_SHA_256"), ("Digest", &digest)],
    )
    .await;
    track(&signed, "AsymmetricSign", "OK");
    secrets_sent.push(signed["Value"].as_str().unwrap().to_owned());
    // The remaining families: versions, import, policies, aliases.
    let asym_version = ok(&c, "ListKeyVersions", &[("KeyId", &key_id)]).await;
    track(&asym_version, "ListKeyVersions", "OK");
    let external = ok(&c, "CreateKey", &[("Origin", "EXTERNAL")]).await;
    track(&external, "CreateKey", "OK");
    let external_id = external["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let import = ok(
        &c,
        "GetParametersForImport",
        &[("KeyId", &external_id), ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"), ("WrappingKeySpec", "RSA_2048")],
    )
    .await;
    track(&import, "GetParametersForImport", "OK");
    secrets_sent.push(import["ImportToken"].as_str().unwrap().to_owned());
    let key_policy = ok(&c, "GetKeyPolicy", &[("KeyId", &key_id)]).await;
    track(&key_policy, "GetKeyPolicy", "OK");
    let aliases = ok(&c, "ListAliases", &[]).await;
    track(&aliases, "ListAliases", "OK");
    let password = ok(&c, "GetRandomPassword", &[]).await;
    track(&password, "GetRandomPassword", "OK");
    secrets_sent.push(password["RandomPassword"].as_str().unwrap().to_owned());
    let instances = ok(&c, "ListKmsInstances", &[]).await;
    track(&instances, "ListKmsInstances", "OK");
    // HMAC and managed data keys: the message and the data key are secrets.
    let mac_key = ok(&c, "CreateKey", &[("KeySpec", "HMAC_SHA_256")]).await;
    track(&mac_key, "CreateKey", "OK");
    let mac_message = b64(b"audited mac message");
    let mac_id = mac_key["KeyMetadata"]["KeyId"].as_str().unwrap();
    let mac =
        ok(&c, "GenerateMac", &[("KeyId", mac_id), ("Algorithm", "HMAC_SHA_256"), ("Message", &mac_message)]).await;
    track(&mac, "GenerateMac", "OK");
    secrets_sent.push(mac_message);
    let (made, _, err) = admin_group(&k, "datakey", &["create", "audited-data-key"]);
    assert!(made, "{err}");
    let data_key = ok(&c, "GetManagedDataKey", &[("DataKeyName", "audited-data-key")]).await;
    track(&data_key, "GetManagedDataKey", "OK");
    secrets_sent.push(data_key["Plaintext"].as_str().unwrap().to_owned());
    // Application access: a ClientKey's password and PKCS#12 are secrets.
    let aap = ok(&c, "CreateApplicationAccessPoint", &[("Name", "audited-aap"), ("Policies", "[]")]).await;
    track(&aap, "CreateApplicationAccessPoint", "OK");
    let client_key_password = "Audited-Passw0rd";
    let client_key = ok(&c, "CreateClientKey", &[("AapName", "audited-aap"), ("Password", client_key_password)]).await;
    track(&client_key, "CreateClientKey", "OK");
    secrets_sent.push(client_key_password.to_owned());
    secrets_sent.push(client_key["PrivateKeyData"].as_str().unwrap()[..256].to_owned());
    // Refused before any action runs: a wrong secret, and an unknown action.
    let forged = kms_testkit::Client { secret: "wrong".into(), ..c.clone() };
    let r = forged.send(Call::new("DescribeRegions", &[])).await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    let forged_id = r.json()["RequestId"].as_str().unwrap().to_owned();
    let r = call(&c, "NoSuchAction", &[]).await;
    assert_error(&r, 400, "InvalidAction.NotFound");
    let unknown_id = r.json()["RequestId"].as_str().unwrap().to_owned();

    let lines = audit_lines(&k.data_dir);
    for (id, action, code) in &expected {
        let l = line_of(&lines, id);
        assert_eq!((l["Action"].as_str(), l["Code"].as_str()), (Some(*action), Some(*code)), "{l}");
        assert_eq!(l["AccessKeyId"], ACCESS_KEY_ID);
        assert_eq!(l["SourceIp"], "127.0.0.1");
        assert!(l["Time"].as_str().unwrap().ends_with('Z'));
        assert!(l["LatencyMs"].as_f64().unwrap() >= 0.0);
        assert_eq!(l["HttpStatus"], if *code == "OK" { 200 } else { 409 });
    }
    let resources = |id: &str| line_of(&lines, id)["Resources"].clone();
    // By alias, the alias ARN; by blob, the key the blob belongs to; by secret name, its ARN.
    let enc_id = enc["RequestId"].as_str().unwrap();
    assert!(resources(enc_id)[0].as_str().unwrap().ends_with(":alias/audited"), "{}", resources(enc_id));
    assert_eq!(resources(dec["RequestId"].as_str().unwrap()), serde_json::json!([key_arn]));
    let secret_resources = resources(got["RequestId"].as_str().unwrap());
    assert!(secret_resources[0].as_str().unwrap().ends_with(":secret/audited/db"), "{secret_resources}");
    assert_eq!(resources(regions["RequestId"].as_str().unwrap()), serde_json::json!([]));
    let data_key_resources = resources(data_key["RequestId"].as_str().unwrap());
    assert!(data_key_resources[0].as_str().unwrap().ends_with(":datakey/audited-data-key"), "{data_key_resources}");
    let key_resources = resources(client_key["RequestId"].as_str().unwrap());
    assert!(key_resources[0].as_str().unwrap().ends_with(":applicationaccesspoint/audited-aap"), "{key_resources}");
    let f = line_of(&lines, &forged_id);
    assert_eq!(
        (f["Code"].as_str(), f["AccessKeyId"].as_str(), f["HttpStatus"].as_u64()),
        (Some("SignatureDoesNotMatch"), Some(ACCESS_KEY_ID), Some(400))
    );
    assert_eq!(line_of(&lines, &unknown_id)["Code"], "InvalidAction.NotFound");
    // Each change has an intent line before its outcome: same request, who, what, where.
    let mut changes = 0;
    for (id, action, _) in &expected {
        let writes = action.parse::<kms_wire::Action>().unwrap().effect() == kms_wire::actions::Effect::Writes;
        let at = |phase: Option<&str>| {
            lines.iter().position(|l| l["RequestId"] == id.as_str() && l["Phase"].as_str() == phase)
        };
        match (writes, at(Some("Intent"))) {
            (false, None) => {}
            (true, Some(i)) => {
                changes += 1;
                let (intent, outcome) = (&lines[i], line_of(&lines, id));
                assert!(i < at(None).unwrap(), "intent after outcome: {intent}");
                for field in ["Action", "AccessKeyId", "Principal", "SourceIp", "Resources"] {
                    assert_eq!(intent[field], outcome[field], "{field} of {intent}");
                }
                assert!(intent.get("Code").is_none() && intent.get("HttpStatus").is_none(), "{intent}");
            }
            (writes, intent) => panic!("{action}: writes={writes}, intent line {intent:?}"),
        }
    }
    assert!(changes >= 6, "{changes}");
    assert_eq!(lines.len(), expected.len() + 2 + changes, "one line per request and an intent per change, no more");
    // Every action family of the table is represented in this trail.
    let families: std::collections::HashSet<String> = lines
        .iter()
        .filter_map(|l| l["Action"].as_str()?.parse::<kms_wire::Action>().ok())
        .map(|a| format!("{:?}", a.family()))
        .collect();
    let all: std::collections::HashSet<String> =
        kms_wire::Action::ALL.iter().map(|a| format!("{:?}", a.family())).collect();
    assert_eq!(families, all, "families without an audited request");

    // Nothing sent or answered that is secret appears in the trail, raw or base64.
    let text = std::fs::read(k.data_dir.join("audit.log")).unwrap();
    for s in &secrets_sent {
        assert!(!holds(&text, s.as_bytes()), "audit trail holds a secret: {s}");
    }
    assert!(!holds(&text, plaintext) && !holds(&text, ACCESS_KEY_SECRET.as_bytes()));
}

/// Audit or fail: a trail that cannot be written refuses the request, and a change it cannot
/// record is refused before it has any effect — after a restart with a working trail, nothing
/// of it is in the store.
#[tokio::test]
async fn a_change_the_trail_cannot_record_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let with_trail = |audit: Option<&str>| Options {
        data_dir: Some(data_dir.clone()),
        extra_args: audit.map(|a| vec!["--audit-log".into(), a.into()]).unwrap_or_default(),
        ..Default::default()
    };
    let k = Kmsd::start_with(&bin(), with_trail(None)).unwrap();
    ok(&k.client(), "CreateSecret", &[("SecretName", "db"), ("VersionId", "v1"), ("SecretData", "one")]).await;
    k.terminate();

    let k = Kmsd::start_with(&bin(), with_trail(Some("/dev/full"))).unwrap();
    let c = k.client();
    for (action, params) in [
        ("CreateKey", vec![]),
        ("CreateSecret", vec![("SecretName", "other"), ("VersionId", "v1"), ("SecretData", "x")]),
        ("PutSecretValue", vec![("SecretName", "db"), ("VersionId", "v2"), ("SecretData", "two")]),
        ("DescribeRegions", vec![]),
    ] {
        let r = call(&c, action, &params).await;
        assert_error(&r, 503, "ServiceUnavailableTemporary");
        assert!(r.text().contains("audit trail"), "{action}: {}", r.text());
    }
    assert!(k.stderr().contains("audit trail not writable: change refused before it ran"), "{}", k.stderr());
    k.terminate();

    let k = Kmsd::start_with(&bin(), with_trail(None)).unwrap();
    let c = k.client();
    assert_eq!(ok(&c, "ListKeys", &[]).await["TotalCount"], 1, "only the secrets' default key");
    assert_eq!(ok(&c, "ListSecrets", &[]).await["TotalCount"], 1);
    let versions = ok(&c, "ListSecretVersionIds", &[("SecretName", "db")]).await;
    assert_eq!(versions["TotalCount"], 1, "{versions}");
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "db")]).await["SecretData"], "one");
}

/// What an unauthenticated client sends is bounded before it reaches the trail: a 1 MB
/// claimed access key id costs the same small line as any refusal, and a flood of refusals,
/// however many rotations it causes, never removes an earlier record.
#[tokio::test]
async fn refused_requests_cost_little_and_never_erase_history() {
    let k = Kmsd::start_with(
        &bin(),
        Options { extra_args: vec!["--audit-max-bytes".into(), "4096".into()], ..Default::default() },
    )
    .unwrap();
    let c = k.client();
    let first = ok(&c, "CreateKey", &[]).await["RequestId"].as_str().unwrap().to_owned();
    let huge = "A".repeat(1_000_000);
    let body = format!("Action=DescribeRegions&Version=2016-01-20&AccessKeyId={huge}").into_bytes();
    let headers = vec![("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
    let before = whole_trail(&k.data_dir).len();
    let mut refused = Vec::new();
    for _ in 0..60 {
        let r = c.raw("POST", "/", &headers, body.clone(), false).await;
        assert!(r.status >= 400, "{}", r.text());
        refused.push(r.json()["RequestId"].as_str().unwrap().to_owned());
    }
    let trail = whole_trail(&k.data_dir);
    let per_request = (trail.len() - before) / refused.len();
    assert!(per_request < 512, "a refused request took {per_request} bytes of trail");
    let lines: Vec<serde_json::Value> = trail.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for id in &refused {
        assert!(line_of(&lines, id).get("AccessKeyId").is_none_or(|v| v.is_null()), "an implausible id was kept");
    }
    assert!(kms_server::audit::rotated_files(&k.data_dir.join("audit.log")).unwrap().len() >= 3, "it rotated");
    assert_eq!(line_of(&lines, &first)["Action"], "CreateKey", "the first record is still there");
}

#[tokio::test]
async fn the_trail_rotates_by_size() {
    rotates_by_size(&[]).await;
}

/// `--audit-sync`: every line on disk before its answer; the same trail, rotations included.
#[tokio::test]
async fn a_synced_trail_rotates_by_size_too() {
    rotates_by_size(&["--audit-sync"]).await;
}

async fn rotates_by_size(more: &[&str]) {
    let mut extra_args: Vec<String> =
        vec!["--audit-max-bytes".into(), "2000".into(), "--audit-keep".into(), "2".into()];
    extra_args.extend(more.iter().map(|a| a.to_string()));
    let k = Kmsd::start_with(&bin(), Options { extra_args, ..Default::default() }).unwrap();
    let c = k.client();
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(ok(&c, "DescribeRegions", &[]).await["RequestId"].as_str().unwrap().to_owned());
    }
    let live_path = k.data_dir.join("audit.log");
    let rotated = kms_server::audit::rotated_files(&live_path).unwrap();
    assert_eq!(rotated.len(), 2, "the chosen retention: {rotated:?}");
    let live = std::fs::read_to_string(&live_path).unwrap();
    for f in rotated.iter().chain([&live_path]) {
        let n = std::fs::metadata(f).unwrap().len();
        assert!(n <= 2000, "{n}");
    }
    // The newest requests are in the live file, in order, each once.
    let live_ids: Vec<String> = live
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["RequestId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(live_ids.as_slice(), &ids[ids.len() - live_ids.len()..]);
}

/// `--audit-log -`: the lines go to stdout, after the ready line.
#[tokio::test]
async fn the_trail_can_go_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["--listen", "127.0.0.1:0", "--audit-log", "-", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("KMSD_BOOTSTRAP_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("KMSD_BOOTSTRAP_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET)
        .env_remove("KMSD_TEST_STORE")
        .args(["--store", "sqlite"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    let addr = ready.trim().rsplit("://").next().unwrap().to_owned();
    let c = kms_testkit::Client { addr, access_key_id: ACCESS_KEY_ID.into(), secret: ACCESS_KEY_SECRET.into() };
    let id = ok(&c, "DescribeRegions", &[]).await["RequestId"].as_str().unwrap().to_owned();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let l: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!((l["RequestId"].as_str(), l["Action"].as_str()), (Some(id.as_str()), Some("DescribeRegions")));
    let _ = child.kill();
    let _ = child.wait();
    assert!(!dir.path().join("data/audit.log").exists());
}
