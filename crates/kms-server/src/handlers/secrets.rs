//! CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret, ListSecretVersionIds
//! (spec §7.8).

use kms_core::{NewSecret, format_time};
use kms_store::SecretVersionRecord;
use kms_types::{KeyRef, SecretName};
use kms_wire::model::*;
use kms_wire::{ApiError, Code};
use zeroize::Zeroizing;

use super::{Ctx, Handle, dry_run_outcome};

/// Generic secrets are the only type kmsd stores.
const GENERIC: &str = "Generic";

/// The secret an ARN or name names, if it is this deployment's.
pub(super) fn name_of(ctx: &Ctx<'_>, r: SecretRef) -> Result<SecretName, ApiError> {
    match &r.scope {
        Some((region, account)) if region != ctx.kms.region().as_str() || account != ctx.kms.account().as_str() => {
            Err(Code::ResourceNotFound.into())
        }
        _ => Ok(r.name),
    }
}

fn stages(v: &SecretVersionRecord) -> VersionStages {
    VersionStages { version_stage: v.stages.iter().map(|s| s.to_string()).collect() }
}

/// Spec: §7.8 CreateSecret. The first version is `ACSCurrent`.
impl Handle for CreateSecretRequest {
    type Response = CreateSecretResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let encryption_key = match &self.encryption_key_id {
            Some(k) => Some(KeyRef::parse(k).map_err(|_| ApiError::new(Code::KeyNotFound))?),
            None => None,
        };
        let new = NewSecret {
            name: self.name.clone(),
            version: self.version.clone(),
            data: Zeroizing::new(self.data.into_bytes()),
            data_type: self.data_type,
            encryption_key,
            description: self.description,
            tags: self.tags,
            dkms_instance_id: self.dkms_instance_id,
        };
        let s = ctx.kms.create_secret(new).await.map_err(|e| ctx.fail(e))?;
        Ok(CreateSecretResponse {
            arn: ctx.kms.secret_arn(&s.name),
            dkms_instance_id: s.dkms_instance_id.clone(),
            secret_name: s.name.to_string(),
            secret_type: GENERIC,
            version_id: self.version.to_string(),
        })
    }
}

/// Spec: §7.8 GetSecretValue: by `VersionId`, else by `VersionStage` (default `ACSCurrent`).
impl Handle for GetSecretValueRequest {
    type Response = GetSecretValueResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        let v = ctx
            .kms
            .get_secret_value(&name, self.version.as_ref(), self.stage.as_ref())
            .await
            .map_err(|e| ctx.fail(e))?;
        let data = String::from_utf8(v.data.to_vec()).map_err(|_| ApiError::internal())?;
        dry_run_outcome(
            self.dry_run,
            GetSecretValueResponse {
                secret_name: v.secret.name.to_string(),
                secret_type: GENERIC,
                secret_data: data,
                secret_data_type: v.version.data_type.clone(),
                version_id: v.version.version_id.to_string(),
                create_time: format_time(v.version.created_at),
                version_stages: stages(&v.version),
            },
        )
    }
}

/// Spec: §7.8 PutSecretValue.
impl Handle for PutSecretValueRequest {
    type Response = PutSecretValueResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        let data = Zeroizing::new(self.data.into_bytes());
        let v = ctx
            .kms
            .put_secret_value(&name, self.version, data, self.data_type, self.stages)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(PutSecretValueResponse {
            secret_name: name.to_string(),
            version_id: v.version_id.to_string(),
            version_stages: stages(&v),
        })
    }
}

/// Spec: §7.8 DescribeSecret: metadata, never the value; tags with `FetchTags=true`.
impl Handle for DescribeSecretRequest {
    type Response = DescribeSecretResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        let (s, tags) = ctx.kms.describe_secret(&name).await.map_err(|e| ctx.fail(e))?;
        Ok(DescribeSecretResponse {
            arn: ctx.kms.secret_arn(&s.name),
            dkms_instance_id: s.dkms_instance_id.clone(),
            secret_name: s.name.to_string(),
            secret_type: GENERIC,
            description: s.description,
            encryption_key_id: s.encryption_key_id.to_string(),
            create_time: format_time(s.created_at),
            update_time: format_time(s.updated_at),
            planned_delete_time: s.planned_delete_at.map(format_time),
            tags: self.fetch_tags.then(|| SecretTags {
                tag: tags.into_iter().map(|t| SecretTag { tag_key: t.key, tag_value: t.value }).collect(),
            }),
        })
    }
}

