//! THE action table: every action kmsd serves, its family and the RAM permission it needs.
//!
//! The table is the macro [`for_each_action!`]: it hands the list to any macro that wants
//! it. This crate builds the [`Action`] enum from it; the server builds its exhaustive
//! dispatch `match` from it (a table line without a handler does not compile); tests and the
//! docs read [`Action::ALL`].

/// Calls `$m! { Name: Family => RequestType, ... }` with the whole action table.
#[macro_export]
macro_rules! for_each_action {
    ($m:ident) => {
        $m! {
            DescribeRegions: Service => DescribeRegionsRequest,
            DescribeAccountKmsStatus: Service => DescribeAccountKmsStatusRequest,
            OpenKmsService: Service => OpenKmsServiceRequest,
            CreateKey: Keys => CreateKeyRequest,
            DescribeKey: Keys => DescribeKeyRequest,
            ListKeys: Keys => ListKeysRequest,
            UpdateKeyDescription: Keys => UpdateKeyDescriptionRequest,
            EnableKey: Lifecycle => EnableKeyRequest,
            DisableKey: Lifecycle => DisableKeyRequest,
            ScheduleKeyDeletion: Lifecycle => ScheduleKeyDeletionRequest,
            CancelKeyDeletion: Lifecycle => CancelKeyDeletionRequest,
            SetDeletionProtection: Lifecycle => SetDeletionProtectionRequest,
            CreateKeyVersion: Versions => CreateKeyVersionRequest,
            DescribeKeyVersion: Versions => DescribeKeyVersionRequest,
            ListKeyVersions: Versions => ListKeyVersionsRequest,
            UpdateRotationPolicy: Versions => UpdateRotationPolicyRequest,
            GetParametersForImport: Import => GetParametersForImportRequest,
            ImportKeyMaterial: Import => ImportKeyMaterialRequest,
            DeleteKeyMaterial: Import => DeleteKeyMaterialRequest,
            CreateAlias: Aliases => CreateAliasRequest,
            UpdateAlias: Aliases => UpdateAliasRequest,
            DeleteAlias: Aliases => DeleteAliasRequest,
            ListAliases: Aliases => ListAliasesRequest,
            ListAliasesByKeyId: Aliases => ListAliasesByKeyIdRequest,
            Encrypt: Crypto => EncryptRequest,
            Decrypt: Crypto => DecryptRequest,
            GenerateDataKey: Crypto => GenerateDataKeyRequest,
            GenerateDataKeyWithoutPlaintext: Crypto => GenerateDataKeyWithoutPlaintextRequest,
            ReEncrypt: Crypto => ReEncryptRequest,
            ExportDataKey: Crypto => ExportDataKeyRequest,
            GenerateAndExportDataKey: Crypto => GenerateAndExportDataKeyRequest,
            GetPublicKey: Asymmetric => GetPublicKeyRequest,
            AsymmetricSign: Asymmetric => AsymmetricSignRequest,
            AsymmetricVerify: Asymmetric => AsymmetricVerifyRequest,
            AsymmetricEncrypt: Asymmetric => AsymmetricEncryptRequest,
            AsymmetricDecrypt: Asymmetric => AsymmetricDecryptRequest,
            TagResource: Tags => TagResourceRequest,
            UntagResource: Tags => UntagResourceRequest,
            ListResourceTags: Tags => ListResourceTagsRequest,
            TagResources: Tags => TagResourcesRequest,
            UntagResources: Tags => UntagResourcesRequest,
            ListTagResources: Tags => ListTagResourcesRequest,
            CreateSecret: Secrets => CreateSecretRequest,
            GetSecretValue: Secrets => GetSecretValueRequest,
            BatchGetSecretValue: Secrets => BatchGetSecretValueRequest,
            PutSecretValue: Secrets => PutSecretValueRequest,
            DescribeSecret: Secrets => DescribeSecretRequest,
            ListSecrets: Secrets => ListSecretsRequest,
            ListSecretVersionIds: Secrets => ListSecretVersionIdsRequest,
            DeleteSecret: Secrets => DeleteSecretRequest,
            RestoreSecret: Secrets => RestoreSecretRequest,
            UpdateSecret: Secrets => UpdateSecretRequest,
            UpdateSecretVersionStage: Secrets => UpdateSecretVersionStageRequest,
            GetRandomPassword: Secrets => GetRandomPasswordRequest,
            RotateSecret: Secrets => RotateSecretRequest,
            UpdateSecretRotationPolicy: Secrets => UpdateSecretRotationPolicyRequest,
            GetKeyPolicy: Policies => GetKeyPolicyRequest,
            SetKeyPolicy: Policies => SetKeyPolicyRequest,
            GetSecretPolicy: Policies => GetSecretPolicyRequest,
            SetSecretPolicy: Policies => SetSecretPolicyRequest,
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
    Tags,
    /// Secrets Manager (spec §7.8).
    Secrets,
    /// Key and secret policies (spec §7.9).
    Policies,
}

macro_rules! define_actions {
    ($($name:ident: $family:ident => $req:ident,)+) => {
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

    /// Every action in the table is an action of the compatibility spec.
    #[test]
    fn every_action_is_in_the_spec() {
        let spec =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec/aliyun-kms-api.md"));
        let Ok(spec) = spec else { return };
        for a in Action::ALL {
            assert!(spec.contains(&format!("#### {}\n", a.as_str())), "{} not in spec §7", a.as_str());
        }
    }
}
