//! The crypto-provider seam (rustls's `CryptoProvider`, adapted): what the key service may ask
//! of a backend, and the software backend on aws-lc-rs.
//!
//! Key material crosses the seam only as [`WrappedMaterial`], opaque bytes that the backend
//! produced and alone can use. The software backend unwraps them with the root key into a
//! zeroizing buffer for the length of one call; an HSM backend (a later crate) would hold an
//! object handle instead, and the key service could not tell the difference.
//!
//! Also here, because every backend must agree on it: the ciphertext-blob layout ([`blob`]).
#![forbid(unsafe_code)]

pub mod blob;
pub mod client_key;
pub mod import;
pub mod pkcs11;
mod pkcs11_asymmetric;
mod provider;
pub mod public;
pub mod public_random;
mod ring;
pub mod soft;
mod soft_asymmetric;
mod soft_mac;

pub use provider::{
    AsymmetricKeys, CryptoError, CryptoProvider, MacKeys, MaterialLabel, RootKey, Sealed, SymmetricKeys,
    WrappedMaterial,
};
pub use ring::{RootKeyId, RootKeyRing};
pub use soft_asymmetric::{SoftAsymmetric, data_key_pair};
pub use soft_mac::{SoftMac, hmac};
