//! The `kms` binary driven as a user would, against a real kmsd: credentials from the
//! environment and from an `aliyun`-format profile, both outputs, exit codes and the service's
//! code and request id on failure, and envelope encryption of files and pipes — a 2 GiB stream
//! in flat memory, and a flipped byte, a cut file and swapped chunks each refused.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use kms_testkit::{ACCESS_KEY_ID, ACCESS_KEY_SECRET, Kmsd};

fn kmsd() -> Kmsd {
    let bin = std::env::var_os("KMSD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/kmsd"));
    assert!(bin.exists(), "kmsd is not built at {} (cargo build -p kms-server; scripts/test.sh does)", bin.display());
    Kmsd::start(&bin)
}

/// `kms` with the testkit's credentials in the environment and nothing else inherited that
/// could pick other credentials.
fn kms(k: &Kmsd) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kms"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KMS_ENDPOINT", &k.url)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET);
    c
}

fn run(mut c: Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = c.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn new_key(k: &Kmsd) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let r = k.client().send(kms_testkit::Call::new("CreateKey", &[])).await;
        r.json()["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    })
}

#[test]
fn small_values_keys_and_errors_in_both_outputs() {
    let k = kmsd();
    let key = new_key(&k);
    let mut c = kms(&k);
    c.args(["encrypt", "--key", &key, "--plaintext", "hello from the cli", "--context", r#"{"app":"cli"}"#]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let blob = out.lines().find_map(|l| l.strip_prefix("CiphertextBlob")).unwrap().trim().to_owned();
    assert!(out.contains(&key), "{out}");
    let mut c = kms(&k);
    c.args(["decrypt", "--ciphertext", &blob, "--context", r#"{"app":"cli"}"#]);
    let (code, out, err) = run(c);
    assert_eq!((code, out.as_str()), (0, "hello from the cli\n"), "{err}");
    let mut c = kms(&k);
    c.args(["--output", "json", "decrypt", "--ciphertext", &blob, "--context", r#"{"app":"cli"}"#]);
    let (code, out, _) = run(c);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((code, json["KeyId"].as_str()), (0, Some(key.as_str())));

    let mut c = kms(&k);
    c.args(["key", "describe", &key]);
    let (code, out, _) = run(c);
    assert!(code == 0 && out.contains("KeyState") && out.contains("Enabled"), "{out}");
    let mut c = kms(&k);
    c.args(["--output", "json", "key", "list"]);
    let (code, out, _) = run(c);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((code, json["TotalCount"].as_u64()), (0, Some(1)));
    let mut c = kms(&k);
    c.args(["key", "list"]);
    let (_, out, _) = run(c);
    assert!(out.contains(&key) && out.contains("(1 in all)"), "{out}");

    // The service's refusal: exit 1, its code and request id.
    let mut c = kms(&k);
    c.args(["decrypt", "--ciphertext", &blob]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("InvalidParameter") && err.contains("RequestId: "), "{err}");
    // Wrong credentials: the signature error, exit 1.
    let mut c = kms(&k);
    c.env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong").args(["key", "list"]);
    let (code, _, err) = run(c);
    assert!(code == 1 && err.contains("SignatureDoesNotMatch"), "{err}");
    // Nothing listening: exit 3, within the timeout.
    let mut c = kms(&k);
    c.env("KMS_ENDPOINT", "http://127.0.0.1:9").args(["key", "list"]);
    let (code, _, err) = run(c);
    assert!(code == 3 && err.contains("cannot reach"), "{err}");
    // A usage error: exit 2.
    let mut c = kms(&k);
    c.args(["encrypt", "--key", &key]);
    assert_eq!(run(c).0, 2);
}

#[test]
fn credentials_come_from_an_aliyun_profile() {
    let k = kmsd();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "current": "other",
            "profiles": [
                {"name": "other", "mode": "AK", "access_key_id": "LTAInope", "access_key_secret": "nope", "region_id": "cn-hangzhou"},
                {"name": "ci", "mode": "AK", "access_key_id": ACCESS_KEY_ID, "access_key_secret": ACCESS_KEY_SECRET, "region_id": "cn-hangzhou"}
            ],
            "meta_path": ""
        })
        .to_string(),
    )
    .unwrap();
    let with_profile = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kms"));
        c.env_clear().env("KMS_ENDPOINT", &k.url).env("ALIBABA_CLOUD_CONFIG_FILE", &config).args(args);
        run(c)
    };
    let (code, out, err) = with_profile(&["--profile", "ci", "key", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(0 in all)"), "{out}");
    // The file's current profile is used without --profile (here: one the server refuses).
    let (code, _, err) = with_profile(&["key", "list"]);
    assert!(code == 1 && err.contains("InvalidAccessKeyId"), "{err}");
    let (code, _, err) = with_profile(&["--profile", "absent", "key", "list"]);
    assert!(code == 3 && err.contains("no profile \"absent\""), "{err}");
}

/// Peak resident memory of a running process, from /proc, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

#[test]
fn a_two_gib_stream_encrypts_and_decrypts_through_pipes_in_flat_memory() {
    const TOTAL: u64 = 2 << 30;
    let k = kmsd();
    let key = new_key(&k);
    let mut enc = kms(&k);
    enc.args(["file", "encrypt", "--key", &key, "--context", r#"{"backup":"nightly"}"#, "-"]);
    let mut enc = enc.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut dec = kms(&k);
    dec.args(["file", "decrypt", "-"]);
    let mut dec = dec.stdin(enc.stdout.take().unwrap()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (enc_pid, dec_pid) = (enc.id(), dec.id());
    // A pattern that is not all zeros, written from one thread, read and checked on another.
    let pattern: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut stdin = enc.stdin.take().unwrap();
    let p = pattern.clone();
    let writer = std::thread::spawn(move || {
        for _ in 0..TOTAL / p.len() as u64 {
            stdin.write_all(&p).unwrap();
        }
    });
    let mut stdout = dec.stdout.take().unwrap();
    let mut buf = vec![0u8; pattern.len()];
    let (mut seen, mut peak) = (0u64, 0u64);
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match stdout.read(&mut buf[filled..]).unwrap() {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        assert_eq!(&buf[..filled], &pattern[..filled], "the bytes at {seen} differ");
        seen += filled as u64;
        if seen % (256 << 20) == 0 {
            for pid in [enc_pid, dec_pid] {
                peak = peak.max(peak_kib(pid).unwrap_or(0));
            }
        }
    }
    writer.join().unwrap();
    let (e, d) = (enc.wait_with_output().unwrap(), dec.wait_with_output().unwrap());
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    assert_eq!(seen, TOTAL);
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
    // In a pipe, no progress bar.
    assert!(!String::from_utf8_lossy(&e.stderr).contains("MiB"));
}

#[test]
fn altered_files_are_refused_and_a_terminal_shows_progress() {
    let k = kmsd();
    let key = new_key(&k);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.bin");
    let data: Vec<u8> = (0..5 * 65536 + 1000).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&plain, &data).unwrap();
    let sealed = dir.path().join("sealed.kms");
    let mut c = kms(&k);
    c.args(["file", "encrypt", "--key", &key, "-o", sealed.to_str().unwrap(), plain.to_str().unwrap()]);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(!bytes.windows(64).any(|w| data.windows(64).next() == Some(w)), "plaintext in the file");
    let back = dir.path().join("back.bin");
    let mut c = kms(&k);
    c.args(["file", "decrypt", "-o", back.to_str().unwrap(), sealed.to_str().unwrap()]);
    assert_eq!(run(c).0, 0);
    assert_eq!(std::fs::read(&back).unwrap(), data);

    let header_len = 11 + u32::from_be_bytes(bytes[7..11].try_into().unwrap()) as usize;
    let chunk = 65536 + 16;
    let mut flipped = bytes.clone();
    flipped[header_len + chunk + 100] ^= 1;
    let truncated = bytes[..bytes.len() - 500].to_vec();
    let mut swapped = bytes.clone();
    let (a, b) = (header_len, header_len + chunk);
    let first = bytes[a..a + chunk].to_vec();
    swapped[a..a + chunk].copy_from_slice(&bytes[b..b + chunk]);
    swapped[b..b + chunk].copy_from_slice(&first);
    let cut_at_chunk = bytes[..header_len + 2 * chunk].to_vec();
    for (name, altered) in [("flipped", flipped), ("truncated", truncated), ("swapped", swapped), ("cut", cut_at_chunk)]
    {
        let path = dir.path().join(name);
        std::fs::write(&path, altered).unwrap();
        let mut c = kms(&k);
        c.args(["file", "decrypt", "-o", "/dev/null", path.to_str().unwrap()]);
        let (code, _, err) = run(c);
        assert_eq!(code, 4, "{name}: {err}");
        assert!(err.contains("altered or cut short"), "{name}: {err}");
    }
    std::fs::write(dir.path().join("junk"), b"not an envelope at all").unwrap();
    let mut c = kms(&k);
    c.args(["file", "decrypt", dir.path().join("junk").to_str().unwrap()]);
    let (code, _, err) = run(c);
    assert!(code == 4 && err.contains("not a kms envelope"), "{err}");

    // Under a terminal (script(1) gives it one) the progress shows; in a pipe (above) it did not.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 3 << 20]).unwrap();
    let line = format!(
        "{} file encrypt --key {key} -o {} {}",
        env!("CARGO_BIN_EXE_kms"),
        dir.path().join("big.kms").display(),
        big.display()
    );
    let env = kms(&k);
    let mut script = Command::new("script");
    script.env_clear().envs(env.get_envs().filter_map(|(k, v)| v.map(|v| (k, v)))).args(["-qfec", &line, "/dev/null"]);
    let (code, out, err) = run(script);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("MiB"), "no progress under a terminal: {out:?}");
}

/// `kms <args>` as a table: its text.
fn table(k: &Kmsd, args: &[&str]) -> String {
    let mut c = kms(k);
    c.args(args);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "kms {args:?}: {err}");
    out
}

/// `kms --output json <args>`: the service's answer.
fn json_of(k: &Kmsd, args: &[&str]) -> serde_json::Value {
    let mut c = kms(k);
    c.args(["--output", "json"]).args(args);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "kms --output json {args:?}: {err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{args:?}: {out}"));
    assert!(json["RequestId"].is_string(), "{args:?}: {json}");
    json
}

/// A read in both outputs.
fn both(k: &Kmsd, args: &[&str]) -> (String, serde_json::Value) {
    (table(k, args), json_of(k, args))
}

/// Every command, each change once as a table and once as JSON (on another resource).
#[test]
fn every_command_in_both_outputs() {
    let k = kmsd();
    let out = table(&k, &["key", "create", "--description", "made by kms", "--rotation-interval", "30d"]);
    assert!(out.contains("Enabled") && out.contains("made by kms"), "{out}");
    let key = out.lines().find_map(|l| l.strip_prefix("KeyId")).unwrap().trim().to_owned();
    let other = json_of(&k, &["key", "create"])["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let (out, json) = both(&k, &["key", "describe", &key]);
    assert!(out.contains(&key) && json["KeyMetadata"]["Description"] == "made by kms", "{out}");
    let filters = r#"[{"Key":"KeySpec","Values":["Aliyun_AES_256"]}]"#;
    let (out, json) = both(&k, &["key", "list", "--filters", filters]);
    assert!(out.contains(&key) && out.contains("(2 in all)") && json["TotalCount"] == 2, "{out}");
    assert!(table(&k, &["key", "disable", &key]).contains("RequestId"));
    assert!(table(&k, &["key", "describe", &key]).contains("Disabled"));
    json_of(&k, &["key", "enable", &key]);
    let out = table(&k, &["key", "rotate", &key]);
    assert!(out.contains("KeyVersionId"), "{out}");
    assert_eq!(json_of(&k, &["key", "rotate", &key])["KeyVersion"]["KeyId"], key.as_str());
    let (out, json) = both(&k, &["key", "versions", &key]);
    assert!(out.contains("EncryptCount") && out.contains("(3 in all)") && json["TotalCount"] == 3, "{out}");

    table(&k, &["alias", "create", "alias/kms-cli-a", &key]);
    json_of(&k, &["alias", "create", "alias/kms-cli-b", &key]);
    let mut c = kms(&k);
    c.args(["alias", "create", "alias/kms-cli-a", &key]);
    let (code, _, err) = run(c);
    assert!(code == 1 && err.contains("AliasAlreadyExists"), "{err}");
    table(&k, &["alias", "update", "alias/kms-cli-a", &other]);
    json_of(&k, &["alias", "update", "alias/kms-cli-b", &other]);
    let (out, json) = both(&k, &["alias", "list", "--key", &other]);
    assert!(out.contains("alias/kms-cli-a") && json["TotalCount"] == 2, "{out}");
    assert!(both(&k, &["alias", "list"]).0.contains("alias/kms-cli-b"));
    table(&k, &["alias", "delete", "alias/kms-cli-a"]);
    json_of(&k, &["alias", "delete", "alias/kms-cli-b"]);
    assert!(!table(&k, &["alias", "list"]).contains("alias/kms-cli"));

    table(&k, &["tag", "add", &key, "team=web"]);
    json_of(&k, &["tag", "add", &key, "env=prod", "tier=1"]);
    let (out, _) = both(&k, &["tag", "list", &key]);
    assert!(out.contains("team") && out.contains("prod") && out.contains("tier"), "{out}");
    table(&k, &["tag", "remove", &key, "env"]);
    json_of(&k, &["tag", "remove", &key, "tier"]);
    let out = table(&k, &["tag", "list", &key]);
    assert!(out.contains("team") && !out.contains("prod") && !out.contains("tier"), "{out}");

    assert!(table(&k, &["secret", "create", "cli/db", "--value", "pw-one"]).contains("cli/db"));
    assert_eq!(json_of(&k, &["secret", "create", "cli/other", "--value", "x"])["SecretName"], "cli/other");
    assert_eq!(table(&k, &["secret", "get", "cli/db"]), "pw-one\n");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "pw-two").unwrap();
    table(&k, &["secret", "put", "cli/db", "--value-file", file.path().to_str().unwrap(), "--version-id", "v2"]);
    json_of(&k, &["secret", "put", "cli/other", "--value", "y", "--version-id", "v2"]);
    let (out, json) = both(&k, &["secret", "get", "cli/db"]);
    assert_eq!((out.as_str(), json["VersionId"].as_str()), ("pw-two\n", Some("v2")));
    assert_eq!(table(&k, &["secret", "get", "cli/db", "--version-id", "v1"]), "pw-one\n");
    assert!(both(&k, &["secret", "describe", "cli/db"]).0.contains("acs:kms:"));
    let (out, json) = both(&k, &["secret", "list"]);
    assert!(out.contains("cli/db") && json["TotalCount"] == 2, "{out}");
    assert!(table(&k, &["secret", "delete", "cli/db", "--recovery-days", "7"]).contains("PlannedDeleteTime"));
    json_of(&k, &["secret", "delete", "cli/other", "--force"]);
    let mut c = kms(&k);
    c.args(["secret", "get", "cli/db"]);
    let (code, _, err) = run(c);
    assert!(code == 1 && err.contains("Rejected.ResourceInDeleteWindow"), "{err}");
    json_of(&k, &["secret", "restore", "cli/db"]);
    assert_eq!(table(&k, &["secret", "get", "cli/db"]), "pw-two\n");

    let (out, json) = both(&k, &["random-password", "--length", "20", "--no-punctuation"]);
    let pw = out.trim();
    assert!(pw.len() == 20 && pw.chars().all(|c| c.is_ascii_alphanumeric()), "{pw}");
    assert_eq!(json["RandomPassword"].as_str().unwrap().len(), 20);

    json_of(&k, &["key", "schedule-deletion", &other, "--days", "7"]);
    assert!(table(&k, &["key", "describe", &other]).contains("PendingDeletion"));
    table(&k, &["key", "cancel-deletion", &other]);
    table(&k, &["key", "schedule-deletion", &key]);
    json_of(&k, &["key", "cancel-deletion", &key]);
    for shell in ["bash", "zsh", "fish"] {
        let out = table(&k, &["completion", shell]);
        assert!(out.contains("random-password") && out.contains("schedule-deletion"), "{shell}");
    }
}

/// The README's region move for files: encrypted in cn-hangzhou, re-wrapped to a key of
/// cn-shanghai (only the header changes), decrypted there; the original file does not open in
/// the other region, as a ciphertext of another region does not in the cloud.
#[test]
fn a_file_moves_to_another_region_by_rewrapping_its_data_key() {
    let hangzhou = kmsd();
    let bin = std::env::var_os("KMSD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/kmsd"));
    let shanghai =
        Kmsd::start_with(&bin, kms_testkit::Options { region: Some("cn-shanghai".into()), ..Default::default() })
            .expect("a second region");
    let old_key = new_key(&hangzhou);
    let new_key_id = new_key(&shanghai);
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("orders.csv"), &data).unwrap();
    let path = |n: &str| dir.path().join(n).display().to_string();
    let ctx = r#"{"app":"orders"}"#;
    table(
        &hangzhou,
        &["file", "encrypt", "--key", &old_key, "--context", ctx, "-o", &path("orders.kms"), &path("orders.csv")],
    );
    table(
        &hangzhou,
        &[
            "file",
            "rewrap",
            "--key",
            &new_key_id,
            "--to-endpoint",
            &shanghai.url,
            "-o",
            &path("moved.kms"),
            &path("orders.kms"),
        ],
    );
    let sealed = std::fs::read(path("orders.kms")).unwrap();
    let moved = std::fs::read(path("moved.kms")).unwrap();
    let head = |b: &[u8]| 11 + u32::from_be_bytes(b[7..11].try_into().unwrap()) as usize;
    assert_eq!(&sealed[head(&sealed)..], &moved[head(&moved)..], "the chunks were copied, not re-encrypted");
    table(&shanghai, &["file", "decrypt", "-o", &path("back.csv"), &path("moved.kms")]);
    assert_eq!(std::fs::read(path("back.csv")).unwrap(), data);
    let mut c = kms(&shanghai);
    c.args(["file", "decrypt", "-o", "/dev/null", &path("orders.kms")]);
    let (code, _, err) = run(c);
    assert!(code == 1 && err.contains("Forbidden.KeyNotFound"), "{err}");
}

/// STS credentials (`ALIBABA_CLOUD_SECURITY_TOKEN`, as the Alibaba tools take them) sign too;
/// the same key id and secret without the token are refused.
#[test]
fn temporary_credentials_with_a_security_token() {
    let k = kmsd();
    let kmsd_bin = std::env::var_os("KMSD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/kmsd"));
    let mut admin = Command::new(kmsd_bin);
    admin.args(["admin", "access-key", "temporary", ACCESS_KEY_ID, "--data-dir"]).arg(&k.data_dir);
    if let Ok(url) = std::fs::read_to_string(k.data_dir.with_extension("pgurl")) {
        admin.arg("--store").arg(url);
    }
    let (code, out, err) = run(admin);
    assert_eq!(code, 0, "{err}");
    let field = |f: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{f}: "))).unwrap().to_owned();
    let mut c = kms(&k);
    c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", field("AccessKeyId"))
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", field("AccessKeySecret"))
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", field("SecurityToken"))
        .args(["key", "list"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("in all"), "{out}");
    let mut c = kms(&k);
    c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", field("AccessKeyId"))
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", field("AccessKeySecret"))
        .args(["key", "list"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1, "{err}");
}

/// Over TLS: kmsd with its own certificate, trusted through --ca; without it the handshake fails
/// as an unknown issuer (exit 3), never silently.
#[test]
fn https_with_the_deployments_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let bin = std::env::var_os("KMSD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/kmsd"));
    let k = Kmsd::start_with(
        &bin,
        kms_testkit::Options {
            extra_args: vec![
                "--tls-cert".into(),
                cert_pem.display().to_string(),
                "--tls-key".into(),
                key_pem.display().to_string(),
            ],
            ..Default::default()
        },
    )
    .expect("kmsd over TLS");
    assert!(k.url.starts_with("https://"), "{}", k.url);
    let url = k.url.replace("127.0.0.1", "localhost");
    let mut c = kms(&k);
    c.env("KMS_ENDPOINT", &url).arg("--ca").arg(&cert_pem).args(["key", "list"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(0 in all)"), "{out}");
    let mut c = kms(&k);
    c.env("KMS_ENDPOINT", &url).args(["key", "list"]);
    let (code, _, err) = run(c);
    assert!(code == 3 && err.to_lowercase().contains("unknown"), "{err}");
}
