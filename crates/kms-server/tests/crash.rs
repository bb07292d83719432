//! Crash safety: a mixed write load against kmsd, SIGKILL at a random moment, restart, and
//! every write the server acknowledged must still be there — keys, aliases, versions, secret
//! versions with their values — and every ciphertext it returned must still decrypt. Unacknowledged writes may be lost.
//!
//! 20 cycles by default; `KMSD_CRASH_CYCLES=200 cargo test --test crash` runs more.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use kms_testkit::Options;

/// Everything the server acknowledged.
#[derive(Default)]
struct Acked {
    keys: Vec<String>,
    aliases: Vec<(String, String)>,
    versions: Vec<(String, String)>,
    ciphertexts: Vec<(String, String)>,
    /// (secret name, version id, value)
    secret_versions: Vec<(String, String, String)>,
}

/// A pseudo-random number from a fresh UUID (no extra crate for jitter).
fn random(below: u64) -> u64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes(bytes[..8].try_into().unwrap()) % below
}

/// One client's loop: create a key, alias it, rotate it, encrypt under it — recording each
/// step only once its response arrived. Ends when the server goes away.
async fn load(c: Client, acked: Arc<Mutex<Acked>>, worker: usize) {
    let mut n = 0u64;
    loop {
        n += 1;
        let Some(r) = try_call(&c, "CreateKey", &[]).await else { return };
        let key = r["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
        acked.lock().unwrap().keys.push(key.clone());
        let alias = format!("alias/crash-{worker}-{n}-{}", random(1_000_000));
        if try_call(&c, "CreateAlias", &[("AliasName", &alias), ("KeyId", &key)]).await.is_none() {
            return;
        }
        acked.lock().unwrap().aliases.push((alias, key.clone()));
        let Some(v) = try_call(&c, "CreateKeyVersion", &[("KeyId", &key)]).await else { return };
        acked
            .lock()
            .unwrap()
            .versions
            .push((key.clone(), v["KeyVersion"]["KeyVersionId"].as_str().unwrap().to_owned()));
        let plaintext = b64(format!("payload {worker} {n}").as_bytes());
        let Some(e) = try_call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &plaintext)]).await else { return };
        acked.lock().unwrap().ciphertexts.push((e["CiphertextBlob"].as_str().unwrap().to_owned(), plaintext));
        let secret = format!("crash/{worker}-{n}-{}", random(1_000_000));
        let first = format!("first value {worker} {n}");
        if try_call(&c, "CreateSecret", &[("SecretName", &secret), ("VersionId", "v1"), ("SecretData", &first)])
            .await
            .is_none()
        {
            return;
        }
        acked.lock().unwrap().secret_versions.push((secret.clone(), "v1".into(), first));
        let second = format!("second value {worker} {n}");
        let put = [("SecretName", secret.as_str()), ("VersionId", "v2"), ("SecretData", second.as_str())];
        if try_call(&c, "PutSecretValue", &put).await.is_none() {
            return;
        }
        acked.lock().unwrap().secret_versions.push((secret, "v2".into(), second));
    }
}

/// The response body of a successful call, or `None` once the server is gone.
async fn try_call(c: &Client, action: &str, params: &[(&str, &str)]) -> Option<serde_json::Value> {
    // A killed server refuses or resets the connection: the write is not acknowledged.
    let r = c.try_send(Call::new(action, params)).await.ok()?;
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    Some(r.json())
}

async fn verify(c: &Client, acked: &Acked, from: &Acked) {
    for key in &acked.keys[from.keys.len()..] {
        ok(c, "DescribeKey", &[("KeyId", key)]).await;
    }
    for (alias, key) in &acked.aliases[from.aliases.len()..] {
        assert_eq!(ok(c, "DescribeKey", &[("KeyId", alias)]).await["KeyMetadata"]["KeyId"], key.as_str());
    }
    for (key, version) in &acked.versions[from.versions.len()..] {
        ok(c, "DescribeKeyVersion", &[("KeyId", key), ("KeyVersionId", version)]).await;
    }
    for (blob, plaintext) in &acked.ciphertexts[from.ciphertexts.len()..] {
        assert_eq!(ok(c, "Decrypt", &[("CiphertextBlob", blob)]).await["Plaintext"], plaintext.as_str());
    }
    for (secret, version, value) in &acked.secret_versions[from.secret_versions.len()..] {
        let got = ok(c, "GetSecretValue", &[("SecretName", secret), ("VersionId", version)]).await;
        assert_eq!(got["SecretData"], value.as_str(), "{secret} {version}");
    }
}

fn snapshot(a: &Acked) -> Acked {
    Acked {
        keys: a.keys.clone(),
        aliases: a.aliases.clone(),
        versions: a.versions.clone(),
        ciphertexts: a.ciphertexts.clone(),
        secret_versions: a.secret_versions.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let cycles: usize = std::env::var("KMSD_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut verified = Acked::default();
    for cycle in 0..cycles {
        let k = Kmsd::start_with(&bin(), Options { data_dir: Some(dir.clone()), ..Default::default() }).unwrap();
        let c = k.client();
        // What earlier cycles acknowledged survived the previous kill.
        let now = snapshot(&acked.lock().unwrap());
        verify(&c, &now, &verified).await;
        verified = now;
        let workers: Vec<_> = (0..8).map(|w| tokio::spawn(load(c.clone(), acked.clone(), cycle * 100 + w))).collect();
        // The kill lands at a random moment, but only once the load has made progress (a key
        // in every cycle, a secret version by the last one), however slow the disk.
        let (keys_before, last) = (verified.keys.len(), cycle + 1 == cycles);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let progressed = {
                let a = acked.lock().unwrap();
                a.keys.len() > keys_before && (!last || !a.secret_versions.is_empty())
            };
            if progressed {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no progress in 30 s in cycle {cycle}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(random(250))).await;
        k.kill();
        for w in workers {
            let _ = w.await;
        }
    }
    let k = Kmsd::start_with(&bin(), Options { data_dir: Some(dir), ..Default::default() }).unwrap();
    let all = snapshot(&acked.lock().unwrap());
    verify(&k.client(), &all, &verified).await;
    verify(&k.client(), &all, &Acked::default()).await;
    assert!(all.keys.len() >= cycles, "the load made progress: {} keys in {cycles} cycles", all.keys.len());
    eprintln!(
        "{cycles} SIGKILL cycles: {} keys, {} aliases, {} versions, {} ciphertexts, {} secret versions \
         acknowledged and intact",
        all.keys.len(),
        all.aliases.len(),
        all.versions.len(),
        all.ciphertexts.len(),
        all.secret_versions.len()
    );
    assert!(!all.secret_versions.is_empty(), "the load reached the secrets");
}
