//! The root key in a PKCS#11 token (SoftHSM2, a real PKCS#11 module): kmsd starts with it and
//! no root key file, restarts with it, and refuses — changing nothing — a wrong PIN, a missing
//! token or module, a missing key, and another token key than the one the data was written with.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use kms_testkit::Options;

const PIN: &str = "8642-kmsd";

/// The SoftHSM2 module where Debian and others install it. Absent is a failure, not a skip:
/// scripts/test.sh installs it.
fn module() -> PathBuf {
    let candidates = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib64/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("SoftHSM2 is not installed (apt-get install softhsm2; scripts/test.sh does)")
}

/// A SoftHSM2 token in a directory of its own, with its configuration and PIN file.
struct Token {
    dir: tempfile::TempDir,
    label: String,
}

impl Token {
    fn new(label: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().display()
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("pin"), format!("{PIN}\n")).unwrap();
        std::fs::write(dir.path().join("wrong-pin"), "0000-wrong\n").unwrap();
        let t = Self { dir, label: label.to_owned() };
        let out = t
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", "97531-so"])
            .output()
            .expect("softhsm2-util (scripts/test.sh installs SoftHSM2)");
        assert!(out.status.success(), "softhsm2-util: {}", String::from_utf8_lossy(&out.stderr));
        t
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", self.dir.path().join("softhsm2.conf"));
        c
    }

    fn uri_with(&self, token: &str, object: &str, module: &Path, pin_file: &str) -> String {
        format!(
            "pkcs11:token={token};object={object}?module-path={}&pin-source=file:{}",
            module.display(),
            self.dir.path().join(pin_file).display()
        )
    }

    fn uri(&self, object: &str) -> String {
        self.uri_with(&self.label, object, &module(), "pin")
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![("SOFTHSM2_CONF".into(), self.dir.path().join("softhsm2.conf").display().to_string())]
    }

    /// What `pkcs11-tool --list-objects` (OpenSC, independent of kmsd) shows of the token.
    fn objects(&self) -> String {
        let out = self
            .command("pkcs11-tool")
            .arg("--module")
            .arg(module())
            .args(["--token-label", &self.label, "--login", "--pin", PIN, "--list-objects"])
            .output()
            .expect("pkcs11-tool (scripts/test.sh installs OpenSC)");
        assert!(out.status.success(), "pkcs11-tool: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kmsd admin <args>` on `data`'s store with the token's environment: (success, stdout, stderr).
    fn admin(&self, data: &Path, args: &[&str]) -> (bool, String, String) {
        let out = self
            .command(bin().to_str().unwrap())
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .args(
                std::fs::read_to_string(data.with_extension("pgurl"))
                    .map(|u| vec!["--store".to_owned(), u])
                    .unwrap_or_default(),
            )
            .env_remove("KMSD_STORE")
            .env_remove("KMSD_DATA_DIR")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    }

    fn start(&self, data_dir: &Path, uri: String) -> Result<Kmsd, (Option<i32>, String)> {
        Kmsd::start_with(
            &bin(),
            Options {
                data_dir: Some(data_dir.to_owned()),
                extra_args: vec!["--root-key-pkcs11".into(), uri],
                env: self.env(),
                ..Default::default()
            },
        )
    }
}

async fn encrypt(c: &Client, key: &str, text: &[u8]) -> String {
    ok(c, "Encrypt", &[("KeyId", key), ("Plaintext", &b64(text))]).await["CiphertextBlob"].as_str().unwrap().to_owned()
}

async fn decrypt(c: &Client, blob: &str) -> Vec<u8> {
    unb64(ok(c, "Decrypt", &[("CiphertextBlob", blob)]).await["Plaintext"].as_str().unwrap())
}

#[tokio::test]
async fn the_root_key_lives_in_the_token_and_no_file_is_made() {
    let token = Token::new("kmsd-root");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let k = token.start(&data, token.uri("root")).expect("kmsd starts with its root key in the token");
    let c = k.client();
    let key = new_key(&c).await;
    let blob = encrypt(&c, &key, b"sealed under the token").await;
    ok(&c, "CreateSecret", &[("SecretName", "db"), ("SecretData", "s3cret"), ("VersionId", "v1")]).await;
    assert!(!data.join("root.key").exists(), "a root key file was made");
    // OpenSC sees one AES key, sensitive and never extractable, labelled as the URI says.
    let listing = token.objects();
    assert!(listing.contains("label:      root"), "{listing}");
    assert!(listing.contains("Secret Key Object; AES length 32"), "{listing}");
    assert!(listing.contains("sensitive") && listing.contains("never extractable"), "{listing}");
    assert!(!listing.contains("extractable,") || listing.contains("never extractable"), "{listing}");
    drop(k);

    // A restart finds the key in the token and reads everything written under it.
    let k = token.start(&data, token.uri("root")).expect("restart");
    let c = k.client();
    assert_eq!(decrypt(&c, &blob).await, b"sealed under the token");
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "db")]).await["SecretData"], "s3cret");
    // The admin commands reach the same root key.
    let (listed, _, err) = token.admin(&data, &["access-key", "list", "--root-key-pkcs11", &token.uri("root")]);
    assert!(listed, "admin: {err}");
    drop(k);
    // Without the token, the data dir holds no root key file: refused.
    let (_, err) = Kmsd::start_with(&bin(), Options { data_dir: Some(data.clone()), ..Default::default() })
        .err()
        .expect("no root key file");
    assert!(err.contains("root key file") && err.contains("is missing"), "{err}");
}

