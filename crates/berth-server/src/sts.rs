//! The STS query API, as far as tools need it: GetCallerIdentity, which Terraform's AWS
//! provider calls to learn the account id. Form-encoded request, SigV4 with service `sts`, XML
//! response.

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::ecr::error::EcrError;
use crate::ecr::signature::authenticate;
use crate::AppState;

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml")], body).into_response()
}

/// STS answers errors in its own XML shape, with its own codes.
fn error(e: EcrError) -> Response {
    let (status, code) = match e.kind {
        "MissingAuthenticationTokenException" => {
            (StatusCode::FORBIDDEN, "MissingAuthenticationToken")
        }
        "UnrecognizedClientException" => (StatusCode::FORBIDDEN, "InvalidClientTokenId"),
        "InvalidSignatureException" => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
        "IncompleteSignatureException" => (StatusCode::BAD_REQUEST, "IncompleteSignature"),
        "ServerException" => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
        _ => (StatusCode::BAD_REQUEST, e.kind),
    };
    let request_id = uuid::Uuid::new_v4();
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml_escape(&e.message)
        ),
    )
}

/// Reads `Action` from a form body (or the query string, which STS also accepts).
fn action(uri: &Uri, body: &[u8]) -> Option<String> {
    let form = std::str::from_utf8(body).ok()?;
    [form, uri.query().unwrap_or("")]
        .iter()
        .flat_map(|s| s.split('&'))
        .find_map(|pair| pair.strip_prefix("Action=").map(str::to_owned))
}

pub async fn handle(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let principal = match authenticate(state, "sts", method, uri, headers, body).await {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    match action(uri, body).as_deref() {
        Some("GetCallerIdentity") => {
            let request_id = uuid::Uuid::new_v4();
            let me = match state.registry.caller_identity(&principal).await {
                Ok(me) => me,
                Err(e) => return error(e.into()),
            };
            xml(
                StatusCode::OK,
                format!(
                    "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\"><GetCallerIdentityResult><Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
                    xml_escape(&me.arn),
                    xml_escape(&me.user_id),
                    principal.account()
                ),
            )
        }
        Some(other) => error(EcrError::new(
            "InvalidAction",
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
        None => error(EcrError::new(
            "MissingAction",
            "the request names no Action",
        )),
    }
}
