//! The `kms` command line's parts: the signed API client, credential lookup and the envelope
//! file format (a library so the format can be fuzzed and read by other Rust tools).
#![forbid(unsafe_code)]

pub mod client;
pub mod envelope;
pub mod profile;
