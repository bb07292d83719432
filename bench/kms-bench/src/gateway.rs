//! The instance gateway as a load target (`--target gateway`): the instance API over TLS, each
//! request signed with a ClientKey the way the instance SDKs sign (RSA PKCS#1 v1.5 SHA-256 over
//! the string-to-sign). The string-to-sign changes only with the `date` header (one-second
//! resolution) for a fixed body, so each connection signs once per second and reuses the
//! signature within it — the SDKs themselves sign every request, but an RSA signature per
//! request would make the load tool, not kmsd, the bottleneck.
//!
//! `--target gateway-ceiling` is kmsd's HTTP layer over the same TLS answering a fixed
//! protobuf body of the gateway's reply size: the most any gateway could answer here.

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use kms_testkit::{Call, Client};
use kms_wire::instance::{pb, signature};
use prost::Message as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

use crate::target::Action;

/// What the gateway benchmark sends, ready to be signed each second.
pub struct GatewayTarget {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
    api_name: &'static str,
    body: Vec<u8>,
    body_sha256: String,
    client_key_id: String,
    key: Option<KeyPair>,
    /// `(date, authorization)` of the current second.
    signed: Mutex<(String, String)>,
    pub reply_size: Option<usize>,
}

fn tls(ca_pem: &str) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn classic(client: &Client, action: &str, params: &[(&str, &str)]) -> Result<serde_json::Value, String> {
    let r = client.try_send(Call::new(action, params)).await.map_err(|e| format!("kmsd: {e}"))?;
    if r.status != 200 {
        return Err(format!("{action} answered {}: {}", r.status, r.text()));
    }
    Ok(r.json())
}

fn request_body(action: Action, key_id: &str, secret: &str) -> Result<(&'static str, Vec<u8>), String> {
    match action {
        Action::Encrypt32 | Action::Encrypt4k => {
            let len = if action == Action::Encrypt4k { 4096 } else { 32 };
            let r = pb::EncryptRequest { key_id: key_id.into(), plaintext: vec![0x5a; len], ..Default::default() };
            Ok(("Encrypt", r.encode_to_vec()))
        }
        Action::GetSecretValue => {
            let r = pb::GetSecretValueRequest { secret_name: secret.into(), ..Default::default() };
            Ok(("GetSecretValue", r.encode_to_vec()))
        }
        other => Err(format!("{} is not measured on the gateway", other.name())),
    }
}

