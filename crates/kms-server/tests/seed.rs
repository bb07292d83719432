//! Fixtures (`kmsd --seed FILE`, `kmsd admin seed apply FILE`): fixed key ids, versions and
//! material survive a deleted data dir — a ciphertext made before decrypts after — applying the
//! same file again changes nothing, a conflict is refused by name and changes nothing, and the
//! fixed material and secrets never reach the log.

mod common;

use std::path::Path;

use common::*;
use kms_testkit::Options;

const KEY: &str = "5a1e0c1d-7e57-4f10-8ed0-000000000001";
const MATERIAL_1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const MATERIAL_2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const APP_ID: &str = "LTAI5tSeededCiKey0000001";
const APP_SECRET: &str = "seeded-ci-secret-0123456789abc";

fn seed_file(dir: &Path, material_2: &str) -> std::path::PathBuf {
    let key = KEY;
    let text = format!(
        r#"
[[keys]]
id = "{key}"
description = "fixture for CI"
aliases = ["alias/ci-fixture"]
tags = {{ team = "ci" }}
versions = [
  {{ id = "00000000-0000-4000-8000-00000000000a", material = "{MATERIAL_1}" }},
  {{ id = "00000000-0000-4000-8000-00000000000b", material = "{material_2}" }},
]

[[keys]]
id = "5a1e0c1d-7e57-4f10-8ed0-000000000002"
spec = "EC_P256"
usage = "SIGN/VERIFY"

[[secrets]]
name = "ci/database"
versions = [{{ id = "v1", value = "first-password-Q1" }}, {{ id = "v2", value = "second-password-Q2" }}]

[[access_keys]]
id = "{APP_ID}"
secret = "{APP_SECRET}"
name = "ci-app"
"#
    );
    let path = dir.join(format!("seed-{}.toml", &material_2[..4]));
    std::fs::write(&path, text).unwrap();
    path
}

fn start_seeded(data: &Path, seed: &Path) -> Result<Kmsd, (Option<i32>, String)> {
    Kmsd::start_with(
        &bin(),
        Options {
            data_dir: Some(data.to_owned()),
            extra_args: vec!["--seed".into(), seed.display().to_string()],
            ..Default::default()
        },
    )
}

fn app(k: &Kmsd) -> Client {
    Client { addr: k.client().addr, access_key_id: APP_ID.into(), secret: APP_SECRET.into() }
}

#[tokio::test]
async fn fixtures_survive_a_new_data_dir_and_apply_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path(), MATERIAL_2);
    let key = KEY.to_owned();
    let first = dir.path().join("first");
    let k = start_seeded(&first, &seed).expect("kmsd with fixtures");
    let c = k.client();
    let meta = ok(&c, "DescribeKey", &[("KeyId", "alias/ci-fixture")]).await;
    assert_eq!(meta["KeyMetadata"]["KeyId"], key.as_str());
    assert_eq!(meta["KeyMetadata"]["PrimaryKeyVersion"], "00000000-0000-4000-8000-00000000000b");
    assert_eq!(meta["KeyMetadata"]["Description"], "fixture for CI");
    let versions = ok(&c, "ListKeyVersions", &[("KeyId", &key)]).await;
    assert_eq!(versions["TotalCount"], 2, "{versions}");
    let tags = ok(&c, "ListResourceTags", &[("KeyId", &key)]).await;
    assert!(tags.to_string().contains("\"TagValue\":\"ci\""), "{tags}");
    let blob = ok(&c, "Encrypt", &[("KeyId", "alias/ci-fixture"), ("Plaintext", &b64(b"made before"))]).await
        ["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    // The seeded access key signs requests; the secret's versions are there, v2 current.
    wait_until_known(&app(&k)).await;
    let secret = ok(&app(&k), "GetSecretValue", &[("SecretName", "ci/database")]).await;
    assert_eq!((secret["VersionId"].as_str(), secret["SecretData"].as_str()), (Some("v2"), Some("second-password-Q2")));
    let signer = ok(&c, "DescribeKey", &[("KeyId", "5a1e0c1d-7e57-4f10-8ed0-000000000002")]).await;
    assert_eq!(signer["KeyMetadata"]["KeySpec"], "EC_P256");

    // Applying the same file again changes nothing.
    let keys_before = ok(&c, "ListKeys", &[]).await["TotalCount"].clone();
    let (applied, out, err) = admin_group(&k, "seed", &["apply", seed.to_str().unwrap()]);
    assert!(applied, "{err}");
    assert!(out.starts_with("0 changed"), "{out}");
    assert_eq!(ok(&c, "ListKeys", &[]).await["TotalCount"], keys_before);
    // Nothing secret in the log.
    let log = k.stderr();
    for secret in [MATERIAL_1, MATERIAL_2, APP_SECRET, "first-password-Q1", "second-password-Q2"] {
        assert!(!log.contains(secret), "{secret} reached the log");
    }
    drop(k);

    // A brand-new data dir (new root key) with the same file: the old ciphertext decrypts.
    let second = dir.path().join("second");
    let k = start_seeded(&second, &seed).expect("kmsd on a fresh data dir");
    let dec = ok(&k.client(), "Decrypt", &[("CiphertextBlob", &blob)]).await;
    assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), b"made before");
    assert_eq!(dec["KeyVersionId"], "00000000-0000-4000-8000-00000000000b");
    // A restart on it applies the file again: still one of everything.
    drop(k);
    let k = start_seeded(&second, &seed).expect("restart with fixtures");
    let versions = ok(&k.client(), "ListKeyVersions", &[("KeyId", &key)]).await;
    assert_eq!(versions["TotalCount"], 2, "{versions}");
    drop(k);

    // The same key id with other material: refused by name, nothing changed.
    let other = seed_file(dir.path(), MATERIAL_1);
    let (_, err) = start_seeded(&second, &other).err().expect("a conflicting fixture refuses the start");
    assert!(err.contains("exists with other material") && err.contains(&key), "{err}");
    assert!(!err.contains(MATERIAL_1), "{err}");
    let k = start_seeded(&second, &seed).expect("the matching file still starts");
    let dec = ok(&k.client(), "Decrypt", &[("CiphertextBlob", &blob)]).await;
    assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), b"made before");
}

