//! Which keys a `ListKeys` call wants (spec §7.2 ListKeys `Filters`). AND across fields, OR
//! across the values of one field; `None` means "any".

use crate::{KeySpec, KeyState, KeyUsage, ProtectionLevel};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub states: Option<Vec<KeyState>>,
    pub specs: Option<Vec<KeySpec>>,
    pub usages: Option<Vec<KeyUsage>>,
    pub protection_levels: Option<Vec<ProtectionLevel>>,
    /// Keys carrying a tag with one of these keys.
    pub tag_keys: Option<Vec<String>>,
    /// Keys carrying a tag with one of these values.
    pub tag_values: Option<Vec<String>>,
    /// `keyId`: keys of these ids (the stores filter on it; `alias_names` resolve into it).
    pub key_ids: Option<Vec<String>>,
    /// `AliasName`: keys these aliases point at; the key service resolves them to `key_ids`.
    pub alias_names: Option<Vec<String>>,
    /// `Creator` (account UIDs), `CreatorType` (`User`/`Service`) and `DKMSInstanceId`: every
    /// key here is one a user of this account made, in no KMS instance, so the key service
    /// answers these without the stores.
    pub creators: Option<Vec<String>>,
    pub creator_types: Option<Vec<String>>,
    pub instance_ids: Option<Vec<String>>,
}
