//! Application access (docs/design/instances.md §4): network rules, permission policies,
//! application access points (AAPs) and their ClientKeys — what the instance gateway will
//! authenticate and authorise applications by.
//!
//! As in the cloud, nothing is checked across names when objects are made or changed: a policy
//! may name network rules and an AAP policies that do not exist (yet). What is refused is
//! removing an object another one still names — a network rule named by a policy's
//! `AccessControlRules`, a policy named by an AAP, an AAP holding ClientKeys — so a deployment
//! never silently loses an application's access path. The last of these holds on any number of
//! nodes (the store makes ClientKey inserts and AAP deletes exclude each other); the first two
//! are checked just before the delete.

use kms_store::{AccessKind, AccessObjectRecord, Listing, StoreError, Window};
use kms_types::access::network_rules_of;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{CoreError, CoreResult};
use crate::service::{Kms, format_time};

/// `KmsInstance` of a policy that covers the shared gateway rather than one instance.
pub const SHARED_SCOPE: &str = "shared";
pub const CLIENT_KEY_ALGORITHM: &str = "RSA_2048";
/// A ClientKey with no validity given is valid for five years from its creation (§4.16).
const DEFAULT_VALIDITY_DAYS: i64 = 5 * 365 + 1;
/// Compare-and-set attempts before a change gives up as a conflict.
const CHANGE_ATTEMPTS: usize = 8;

/// A network rule: where applications may connect from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRule {
    pub name: String,
    /// Always `Private`.
    pub rule_type: String,
    /// IP addresses and CIDR blocks, as given.
    pub source_private_ips: Vec<String>,
    pub description: String,
}

/// A permission policy: which operations (`Permissions` templates) on which resources, through
/// which instance, from which network rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPolicy {
    pub name: String,
    pub permissions: Vec<String>,
    pub resources: Vec<String>,
    /// An instance id or [`SHARED_SCOPE`], verbatim.
    pub kms_instance: Option<String>,
    /// The caller's JSON text, verbatim (Terraform compares it byte for byte).
    pub access_control_rules: Option<String>,
    pub description: String,
}

impl AccessPolicy {
    /// The network rules its `AccessControlRules` name.
    pub fn network_rules(&self) -> Vec<String> {
        network_rules_of(self.access_control_rules.as_deref().unwrap_or("{}")).unwrap_or_default()
    }
}

/// An application access point: the policies an application authenticated by its ClientKeys
/// gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPoint {
    pub name: String,
    pub authentication_method: String,
    pub policies: Vec<String>,
    pub description: String,
}

/// A ClientKey as kept: the certificate of its key pair, never the private key. The store's
/// record is the key service's type as it is: it holds nothing wrapped to keep below the core.
pub use kms_store::ClientKeyRecord as ClientKey;

/// A new ClientKey and its one-time PKCS#12 file.
pub struct NewClientKey {
    pub key: ClientKey,
    /// Encrypted under the caller's password; handed out once, never stored.
    pub pkcs12: Vec<u8>,
}

/// A named application-access object, and the kind the store files it under.
trait AccessObject: Serialize + DeserializeOwned {
    const KIND: AccessKind;
    fn name(&self) -> &str;
}

impl AccessObject for NetworkRule {
    const KIND: AccessKind = AccessKind::NetworkRule;
    fn name(&self) -> &str {
        &self.name
    }
}

impl AccessObject for AccessPolicy {
    const KIND: AccessKind = AccessKind::Policy;
    fn name(&self) -> &str {
        &self.name
    }
}

impl AccessObject for AccessPoint {
    const KIND: AccessKind = AccessKind::AccessPoint;
    fn name(&self) -> &str {
        &self.name
    }
}

fn decode<T: AccessObject>(r: &AccessObjectRecord) -> CoreResult<T> {
    serde_json::from_str(&r.body)
        .map_err(|_| CoreError::Store(StoreError::Corrupt(format!("{} {}", T::KIND.as_str(), r.name))))
}

fn not_found(e: StoreError) -> CoreError {
    match e {
        StoreError::NotFound => CoreError::AccessNotFound,
        other => other.into(),
    }
}

/// `yyyy-MM-ddTHH:mm:ssZ` (§4.16) as a time; `None` for any other text.
pub fn parse_api_time(text: &str) -> Option<OffsetDateTime> {
    let well_formed = text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T';
    well_formed.then(|| OffsetDateTime::parse(text, &Rfc3339).ok()).flatten()
}

