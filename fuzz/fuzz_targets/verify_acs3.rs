//! ACS3-HMAC-SHA256 requests built from structured input, signed or not, through `verify_mac_only`:
//! never panics, accepts every correctly signed request, refuses every tampered one.
//! Inputs starting with `RAW ` are plain-text requests (the seeds from crates/kms-wire/tests/vectors).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kmsd_fuzz::verify_target(data, kms_wire::signature::Scheme::Acs3);
});
