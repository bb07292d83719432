//! KMS instances (`kst-…`, docs/design/instances.md §2, §6–§8): made by the operator
//! (`kmsd admin instance create`), connected and released by callers. Every call reads the
//! instance from the store, so another process's write is seen on the next request.
//!
//! The CA: one per deployment, made on first use (rcgen on aws-lc-rs, ECDSA P-256), its
//! PKCS#8 private key wrapped by the root key and stored with its certificate in one meta
//! entry (first writer wins, so concurrent first uses agree on one CA).

use kms_crypto::RootKey as _;
use kms_store::{InstanceRecord, StoreError, Window};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

pub const UNINITIALIZED: &str = "Uninitialized";
pub const CONNECTED: &str = "Connected";

pub(crate) const META_INSTANCE_CA: &str = "instance_ca";
pub(crate) const CA_KEY_AAD: &[u8] = b"kmsd/instance-ca-key/v1";
const CA_VALIDITY_DAYS: i64 = 3650;
const GATEWAY_CERT_DAYS: i64 = 90;
/// The instance gateway's host name is `<instance id>` followed by this.
pub const GATEWAY_DOMAIN: &str = ".cryptoservice.kms.aliyuncs.com";

/// A VPC bound to an instance (UpdateKmsInstanceBindVpc), kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindVpc {
    pub region_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    pub vpc_id: String,
    pub vpc_owner_id: String,
}

/// What `kmsd admin instance create` sets (docs/design/instances.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    pub spec: i64,
    pub key_num: i64,
    pub secret_num: i64,
    pub vpc_num: i64,
}

impl Default for InstanceLimits {
    fn default() -> Self {
        Self { spec: 1000, key_num: 1000, secret_num: 100, vpc_num: 1 }
    }
}

/// What a create puts in an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Key,
    Secret,
}

/// One row of GetKmsInstanceQuotaInfos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaInfo {
    pub resource_type: &'static str,
    pub quota: i64,
    pub used: i64,
}

/// The bound VPCs of a record.
pub fn bind_vpcs(r: &InstanceRecord) -> Vec<BindVpc> {
    serde_json::from_str(&r.bind_vpcs).unwrap_or_default()
}

/// A comma-joined stored list as items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

/// The 3-letter region code of instance ids (cosmetic, §1.4).
fn region_code(region: &str) -> String {
    match region {
        "cn-hangzhou" => "hzz".into(),
        "cn-beijing" => "bjj".into(),
        "cn-shanghai" => "shh".into(),
        other => {
            let city = other.split('-').rfind(|p| p.chars().all(|c| c.is_ascii_lowercase())).unwrap_or("");
            let mut code: String = city.chars().filter(|c| c.is_ascii_lowercase()).take(3).collect();
            while code.len() < 3 {
                code.push('x');
            }
            code
        }
    }
}

impl Kms {
    /// `<region code><18 random lowercase alphanumerics>`: the body of instance ids and of
    /// the ids of keys in instances (§1.4).
    fn regional_tail(&self) -> CoreResult<String> {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let random = self.crypto.random_bytes(18)?;
        let tail: String = random.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
        Ok(format!("{}{tail}", region_code(self.region().as_str())))
    }

    fn new_instance_id(&self) -> CoreResult<String> {
        Ok(format!("kst-{}", self.regional_tail()?))
    }

    /// The id of a new key in an instance: `key-<region code><random>`, as the cloud's.
    pub(crate) fn new_instance_key_id(&self) -> CoreResult<kms_types::KeyId> {
        kms_types::KeyId::in_instance("", &self.regional_tail()?).map_err(|_| CoreError::Unsupported("key id"))
    }

    pub fn instance_arn(&self, id: &str) -> String {
        format!("acs:kms:{}:{}:keystore/{id}", self.region(), self.account())
    }

    /// Makes an `Uninitialized` instance (operator action), and the deployment's CA if there is none yet.
    pub async fn create_instance(&self, limits: InstanceLimits) -> CoreResult<InstanceRecord> {
        let id = self.new_instance_id()?;
        self.insert_instance(id, limits).await
    }

