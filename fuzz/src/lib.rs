//! Input shapes and request builders shared by the kmsd fuzz targets.
//!
//! The signature targets do not feed bytes straight to the verifier: almost every such input
//! dies at the first missing parameter. They build a request the way an SDK would, from a
//! structured [`arbitrary`] input, sign it (or not) with [`SECRET`], encode it in one of the
//! spellings clients use, and then check two properties besides "never panics":
//!
//! - a request that is well formed and correctly signed verifies, whatever the parameter
//!   order, query/body split, percent-encoding style or `Authorization` layout;
//! - a correctly signed request with one signed thing changed afterwards never verifies.
//!
//! Inputs that start with `RAW ` are instead parsed as a plain-text request (see
//! [`parse_raw_text`]) and verified with the secret of the recorded SDK vectors, so that
//! `run.sh` can seed the targets with the requests in `crates/kms-wire/tests/vectors/`.

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use aws_lc_rs::hmac;
use kms_crypto::blob::{CiphertextBlob, IV_LEN, MIN_LEN};
use kms_wire::raw::RawRequest;
use kms_wire::signature::canonical::acs_canonical_request;
use kms_wire::signature::sign::{sha256_hex, v1_signature};
use kms_wire::signature::{Scheme, verify_mac_only};

/// The secret structured inputs are signed and verified with.
pub const SECRET: &str = "fuzz-secret";
/// The secret of the recorded SDK vectors (`crates/kms-wire/tests/vectors/README.md`).
pub const CAPTURE_SECRET: &str = "CaptureSecret+/=*~0123456789ab";
const ACCESS_KEY_ID: &str = "LTAIfuzzAccessKeyId";

mod acs;
mod blob;
mod decode;
mod instance;
mod raw;
mod shape;
#[cfg(test)]
mod tests;
mod v1;

pub use acs::*;
pub use blob::*;
pub use decode::*;
pub use instance::*;
pub use raw::*;
pub use shape::*;
pub use v1::*;
