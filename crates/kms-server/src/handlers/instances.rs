//! ConnectKmsInstance, GetKmsInstance, ListKmsInstances, UpdateKmsInstanceBindVpc,
//! GetDefaultKmsInstance, GetKmsInstanceQuotaInfos, ReleaseKmsInstance
//! (docs/design/instances.md §2, §6, §7).

use kms_core::{BindVpc, CONNECTED, bind_vpcs, format_time, split_list};
use kms_store::Window;
use kms_wire::model::*;

use super::{Ctx, Handle};

/// Operator-made instances are pay-as-you-go (Terraform's delete path needs `POSTPAY`, §0.7).
const CHARGE_TYPE: &str = "POSTPAY";
const PRODUCT_TYPE: &str = "kms_ppi_public_intl";
/// Software key management.
const PRODUCT_VERSION: &str = "3";

/// Spec: instances §2.2. `Uninitialized` → `Connected`, synchronously.
impl Handle for ConnectKmsInstanceRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        ctx.kms
            .connect_instance(&self.instance_id, self.vpc_id, &self.zone_ids, &self.vswitch_ids)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §2.3.
impl Handle for GetKmsInstanceRequest {
    type Response = GetKmsInstanceResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        let r = ctx.kms.instance(&self.instance_id).await.map_err(|e| ctx.fail(e))?;
        let ca = ctx.kms.instance_ca_pem().await.map_err(|e| ctx.fail(e))?;
        let connected = r.status == CONNECTED;
        let bound = bind_vpcs(&r)
            .into_iter()
            .map(|b| BindVpcItem {
                region_id: b.region_id,
                vswitch_id: b.vswitch_id,
                vpc_id: b.vpc_id,
                vpc_owner_id: b.vpc_owner_id,
            })
            .collect();
        Ok(GetKmsInstanceResponse {
            kms_instance: KmsInstance {
                instance_id: r.id.clone(),
                instance_name: r.name.clone(),
                status: r.status.clone(),
                create_time: format_time(r.created_at),
                start_date: r.started_at.map(format_time),
                spec: r.spec,
                key_num: r.key_num,
                secret_num: r.secret_num.to_string(),
                vpc_num: r.vpc_num,
                vpc_id: r.vpc_id.clone(),
                zone_ids: connected.then(|| split_list(&r.zone_ids)),
                vswitch_ids: connected.then(|| split_list(&r.vswitch_ids)),
                bind_vpcs: BindVpcList { bind_vpc: bound },
                ca_certificate_chain_pem: ca,
                charge_type: CHARGE_TYPE,
                product_type: PRODUCT_TYPE,
                product_version: PRODUCT_VERSION,
                deletion_protection: r.deletion_protection,
                deletion_protection_description: Some(r.deletion_protection_description.clone())
                    .filter(|d| r.deletion_protection && !d.is_empty()),
                log: 0,
                log_storage: 0,
            },
        })
    }
}

/// Spec: instances §2.4. Wrapped list, oldest first; filters AND across keys, OR within values.
impl Handle for ListKmsInstancesRequest {
    type Response = ListKmsInstancesResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        let fail = |e| ctx.fail(e);
        let (items, total) = if self.filters.is_empty() {
            let window = Window { offset: self.page.offset(), limit: self.page.size };
            let listing = ctx.kms.list_instances(window).await.map_err(fail)?;
            (listing.items, listing.total)
        } else {
            // Filtered: instances are few (operator-made); filter the whole list here.
            let all = ctx.kms.list_instances(Window { offset: 0, limit: u32::MAX }).await.map_err(fail)?;
            let matching: Vec<_> = all
                .items
                .into_iter()
                .filter(|r| {
                    self.filters.iter().all(|(key, values)| {
                        let field = match key.as_str() {
                            "InstanceName" => &r.name,
                            "KmsInstanceId" => &r.id,
                            _ => &r.status,
                        };
                        values.iter().any(|v| v == field)
                    })
                })
                .collect();
            let total = matching.len() as u64;
            let page = matching.into_iter().skip(self.page.offset() as usize).take(self.page.size as usize).collect();
            (page, total)
        };
        Ok(ListKmsInstancesResponse {
            kms_instances: KmsInstanceList {
                kms_instance: items
                    .into_iter()
                    .map(|r| KmsInstanceItem {
                        kms_instance_arn: ctx.kms.instance_arn(&r.id),
                        kms_instance_id: r.id,
                        instance_name: r.name,
                    })
                    .collect(),
            },
            page: PageEcho::new(self.page, total),
        })
    }
}

/// Spec: instances §2.5. Replaces the bound list; needs `Connected`.
impl Handle for UpdateKmsInstanceBindVpcRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        let vpcs: Vec<BindVpc> = self
            .bind_vpcs
            .into_iter()
            .map(|b| BindVpc {
                region_id: b.region_id,
                vswitch_id: b.vswitch_id,
                vpc_id: b.vpc_id,
                vpc_owner_id: b.vpc_owner_id,
            })
            .collect();
        ctx.kms.bind_instance_vpcs(&self.instance_id, &vpcs).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §2.9 (Terraform's `instance_name`).
impl Handle for UpdateKmsInstanceRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        ctx.kms.rename_instance(&self.instance_id, self.instance_name).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §2.6. kmsd has no KMS 1.0 migration, so no default instance.
impl Handle for GetDefaultKmsInstanceRequest {
    type Response = GetDefaultKmsInstanceResponse;
    async fn handle(self, _ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        Ok(GetDefaultKmsInstanceResponse { default_kms_instance_id: None })
    }
}

/// Spec: instances §2.7, §7.
impl Handle for GetKmsInstanceQuotaInfosRequest {
    type Response = GetKmsInstanceQuotaInfosResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        let rows = ctx.kms.instance_quotas(&self.instance_id).await.map_err(|e| ctx.fail(e))?;
        Ok(GetKmsInstanceQuotaInfosResponse {
            kms_instance_id: self.instance_id,
            kms_instance_quota_infos: rows
                .into_iter()
                .filter(|q| self.resource_type.as_deref().is_none_or(|t| t == q.resource_type))
                .map(|q| QuotaInfoItem {
                    resource_quota: q.quota,
                    resource_type: q.resource_type,
                    used_quantity: q.used,
                })
                .collect(),
        })
    }
}

/// Spec: instances §2.8. After release every call naming the instance is refused.
impl Handle for ReleaseKmsInstanceRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, kms_wire::ApiError> {
        ctx.kms.release_instance(&self.instance_id, self.force_delete_without_backup).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}