#[tokio::test]
async fn a_token_that_cannot_serve_refuses_the_start_and_changes_nothing() {
    let token = Token::new("kmsd-refusals");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let k = token.start(&data, token.uri("root")).expect("first start");
    let c = k.client();
    let key = new_key(&c).await;
    let blob = encrypt(&c, &key, b"still here").await;
    drop(k);
    let before = token.objects();

    let other = tmp.path().join("other-data");
    let fresh = token.start(&other, token.uri("root-b")).expect("a second deployment, its own key");
    drop(fresh);
    let with_b = token.objects();
    assert!(with_b.contains("label:      root-b"), "{with_b}");

    let cases = [
        (token.uri_with(&token.label, "root", &module(), "wrong-pin"), "refused the PIN"),
        (token.uri_with("no-such-token", "root", &module(), "pin"), "no PKCS#11 token labelled"),
        (
            token.uri_with(&token.label, "root", Path::new("/nonexistent/libpkcs11.so"), "pin"),
            "cannot load the PKCS#11 module",
        ),
        (token.uri_with(&token.label, "root", &module(), "no-pin-file"), "cannot read the PIN file"),
        (token.uri("absent"), "holds no key labelled"),
        (token.uri("root-b"), "does not match the data"),
        (format!("{}&pin-value={PIN}", token.uri("root")), "pin-value"),
    ];
    for (uri, why) in cases {
        let (_, err) = token.start(&data, uri.clone()).err().unwrap_or_else(|| panic!("{uri} started"));
        assert!(err.contains(why), "{uri}: {err}");
        assert_eq!(token.objects(), with_b, "{uri} changed the token");
    }
    assert_eq!(with_b.matches("Secret Key Object").count(), 2, "{with_b}");
    assert!(before.matches("Secret Key Object").count() == 1);

    // After every refusal the data opens as before.
    let k = token.start(&data, token.uri("root")).expect("the right token again");
    assert_eq!(decrypt(&k.client(), &blob).await, b"still here");
}