impl GatewayTarget {
    /// Sets up an application in instance `instance` through the classic API at `client`
    /// (key, secret, network rule, policy, access point, ClientKey) and reads its CA.
    pub async fn new(client: Client, instance: &str, action: Action) -> Result<Self, String> {
        let unique = std::process::id();
        // Connected once; a second run finds it so.
        let connect = client
            .try_send(Call::new(
                "ConnectKmsInstance",
                &[
                    ("KmsInstanceId", instance),
                    ("KMProvider", "Aliyun"),
                    ("VpcId", "vpc-bench"),
                    ("ZoneIds", "cn-hangzhou-k,cn-hangzhou-j"),
                    ("VSwitchIds", "vsw-bench"),
                ],
            ))
            .await
            .map_err(|e| format!("kmsd: {e}"))?;
        if connect.status != 200 && connect.code() != "Forbidden.DKMSInstanceStateInvalid" {
            return Err(format!("ConnectKmsInstance answered {}: {}", connect.status, connect.text()));
        }
        let ca = classic(&client, "GetKmsInstance", &[("KmsInstanceId", instance)]).await?;
        let ca_pem = ca["KmsInstance"]["CaCertificateChainPem"].as_str().ok_or("no CA in GetKmsInstance")?.to_owned();
        let made = classic(&client, "CreateKey", &[("DKMSInstanceId", instance)]).await?;
        let key_id = made["KeyMetadata"]["KeyId"].as_str().ok_or("CreateKey answered no KeyId")?.to_owned();
        let secret = format!("bench/gw-{unique}");
        let data = "s".repeat(32);
        classic(
            &client,
            "CreateSecret",
            &[
                ("SecretName", &secret),
                ("VersionId", "v1"),
                ("SecretData", &data),
                ("DKMSInstanceId", instance),
                ("EncryptionKeyId", &key_id),
            ],
        )
        .await?;
        let (rule, policy, aap) =
            (format!("bench-rule-{unique}"), format!("bench-pol-{unique}"), format!("bench-aap-{unique}"));
        classic(
            &client,
            "CreateNetworkRule",
            &[("Name", &rule), ("Type", "Private"), ("SourcePrivateIp", r#"["127.0.0.1"]"#)],
        )
        .await?;
        let rules = format!(r#"{{"NetworkRules":["{rule}"]}}"#);
        classic(
            &client,
            "CreatePolicy",
            &[
                ("Name", &policy),
                ("KmsInstance", instance),
                (
                    "Permissions",
                    r#"["RbacPermission/Template/CryptoServiceKeyUser","RbacPermission/Template/CryptoServiceSecretUser"]"#,
                ),
                ("Resources", r#"["key/*","secret/*"]"#),
                ("AccessControlRules", &rules),
            ],
        )
        .await?;
        classic(&client, "CreateApplicationAccessPoint", &[("Name", &aap), ("Policies", &format!(r#"["{policy}"]"#))])
            .await?;
        let password = "Bench-Passw0rd";
        let ck = classic(&client, "CreateClientKey", &[("AapName", &aap), ("Password", password)]).await?;
        let client_key_id = ck["ClientKeyId"].as_str().ok_or("no ClientKeyId")?.to_owned();
        let p12 = kms_wire::params::decode_base64(ck["PrivateKeyData"].as_str().ok_or("no PrivateKeyData")?)
            .ok_or("PrivateKeyData is not base64")?;
        let store = p12_keystore::KeyStore::from_pkcs12(&p12, password, p12_keystore::Pkcs12ImportPolicy::Relaxed)
            .map_err(|e| format!("the ClientKey does not open: {e}"))?;
        let (_, chain) = store.private_key_chain().ok_or("no private key in the ClientKey")?;
        let key = KeyPair::from_pkcs8(chain.key().as_der()).map_err(|e| format!("ClientKey key: {e}"))?;
        let (api_name, body) = request_body(action, &key_id, &secret)?;
        Ok(Self::with(tls(&ca_pem)?, api_name, body, client_key_id, Some(key), None))
    }

    /// The ceiling: the same requests (signed with a throwaway key), answered with a fixed body.
    pub fn ceiling(ca_pem: &str, action: Action, reply_size: usize) -> Result<Self, String> {
        let key = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?;
        let (api_name, body) = request_body(action, "key-hzzceiling00000000000000", "bench/ceiling")?;
        Ok(Self::with(tls(ca_pem)?, api_name, body, "KAAP.ceiling".into(), Some(key), Some(reply_size)))
    }

    fn with(
        connector: TlsConnector,
        api_name: &'static str,
        body: Vec<u8>,
        client_key_id: String,
        key: Option<KeyPair>,
        reply_size: Option<usize>,
    ) -> Self {
        let body_sha256 = hex::encode_upper(digest(&SHA256, &body));
        Self {
            connector,
            server_name: ServerName::try_from("127.0.0.1").expect("an IP is a server name"),
            api_name,
            body,
            body_sha256,
            client_key_id,
            key,
            signed: Mutex::new((String::new(), String::new())),
            reply_size,
        }
    }

    fn headers(&self, date: &str) -> Vec<(String, Vec<u8>)> {
        [
            ("date", date.to_owned()),
            ("x-kms-apiversion", "dkms-gcs-0.2".to_owned()),
            ("x-kms-apiname", self.api_name.to_owned()),
            ("x-kms-signaturemethod", "RSA_PKCS1_SHA_256".to_owned()),
            ("x-kms-acccesskeyid", self.client_key_id.clone()),
            ("content-type", "application/x-protobuf".to_owned()),
            ("content-sha256", self.body_sha256.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_bytes()))
        .collect()
    }

    /// The request bytes, signed for the current second.
    pub fn request(&self) -> Vec<u8> {
        let date = httpdate_now();
        let authorization = {
            let mut signed = self.signed.lock().expect("signature cache");
            if signed.0 != date {
                let sts = signature::string_to_sign(&self.headers(&date));
                let key = self.key.as_ref().expect("a signing key");
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), sts.as_bytes(), &mut sig)
                    .expect("RSA signature");
                *signed = (date.clone(), format!("Bearer {}", kms_wire::params::encode_base64(&sig)));
            }
            signed.1.clone()
        };
        let mut out = Vec::with_capacity(1024 + self.body.len());
        out.extend_from_slice(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: application/x-protobuf\r\n");
        for (k, v) in self.headers(&date) {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&v);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(size) = self.reply_size {
            out.extend_from_slice(format!("x-bench-reply-size: {size}\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!("authorization: {authorization}\r\ncontent-length: {}\r\n\r\n", self.body.len()).as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }

    /// Whether a 200 answer is the operation's answer (the ceiling: any body of its size).
    pub fn answer_ok(&self, body: &[u8]) -> bool {
        if self.reply_size.is_some() {
            return !body.is_empty();
        }
        match self.api_name {
            "Encrypt" => pb::EncryptResponse::decode(body).is_ok_and(|r| !r.ciphertext_blob.is_empty()),
            _ => pb::GetSecretValueResponse::decode(body).is_ok_and(|r| !r.secret_data.is_empty()),
        }
    }
}

/// The current time as the SDKs send it in `date`.
fn httpdate_now() -> String {
    signature::format_date(time::OffsetDateTime::now_utc())
}
