//! What a request to each target looks like, and what counts as a correct answer.

use base64::Engine as _;
use kms_testkit::{Call, Client};

/// The operations the benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Encrypt 32 bytes.
    Encrypt32,
    /// Encrypt 4 KiB.
    Encrypt4k,
    /// Decrypt a 32-byte ciphertext.
    Decrypt,
    /// GenerateDataKey, 32 bytes.
    GenerateDataKey,
    /// GetSecretValue of a 32-byte secret (OpenBao: a KV v2 read).
    GetSecretValue,
    /// CreateKey: one durable write per request.
    CreateKey,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Encrypt32 => "Encrypt 32 B",
            Action::Encrypt4k => "Encrypt 4 KB",
            Action::Decrypt => "Decrypt",
            Action::GenerateDataKey => "GenerateDataKey",
            Action::GetSecretValue => "GetSecretValue",
            Action::CreateKey => "CreateKey",
        }
    }

    fn plaintext(self) -> String {
        let len = if self == Action::Encrypt4k { 4096 } else { 32 };
        base64::engine::general_purpose::STANDARD.encode(vec![0x5a; len])
    }
}

/// How the kmsd request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signature {
    V1,
    Acs3,
}

/// One target, ready to build requests for one action.
pub enum Target {
    /// kmsd, or the ceiling (which gets the same signed requests and answers `reply_size` bytes).
    Kms { action: Action, presigned: Box<crate::presign::Presigned>, reply_size: Option<usize> },
    /// OpenBao transit: token authentication, so each request is the same bytes.
    OpenBao { request: Vec<u8> },
    /// kmsd's instance gateway, or the ceiling over TLS with the same requests.
    Gateway(Box<crate::gateway::GatewayTarget>),
}

impl Target {
    /// A kmsd target: creates the key (and the ciphertext to decrypt) it needs first.
    pub async fn kms(client: Client, action: Action, signature: Signature) -> Result<Self, String> {
        let params = match action {
            Action::CreateKey => vec![],
            Action::GetSecretValue => {
                let name = format!("bench/{}", std::process::id());
                let data = "s".repeat(32);
                send(
                    &client,
                    Call::new("CreateSecret", &[("SecretName", &name), ("VersionId", "v1"), ("SecretData", &data)]),
                )
                .await?;
                vec![("SecretName".into(), name)]
            }
            _ => {
                let made = send(&client, Call::new("CreateKey", &[])).await?;
                let key = made["KeyMetadata"]["KeyId"].as_str().ok_or("CreateKey answered no KeyId")?.to_owned();
                match action {
                    Action::Encrypt32 | Action::Encrypt4k => {
                        vec![("KeyId".into(), key), ("Plaintext".into(), action.plaintext())]
                    }
                    Action::GenerateDataKey => vec![("KeyId".into(), key), ("NumberOfBytes".into(), "32".into())],
                    _ => {
                        let p = Action::Encrypt32.plaintext();
                        let enc = send(&client, Call::new("Encrypt", &[("KeyId", &key), ("Plaintext", &p)])).await?;
                        let blob = enc["CiphertextBlob"].as_str().ok_or("Encrypt answered no blob")?.to_owned();
                        vec![("CiphertextBlob".into(), blob)]
                    }
                }
            }
        };
        let presigned = Box::new(crate::presign::Presigned::new(&client, call_of(action, &params), signature, &[])?);
        Ok(Target::Kms { action, presigned, reply_size: None })
    }

    /// The ceiling, answering as many bytes as kmsd answers for `action`.
    pub fn ceiling(client: Client, action: Action, signature: Signature, reply_size: usize) -> Result<Self, String> {
        let plaintext = action.plaintext();
        let params = vec![("KeyId".into(), "ceiling".into()), ("Plaintext".into(), plaintext)];
        let extra = [("x-bench-reply-size".to_owned(), reply_size.to_string())];
        let presigned = Box::new(crate::presign::Presigned::new(&client, call_of(action, &params), signature, &extra)?);
        Ok(Target::Kms { action, presigned, reply_size: Some(reply_size) })
    }

