//! The wire's error codes as data: one line per code gives its exact `Code` string, its HTTP
//! status and its message template (spec §5.2, §5.3).
//!
//! Messages never contain a parameter's value, only its name: a value may be plaintext or a
//! secret. The one exception by design is `SignatureDoesNotMatch`, which carries the server's
//! string-to-sign (built from signed parameters the caller sent and already knows; the old
//! Python SDK parses it after the colon).

use std::borrow::Cow;

macro_rules! codes {
    ($($variant:ident = $wire:literal, $status:literal, $msg:literal;)+) => {
        /// Every error code kmsd answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)+ }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            /// The exact `Code` string of the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $wire,)+ }
            }
            /// The HTTP status the code is answered with.
            pub const fn http_status(self) -> u16 {
                match self { $(Code::$variant => $status,)+ }
            }
            /// The message used when no more specific one is given.
            pub const fn default_message(self) -> &'static str {
                match self { $(Code::$variant => $msg,)+ }
            }
        }
    };
}

codes! {
    // Gateway and authentication (spec §5.2).
    MissingParameter = "MissingParameter", 400, "A required parameter is needed but not provided.";
    InvalidParameter = "InvalidParameter", 400, "The specified parameter is not valid.";
    InvalidTimeStampExpired = "InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired.";
    InvalidTimeStampFormat = "InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted.";
    SignatureNonceUsed = "SignatureNonceUsed", 400, "Specified signature nonce was used already.";
    IncompleteSignature = "IncompleteSignature", 400, "The request signature does not conform to Aliyun standards.";
    SignatureDoesNotMatch = "SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation.";
    InvalidAccessKeyIdNotFound = "InvalidAccessKeyId.NotFound", 404, "The Access Key ID provided does not exist in our records.";
    InvalidAccessKeyIdInactive = "InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.";
    InvalidSecurityTokenExpired = "InvalidSecurityToken.Expired", 400, "Specified SecurityToken is expired.";
    InvalidSecurityTokenMalformed = "InvalidSecurityToken.Malformed", 400, "Specified SecurityToken is malformed.";
    InvalidSecurityTokenMismatch = "InvalidSecurityToken.MismatchWithAccessKey", 400, "Specified SecurityToken mismatch with the AccessKey.";
    ForbiddenNoPermission = "Forbidden.NoPermission", 403, "This operation is forbidden by permission system.";
    UnsupportedHttpMethod = "UnsupportedHTTPMethod", 403, "This http method is not supported.";
    InvalidVersion = "InvalidVersion", 400, "Specified parameter Version is not valid.";
    InvalidActionNotFound = "InvalidAction.NotFound", 400, "Specified api is not found, please check your url and method.";
    ParseRequestParameterException = "ParseRequestParameterException", 400, "Server parse parameters exception. Please check your input params.";
    InternalFailure = "InternalFailure", 500, "Internal Failure.";
    RejectedThrottling = "Rejected.Throttling", 429, "QPS Limit Exceeded";
    ServiceUnavailableTemporary = "ServiceUnavailableTemporary", 503, "Service Unavailable Temporary.";
    // KMS business errors (spec §5.3).
    KeyNotFound = "Forbidden.KeyNotFound", 404, "The specified Key is not found.";
    KeyVersionNotFound = "Forbidden.KeyVersionNotFound", 404, "The specified Key version is not found.";
    AliasNotFound = "Forbidden.AliasNotFound", 404, "The specified Alias is not found.";
    DkmsInstanceNotFound = "Forbidden.DKMSInstanceNotFound", 403, "The specified DKMS Instance is not found.";
    DkmsInstanceStateInvalid = "Forbidden.DKMSInstanceStateInvalid", 403, "The DKMS instance state is invalid.";
    ShareQuotaExceedLimit = "Rejected.ShareQuotaExceedLimit", 400, "Instance Share Quota Exceed Limit.";
    AliasAlreadyExists = "AliasAlreadyExists", 400, "AliasName Already Exists.";
    ResourceNotFound = "Forbidden.ResourceNotFound", 404, "The resource is not found.";
    InvalidResourceIdNotFound = "InvalidResourceId.NotFound", 404, "The specified ResourceId is not found.";
    DuplicateTagKey = "Duplicate.TagKey", 400, "The specified tagKey is duplicate.";
    InvalidTagKey = "InvalidParameter.TagKey", 400, "The specified parameter is not valid.";
    InvalidTagValue = "InvalidParameter.TagValue", 400, "The specified parameter is not valid.";
    ResourceExist = "Rejected.ResourceExist", 409, "The resource already exists.";
    ResourceInDeleteWindow = "Rejected.ResourceInDeleteWindow", 409, "The secret is planned to be deleted.";
    ResourceInUse = "Rejected.ResourceInUse", 409, "The resource is in use: it is not planned to be deleted.";
    InvalidRequest = "Rejected.InvalidRequest", 400, "The request parameters do not match the resource.";
    LimitExceeded = "Rejected.LimitExceeded", 400, "The request was rejected because user create resource limit was exceeded.";
    UnsupportedOperation = "UnsupportedOperation", 400, "This action is not supported.";
    RejectedUnsupportedOperation = "Rejected.UnsupportedOperation", 400, "Unsupported operation.";
    UnsupportedOrigin = "Unsupported.Origin", 400, "This key origin is not valid for this api.";
    InvalidKeyMaterial = "InvalidKeyMaterial", 400, "key material is invalid.";
    InvalidImportToken = "InvalidImportToken", 400, "import token is invalid.";
    ExpiredImportToken = "ExpiredImportToken", 400, "import token is expired.";
    RejectedEnabled = "Rejected.Enabled", 409, "The request was rejected because the key state is Enabled.";
    RejectedDisabled = "Rejected.Disabled", 409, "The request was rejected because the key state is Disabled.";
    RejectedPendingDeletion = "Rejected.PendingDeletion", 409, "The request was rejected because the key state is PendingDeletion.";
    RejectedPendingImport = "Rejected.PendingImport", 409, "The request was rejected because the key state is PendingImport.";
    RejectedStateModifiedFailed = "Rejected.StateModifiedFailed", 409, "Keystate modified failed.";
    DryRunOperationError = "DryRunOperationError", 400, "Request validation has been passed with DryRun flag set.";
    // The KMS instance API's own (docs/design/gateway.md §9).
    InvalidApiName = "InvalidApiName", 400, "The ApiName is invalid.";
    InvalidApiVersion = "InvalidApiVersion", 400, "The ApiVersion is invalid.";
    InvalidParam = "InvalidParam", 400, "The Param is invalid.";
    RequestTimeTooSkewed = "RequestTimeTooSkewed", 400, "Request time exceeds server time more than 15 minutes.";
    Unauthorized = "Unauthorized", 401, "The ClientKey is not authorized.";
    SignatureNotMatch = "SignatureNotMatch", 401, "The request signature does not match.";
}

