//! Key and secret policies (spec §7.9): a resource policy document per key or secret, naming
//! principals (`acs:ram::<account>:user/<access-key name>`). A request is allowed when the
//! signer's identity policy or the resource's policy allows it, and refused when either
//! explicitly denies it (evaluated by the server's authoriser).
//!
//! Without a stored document a resource answers the default policy, which grants the account
//! itself (`…:root`, the unrestricted keys) and so leaves named principals to their identity
//! policies.

use std::sync::Arc;

use kms_policy::Policy;
use kms_types::{KeyRef, ResourceType, SecretName};

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;
use crate::state::{Operation, check};

/// The only policy name the API knows.
pub const POLICY_NAME: &str = "default";

impl Kms {
    /// The ARN a named principal has in resource policies.
    pub fn principal_arn(&self, principal: &str) -> String {
        format!("acs:ram::{}:user/{principal}", self.account())
    }

    /// What GetKeyPolicy / GetSecretPolicy answer while no policy was set.
    pub fn default_resource_policy(&self) -> String {
        format!(
            r#"{{"Version":"1","Statement":[{{"Sid":"Enable account permissions","Effect":"Allow","Principal":{{"RAM":["acs:ram::{}:root"]}},"Action":["kms:*"],"Resource":["*"]}}]}}"#,
            self.account()
        )
    }

    fn checked(text: &str) -> CoreResult<()> {
        Policy::parse_resource(text).map(|_| ()).map_err(|e| CoreError::InvalidPolicy(e.0))
    }

    /// SetKeyPolicy.
    pub async fn set_key_policy(&self, r: &KeyRef, text: &str) -> CoreResult<()> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::UpdateMetadata)?;
        Self::checked(text)?;
        Ok(self.store.put_resource_policy(ResourceType::Key, key.id.as_str(), text).await?)
    }

    /// GetKeyPolicy.
    pub async fn get_key_policy(&self, r: &KeyRef) -> CoreResult<String> {
        let key = self.resolve(r).await?;
        check(key.state, Operation::Read)?;
        let stored = self.store.get_resource_policy(ResourceType::Key, key.id.as_str()).await?;
        Ok(stored.unwrap_or_else(|| self.default_resource_policy()))
    }

    /// SetSecretPolicy (not in the recovery window, as for every change to a secret).
    pub async fn set_secret_policy(&self, name: &SecretName, text: &str) -> CoreResult<()> {
        self.live_secret(name).await?;
        Self::checked(text)?;
        Ok(self.store.put_resource_policy(ResourceType::Secret, name.as_str(), text).await?)
    }

    /// GetSecretPolicy.
    pub async fn get_secret_policy(&self, name: &SecretName) -> CoreResult<String> {
        self.store.get_secret(name).await?.ok_or(CoreError::SecretNotFound)?;
        let stored = self.store.get_resource_policy(ResourceType::Secret, name.as_str()).await?;
        Ok(stored.unwrap_or_else(|| self.default_resource_policy()))
    }

    /// The stored policy of a resource, parsed, for the authoriser (`None`: none was set).
    pub async fn resource_policy(&self, resource: ResourceType, id: &str) -> CoreResult<Option<Arc<Policy>>> {
        let stored = self.store.get_resource_policy(resource, id).await?;
        // Checked when stored; a document that no longer parses grants nothing.
        Ok(stored.map(|t| Arc::new(Policy::parse_resource(&t).unwrap_or_else(|_| Policy::deny_all()))))
    }

    /// Whether any key or secret has a policy (while none has, authorising needs no lookups).
    pub async fn resource_policies_in_use(&self) -> CoreResult<bool> {
        Ok(self.store.count_resource_policies().await? > 0)
    }
}
