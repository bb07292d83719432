//! `kmsd admin root-key …`: rotating the root key while the service keeps serving.
//!
//! Progress goes to stdout as it happens (a line per batch), so an operator — or a test that
//! interrupts it — sees how far it got; running it again resumes.

use std::io::Write as _;
use std::time::Duration;

use kms_core::{CoreError, Kms, NewRootKey};
use kms_crypto::pkcs11::Pkcs11Uri;
use kms_crypto::soft::SoftRootKey;
use kms_store::WrappedTable;

use crate::Config;
use crate::config::RootKeyCommand;
use crate::startup::{StartError, open_existing};

fn failed(e: CoreError) -> StartError {
    match e {
        CoreError::RootKeyRotation(why) => StartError::Config(why),
        other => StartError::Store(other.to_string()),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub(super) async fn run(config: &Config, command: &RootKeyCommand) -> Result<String, StartError> {
    let kms = open_existing(config).await?;
    match command {
        RootKeyCommand::Status => status(&kms).await,
        RootKeyCommand::Rotate { to_file, to_pkcs11, batch, pause_ms, settle_secs } => {
            let (to, restart_with) = match (to_file, to_pkcs11) {
                (Some(path), None) => {
                    if !path.exists() && kms.root_key_status().await.map_err(failed)?.rotating_to.is_some() {
                        return Err(StartError::Config(
                            "a rotation to another root key is in progress: finish it with that key first".into(),
                        ));
                    }
                    kms.refuse_if_hsm_keys_stay_behind(None).await.map_err(failed)?;
                    if !path.exists() {
                        SoftRootKey::generate(path)?;
                        say(&format!("generated the new root key file {}", path.display()));
                    }
                    (NewRootKey::File(SoftRootKey::read_secret(path)?), format!("--root-key-file {}", path.display()))
                }
                (None, Some(uri)) => {
                    let uri = Pkcs11Uri::parse(uri).map_err(|e| StartError::Config(format!("--to-pkcs11: {e}")))?;
                    let flag = format!("--root-key-pkcs11 '{uri}'");
                    (NewRootKey::Pkcs11(uri), flag)
                }
                _ => return Err(StartError::Config("root-key rotate takes --to-file FILE or --to-pkcs11 URI".into())),
            };
            let resumed = kms.begin_root_rotation(to).await.map_err(failed)?;
            let status = kms.root_key_status().await.map_err(failed)?;
            let target = status.rotating_to.map(|id| id.to_hex()).unwrap_or_default();
            say(&format!("{} the rotation to root key {target}", if resumed { "resuming" } else { "started" }));
            // Nodes wrap with the new key once they have seen the rotation; records they
            // wrote before are caught by the next pass.
            tokio::time::sleep(Duration::from_secs(*settle_secs)).await;
            rewrap_until_done(&kms, (*batch).max(1), Duration::from_millis(*pause_ms)).await?;
            Ok(format!(
                "finished: every record is wrapped by root key {target}.\nRestart every node with {restart_with} \
                 (nodes running now already use it); then retire the old key.\n"
            ))
        }
    }
}

async fn rewrap_until_done(kms: &Kms, batch: u32, pause: Duration) -> Result<(), StartError> {
    for pass in 1.. {
        for table in WrappedTable::ALL {
            let mut after: Option<String> = None;
            loop {
                let done = kms.rewrap_batch(table, after.as_deref(), batch).await.map_err(failed)?;
                say(&format!("pass {pass}: {}: {} read, {} re-wrapped", table.name(), done.seen, done.rewrapped));
                match done.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        }
        let left = kms.finish_root_rotation().await.map_err(failed)?;
        if left == 0 {
            return Ok(());
        }
        say(&format!("pass {pass}: {left} records were written under the old key meanwhile; another pass"));
        if pass >= 10 {
            break;
        }
    }
    Err(StartError::Config(
        "records keep appearing under the old key: is a node running that never saw the rotation? Run this again after restarting it".into(),
    ))
}

async fn status(kms: &Kms) -> Result<String, StartError> {
    let status = kms.root_key_status().await.map_err(failed)?;
    let mut out = format!("root key: {}\n", status.current);
    match status.rotating_to {
        Some(id) => out.push_str(&format!("rotation in progress to: {id}\n")),
        None => out.push_str("rotation in progress to: none\n"),
    }
    for (table, by_key) in &status.records {
        let counts: Vec<String> = by_key.iter().map(|(k, n)| format!("{k}={n}")).collect();
        out.push_str(&format!("{table}: {}\n", counts.join(" ")));
    }
    Ok(out)
}