/// An error answer: a code plus the message to send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    pub message: Cow<'static, str>,
    /// Milliseconds the client should wait before retrying, sent as `x-acs-retry-after`: the
    /// Tea SDKs turn such an answer into a `ThrottlingException` and back off that long.
    pub retry_after_ms: Option<u32>,
}

impl ApiError {
    pub const fn new(code: Code) -> Self {
        Self { code, message: Cow::Borrowed(code.default_message()), retry_after_ms: None }
    }

    pub fn with_message(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into(), retry_after_ms: None }
    }

    /// `Rejected.Throttling`, with how long until the client's budget has room again (at
    /// least 1 ms: the SDKs ignore a wait of zero).
    pub fn throttled(wait: std::time::Duration) -> Self {
        let ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX).max(1);
        Self { retry_after_ms: Some(ms), ..Self::new(Code::RejectedThrottling) }
    }

    /// `MissingParameter` naming the absent parameter.
    pub fn missing_parameter(name: &str) -> Self {
        Self::with_message(Code::MissingParameter, format!("The parameter \"{name}\" is needed but not provided."))
    }

    /// `InvalidParameter` naming the offending parameter (never its value).
    pub fn invalid_parameter(name: &str) -> Self {
        Self::with_message(Code::InvalidParameter, format!("The specified parameter \"{name}\" is not valid."))
    }

    /// The POP gateway's form: clients split on the first `:` to read the string-to-sign.
    pub fn signature_mismatch(string_to_sign: &str) -> Self {
        Self::with_message(
            Code::SignatureDoesNotMatch,
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }

    pub fn internal() -> Self {
        Self::new(Code::InternalFailure)
    }
}

impl From<Code> for ApiError {
    fn from(code: Code) -> Self {
        Self::new(code)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn code_table_is_consistent() {
        let mut seen = HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate wire code {}", c.as_str());
            assert!((400..600).contains(&c.http_status()), "{} is not an error status", c.as_str());
            assert!(!c.default_message().is_empty());
            assert!(c.as_str().chars().next().unwrap().is_ascii_uppercase());
        }
    }

    #[test]
    fn rejected_state_codes_are_409() {
        for c in [Code::RejectedDisabled, Code::RejectedPendingDeletion, Code::RejectedPendingImport] {
            assert_eq!(c.http_status(), 409);
        }
    }

    #[test]
    fn signature_message_carries_string_to_sign_after_first_colon() {
        let e = ApiError::signature_mismatch("POST&%2F&A%3Db");
        assert_eq!(e.message.split_once(':').unwrap().1, "POST&%2F&A%3Db");
    }
}
