//! ClientKeys of application access points (docs/design/instances.md §9): an RSA-2048 key
//! pair, its self-signed certificate, and the PKCS#12 file that hands the private key to the
//! application, protected by the caller's password.
//!
//! The file is the legacy layout — SHA-1 MAC, `pbeWithSHAAnd3-KeyTripleDES-CBC` for both the
//! certificate and the key bag, the certificate first — because that is what every official
//! instance SDK reads: Go's `x/crypto/pkcs12` reads nothing newer and takes the second bag as
//! the key; PHP on OpenSSL 3 cannot read RC2. The key pair comes from aws-lc-rs, the
//! certificate from rcgen and the PKCS#12 encoding from p12-keystore; nothing is hand-made.
//!
//! Only the certificate is meant to be kept. The private key lives in this function's
//! zeroized buffer and in the encrypted file; the libraries' own transient copies (rcgen's key
//! pair, p12-keystore's key entry) are dropped before it returns but are not wiped by them.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, LocalKeyId, MacAlgorithm, PrivateKey, PrivateKeyChain,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::CryptoError;

/// What `openssl pkcs12 -export` uses; every loader accepts it.
const ITERATIONS: u32 = 2048;

/// What CreateClientKey answers and keeps.
pub struct ClientKeyBundle {
    /// The certificate of the key pair, PEM: `PublicKeyData`, and all that is stored.
    pub certificate_pem: String,
    /// The PKCS#12 file (`PrivateKeyData`, base64 on the wire); encrypted under the password.
    pub pkcs12: Vec<u8>,
}

fn backend<E>(_: E) -> CryptoError {
    CryptoError::Backend
}

/// A new RSA-2048 ClientKey named `id`, valid from `not_before` to `not_after`, its private
/// key in a PKCS#12 file under `password`.
pub fn make_client_key(
    id: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    password: &str,
) -> Result<ClientKeyBundle, CryptoError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(backend)?;
    let der: Pkcs8V1Der<'static> = pair.as_der().map_err(backend)?;
    let pkcs8 = Zeroizing::new(der.as_ref().to_vec());
    drop(der);
    drop(pair);

    let signer = rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(backend)?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, id);
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_after;
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(backend)?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&signer).map_err(backend)?;
    drop(signer);

    let local_key_id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der());
    let chain = PrivateKeyChain::new(
        LocalKeyId(local_key_id.as_ref().to_vec()),
        PrivateKey::from_der(&pkcs8).map_err(backend)?,
        [Certificate::from_der(cert.der()).map_err(backend)?],
    );
    let mut store = KeyStore::new();
    store.add_entry(id, KeyStoreEntry::PrivateKeyChain(chain));
    let pkcs12 = store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha1)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(backend)?;
    Ok(ClientKeyBundle { certificate_pem: cert.pem(), pkcs12 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p12_keystore::Pkcs12ImportPolicy;

    #[test]
    fn the_file_opens_with_its_password_and_holds_the_certified_key() {
        let nb = OffsetDateTime::from_unix_timestamp(1_693_577_482).unwrap();
        let na = nb + time::Duration::days(5 * 365);
        let b = make_client_key("KAAP.test", nb, na, "Passw0rd!").unwrap();
        assert!(b.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let opened = KeyStore::from_pkcs12(&b.pkcs12, "Passw0rd!", Pkcs12ImportPolicy::Relaxed).unwrap();
        let (alias, chain) = opened.private_key_chain().expect("a key with its certificate");
        assert_eq!(alias, "KAAP.test");
        assert_eq!(chain.certs().len(), 1);
        assert_eq!(chain.certs()[0].subject(), "CN=KAAP.test");
        // The key is RSA-2048 and is the certificate's.
        let key = KeyPair::from_pkcs8(chain.key().as_der()).unwrap();
        assert_eq!(key.public_modulus_len(), 256);
        let pem = pem_rfc7468::decode_vec(b.certificate_pem.as_bytes()).unwrap().1;
        assert_eq!(chain.certs()[0].as_der(), pem.as_slice());
        assert!(KeyStore::from_pkcs12(&b.pkcs12, "wrong-Passw0rd", Pkcs12ImportPolicy::Relaxed).is_err());
    }

    #[test]
    fn each_key_is_new() {
        let nb = OffsetDateTime::now_utc();
        let a = make_client_key("KAAP.a", nb, nb + time::Duration::days(1), "Passw0rd!").unwrap();
        let b = make_client_key("KAAP.a", nb, nb + time::Duration::days(1), "Passw0rd!").unwrap();
        assert_ne!(a.certificate_pem, b.certificate_pem);
    }
}
