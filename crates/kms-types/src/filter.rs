//! Which keys a `ListKeys` call wants (spec §7.2 ListKeys `Filters`). AND across fields, OR
//! across the values of one field; `None` means "any".

use crate::{KeySpec, KeyState, KeyUsage, ProtectionLevel};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub states: Option<Vec<KeyState>>,
    pub specs: Option<Vec<KeySpec>>,
    pub usages: Option<Vec<KeyUsage>>,
    pub protection_levels: Option<Vec<ProtectionLevel>>,
}

impl KeyFilter {
    /// Whether a key with these attributes passes the filter.
    pub fn matches(&self, state: KeyState, spec: KeySpec, usage: KeyUsage, level: ProtectionLevel) -> bool {
        fn ok<T: PartialEq>(allowed: &Option<Vec<T>>, v: T) -> bool {
            allowed.as_ref().is_none_or(|a| a.contains(&v))
        }
        ok(&self.states, state)
            && ok(&self.specs, spec)
            && ok(&self.usages, usage)
            && ok(&self.protection_levels, level)
    }
}
