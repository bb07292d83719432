//! Application access: network rules, permission policies, application access points and
//! ClientKeys (docs/design/instances.md §4).

use kms_core::{AccessPoint, AccessPolicy, ClientKey, NetworkRule, format_time};
use kms_store::{AccessKind, Window};
use kms_wire::ApiError;
use kms_wire::model::*;
use kms_wire::params::encode_base64;

use super::{Ctx, Handle};

fn window(page: Page) -> Window {
    Window { offset: page.offset(), limit: page.size }
}

fn network_rule(ctx: &Ctx<'_>, r: NetworkRule) -> NetworkRuleResponse {
    NetworkRuleResponse {
        arn: ctx.kms.access_arn(AccessKind::NetworkRule, &r.name),
        source_private_ip: json_list(&r.source_private_ips),
        name: r.name,
        rule_type: r.rule_type,
        description: r.description,
    }
}

fn access_point(ctx: &Ctx<'_>, p: AccessPoint) -> AccessPointResponse {
    AccessPointResponse {
        arn: ctx.kms.access_arn(AccessKind::AccessPoint, &p.name),
        policies: json_list(&p.policies),
        name: p.name,
        authentication_method: p.authentication_method,
        description: p.description,
    }
}

fn client_key(k: ClientKey) -> ClientKeyItem {
    ClientKeyItem {
        client_key_id: k.id,
        aap_name: k.aap_name,
        key_algorithm: k.key_algorithm,
        key_origin: "KMS_PROVIDED",
        create_time: format_time(k.created_at),
        not_before: k.not_before,
        not_after: k.not_after,
        public_key_data: k.certificate_pem,
    }
}

/// Spec: instances §4.1. Terraform takes the resource id from `Name`.
impl Handle for CreateNetworkRuleRequest {
    type Response = NetworkRuleResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let rule = NetworkRule {
            name: self.name,
            rule_type: NETWORK_RULE_TYPE.into(),
            source_private_ips: self.source_private_ips,
            description: self.description,
        };
        ctx.kms.create_network_rule(&rule).await.map_err(|e| ctx.fail(e))?;
        Ok(network_rule(ctx, rule))
    }
}

/// Spec: instances §4.3.
impl Handle for DescribeNetworkRuleRequest {
    type Response = NetworkRuleResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let rule = ctx.kms.network_rule(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(network_rule(ctx, rule))
    }
}

/// Spec: instances §4.4. Name and type stay.
impl Handle for UpdateNetworkRuleRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms
            .update_network_rule(&self.name, self.description, self.source_private_ips)
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §4.2.
impl Handle for ListNetworkRulesRequest {
    type Response = ListNetworkRulesResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let listing = ctx.kms.list_network_rules(window(self.page)).await.map_err(|e| ctx.fail(e))?;
        Ok(ListNetworkRulesResponse {
            network_rules: NetworkRuleList {
                network_rule: listing
                    .items
                    .into_iter()
                    .map(|r| NetworkRuleItem { name: r.name, rule_type: r.rule_type })
                    .collect(),
            },
            page: PageEcho::new(self.page, listing.total),
        })
    }
}

/// Spec: instances §4.5. Refused while a policy names the rule.
impl Handle for DeleteNetworkRuleRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.delete_network_rule(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §4.6. `Permissions`/`Resources` answered as JSON-array text.
impl Handle for CreatePolicyRequest {
    type Response = CreatePolicyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let policy = AccessPolicy {
            name: self.name,
            permissions: self.permissions,
            resources: self.resources,
            kms_instance: self.kms_instance,
            access_control_rules: self.access_control_rules,
            description: self.description,
        };
        ctx.kms.create_access_policy(&policy).await.map_err(|e| ctx.fail(e))?;
        Ok(CreatePolicyResponse {
            arn: ctx.kms.access_arn(AccessKind::Policy, &policy.name),
            permissions: json_list(&policy.permissions),
            resources: json_list(&policy.resources),
            name: policy.name,
            description: policy.description,
            kms_instance: policy.kms_instance,
            access_control_rules: policy.access_control_rules,
        })
    }
}