/// `ProtectionLevel=HSM` keys: generated in the token (sensitive, never extractable), used
/// there for every seal and open, nothing of them in the store but a reference, and gone from
/// the token when the key is destroyed.
#[tokio::test]
async fn hsm_keys_live_and_die_in_the_token() {
    let token = Token::new("kmsd-hsm-keys");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let k = Kmsd::start_with(
        &bin(),
        Options {
            data_dir: Some(data.clone()),
            extra_args: vec!["--root-key-pkcs11".into(), token.uri("root"), "--dev-clock".into()],
            env: token.env(),
            ..Default::default()
        },
    )
    .expect("kmsd with a token");
    let c = k.client();
    let made = ok(&c, "CreateKey", &[("ProtectionLevel", "HSM"), ("Description", "in the token")]).await;
    let m = &made["KeyMetadata"];
    assert_eq!((m["ProtectionLevel"].as_str(), m["KeySpec"].as_str()), (Some("HSM"), Some("Aliyun_AES_256")));
    let key = m["KeyId"].as_str().unwrap().to_owned();
    let first_version = m["PrimaryKeyVersion"].as_str().unwrap().to_owned();
    let software = new_key(&c).await;

    // Every symmetric action, with and without a context.
    let ctx = r#"{"tenant":"t1"}"#;
    let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(b"hsm data")), ("EncryptionContext", ctx)]).await;
    let blob = enc["CiphertextBlob"].as_str().unwrap().to_owned();
    assert_eq!(&unb64(&blob)[..36], first_version.as_bytes(), "the one blob layout");
    let dec = ok(&c, "Decrypt", &[("CiphertextBlob", &blob), ("EncryptionContext", ctx)]).await;
    assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), b"hsm data");
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await, 400, "InvalidParameter");
    let bare = encrypt(&c, &key, b"no context").await;
    assert_eq!(decrypt(&c, &bare).await, b"no context");
    let dk = ok(&c, "GenerateDataKey", &[("KeyId", &key)]).await;
    assert_eq!(decrypt(&c, dk["CiphertextBlob"].as_str().unwrap()).await, unb64(dk["Plaintext"].as_str().unwrap()));
    let moved = ok(&c, "ReEncrypt", &[("CiphertextBlob", &bare), ("DestinationKeyId", &software)]).await;
    let back = ok(
        &c,
        "ReEncrypt",
        &[("CiphertextBlob", moved["CiphertextBlob"].as_str().unwrap()), ("DestinationKeyId", &key)],
    )
    .await;
    assert_eq!(decrypt(&c, back["CiphertextBlob"].as_str().unwrap()).await, b"no context");
    // Rotation makes the new version in the token too; old ciphertext still opens.
    let second_version =
        ok(&c, "CreateKeyVersion", &[("KeyId", &key)]).await["KeyVersion"]["KeyVersionId"].as_str().unwrap().to_owned();
    assert_eq!(decrypt(&c, &bare).await, b"no context");
    // ListKeys' ProtectionLevel filter.
    let hsm_only = r#"[{"Key":"ProtectionLevel","Values":["HSM"]}]"#;
    let listed = ok(&c, "ListKeys", &[("Filters", hsm_only)]).await;
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    // What HSM keys cannot be here.
    assert_error(
        &call(&c, "CreateKey", &[("ProtectionLevel", "HSM"), ("KeySpec", "EC_SM2")]).await,
        400,
        "UnsupportedOperation",
    );
    assert_error(
        &call(&c, "CreateKey", &[("ProtectionLevel", "HSM"), ("Origin", "EXTERNAL")]).await,
        400,
        "UnsupportedOperation",
    );

    // The store holds references only; the token holds the keys, sensitive and never extractable.
    for material in stored_materials(&data, &key) {
        assert!(material.starts_with(b"pkcs11:v1:") && material.len() == 26, "{material:?}");
    }
    let listing = token.objects();
    for v in [&first_version, &second_version] {
        assert!(listing.contains(&format!("kmsd/{key}/{v}")), "{listing}");
    }
    assert_eq!(listing.matches("Secret Key Object").count(), 3, "the root key and two versions: {listing}");
    assert_eq!(listing.matches("never extractable").count(), 3, "{listing}");

    // Destroying the key destroys its token objects.
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &key), ("PendingWindowInDays", "7")]).await;
    advance(&c, 8 * 86_400).await;
    assert_error(&call(&c, "Decrypt", &[("CiphertextBlob", &bare)]).await, 404, "Forbidden.KeyNotFound");
    let after = token.objects();
    assert_eq!(after.matches("Secret Key Object").count(), 1, "only the root key is left: {after}");
    assert!(!after.contains(&key), "{after}");
}

/// `kmsd admin root-key rotate` for `data` with the token's environment: (success, stdout, stderr).
fn rotate(token: &Token, data: &Path, root: &[&str], to: &[&str]) -> (bool, String, String) {
    let args: Vec<&str> = ["root-key", "rotate", "--settle-secs", "1"].iter().chain(root).chain(to).copied().collect();
    token.admin(data, &args)
}

