//! THE action table: every action kmsd serves, its family and the RAM permission it needs.
//!
//! The table is the macro [`for_each_action!`]: it hands the list to any macro that wants
//! it. This crate builds the [`Action`] enum from it; the server builds its exhaustive
//! dispatch `match` from it (a table line without a handler does not compile); tests and the
//! docs read [`Action::ALL`].

/// Calls `$m! { Name: Family, Effect => RequestType, ... }` with the whole action table.
/// `Effect` is `Writes` for an action that can change stored state (it gets an audit intent
/// line before it runs), `Reads` for one whose only effect is its answer.
#[macro_export]
macro_rules! for_each_action {
    ($m:ident) => {
        $m! {
            DescribeRegions: Service, Reads => DescribeRegionsRequest,
            DescribeAccountKmsStatus: Service, Reads => DescribeAccountKmsStatusRequest,
            OpenKmsService: Service, Writes => OpenKmsServiceRequest,
            DescribeService: Service, Reads => DescribeServiceRequest,
            GetChallenge: Service, Reads => GetChallengeRequest,
            CreateKey: Keys, Writes => CreateKeyRequest,
            DescribeKey: Keys, Reads => DescribeKeyRequest,
            ListKeys: Keys, Reads => ListKeysRequest,
            UpdateKeyDescription: Keys, Writes => UpdateKeyDescriptionRequest,
            EnableKey: Lifecycle, Writes => EnableKeyRequest,
            DisableKey: Lifecycle, Writes => DisableKeyRequest,
            ScheduleKeyDeletion: Lifecycle, Writes => ScheduleKeyDeletionRequest,
            CancelKeyDeletion: Lifecycle, Writes => CancelKeyDeletionRequest,
            SetDeletionProtection: Lifecycle, Writes => SetDeletionProtectionRequest,
            CreateKeyVersion: Versions, Writes => CreateKeyVersionRequest,
            DescribeKeyVersion: Versions, Reads => DescribeKeyVersionRequest,
            ListKeyVersions: Versions, Reads => ListKeyVersionsRequest,
            UpdateRotationPolicy: Versions, Writes => UpdateRotationPolicyRequest,
            GetParametersForImport: Import, Reads => GetParametersForImportRequest,
            ImportKeyMaterial: Import, Writes => ImportKeyMaterialRequest,
            DeleteKeyMaterial: Import, Writes => DeleteKeyMaterialRequest,
            CreateAlias: Aliases, Writes => CreateAliasRequest,
            UpdateAlias: Aliases, Writes => UpdateAliasRequest,
            DeleteAlias: Aliases, Writes => DeleteAliasRequest,
            ListAliases: Aliases, Reads => ListAliasesRequest,
            ListAliasesByKeyId: Aliases, Reads => ListAliasesByKeyIdRequest,
            Encrypt: Crypto, Reads => EncryptRequest,
            Decrypt: Crypto, Reads => DecryptRequest,
            GenerateDataKey: Crypto, Reads => GenerateDataKeyRequest,
            GenerateDataKeyWithoutPlaintext: Crypto, Reads => GenerateDataKeyWithoutPlaintextRequest,
            ReEncrypt: Crypto, Reads => ReEncryptRequest,
            ExportDataKey: Crypto, Reads => ExportDataKeyRequest,
            GenerateAndExportDataKey: Crypto, Reads => GenerateAndExportDataKeyRequest,
            GetPublicKey: Asymmetric, Reads => GetPublicKeyRequest,
            AsymmetricSign: Asymmetric, Reads => AsymmetricSignRequest,
            AsymmetricVerify: Asymmetric, Reads => AsymmetricVerifyRequest,
            AsymmetricEncrypt: Asymmetric, Reads => AsymmetricEncryptRequest,
            AsymmetricDecrypt: Asymmetric, Reads => AsymmetricDecryptRequest,
            GenerateMac: Mac, Reads => GenerateMacRequest,
            VerifyMac: Mac, Reads => VerifyMacRequest,
            TagResource: Tags, Writes => TagResourceRequest,
            UntagResource: Tags, Writes => UntagResourceRequest,
            ListResourceTags: Tags, Reads => ListResourceTagsRequest,
            TagResources: Tags, Writes => TagResourcesRequest,
            UntagResources: Tags, Writes => UntagResourcesRequest,
            ListTagResources: Tags, Reads => ListTagResourcesRequest,
            CreateSecret: Secrets, Writes => CreateSecretRequest,
            GetSecretValue: Secrets, Reads => GetSecretValueRequest,
            BatchGetSecretValue: Secrets, Reads => BatchGetSecretValueRequest,
            PutSecretValue: Secrets, Writes => PutSecretValueRequest,
            DescribeSecret: Secrets, Reads => DescribeSecretRequest,
            ListSecrets: Secrets, Reads => ListSecretsRequest,
            ListSecretVersionIds: Secrets, Reads => ListSecretVersionIdsRequest,
            DeleteSecret: Secrets, Writes => DeleteSecretRequest,
            RestoreSecret: Secrets, Writes => RestoreSecretRequest,
            UpdateSecret: Secrets, Writes => UpdateSecretRequest,
            UpdateSecretVersionStage: Secrets, Writes => UpdateSecretVersionStageRequest,
            GetRandomPassword: Secrets, Reads => GetRandomPasswordRequest,
            RotateSecret: Secrets, Writes => RotateSecretRequest,
            UpdateSecretRotationPolicy: Secrets, Writes => UpdateSecretRotationPolicyRequest,
            GetKeyPolicy: Policies, Reads => GetKeyPolicyRequest,
            SetKeyPolicy: Policies, Writes => SetKeyPolicyRequest,
            GetSecretPolicy: Policies, Reads => GetSecretPolicyRequest,
            SetSecretPolicy: Policies, Writes => SetSecretPolicyRequest,
            ConnectKmsInstance: Instances, Writes => ConnectKmsInstanceRequest,
            GetKmsInstance: Instances, Reads => GetKmsInstanceRequest,
            ListKmsInstances: Instances, Reads => ListKmsInstancesRequest,
            UpdateKmsInstanceBindVpc: Instances, Writes => UpdateKmsInstanceBindVpcRequest,
            GetDefaultKmsInstance: Instances, Reads => GetDefaultKmsInstanceRequest,
            GetKmsInstanceQuotaInfos: Instances, Reads => GetKmsInstanceQuotaInfosRequest,
            ReleaseKmsInstance: Instances, Writes => ReleaseKmsInstanceRequest,
            UpdateKmsInstance: Instances, Writes => UpdateKmsInstanceRequest,
            CreateNetworkRule: Access, Writes => CreateNetworkRuleRequest,
            ListNetworkRules: Access, Reads => ListNetworkRulesRequest,
            DescribeNetworkRule: Access, Reads => DescribeNetworkRuleRequest,
            UpdateNetworkRule: Access, Writes => UpdateNetworkRuleRequest,
            DeleteNetworkRule: Access, Writes => DeleteNetworkRuleRequest,
            CreatePolicy: Access, Writes => CreatePolicyRequest,
            ListPolicies: Access, Reads => ListPoliciesRequest,
            DescribePolicy: Access, Reads => DescribePolicyRequest,
            UpdatePolicy: Access, Writes => UpdatePolicyRequest,
            DeletePolicy: Access, Writes => DeletePolicyRequest,
            CreateApplicationAccessPoint: Access, Writes => CreateApplicationAccessPointRequest,
            ListApplicationAccessPoints: Access, Reads => ListApplicationAccessPointsRequest,
            DescribeApplicationAccessPoint: Access, Reads => DescribeApplicationAccessPointRequest,
            UpdateApplicationAccessPoint: Access, Writes => UpdateApplicationAccessPointRequest,
            DeleteApplicationAccessPoint: Access, Writes => DeleteApplicationAccessPointRequest,
            CreateClientKey: Access, Writes => CreateClientKeyRequest,
            ListClientKeys: Access, Reads => ListClientKeysRequest,
            GetClientKey: Access, Reads => GetClientKeyRequest,
            DeleteClientKey: Access, Writes => DeleteClientKeyRequest,
            GetManagedDataKey: DataKeys, Reads => GetManagedDataKeyRequest,
            ListManagedDataKeyVersions: DataKeys, Reads => ListManagedDataKeyVersionsRequest,
        }
    };
}

