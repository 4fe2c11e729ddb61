//! Keeps HTTP/1 connections honest when a handler answers without reading the request body.
//!
//! A 401 before the body (docker's and the OCI conformance suite's first, credential-less
//! PATCH or PUT), a 405, or a 413 for a declared length leaves the body unread on the
//! connection. hyper notices the dropped body only after it has written the response with
//! `Connection: keep-alive`, and then closes the connection: the client's next request on it
//! is lost with an EOF or a broken pipe. So, after the handler answers, this layer reads and
//! discards a bounded remainder within a short deadline; when the remainder is larger or
//! slower than that, the response says `Connection: close`, and the client knows.
//!
//! HTTP/2 needs none of this: an unread stream is reset on its own, the connection goes on.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::oneshot;

/// Bytes discarded to keep a connection, unless a handler asks for more with [`DrainLimit`]:
/// enough for a typical refused chunk or JSON body, little enough that refusing a stranger's
/// request costs next to nothing.
pub const DEFAULT_DRAIN_LIMIT: u64 = 64 * 1024;

/// How long discarding may take. A client that sends its remainder slower than this gets
/// `Connection: close` instead of holding a request slot.
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// A response extension by which a handler that refuses a body after authenticating its
/// sender raises the bound, so a client in the middle of a large upload (an oversized
/// manifest) reads the refusal instead of a connection reset, as Go's net/http does.
#[derive(Clone, Copy, Debug)]
pub struct DrainLimit(pub u64);

pub async fn keep_connection_usable(request: Request, next: Next) -> Response {
    if request.version() != Version::HTTP_11 || request.body().is_end_stream() {
        return next.run(request).await;
    }
    // A client waiting for `100 Continue` has not sent its body; reading now would ask for it.
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = request.into_parts();
    let (returned, mut unread) = oneshot::channel();
    let body = Body::new(Returnable {
        inner: Some(body),
        polled: false,
        returned: Some(returned),
    });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Ok((rest, polled)) = unread.try_recv() else {
        // Read to its end, or still held by work the handler handed it to: nothing to do.
        return response;
    };
    let limit = response
        .extensions()
        .get::<DrainLimit>()
        .map_or(DEFAULT_DRAIN_LIMIT, |l| l.0);
    let body_was_asked_for = polled || !expects_continue;
    let keep =
        body_was_asked_for && declared.is_none_or(|n| n <= limit) && discard(rest, limit).await;
    if !keep {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads and drops up to `limit` bytes within [`DRAIN_DEADLINE`]; true when the body ended.
async fn discard(mut body: Body, limit: u64) -> bool {
    let read = async {
        let mut seen = 0u64;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let Ok(frame) = frame else { return false };
            if let Some(data) = frame.data_ref() {
                seen += data.len() as u64;
                if seen > limit {
                    return false;
                }
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_DEADLINE, read)
        .await
        .unwrap_or(false)
}

/// The request body as the handler sees it; if dropped before its end, it hands the rest back.
struct Returnable {
    inner: Option<Body>,
    polled: bool,
    returned: Option<oneshot::Sender<(Body, bool)>>,
}

impl HttpBody for Returnable {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        self.polled = true;
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Ended or failed: there is nothing left worth draining.
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Returnable {
    fn drop(&mut self) {
        if let (Some(inner), Some(returned)) = (self.inner.take(), self.returned.take()) {
            if !inner.is_end_stream() {
                let _ = returned.send((inner, self.polled));
            }
        }
    }
}
