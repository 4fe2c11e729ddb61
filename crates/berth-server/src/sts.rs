//! The STS query API, as far as tools need it: GetCallerIdentity, which Terraform's AWS
//! provider calls to learn the account id. Form-encoded request, SigV4 with service `sts`, XML
//! response.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use berth_core::Principal;

use crate::buffered_body::BufferedBody;
use crate::ecr::error::EcrError;
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
fn error(e: EcrError, request_id: &str) -> Response {
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
    let mut response = xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml_escape(&e.message)
        ),
    );
    response
        .extensions_mut()
        .insert(crate::access_log::ErrorCode(code));
    response
}

/// Reads `Action` from a form body (or the query string, which STS also accepts).
fn action(uri: &Uri, body: &[u8]) -> Option<String> {
    let form = std::str::from_utf8(body).ok()?;
    [form, uri.query().unwrap_or("")]
        .iter()
        .flat_map(|s| s.split('&'))
        .find_map(|pair| pair.strip_prefix("Action=").map(str::to_owned))
}

/// Answers a request that `ecr::handle` authenticated (or refused) with service `sts`.
pub async fn handle(
    state: &AppState,
    uri: &Uri,
    authenticated: Result<(Principal, BufferedBody), EcrError>,
    request_id: &str,
) -> Response {
    let (principal, body) = match authenticated {
        Ok(pair) => pair,
        Err(e) => return error(e, request_id),
    };
    match action(uri, &body.bytes).as_deref() {
        Some("GetCallerIdentity") => {
            let me = match state.registry.caller_identity(&principal).await {
                Ok(me) => me,
                Err(e) => return error(e.into(), request_id),
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
        Some(other) => error(
            EcrError::new(
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            ),
            request_id,
        ),
        None => error(
            EcrError::new("MissingAction", "the request names no Action"),
            request_id,
        ),
    }
}