    /// Stores a new instance, `Uninitialized`, under `id` (generated, or fixed by a fixture),
    /// with the CA that will sign its ClientKeys made first.
    pub(crate) async fn insert_instance(&self, id: String, limits: InstanceLimits) -> CoreResult<InstanceRecord> {
        self.instance_ca_pem().await?;
        let record = InstanceRecord {
            id: id.clone(),
            name: id,
            status: UNINITIALIZED.into(),
            spec: limits.spec,
            key_num: limits.key_num,
            secret_num: limits.secret_num,
            vpc_num: limits.vpc_num,
            vpc_id: None,
            zone_ids: String::new(),
            vswitch_ids: String::new(),
            bind_vpcs: "[]".into(),
            created_at: self.now(),
            started_at: None,
            deletion_protection: false,
            deletion_protection_description: String::new(),
            released: false,
            revision: 1,
        };
        self.store.insert_instance(&record).await?;
        Ok(record)
    }

    /// A live (not released) instance.
    pub async fn instance(&self, id: &str) -> CoreResult<InstanceRecord> {
        match self.store.get_instance(id).await? {
            Some(r) if !r.released => Ok(r),
            _ => Err(CoreError::InstanceNotFound),
        }
    }

    /// A live instance that is `Connected` (what creating keys and secrets in it needs).
    pub async fn connected_instance(&self, id: &str) -> CoreResult<InstanceRecord> {
        let r = self.instance(id).await?;
        if r.status != CONNECTED {
            return Err(CoreError::InstanceStateInvalid);
        }
        Ok(r)
    }

    /// Whether a key or secret may be created in the instance: it exists, is `Connected`, and
    /// has quota left. An early answer only: the store counts again inside the insert's own
    /// write (see `KeyStore::insert_key`), so two creates racing for the last slot cannot both pass.
    pub(crate) async fn instance_room(&self, id: &str, what: Resource) -> CoreResult<()> {
        let r = self.connected_instance(id).await?;
        let (keys, secrets) = self.store.count_instance_resources(id).await?;
        let (used, quota) = match what {
            Resource::Key => (keys, r.key_num),
            Resource::Secret => (secrets, r.secret_num),
        };
        if used as i64 >= quota {
            return Err(CoreError::LimitExceeded);
        }
        Ok(())
    }

    pub async fn list_instances(&self, window: Window) -> CoreResult<kms_store::Listing<InstanceRecord>> {
        Ok(self.store.list_instances(window).await?)
    }

    async fn change_instance(&self, r: &InstanceRecord) -> CoreResult<InstanceRecord> {
        self.store.update_instance(r).await.map_err(|e| match e {
            // A concurrent change or release won: the caller's view of the state is stale.
            StoreError::Conflict => CoreError::InstanceStateInvalid,
            StoreError::NotFound => CoreError::InstanceNotFound,
            other => other.into(),
        })
    }

    /// ConnectKmsInstance: `Uninitialized` → `Connected`, synchronously (§2.2, §6).
    pub async fn connect_instance(
        &self,
        id: &str,
        vpc_id: String,
        zone_ids: &[String],
        vswitch_ids: &[String],
    ) -> CoreResult<InstanceRecord> {
        let r = self.instance(id).await?;
        if r.status != UNINITIALIZED {
            return Err(CoreError::InstanceStateInvalid);
        }
        let connected = InstanceRecord {
            status: CONNECTED.into(),
            vpc_id: Some(vpc_id),
            zone_ids: zone_ids.join(","),
            vswitch_ids: vswitch_ids.join(","),
            started_at: Some(self.now()),
            ..r
        };
        self.change_instance(&connected).await
    }

    /// UpdateKmsInstanceBindVpc: replaces the bound list; own VPC + bound ≤ VpcNum (§2.5).
    pub async fn bind_instance_vpcs(&self, id: &str, vpcs: &[BindVpc]) -> CoreResult<InstanceRecord> {
        let r = self.connected_instance(id).await?;
        if 1 + vpcs.len() as i64 > r.vpc_num {
            return Err(CoreError::LimitExceeded);
        }
        let text = serde_json::to_string(vpcs).map_err(|_| CoreError::InvalidParameter("BindVpcs"))?;
        self.change_instance(&InstanceRecord { bind_vpcs: text, ..r }).await
    }

    /// UpdateKmsInstance (Terraform's `instance_name`, §2.9): renames the instance.
    pub async fn rename_instance(&self, id: &str, name: String) -> CoreResult<InstanceRecord> {
        let r = self.instance(id).await?;
        self.change_instance(&InstanceRecord { name, ..r }).await
    }