impl Kms {
    async fn create_object<T: AccessObject>(&self, object: &T) -> CoreResult<()> {
        let record = AccessObjectRecord {
            kind: T::KIND,
            name: object.name().to_owned(),
            body: serde_json::to_string(object).map_err(|_| CoreError::InvalidParameter("Name"))?,
            created_at: self.now(),
            revision: 1,
        };
        self.store.insert_access_object(&record).await.map_err(|e| match e {
            StoreError::Conflict => CoreError::AccessExists,
            other => other.into(),
        })
    }

    async fn object<T: AccessObject>(&self, name: &str) -> CoreResult<(T, AccessObjectRecord)> {
        match self.store.get_access_object(T::KIND, name).await? {
            Some(r) => Ok((decode(&r)?, r)),
            None => Err(CoreError::AccessNotFound),
        }
    }

    /// Applies `change` to the stored object, again on a fresh read if another change won.
    async fn change_object<T: AccessObject>(&self, name: &str, change: impl Fn(&mut T)) -> CoreResult<T> {
        for _ in 0..CHANGE_ATTEMPTS {
            let (mut object, record) = self.object::<T>(name).await?;
            change(&mut object);
            let body = serde_json::to_string(&object).map_err(|_| CoreError::InvalidParameter("Name"))?;
            match self.store.update_access_object(&AccessObjectRecord { body, ..record }).await {
                Ok(_) => return Ok(object),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(not_found(e)),
            }
        }
        Err(CoreError::Store(StoreError::Unavailable("too many concurrent changes".into())))
    }

    async fn list_objects<T: AccessObject>(&self, window: Window) -> CoreResult<Listing<T>> {
        let page = self.store.list_access_objects(T::KIND, window).await?;
        Ok(Listing { items: page.items.iter().map(decode).collect::<CoreResult<_>>()?, total: page.total })
    }

    async fn all_objects<T: AccessObject>(&self) -> CoreResult<Vec<T>> {
        Ok(self.list_objects(Window { offset: 0, limit: u32::MAX }).await?.items)
    }

    async fn delete_object<T: AccessObject>(&self, name: &str) -> CoreResult<()> {
        self.store.delete_access_object(T::KIND, name).await.map_err(|e| match e {
            StoreError::InUse => CoreError::AccessInUse("The application access point still has client keys."),
            other => not_found(other),
        })
    }

    pub fn access_arn(&self, kind: AccessKind, name: &str) -> String {
        let path = match kind {
            AccessKind::NetworkRule => "network",
            AccessKind::Policy => "policy",
            AccessKind::AccessPoint => "applicationaccesspoint",
        };
        format!("acs:kms:{}:{}:{path}/{name}", self.region(), self.account())
    }

    pub async fn create_network_rule(&self, rule: &NetworkRule) -> CoreResult<()> {
        self.create_object(rule).await
    }

    pub async fn network_rule(&self, name: &str) -> CoreResult<NetworkRule> {
        Ok(self.object(name).await?.0)
    }

    /// UpdateNetworkRule: what is given replaces what was (§4.4); name and type stay.
    pub async fn update_network_rule(
        &self,
        name: &str,
        description: Option<String>,
        ips: Option<Vec<String>>,
    ) -> CoreResult<NetworkRule> {
        self.change_object(name, |r: &mut NetworkRule| {
            if let Some(d) = &description {
                r.description = d.clone();
            }
            if let Some(ips) = &ips {
                r.source_private_ips = ips.clone();
            }
        })
        .await
    }

    pub async fn list_network_rules(&self, window: Window) -> CoreResult<Listing<NetworkRule>> {
        self.list_objects(window).await
    }

    /// Refused while a policy's `AccessControlRules` names the rule.
    pub async fn delete_network_rule(&self, name: &str) -> CoreResult<()> {
        self.network_rule(name).await?;
        let policies: Vec<AccessPolicy> = self.all_objects().await?;
        if policies.iter().any(|p| p.network_rules().iter().any(|r| r == name)) {
            return Err(CoreError::AccessInUse("A permission policy still names the network rule."));
        }
        self.delete_object::<NetworkRule>(name).await
    }

    /// CreatePolicy: the scope is `shared` or an instance that exists (§12 Q9).
    pub async fn create_access_policy(&self, policy: &AccessPolicy) -> CoreResult<()> {
        if let Some(scope) = &policy.kms_instance
            && scope != SHARED_SCOPE
        {
            self.instance(scope).await?;
        }
        self.create_object(policy).await
    }

    pub async fn access_policy(&self, name: &str) -> CoreResult<AccessPolicy> {
        Ok(self.object(name).await?.0)
    }