/// Spec: §7.8 ListSecretVersionIds: newest first; versions without a stage only with
/// `IncludeDeprecated=true`.
impl Handle for ListSecretVersionIdsRequest {
    type Response = ListSecretVersionIdsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        let all = ctx.kms.secret_versions(&name).await.map_err(|e| ctx.fail(e))?;
        let shown: Vec<_> = all.into_iter().filter(|v| self.include_deprecated || !v.stages.is_empty()).collect();
        let total = shown.len() as u64;
        let page = shown
            .into_iter()
            .skip(self.page.offset() as usize)
            .take(self.page.size as usize)
            .map(|v| SecretVersionEntry {
                version_id: v.version_id.to_string(),
                create_time: format_time(v.created_at),
                version_stages: stages(&v),
            })
            .collect();
        Ok(ListSecretVersionIdsResponse {
            secret_name: name.to_string(),
            version_ids: SecretVersionIds { version_id: page },
            page: PageEcho::new(self.page, total),
        })
    }
}

/// Spec: §7.8 DeleteSecret: a recovery window (7–30 days, default 30), or at once.
impl Handle for DeleteSecretRequest {
    type Response = DeleteSecretResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        let at = ctx.kms.delete_secret(&name, self.force, self.recovery_window_days).await.map_err(|e| ctx.fail(e))?;
        Ok(DeleteSecretResponse { secret_name: name.to_string(), planned_delete_time: format_time(at) })
    }
}

/// Spec: §7.8 RestoreSecret: only inside the recovery window.
impl Handle for RestoreSecretRequest {
    type Response = SecretNameResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        ctx.kms.restore_secret(&name).await.map_err(|e| ctx.fail(e))?;
        Ok(SecretNameResponse { secret_name: name.to_string() })
    }
}

/// Spec: §7.8 UpdateSecret: the description.
impl Handle for UpdateSecretRequest {
    type Response = SecretNameResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        ctx.kms.update_secret(&name, self.description).await.map_err(|e| ctx.fail(e))?;
        Ok(SecretNameResponse { secret_name: name.to_string() })
    }
}

/// Spec: §7.8 UpdateSecretVersionStage.
impl Handle for UpdateSecretVersionStageRequest {
    type Response = SecretNameResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let name = name_of(ctx, self.secret)?;
        ctx.kms
            .update_secret_version_stage(&name, &self.stage, self.move_to.as_ref(), self.remove_from.as_ref())
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(SecretNameResponse { secret_name: name.to_string() })
    }
}

/// Spec: §7.8 GetRandomPassword: no resource involved.
impl Handle for GetRandomPasswordRequest {
    type Response = GetRandomPasswordResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let rules = kms_core::PasswordRules {
            length: self.length as usize,
            exclude: self.exclude,
            no_lowercase: self.no_lowercase,
            no_uppercase: self.no_uppercase,
            no_numbers: self.no_numbers,
            no_punctuation: self.no_punctuation,
            each_type: self.each_type,
        };
        let password = ctx.kms.random_password(&rules).map_err(|e| ctx.fail(e))?;
        Ok(GetRandomPasswordResponse { random_password: password.to_string() })
    }
}

/// Rotation is for managed secret types; a generic secret answers the refusal (after the
/// secret is found, so an unknown name is still `Forbidden.ResourceNotFound`).
async fn refuse_rotation(ctx: &Ctx<'_>, secret: SecretRef) -> Result<SecretNameResponse, ApiError> {
    let name = name_of(ctx, secret)?;
    ctx.kms.describe_secret(&name).await.map_err(|e| ctx.fail(e))?;
    Err(ApiError::with_message(
        Code::RejectedUnsupportedOperation,
        "Unsupported operation. Generic secrets are rotated by PutSecretValue, not by RotateSecret.",
    ))
}

