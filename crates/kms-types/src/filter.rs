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
}