    /// SetDeletionProtection with `KmsInstanceId` (§2.9): while on, the instance is not released.
    pub async fn protect_instance(
        &self,
        id: &str,
        enabled: bool,
        description: Option<String>,
    ) -> CoreResult<InstanceRecord> {
        let r = self.instance(id).await?;
        let deletion_protection_description = if enabled { description.unwrap_or_default() } else { String::new() };
        self.change_instance(&InstanceRecord { deletion_protection: enabled, deletion_protection_description, ..r })
            .await
    }

    /// ReleaseKmsInstance: the instance is gone for every later call, and so is everything in
    /// it (§2.8, §6). An instance holding keys or secrets is released only with
    /// `ForceDeleteWithoutBackup` (kmsd keeps no backups; §12 Q4), and never while deletion
    /// protection is on (§12 Q5). The instance is marked
    /// released first, so nothing new lands in it while its keys and secrets are purged.
    pub async fn release_instance(&self, id: &str, force: bool) -> CoreResult<()> {
        let r = self.instance(id).await?;
        if r.deletion_protection {
            return Err(CoreError::InstanceDeletionProtected);
        }
        let (keys, secrets) = self.store.count_instance_resources(id).await?;
        if keys + secrets > 0 && !force {
            return Err(CoreError::InvalidParameter("ForceDeleteWithoutBackup"));
        }
        self.change_instance(&InstanceRecord { released: true, ..r }).await?;
        self.store.remove_tags(kms_types::ResourceType::Instance, id, None).await?;
        self.purge_instance_resources(id).await
    }