/// Spec: §7.8 RotateSecret (managed secrets only).
impl Handle for RotateSecretRequest {
    type Response = SecretNameResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        refuse_rotation(ctx, self.secret).await
    }
}

/// Spec: §7.8 UpdateSecretRotationPolicy (managed secrets only).
impl Handle for UpdateSecretRotationPolicyRequest {
    type Response = SecretNameResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        refuse_rotation(ctx, self.secret).await
    }
}

/// Spec: §7.8 ListSecrets: name order, `Filters` (every filter must match, any of its values),
/// tags with `FetchTags=true`.
impl Handle for ListSecretsRequest {
    type Response = ListSecretsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        use kms_core::SecretFilter;
        let filters: Vec<SecretFilter> = self
            .filters
            .into_iter()
            .map(|(key, values)| match key.as_str() {
                "SecretName" => SecretFilter::Name(values),
                "Description" => SecretFilter::Description(values),
                "TagKey" => SecretFilter::TagKey(values),
                "TagValue" => SecretFilter::TagValue(values),
                "DKMSInstanceId" => SecretFilter::DkmsInstanceId(values),
                "Creator" => SecretFilter::Creator(values),
                _ => SecretFilter::SecretType(values),
            })
            .collect();
        let window = kms_store::Window { offset: self.page.offset(), limit: self.page.size };
        let (rows, total) = ctx.kms.list_secrets(&filters, self.fetch_tags, window).await.map_err(|e| ctx.fail(e))?;
        let secret = rows
            .into_iter()
            .map(|r| ListedSecretItem {
                secret_name: r.secret.name.to_string(),
                secret_type: GENERIC,
                create_time: format_time(r.secret.created_at),
                update_time: format_time(r.secret.updated_at),
                planned_delete_time: r.secret.planned_delete_at.map(format_time),
                tags: self.fetch_tags.then(|| SecretTags {
                    tag: r.tags.into_iter().map(|t| SecretTag { tag_key: t.key, tag_value: t.value }).collect(),
                }),
            })
            .collect();
        Ok(ListSecretsResponse { secret_list: SecretList { secret }, page: PageEcho::new(self.page, total) })
    }
}

/// Spec: §7.8 BatchGetSecretValue: up to 20 secrets; each that cannot be read goes to `Errors`
/// with the code a single GetSecretValue would have answered.
impl Handle for BatchGetSecretValueRequest {
    type Response = BatchGetSecretValueResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let mut secret_values = Vec::new();
        let mut errors = Vec::new();
        for item in self.items {
            let read = async {
                let secret = item
                    .secret
                    .filter(|_| !item.names_no_version)
                    .ok_or_else(|| ApiError::new(Code::ResourceNotFound))?;
                let name = name_of(ctx, secret)?;
                let v = ctx
                    .kms
                    .get_secret_value(&name, item.version.as_ref(), item.stage.as_ref())
                    .await
                    .map_err(|e| ctx.fail(e))?;
                let data = String::from_utf8(v.data.to_vec()).map_err(|_| ApiError::internal())?;
                Ok::<_, ApiError>(GetSecretValueResponse {
                    secret_name: v.secret.name.to_string(),
                    secret_type: GENERIC,
                    secret_data: data,
                    secret_data_type: v.version.data_type.clone(),
                    version_id: v.version.version_id.to_string(),
                    create_time: format_time(v.version.created_at),
                    version_stages: stages(&v.version),
                })
            };
            match read.await {
                Ok(value) => secret_values.push(value),
                // Failures of the service itself fail the call, not one entry.
                Err(e) if e.code.http_status() >= 500 => return Err(e),
                Err(e) => errors.push(BatchError {
                    secret_name: item.given,
                    code: e.code.as_str().to_owned(),
                    http_status: e.code.http_status(),
                    message: e.message.to_string(),
                }),
            }
        }
        Ok(BatchGetSecretValueResponse { secret_values, errors })
    }
}