    /// OpenBao's transit engine doing the same operation with key `bench`.
    pub async fn openbao(addr: &str, token: &str, action: Action) -> Result<Self, String> {
        let (path, body) = match action {
            Action::Encrypt32 | Action::Encrypt4k => {
                ("/v1/transit/encrypt/bench".to_owned(), serde_json::json!({ "plaintext": action.plaintext() }))
            }
            Action::GenerateDataKey => ("/v1/transit/datakey/plaintext/bench".to_owned(), serde_json::json!({})),
            Action::Decrypt => {
                let enc = openbao_request(
                    addr,
                    token,
                    "/v1/transit/encrypt/bench",
                    &serde_json::json!({
                        "plaintext": Action::Encrypt32.plaintext()
                    }),
                );
                let answer = crate::load::one_shot(addr, &enc).await?;
                let ct = answer["data"]["ciphertext"].as_str().ok_or("OpenBao answered no ciphertext")?.to_owned();
                ("/v1/transit/decrypt/bench".to_owned(), serde_json::json!({ "ciphertext": ct }))
            }
            Action::GetSecretValue => {
                // Dev mode mounts KV v2 at secret/: store once, then read.
                let put = openbao_request(
                    addr,
                    token,
                    "/v1/secret/data/bench",
                    &serde_json::json!({
                        "data": { "value": "s".repeat(32) }
                    }),
                );
                crate::load::one_shot(addr, &put).await?;
                let headers = vec![("host".into(), addr.to_owned()), ("x-vault-token".into(), token.to_owned())];
                return Ok(Target::OpenBao { request: encode("GET", "/v1/secret/data/bench", &headers, b"") });
            }
            Action::CreateKey => return Err("CreateKey has no OpenBao counterpart in this benchmark".into()),
        };
        Ok(Target::OpenBao { request: openbao_request(addr, token, &path, &body) })
    }

    /// The bytes of the next request (signed afresh for kmsd and the ceiling), into `out`.
    pub fn request_into(&self, out: &mut Vec<u8>) {
        match self {
            Target::OpenBao { request } => {
                out.clear();
                out.extend_from_slice(request);
            }
            Target::Gateway(g) => *out = g.request(),
            Target::Kms { presigned, .. } => presigned.next_into(out),
        }
    }

    /// [`Self::request_into`] into a new buffer.
    pub fn request(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.request_into(&mut out);
        out
    }

    /// Whether a 200 answer carries what this operation must return.
    pub fn answer_ok(&self, body: &[u8]) -> bool {
        if let Target::Gateway(g) = self {
            return g.answer_ok(body);
        }
        let want: &[u8] = match self {
            Target::Kms { reply_size: Some(_), .. } => b"RequestId",
            Target::Kms { action: Action::Decrypt, .. } => b"\"Plaintext\"",
            Target::Kms { action: Action::CreateKey, .. } => b"\"KeyMetadata\"",
            Target::Kms { action: Action::GetSecretValue, .. } => b"\"SecretData\"",
            Target::Kms { .. } => b"\"CiphertextBlob\"",
            Target::OpenBao { .. } | Target::Gateway(_) => b"\"data\"",
        };
        body.windows(want.len()).any(|w| w == want)
    }
}

/// The SDK-shaped call for `action` with `params`.
fn call_of(action: Action, params: &[(String, String)]) -> Call {
    let name = match action {
        Action::Encrypt32 | Action::Encrypt4k => "Encrypt",
        Action::Decrypt => "Decrypt",
        Action::GenerateDataKey => "GenerateDataKey",
        Action::GetSecretValue => "GetSecretValue",
        Action::CreateKey => "CreateKey",
    };
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Call::new(name, &pairs)
}

fn encode(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + target.len() + body.len());
    out.extend_from_slice(format!("{method} {target} HTTP/1.1\r\n").as_bytes());
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

fn openbao_request(addr: &str, token: &str, path: &str, body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string().into_bytes();
    let headers = vec![
        ("host".into(), addr.to_owned()),
        ("x-vault-token".into(), token.to_owned()),
        ("content-type".into(), "application/json".into()),
    ];
    encode("POST", path, &headers, &body)
}

async fn send(client: &Client, call: Call) -> Result<serde_json::Value, String> {
    let r = client.try_send(call).await.map_err(|e| format!("kmsd: {e}"))?;
    if r.status != 200 {
        return Err(format!("kmsd answered {}: {}", r.status, r.text()));
    }
    Ok(r.json())
}
