//! An envelope file from anyone: the header parser and the chunk reader must refuse whatever is
//! not a file this tool wrote under this data key, without panicking or allocating without bound.
#![no_main]

use kms_cli::envelope::{Header, decrypt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(header) = Header::read(&mut input) {
        let mut out = Vec::new();
        let _ = decrypt(&header, &[7u8; 32], &mut input, &mut out, |_| {});
    }
});
