//! One file per command family (mini-redis's shape); `main.rs` parses and dispatches.

pub(crate) mod files;
pub(crate) mod keys;
pub(crate) mod output;
pub(crate) mod secrets;