/// Spec: instances §4.8. Real arrays; `AccessControlRules` and `KmsInstance` verbatim.
impl Handle for DescribePolicyRequest {
    type Response = DescribePolicyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let p = ctx.kms.access_policy(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(DescribePolicyResponse {
            arn: ctx.kms.access_arn(AccessKind::Policy, &p.name),
            name: p.name,
            description: p.description,
            kms_instance: p.kms_instance,
            access_control_rules: p.access_control_rules,
            permissions: p.permissions,
            resources: p.resources,
        })
    }
}

/// Spec: instances §4.9. The scope (`KmsInstance`) stays.
impl Handle for UpdatePolicyRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms
            .update_access_policy(
                &self.name,
                self.permissions,
                self.resources,
                self.access_control_rules,
                self.description,
            )
            .await
            .map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §4.7.
impl Handle for ListPoliciesRequest {
    type Response = ListPoliciesResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let listing = ctx.kms.list_access_policies(window(self.page)).await.map_err(|e| ctx.fail(e))?;
        Ok(ListPoliciesResponse {
            policies: PolicyList { policy: listing.items.into_iter().map(|p| PolicyItem { name: p.name }).collect() },
            page: PageEcho::new(self.page, listing.total),
        })
    }
}

/// Spec: instances §4.10. Refused while an AAP names the policy.
impl Handle for DeletePolicyRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.delete_access_policy(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §4.11.
impl Handle for CreateApplicationAccessPointRequest {
    type Response = AccessPointResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let point = AccessPoint {
            name: self.name,
            authentication_method: CLIENT_KEY_AUTHENTICATION.into(),
            policies: self.policies,
            description: self.description,
        };
        ctx.kms.create_access_point(&point).await.map_err(|e| ctx.fail(e))?;
        Ok(access_point(ctx, point))
    }
}

/// Spec: instances §4.13.
impl Handle for DescribeApplicationAccessPointRequest {
    type Response = AccessPointResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let point = ctx.kms.access_point(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(access_point(ctx, point))
    }
}

/// Spec: instances §4.14.
impl Handle for UpdateApplicationAccessPointRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.update_access_point(&self.name, self.policies, self.description).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §4.12.
impl Handle for ListApplicationAccessPointsRequest {
    type Response = ListApplicationAccessPointsResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let listing = ctx.kms.list_access_points(window(self.page)).await.map_err(|e| ctx.fail(e))?;
        Ok(ListApplicationAccessPointsResponse {
            application_access_points: AccessPointList {
                application_access_point: listing
                    .items
                    .into_iter()
                    .map(|p| AccessPointItem { name: p.name, authentication_method: p.authentication_method })
                    .collect(),
            },
            page: PageEcho::new(self.page, listing.total),
        })
    }
}

/// Spec: instances §4.15. Refused while the AAP holds ClientKeys.
impl Handle for DeleteApplicationAccessPointRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.delete_access_point(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}

/// Spec: instances §4.16, §9. The PKCS#12 is answered once and kept nowhere.
impl Handle for CreateClientKeyRequest {
    type Response = CreateClientKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let made =
            ctx.kms.create_client_key(&self.aap_name, self.validity, &self.password).await.map_err(|e| ctx.fail(e))?;
        Ok(CreateClientKeyResponse {
            private_key_data: encode_base64(&made.pkcs12),
            client_key_id: made.key.id,
            key_algorithm: made.key.key_algorithm,
            not_before: made.key.not_before,
            not_after: made.key.not_after,
        })
    }
}

/// Spec: instances §4.18 (sent as GET).
impl Handle for GetClientKeyRequest {
    type Response = GetClientKeyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let key = ctx.kms.client_key(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(GetClientKeyResponse { key: client_key(key) })
    }
}

/// Spec: instances §4.17 (sent as GET): a bare array, no paging; an unknown AAP lists nothing.
impl Handle for ListClientKeysRequest {
    type Response = ListClientKeysResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let keys = ctx.kms.list_client_keys(self.aap_name.as_deref()).await.map_err(|e| ctx.fail(e))?;
        Ok(ListClientKeysResponse { client_keys: keys.into_iter().map(client_key).collect() })
    }
}

/// Spec: instances §4.19.
impl Handle for DeleteClientKeyRequest {
    type Response = EmptyResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.delete_client_key(&self.name).await.map_err(|e| ctx.fail(e))?;
        Ok(EmptyResponse {})
    }
}