#[tokio::test]
async fn malformed_fixtures_refuse_the_start_without_quoting_values() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[keys]]\nid = \"k\"\nmaterial = \"c2VjcmV0LXZhbHVlLXNob3VsZC1ub3Qtc2hvdw==\"\n").unwrap();
    let (_, err) = start_seeded(&dir.path().join("data"), &bad).err().expect("refused");
    assert!(err.contains("bad.toml") && err.contains("line"), "{err}");
    assert!(!err.contains("c2VjcmV0"), "{err}");
}

#[tokio::test]
async fn fixtures_make_instances_connected_with_keys_in_them() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("instances.toml");
    let text = |key_num: u32| {
        format!(
            r#"
[[instances]]
id = "kst-hzz6fixture0001"
spec = 2000
key_num = {key_num}
connected = {{ vpc_id = "vpc-fixture", zone_ids = ["cn-hangzhou-k", "cn-hangzhou-j"], vswitch_ids = ["vsw-fixture"] }}

[[keys]]
id = "5a1e0c1d-7e57-4f10-8ed0-0000000000c1"
instance = "kst-hzz6fixture0001"
versions = [{{ id = "00000000-0000-4000-8000-0000000000c1", material = "{MATERIAL_1}" }}]
"#
        )
    };
    std::fs::write(&seed, text(5)).unwrap();
    let data = dir.path().join("data");
    let k = start_seeded(&data, &seed).expect("kmsd with an instance fixture");
    let c = k.client();
    let got = ok(&c, "GetKmsInstance", &[("KmsInstanceId", "kst-hzz6fixture0001")]).await;
    let i = &got["KmsInstance"];
    assert_eq!(
        (i["Status"].as_str(), i["VpcId"].as_str(), i["KeyNum"].as_i64()),
        (Some("Connected"), Some("vpc-fixture"), Some(5))
    );
    let key = ok(&c, "DescribeKey", &[("KeyId", "5a1e0c1d-7e57-4f10-8ed0-0000000000c1")]).await;
    assert_eq!(key["KeyMetadata"]["DKMSInstanceId"], "kst-hzz6fixture0001");
    // Quotas follow the file; everything else as it was.
    std::fs::write(&seed, text(7)).unwrap();
    let (applied, out, err) = admin_group(&k, "seed", &["apply", seed.to_str().unwrap()]);
    assert!(applied, "{err}");
    assert!(out.contains("applied: instance kst-hzz6fixture0001 quotas") && out.starts_with("applied"), "{out}");
    let got = ok(&c, "GetKmsInstance", &[("KmsInstanceId", "kst-hzz6fixture0001")]).await;
    assert_eq!(
        (got["KmsInstance"]["KeyNum"].as_i64(), got["KmsInstance"]["Status"].as_str()),
        (Some(7), Some("Connected"))
    );
    let (_, again, _) = admin_group(&k, "seed", &["apply", seed.to_str().unwrap()]);
    assert!(again.starts_with("0 changed"), "{again}");
}

/// Several nodes (here: admin processes) applying one file at once: every one succeeds, and
/// the store holds one of each thing.
#[tokio::test]
async fn concurrent_applications_all_succeed_and_make_one_of_each() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path(), MATERIAL_2);
    let k = Kmsd::start_with(&bin(), Options { data_dir: Some(dir.path().join("data")), ..Default::default() })
        .expect("kmsd");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let mut cmd = std::process::Command::new(bin());
            cmd.args(["admin", "seed", "apply", seed.to_str().unwrap(), "--data-dir"]).arg(&k.data_dir);
            if let Ok(url) = std::fs::read_to_string(k.data_dir.with_extension("pgurl")) {
                cmd.arg("--store").arg(url);
            }
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let c = k.client();
    // The seeded keys once each (secrets' default key aside: the service makes it on first use).
    let keys = ok(&c, "ListKeys", &[("PageSize", "100")]).await;
    let seeded = keys["Keys"]["Key"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["KeyId"].as_str().unwrap().starts_with("5a1e0c1d"))
        .count();
    assert_eq!(seeded, 2, "{keys}");
    let versions = ok(&c, "ListKeyVersions", &[("KeyId", KEY)]).await;
    assert_eq!(versions["TotalCount"], 2, "{versions}");
    let aliases = ok(&c, "ListAliases", &[]).await;
    assert_eq!(aliases["TotalCount"], 1, "{aliases}");
    let secret = ok(&c, "ListSecretVersionIds", &[("SecretName", "ci/database")]).await;
    assert_eq!(secret["TotalCount"], 2, "{secret}");
}