/// Action families, as spec §7 groups them; handler and model files follow the same split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Service,
    Keys,
    /// Key states and deletion (spec §5.4).
    Lifecycle,
    /// Versions and rotation.
    Versions,
    /// Bring your own key (spec §6.4).
    Import,
    Aliases,
    Crypto,
    /// Public keys, signatures, public-key encryption (spec §7.5).
    Asymmetric,
    /// HMAC keys' GenerateMac and VerifyMac (spec §7.6).
    Mac,
    Tags,
    /// Secrets Manager (spec §7.8).
    Secrets,
    /// Key and secret policies (spec §7.9).
    Policies,
    /// KMS instances (docs/design/instances.md §2).
    Instances,
    /// Application access: network rules, permission policies, AAPs, ClientKeys (§4).
    Access,
    /// Managed data keys (spec Appendix A.3).
    DataKeys,
}

/// Whether an action can change stored state (see [`for_each_action!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Reads,
    Writes,
}

macro_rules! define_actions {
    ($($name:ident: $family:ident, $effect:ident => $req:ident,)+) => {
        /// One served action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($name,)+ }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$name,)+];

            /// The exact action name of the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(Action::$name => stringify!($name),)+ }
            }
            pub const fn family(self) -> Family {
                match self { $(Action::$name => Family::$family,)+ }
            }
            pub const fn effect(self) -> Effect {
                match self { $(Action::$name => Effect::$effect,)+ }
            }
            /// The RAM permission a caller needs, `kms:<Action>`.
            pub const fn permission(self) -> &'static str {
                match self { $(Action::$name => concat!("kms:", stringify!($name)),)+ }
            }
            /// The kind of resource the action acts on, as policies name it: the action's
            /// parameters (`KeyId`, `SecretName`, …) say which one; an action that names none
            /// (CreateKey, ListKeys, …) is checked against `acs:kms:<region>:<account>:<kind>`,
            /// and the service actions (kind `*`) against `*`.
            pub const fn resource_kind(self) -> &'static str {
                match self.family() {
                    Family::Service => "*",
                    Family::Aliases => "alias",
                    Family::Secrets => "secret",
                    Family::Instances => "keystore",
                    Family::DataKeys => "datakey",
                    Family::Access => match self {
                        Action::CreateNetworkRule
                        | Action::ListNetworkRules
                        | Action::DescribeNetworkRule
                        | Action::UpdateNetworkRule
                        | Action::DeleteNetworkRule => "network",
                        Action::CreatePolicy
                        | Action::ListPolicies
                        | Action::DescribePolicy
                        | Action::UpdatePolicy
                        | Action::DeletePolicy => "policy",
                        Action::CreateClientKey
                        | Action::ListClientKeys
                        | Action::GetClientKey
                        | Action::DeleteClientKey => "clientkey",
                        _ => "applicationaccesspoint",
                    },
                    _ => "key",
                }
            }
        }

        impl std::str::FromStr for Action {
            type Err = crate::error::ApiError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($name) => Ok(Action::$name),)+
                    _ => Err(crate::error::Code::InvalidActionNotFound.into()),
                }
            }
        }
    };
}

for_each_action!(define_actions);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_invalid_action() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), *a);
            assert_eq!(a.permission(), format!("kms:{}", a.as_str()));
        }
        let e = "encrypt".parse::<Action>().unwrap_err();
        assert_eq!(e.code, crate::error::Code::InvalidActionNotFound);
    }

    /// The effect column agrees with what the names say: only the reading verbs (and the
    /// cryptographic families, whose only effect is their answer) are `Reads`.
    #[test]
    fn reads_are_the_reading_verbs() {
        for a in Action::ALL {
            let name = a.as_str();
            let reads = ["Describe", "List", "Get", "BatchGet"].iter().any(|p| name.starts_with(p))
                || matches!(a.family(), Family::Crypto | Family::Asymmetric | Family::Mac);
            assert_eq!(a.effect() == Effect::Reads, reads, "{name}");
        }
    }

    /// Every action in the table is an action of the compatibility spec.
    #[test]
    fn every_action_is_in_the_spec() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/reference/aliyun-kms-api.md");
        let spec = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the compatibility spec {path}: {e}"));
        for a in Action::ALL {
            assert!(spec.contains(&format!("#### {}\n", a.as_str())), "{} not in spec §7", a.as_str());
        }
    }
}