    /// UpdatePolicy: what is given replaces what was; the scope stays (§4.9).
    pub async fn update_access_policy(
        &self,
        name: &str,
        permissions: Option<Vec<String>>,
        resources: Option<Vec<String>>,
        access_control_rules: Option<String>,
        description: Option<String>,
    ) -> CoreResult<AccessPolicy> {
        self.change_object(name, |p: &mut AccessPolicy| {
            if let Some(v) = &permissions {
                p.permissions = v.clone();
            }
            if let Some(v) = &resources {
                p.resources = v.clone();
            }
            if let Some(v) = &access_control_rules {
                p.access_control_rules = Some(v.clone());
            }
            if let Some(v) = &description {
                p.description = v.clone();
            }
        })
        .await
    }

    pub async fn list_access_policies(&self, window: Window) -> CoreResult<Listing<AccessPolicy>> {
        self.list_objects(window).await
    }

    /// Refused while an AAP names the policy.
    pub async fn delete_access_policy(&self, name: &str) -> CoreResult<()> {
        self.access_policy(name).await?;
        let points: Vec<AccessPoint> = self.all_objects().await?;
        if points.iter().any(|p| p.policies.iter().any(|n| n == name)) {
            return Err(CoreError::AccessInUse("An application access point still names the permission policy."));
        }
        self.delete_object::<AccessPolicy>(name).await
    }

    pub async fn create_access_point(&self, point: &AccessPoint) -> CoreResult<()> {
        self.create_object(point).await
    }

    pub async fn access_point(&self, name: &str) -> CoreResult<AccessPoint> {
        Ok(self.object(name).await?.0)
    }

    pub async fn update_access_point(
        &self,
        name: &str,
        policies: Option<Vec<String>>,
        description: Option<String>,
    ) -> CoreResult<AccessPoint> {
        self.change_object(name, |p: &mut AccessPoint| {
            if let Some(v) = &policies {
                p.policies = v.clone();
            }
            if let Some(v) = &description {
                p.description = v.clone();
            }
        })
        .await
    }

    pub async fn list_access_points(&self, window: Window) -> CoreResult<Listing<AccessPoint>> {
        self.list_objects(window).await
    }

    /// Refused while the AAP holds ClientKeys (decided by the store, atomically).
    pub async fn delete_access_point(&self, name: &str) -> CoreResult<()> {
        self.delete_object::<AccessPoint>(name).await
    }

    /// CreateClientKey: a new RSA-2048 key pair for an existing AAP, valid over `validity`
    /// (the caller's `NotBefore`/`NotAfter`, echoed verbatim) or five years from now. Only its
    /// certificate is stored.
    pub async fn create_client_key(
        &self,
        aap_name: &str,
        validity: Option<(String, String)>,
        password: &str,
    ) -> CoreResult<NewClientKey> {
        self.access_point(aap_name).await?;
        let now = self.now();
        let (not_before, not_after) = validity.unwrap_or_else(|| {
            let start = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let end = start + time::Duration::days(DEFAULT_VALIDITY_DAYS);
            (format_time(now), format_time(end.unix_timestamp()))
        });
        let (start, end) = match (parse_api_time(&not_before), parse_api_time(&not_after)) {
            (Some(s), Some(e)) if s < e => (s, e),
            (None, _) => return Err(CoreError::InvalidParameter("NotBefore")),
            _ => return Err(CoreError::InvalidParameter("NotAfter")),
        };
        let id = format!("KAAP.{}", uuid::Uuid::new_v4());
        let bundle = kms_crypto::client_key::make_client_key(&id, start, end, password)?;
        let key = ClientKey {
            id,
            aap_name: aap_name.to_owned(),
            key_algorithm: CLIENT_KEY_ALGORITHM.into(),
            not_before,
            not_after,
            certificate_pem: bundle.certificate_pem,
            created_at: now,
        };
        self.store.insert_client_key(&key).await.map_err(not_found)?;
        Ok(NewClientKey { key, pkcs12: bundle.pkcs12 })
    }

    pub async fn client_key(&self, id: &str) -> CoreResult<ClientKey> {
        self.store.get_client_key(id).await?.ok_or(CoreError::AccessNotFound)
    }

    pub async fn list_client_keys(&self, aap_name: Option<&str>) -> CoreResult<Vec<ClientKey>> {
        Ok(self.store.list_client_keys(aap_name).await?)
    }

    pub async fn delete_client_key(&self, id: &str) -> CoreResult<()> {
        self.store.delete_client_key(id).await.map_err(not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_are_second_precision_utc() {
        assert_eq!(parse_api_time("2023-09-01T14:11:22Z").map(|t| t.unix_timestamp()), Some(1_693_577_482));
        for bad in
            ["2023-09-01 14:11:22Z", "2023-09-01T14:11:22.5Z", "2023-09-01T14:11:22+08:00", "2023-13-01T00:00:00Z", ""]
        {
            assert_eq!(parse_api_time(bad), None, "{bad}");
        }
    }
}
