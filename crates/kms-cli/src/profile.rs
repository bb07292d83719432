//! Credentials, region and endpoint, found the way the Alibaba Cloud tools find them: flags,
//! then the `ALIBABA_CLOUD_*` variables, then a profile of the `aliyun` CLI's
//! `~/.aliyun/config.json` (`--profile`, `ALIBABA_CLOUD_PROFILE`, else the file's current one).

use std::path::PathBuf;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::client::Credentials;

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

/// One `aliyun` CLI profile (the fields kms reads; the rest are ignored).
#[derive(Deserialize)]
struct Profile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
}

/// What the command line and the environment settle.
pub struct Resolved {
    pub credentials: Credentials,
    pub region: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The `aliyun` CLI's configuration file: `ALIBABA_CLOUD_CONFIG_FILE`, else `~/.aliyun/config.json`.
fn config_path() -> Option<PathBuf> {
    env("ALIBABA_CLOUD_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aliyun").join("config.json")))
}

pub fn resolve(profile: Option<&str>, region: Option<&str>) -> Result<Resolved, String> {
    let region = region.map(str::to_owned).or_else(|| env("ALIBABA_CLOUD_REGION_ID"));
    if profile.is_none()
        && let (Some(id), Some(secret)) = (env("ALIBABA_CLOUD_ACCESS_KEY_ID"), env("ALIBABA_CLOUD_ACCESS_KEY_SECRET"))
    {
        let security_token = env("ALIBABA_CLOUD_SECURITY_TOKEN").map(Zeroizing::new);
        return Ok(Resolved {
            credentials: Credentials { access_key_id: id, secret: Zeroizing::new(secret), security_token },
            region,
        });
    }
    let path = config_path().ok_or("no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET, or --profile")?;
    let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no credentials: ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET are not set and {} cannot be read ({e})",
            path.display()
        )
    })?);
    let file: ConfigFile =
        serde_json::from_str(&text).map_err(|e| format!("{} is not an aliyun configuration: {e}", path.display()))?;
    let wanted = profile.map(str::to_owned).or_else(|| env("ALIBABA_CLOUD_PROFILE")).unwrap_or(file.current);
    let wanted = if wanted.is_empty() { "default".to_owned() } else { wanted };
    let p = file
        .profiles
        .into_iter()
        .find(|p| p.name == wanted)
        .ok_or_else(|| format!("{} has no profile {wanted:?}", path.display()))?;
    if !matches!(p.mode.as_str(), "" | "AK" | "StsToken") {
        return Err(format!("profile {wanted:?}: mode {:?} is not supported (AK or StsToken)", p.mode));
    }
    if p.access_key_id.is_empty() || p.access_key_secret.is_empty() {
        return Err(format!("profile {wanted:?} has no access key"));
    }
    let security_token = (p.mode == "StsToken" && !p.sts_token.is_empty()).then(|| Zeroizing::new(p.sts_token.clone()));
    Ok(Resolved {
        credentials: Credentials {
            access_key_id: p.access_key_id,
            secret: Zeroizing::new(p.access_key_secret),
            security_token,
        },
        region: region.or((!p.region_id.is_empty()).then_some(p.region_id)),
    })
}