    /// Destroys every key and purges every secret of an instance (secrets first: they are
    /// sealed under its keys).
    async fn purge_instance_resources(&self, id: &str) -> CoreResult<()> {
        let mut offset = 0;
        loop {
            let page = self.store.list_secrets(Window { offset, limit: 1000 }).await?;
            let n = page.items.len() as u64;
            for s in page.items.into_iter().filter(|s| s.dkms_instance_id.as_deref() == Some(id)) {
                match self.store.purge_secret(&s).await {
                    Ok(()) => offset = offset.saturating_sub(1),
                    Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if n < 1000 {
                break;
            }
            offset += n;
        }
        let filter = kms_types::KeyFilter { instance_ids: Some(vec![id.to_owned()]), ..Default::default() };
        loop {
            let page = self.store.list_keys(&filter, Window { offset: 0, limit: 100 }).await?;
            if page.items.is_empty() {
                return Ok(());
            }
            for k in page.items {
                match self.destroy_key(&k).await {
                    // Changed meanwhile: the next page lists it again, as it is now.
                    Ok(()) | Err(StoreError::Conflict | StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    /// GetKmsInstanceQuotaInfos rows in the order key, secret, vpc, qps (§7).
    pub async fn instance_quotas(&self, id: &str) -> CoreResult<Vec<QuotaInfo>> {
        let r = self.instance(id).await?;
        let vpcs = if r.status == CONNECTED { 1 + bind_vpcs(&r).len() as i64 } else { 0 };
        let (keys, secrets) = self.store.count_instance_resources(id).await?;
        Ok(vec![
            QuotaInfo { resource_type: "key", quota: r.key_num, used: keys as i64 },
            QuotaInfo { resource_type: "secret", quota: r.secret_num, used: secrets as i64 },
            QuotaInfo { resource_type: "vpc", quota: r.vpc_num, used: vpcs },
            QuotaInfo { resource_type: "qps", quota: r.spec, used: 0 },
        ])
    }

    /// The deployment's instance CA certificate chain (PEM; one self-signed CA), made on first use.
    pub async fn instance_ca_pem(&self) -> CoreResult<String> {
        if let Some(stored) = self.store.get_meta(META_INSTANCE_CA).await? {
            return ca_pem_of(&stored);
        }
        let made = self.make_ca()?;
        let stored = self.store.init_meta(META_INSTANCE_CA, &made).await?;
        ca_pem_of(&stored)
    }

    /// What the CA certificate says of its subject: also what every certificate it issues
    /// names as issuer, so the two must come from here alone.
    fn ca_params(&self) -> rcgen::CertificateParams {
        use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyUsagePurpose};
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("kmsd KMS instance CA {}", self.region()));
        dn.push(DnType::OrganizationName, "kmsd");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params
    }

    fn now_time(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(self.now()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    fn serial(&self) -> CoreResult<rcgen::SerialNumber> {
        let mut serial = self.crypto.random_bytes(16)?.to_vec();
        serial[0] &= 0x7f;
        Ok(rcgen::SerialNumber::from_slice(&serial))
    }

    /// A new CA as the meta value `<hex of the wrapped PKCS#8 key>\n<certificate PEM>`.
    fn make_ca(&self) -> CoreResult<String> {
        use rcgen::KeyPair;
        let failed = |_| CoreError::Unsupported("instance CA generation");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = self.ca_params();
        let now = self.now_time();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
        params.serial_number = Some(self.serial()?);
        let cert = params.self_signed(&key).map_err(failed)?;
        let pkcs8 = Zeroizing::new(key.serialize_der());
        let wrapped = self.crypto.root.wrap(CA_KEY_AAD, &pkcs8)?;
        Ok(format!("{}\n{}", hex::encode(wrapped), cert.pem()))
    }

    /// The names the instance gateway's certificate must carry: every connected instance's
    /// `<id>.cryptoservice.kms.aliyuncs.com`, `localhost`, `127.0.0.1` and the operator's own.
    pub async fn gateway_names(&self, extra: &[String]) -> CoreResult<Vec<String>> {
        let all = self.store.list_instances(Window { offset: 0, limit: u32::MAX }).await?;
        let mut names: Vec<String> =
            all.items.iter().filter(|r| r.status == CONNECTED).map(|r| format!("{}{GATEWAY_DOMAIN}", r.id)).collect();
        names.extend(["localhost".to_owned(), "127.0.0.1".to_owned()]);
        names.extend(extra.iter().cloned());
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// A TLS server certificate for the instance gateway, issued by the instance CA for
    /// `names` (IP literals become IP SANs): the leaf's DER and its new P-256 key (PKCS#8,
    /// never stored). Valid 90 days; the gateway issues a new one whenever the names change.
    pub async fn issue_gateway_certificate(&self, names: &[String]) -> CoreResult<GatewayCertificate> {
        use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};
        let failed = |_| CoreError::Unsupported("instance gateway certificate");
        self.instance_ca_pem().await?;
        let stored = self.store.get_meta(META_INSTANCE_CA).await?.ok_or(CoreError::Unsupported("instance CA"))?;
        let corrupt = || CoreError::Store(StoreError::Corrupt("instance CA".into()));
        let (wrapped_hex, _) = stored.split_once('\n').ok_or_else(corrupt)?;
        let wrapped = hex::decode(wrapped_hex).map_err(|_| corrupt())?;
        let ca_pkcs8 = self.crypto.root.unwrap(CA_KEY_AAD, &wrapped)?;
        let ca_key = KeyPair::try_from(ca_pkcs8.as_slice()).map_err(failed)?;
        let issuer = Issuer::new(self.ca_params(), ca_key);
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(failed)?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "kmsd instance gateway");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = self.now_time();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(GATEWAY_CERT_DAYS);
        params.serial_number = Some(self.serial()?);
        let cert = params.signed_by(&leaf_key, &issuer).map_err(failed)?;
        Ok(GatewayCertificate {
            certificate_der: cert.der().to_vec(),
            key_pkcs8: Zeroizing::new(leaf_key.serialize_der()),
        })
    }
}

/// The instance gateway's TLS identity (see [`Kms::issue_gateway_certificate`]).
pub struct GatewayCertificate {
    pub certificate_der: Vec<u8>,
    pub key_pkcs8: Zeroizing<Vec<u8>>,
}

fn ca_pem_of(stored: &str) -> CoreResult<String> {
    match stored.split_once('\n') {
        Some((_, pem)) if pem.contains("-----BEGIN CERTIFICATE-----") => Ok(pem.to_owned()),
        _ => Err(CoreError::Store(StoreError::Corrupt("instance CA".into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes() {
        assert_eq!(region_code("cn-hangzhou"), "hzz");
        assert_eq!(region_code("ap-southeast-1"), "sou");
        assert_eq!(region_code("eu-central"), "cen");
    }
}