#[tokio::test]
async fn the_root_key_moves_from_a_file_into_the_token_and_back_while_kmsd_serves() {
    let token = Token::new("kmsd-rotation");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let start = |root: Vec<String>| {
        Kmsd::start_with(
            &bin(),
            Options { data_dir: Some(data.clone()), extra_args: root, env: token.env(), ..Default::default() },
        )
    };
    // A file root key first; the node keeps running through the move into the token.
    let k = start(vec![]).expect("kmsd with a root key file");
    let c = k.client();
    let key = new_key(&c).await;
    let blob = encrypt(&c, &key, b"from file to token").await;
    ok(&c, "CreateSecret", &[("SecretName", "moved"), ("SecretData", "v-1"), ("VersionId", "v1")]).await;
    let file = data.join("root.key");
    let (moved, out, err) = rotate(&token, &data, &[], &["--to-pkcs11", &token.uri("rotated-a")]);
    assert!(moved && out.contains("finished"), "{out}{err}");
    assert!(token.objects().contains("label:      rotated-a"), "the new root key was made in the token");
    // The running node (which had only a file) serves what the rotation re-wrapped.
    assert_eq!(decrypt(&c, &blob).await, b"from file to token");
    let during = encrypt(&c, &key, b"written after the move").await;
    drop(k);
    // The file is no longer needed, nor accepted.
    let (_, err) = start(vec!["--root-key-file".into(), file.display().to_string()]).err().expect("retired key");
    assert!(err.contains("does not match"), "{err}");
    std::fs::remove_file(&file).unwrap();
    let k = start(vec!["--root-key-pkcs11".into(), token.uri("rotated-a")]).expect("kmsd on the token key");
    let c = k.client();
    assert_eq!(decrypt(&c, &blob).await, b"from file to token");
    assert_eq!(decrypt(&c, &during).await, b"written after the move");
    assert_eq!(ok(&c, "GetSecretValue", &[("SecretName", "moved")]).await["SecretData"], "v-1");

    // And back out of the token into a new file.
    let back = tmp.path().join("back.key");
    let (moved, out, err) =
        rotate(&token, &data, &["--root-key-pkcs11", &token.uri("rotated-a")], &["--to-file", back.to_str().unwrap()]);
    assert!(moved && out.contains("finished"), "{out}{err}");
    assert_eq!(decrypt(&c, &blob).await, b"from file to token");
    drop(k);
    let k = start(vec!["--root-key-file".into(), back.display().to_string()]).expect("kmsd on the new file");
    let c = k.client();
    assert_eq!(decrypt(&c, &blob).await, b"from file to token");
    assert_eq!(decrypt(&c, &during).await, b"written after the move");
    drop(k);

    // Into the token once more, now with an HSM key there: it may move only within the token.
    let (moved, _, err) =
        rotate(&token, &data, &["--root-key-file", back.to_str().unwrap()], &["--to-pkcs11", &token.uri("rotated-b")]);
    assert!(moved, "{err}");
    let k = start(vec!["--root-key-pkcs11".into(), token.uri("rotated-b")]).expect("kmsd on the second token key");
    let c = k.client();
    let made = ok(&c, "CreateKey", &[("ProtectionLevel", "HSM")]).await;
    let hsm_key = made["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let hsm_blob = encrypt(&c, &hsm_key, b"in the token").await;
    let away = tmp.path().join("away.key");
    let (refused, _, err) =
        rotate(&token, &data, &["--root-key-pkcs11", &token.uri("rotated-b")], &["--to-file", away.to_str().unwrap()]);
    assert!(!refused && err.contains("ProtectionLevel=HSM"), "{err}");
    assert!(!away.exists(), "a refused rotation made a key file");
    let (moved, out, err) = rotate(
        &token,
        &data,
        &["--root-key-pkcs11", &token.uri("rotated-b")],
        &["--to-pkcs11", &token.uri("rotated-c")],
    );
    assert!(moved && out.contains("finished"), "{out}{err}");
    assert_eq!(decrypt(&c, &hsm_blob).await, b"in the token");
    drop(k);
    let k = start(vec!["--root-key-pkcs11".into(), token.uri("rotated-c")]).expect("kmsd on the third token key");
    let c = k.client();
    assert_eq!(decrypt(&c, &hsm_blob).await, b"in the token");
    assert_eq!(decrypt(&c, &blob).await, b"from file to token");
}

#[tokio::test]
async fn hsm_key_pairs_sign_and_decrypt_in_the_token() {
    let token = Token::new("kmsd-hsm-pairs");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let k = Kmsd::start_with(
        &bin(),
        Options {
            data_dir: Some(data.clone()),
            extra_args: vec!["--root-key-pkcs11".into(), token.uri("root"), "--dev-clock".into()],
            env: token.env(),
            ..Default::default()
        },
    )
    .expect("kmsd with a token");
    let c = k.client();
    let pair = |spec: &'static str, usage: &'static str| {
        let c = c.clone();
        async move {
            let made = ok(&c, "CreateKey", &[("ProtectionLevel", "HSM"), ("KeySpec", spec), ("KeyUsage", usage)]).await;
            let m = &made["KeyMetadata"];
            assert_eq!(m["ProtectionLevel"], "HSM");
            (m["KeyId"].as_str().unwrap().to_owned(), m["PrimaryKeyVersion"].as_str().unwrap().to_owned())
        }
    };
    let digest = b64(&[0x5au8; 32]);
    let mut keys = Vec::new();
    for (spec, algorithms) in [
        ("RSA_2048", &["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"][..]),
        ("RSA_3072", &["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"][..]),
        ("EC_P256", &["ECDSA_SHA_256"][..]),
        ("EC_P256K", &["ECDSA_SHA_256"][..]),
    ] {
        let (key, version) = pair(spec, "SIGN/VERIFY").await;
        for alg in algorithms {
            let params = [("KeyId", key.as_str()), ("KeyVersionId", &version), ("Algorithm", alg), ("Digest", &digest)];
            let signature = ok(&c, "AsymmetricSign", &params).await["Value"].as_str().unwrap().to_owned();
            let mut check = params.to_vec();
            check.push(("Value", &signature));
            assert_eq!(ok(&c, "AsymmetricVerify", &check).await["Value"], true, "{spec} {alg}");
            // Checked outside kmsd too: OpenSSL with the public key GetPublicKey gives.
            let pem = ok(&c, "GetPublicKey", &[("KeyId", &key), ("KeyVersionId", &version)]).await["PublicKey"]
                .as_str()
                .unwrap()
                .to_owned();
            let (pem_file, sig_file, dig_file) =
                (tmp.path().join("pub.pem"), tmp.path().join("sig.bin"), tmp.path().join("digest.bin"));
            std::fs::write(&pem_file, pem).unwrap();
            std::fs::write(&sig_file, unb64(&signature)).unwrap();
            std::fs::write(&dig_file, [0x5au8; 32]).unwrap();
            let mut args = vec!["pkeyutl", "-verify", "-pubin", "-inkey", pem_file.to_str().unwrap()];
            args.extend(["-in", dig_file.to_str().unwrap(), "-sigfile", sig_file.to_str().unwrap()]);
            args.extend(["-pkeyopt", "digest:sha256"]);
            if *alg == "RSA_PSS_SHA_256" {
                args.extend(["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32"]);
            }
            let out = std::process::Command::new("openssl").args(&args).output().unwrap();
            assert!(
                out.status.success(),
                "openssl rejects the {spec} {alg} signature: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        keys.push(key);
    }
    for spec in ["RSA_2048", "RSA_3072"] {
        let (key, version) = pair(spec, "ENCRYPT/DECRYPT").await;
        for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
            let enc = ok(
                &c,
                "AsymmetricEncrypt",
                &[
                    ("KeyId", &key),
                    ("KeyVersionId", &version),
                    ("Algorithm", alg),
                    ("Plaintext", &b64(b"to the token")),
                ],
            )
            .await;
            let blob = enc["CiphertextBlob"].as_str().unwrap();
            let params = [("KeyId", key.as_str()), ("KeyVersionId", &version), ("Algorithm", alg)];
            let dec = call(&c, "AsymmetricDecrypt", &[&params[..], &[("CiphertextBlob", blob)]].concat()).await;
            if alg == "RSAES_OAEP_SHA_256" && dec.status != 200 {
                // SoftHSM2 2.6 implements OAEP with SHA-1 only: the token's refusal, said plainly.
                assert_error(&dec, 400, "UnsupportedOperation");
                assert!(dec.json()["Message"].as_str().unwrap().contains("Algorithm"), "{}", dec.text());
                continue;
            }
            assert_eq!(unb64(dec.json()["Plaintext"].as_str().unwrap()), b"to the token", "{spec} {alg}");
            // One answer for anything that does not decrypt, as with software keys.
            let mut bad = unb64(blob);
            bad[10] ^= 1;
            let r = call(&c, "AsymmetricDecrypt", &[&params[..], &[("CiphertextBlob", &b64(&bad))]].concat()).await;
            assert_error(&r, 400, "InvalidParameter");
        }
        keys.push(key);
    }

    // The store holds references only; the token holds each pair, the private half sensitive
    // and never extractable.
    for key in &keys {
        for material in stored_materials(&data, key) {
            assert!(material.starts_with(b"pkcs11:v1:") && material.len() == 26, "{material:?}");
        }
    }
    let listing = token.objects();
    assert_eq!(listing.matches("Private Key Object").count(), 6, "{listing}");
    assert_eq!(listing.matches("Public Key Object").count(), 6, "{listing}");
    let private_blocks: Vec<&str> = listing.split("Private Key Object").skip(1).collect();
    for block in &private_blocks {
        let block = block.split("Key Object").next().unwrap();
        assert!(block.contains("sensitive") && block.contains("never extractable"), "{block}");
    }

    // Destroying a key destroys its pair.
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &keys[0]), ("PendingWindowInDays", "7")]).await;
    advance(&c, 8 * 86_400).await;
    let after = token.objects();
    assert_eq!(after.matches("Private Key Object").count(), 5, "{after}");
    assert_eq!(after.matches("Public Key Object").count(), 5, "{after}");
    assert!(!after.contains(&keys[0]), "{after}");
}
