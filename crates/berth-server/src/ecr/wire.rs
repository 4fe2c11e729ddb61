//! What every ECR handler shares: the request context, typed request parsing, repository
//! references, timestamps and pagination tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use berth_core::{Principal, RepositoryRef};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::EcrError;
use crate::AppState;

pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub principal: &'a Principal,
    /// The Host the client called, for repository URIs and the proxy endpoint.
    pub host: String,
}

pub type EcrResult = Result<Value, EcrError>;

/// Parses a request into its typed form; a missing or mistyped member gets
/// InvalidParameterException with serde's message, which names the field.
pub fn parse<T: DeserializeOwned>(request: Value) -> Result<T, EcrError> {
    serde_json::from_value(request).map_err(|e| EcrError::invalid(format!("Invalid request: {e}")))
}

impl Ctx<'_> {
    /// The repository `name` in `registry_id` (the caller's own registry by default).
    pub fn repo(&self, registry_id: Option<&str>, name: &str) -> Result<RepositoryRef, EcrError> {
        let account = match registry_id {
            Some(id) => id.parse().map_err(|_| {
                EcrError::invalid(format!(
                    "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{{12}}'' ({id})"
                ))
            })?,
            None => self.principal.account().clone(),
        };
        let name = name.parse().map_err(|e: berth_oci::NameError| {
            EcrError::invalid(format!(
                "Invalid parameter at 'repositoryName' failed to satisfy constraint: '{}'",
                e.reason
            ))
        })?;
        Ok(RepositoryRef { account, name })
    }

    pub fn repository_uri(&self, name: &str) -> String {
        format!("{}/{name}", self.host)
    }
}

/// ECR timestamps are seconds since the epoch, as JSON numbers.
pub fn timestamp(millis: i64) -> Value {
    Value::from(millis as f64 / 1000.0)
}

/// The page size a request asks for. The model's bounds on `maxResults` (1 to 1000) were
/// checked before the handler ran ([`super::model::validate`]).
pub fn page_size(max_results: Option<i64>, default: usize) -> usize {
    max_results
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(default)
}

/// Tokens are opaque to clients: the position to continue from, base64-encoded.
pub fn encode_token(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

pub fn decode_token(token: Option<&str>) -> Result<Option<String>, EcrError> {
    token
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    EcrError::invalid("Invalid parameter at 'nextToken': the token is not valid")
                })
        })
        .transpose()
}
