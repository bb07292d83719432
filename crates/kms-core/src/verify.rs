//! Proving a store opens: every key version's material is unwrapped and used once (a canary),
//! so a backup that passes restores into a kmsd that can use every key it holds.

use kms_crypto::{MaterialLabel, WrappedMaterial};
use kms_store::Window;
use kms_types::KeyFilter;

use crate::error::CoreResult;
use crate::service::Kms;

/// What [`Kms::verify_keys`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub keys: u64,
    /// Versions whose material was unwrapped and used.
    pub versions: u64,
    /// Versions of `EXTERNAL` keys with no material imported (nothing to prove).
    pub without_material: u64,
    /// Key ids with a version that did not open: the backup cannot serve them.
    pub failed: Vec<String>,
}

const PAGE: u32 = 100;
const CANARY: &[u8] = b"kmsd backup canary";

impl Kms {
    /// Uses every version of every key once: a symmetric version seals and opens a canary, an
    /// HMAC version computes a MAC, an asymmetric version derives its public key (which
    /// unwraps the private key). Failures are listed, not fatal, so one run names them all.
    pub async fn verify_keys(&self) -> CoreResult<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut offset = 0;
        loop {
            let keys = self.store.list_keys(&KeyFilter::default(), Window { offset, limit: PAGE }).await?;
            let n = keys.items.len() as u64;
            for key in keys.items {
                report.keys += 1;
                let mut ok = true;
                let mut voffset = 0;
                loop {
                    let versions = self.store.list_versions(&key.id, Window { offset: voffset, limit: PAGE }).await?;
                    let vn = versions.items.len() as u64;
                    for v in versions.items {
                        if v.material.is_empty() {
                            report.without_material += 1;
                            continue;
                        }
                        let label = MaterialLabel { key_id: &key.id, version_id: &v.id, spec: key.spec };
                        let material = WrappedMaterial(v.material);
                        let used = if key.spec.is_symmetric() {
                            match self.symmetric_of(&key) {
                                Ok(backend) => backend
                                    .seal(&material, label, None, CANARY, CANARY)
                                    .and_then(|s| backend.open(&material, label, &s.iv, CANARY, &s.ciphertext_and_tag))
                                    .map(|p| p.as_slice() == CANARY),
                                Err(_) => Err(kms_crypto::CryptoError::Unsupported),
                            }
                        } else if key.spec.is_hmac() {
                            self.crypto.mac.mac(&material, label, CANARY).map(|m| !m.is_empty())
                        } else {
                            self.crypto
                                .asymmetric_for(key.protection_level)
                                .and_then(|backend| backend.public_key(&material, label))
                                .map(|p| !p.is_empty())
                        };
                        match used {
                            Ok(true) => report.versions += 1,
                            _ => ok = false,
                        }
                    }
                    voffset += vn;
                    if vn == 0 || voffset >= versions.total {
                        break;
                    }
                }
                if !ok {
                    report.failed.push(key.id.to_string());
                }
            }
            offset += n;
            if n == 0 || offset >= keys.total {
                break;
            }
        }
        Ok(report)
    }
}
