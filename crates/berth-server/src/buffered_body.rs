//! Request bodies read whole into memory (ECR, STS and admin JSON, manifests): bounded per
//! request and, by a byte budget, across the whole server, so that many concurrent bodies
//! cannot add up to unbounded memory. Read only after the sender is authenticated.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a request waits for room in the budget before it is refused as busy.
const BUDGET_WAIT: Duration = Duration::from_secs(10);

/// Bytes of request bodies held in memory at once, across every request.
#[derive(Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// A body read whole; its share of the budget is returned when this is dropped.
pub struct BufferedBody {
    pub bytes: Bytes,
    _reserved: OwnedSemaphorePermit,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the server is busy reading other requests; retry shortly")]
    Busy,
    #[error("the request body could not be read: {0}")]
    Interrupted(String),
}

impl BodyBudget {
    pub fn new(total: usize) -> BodyBudget {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Reads `body` whole, refusing more than `limit` bytes. Room for the declared length (or
    /// `limit` when none is declared) is reserved before the first byte is read.
    pub async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<BufferedBody, BodyError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(BodyError::TooLarge(limit));
        }
        let reserve = declared.map_or(limit, |n| n as usize).min(self.total);
        let permits = u32::try_from(reserve).map_err(|_| BodyError::TooLarge(limit))?;
        let reserved =
            tokio::time::timeout(BUDGET_WAIT, self.bytes.clone().acquire_many_owned(permits))
                .await
                .map_err(|_| BodyError::Busy)?
                .map_err(|_| BodyError::Busy)?;
        let bytes = Limited::new(body, reserve)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    BodyError::TooLarge(limit)
                } else {
                    BodyError::Interrupted(e.to_string())
                }
            })?
            .to_bytes();
        Ok(BufferedBody {
            bytes,
            _reserved: reserved,
        })
    }
}
