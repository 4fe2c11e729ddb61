//! The durable job queue and periodic schedules.
//!
//! Background work is a row in `jobs`, written in the same transaction as the change that
//! causes it (a transactional outbox: [`enqueue_in`]), so a crash can lose neither without the
//! other. Workers on any node claim due jobs under a lease; a job whose worker died is claimed
//! again once its lease lapses. A failed attempt is retried after an exponential backoff, up
//! to a cap, and a job that keeps failing is parked as `dead` with its last error, never
//! dropped. Nothing here runs work; the workers in core do, and must be idempotent, since a
//! lapsed lease can let two attempts of one job overlap.
//!
//! No queue crate fits the outbox rule on both engines: sqlxmq and the graphile-worker ports
//! are PostgreSQL-only, and apalis keeps its own connections and schema, so a job could not
//! join the caller's transaction. The queue is small enough to own.
//!
//! Schedules (periodic work that runs on exactly one node at a time) are leases too: a row per
//! schedule names the node that holds it and until when ([`Meta::claim_schedule`]).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::pool::WriteTx;
use crate::{Backend, Meta, MetaError};

/// A job to enqueue: what to do (`kind`, read by the worker that handles it), its input, and
/// when it may run first (milliseconds since the epoch).
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: &'a str,
    pub run_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for `run_at`, or for a worker.
    Queued,
    /// Claimed by `locked_by` until `locked_until`.
    Running,
    /// Failed on every attempt allowed; kept with its last error for an operator.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<JobState, MetaError> {
        match s {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "dead" => Ok(JobState::Dead),
            other => Err(MetaError::Corrupt(format!("job state {other:?}"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub state: JobState,
    /// Attempts started so far, this one included while it runs.
    pub attempts: i64,
    pub run_at: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str =
    "id, name, payload, state, attempts, run_at, locked_by, locked_until, last_error, created_at";

fn job_row(r: &AnyRow) -> Result<JobRow, MetaError> {
    Ok(JobRow {
        id: r.try_get("id")?,
        kind: r.try_get("name")?,
        payload: r.try_get("payload")?,
        state: JobState::parse(&r.try_get::<String, _>("state")?)?,
        attempts: r.try_get("attempts")?,
        run_at: r.try_get("run_at")?,
        locked_by: r.try_get("locked_by")?,
        locked_until: r.try_get("locked_until")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
    })
}

/// How often a failing job is tried, and how long it waits in between.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts after which a failing job is parked as dead.
    pub max_attempts: i64,
    /// The wait after the first failure; it doubles with each later one.
    pub first_delay_ms: i64,
    /// The longest wait between two attempts.
    pub max_delay_ms: i64,
}

impl Retry {
    /// The wait before the attempt that follows `attempts` failed ones.
    pub fn delay_ms(&self, attempts: i64) -> i64 {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 62)).unwrap_or(62);
        self.first_delay_ms
            .saturating_mul(1i64 << doublings)
            .min(self.max_delay_ms)
    }
}

/// Enqueues `job` inside the caller's transaction: it commits, or vanishes, with the change
/// that caused it.
pub(crate) async fn enqueue_in(
    tx: &mut WriteTx<'_>,
    job: &NewJob<'_>,
    now: i64,
) -> Result<i64, MetaError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (name, payload, run_at, attempts, state, created_at) \
         VALUES ($1, $2, $3, 0, 'queued', $4) RETURNING id",
    )
    .bind(job.kind)
    .bind(job.payload)
    .bind(job.run_at)
    .bind(now)
    .fetch_one(&mut *tx.tx)
    .await?)
}

impl Meta {
    /// Enqueues a job on its own; for work with no change in the registry behind it.
    pub async fn enqueue(&self, job: &NewJob<'_>, now: i64) -> Result<i64, MetaError> {
        let mut tx = self.write().await?;
        let id = enqueue_in(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims the most overdue job for `worker` until `now + lease_ms`: a queued job whose time
    /// has come, or a running one whose lease lapsed (its worker died). A job whose lease
    /// lapsed on its last allowed attempt is parked as dead instead, so that work that kills
    /// its node cannot take every node down in turn.
    pub async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_ms: i64,
        retry: &Retry,
    ) -> Result<Option<JobRow>, MetaError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, \
             last_error = 'its worker stopped before finishing, on every attempt allowed' \
             WHERE state = 'running' AND locked_until <= $1 AND attempts >= $2",
        )
        .bind(now)
        .bind(retry.max_attempts)
        .execute(&mut *tx.tx)
        .await?;
        // Several nodes claim at once on PostgreSQL: each skips the rows another is claiming.
        // SQLite has one writer, which the write lock above already is.
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM jobs WHERE state <> 'dead' AND run_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $1) \
             ORDER BY run_at, id LIMIT 1{skip_locked}"
        ))
        .bind(now)
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(id) = due else {
            // Commit all the same: jobs may have been parked as dead above.
            tx.commit().await?;
            return Ok(None);
        };
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, \
             attempts = attempts + 1 WHERE id = $3 RETURNING {COLUMNS}"
        ))
        .bind(worker)
        .bind(now.saturating_add(lease_ms))
        .bind(id)
        .fetch_one(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(Some(job_row(&row)?))
    }

    /// Removes a job whose attempt `claimed` (as [`Meta::claim_job`] returned it) finished.
    /// `false` when that attempt no longer holds the job (its lease lapsed and another attempt,
    /// on any worker, claimed it): the later attempt decides.
    pub async fn complete_job(&self, claimed: &JobRow) -> Result<bool, MetaError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND attempts = $3 \
             AND state = 'running'",
        )
        .bind(claimed.id)
        .bind(claimed.locked_by.as_deref())
        .bind(claimed.attempts)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the attempt `claimed` failed: the job is queued again after
    /// [`Retry::delay_ms`], or parked as dead once it has had every attempt allowed. Returns
    /// the job's new state, or `None` when that attempt no longer held the job.
    pub async fn fail_job(
        &self,
        claimed: &JobRow,
        error: &str,
        now: i64,
        retry: &Retry,
    ) -> Result<Option<JobState>, MetaError> {
        let attempts = claimed.attempts;
        let (state, run_at) = if attempts >= retry.max_attempts {
            (JobState::Dead, now)
        } else {
            (
                JobState::Queued,
                now.saturating_add(retry.delay_ms(attempts)),
            )
        };
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, locked_by = NULL, \
             locked_until = NULL \
             WHERE id = $4 AND locked_by = $5 AND attempts = $6 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(run_at)
        .bind(error)
        .bind(claimed.id)
        .bind(claimed.locked_by.as_deref())
        .bind(attempts)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok((done.rows_affected() == 1).then_some(state))
    }

    /// Jobs in `state` (all when `None`), oldest first, at most `limit`.
    pub async fn list_jobs(
        &self,
        state: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<JobRow>, MetaError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE ($1 = '' OR state = $1) ORDER BY id LIMIT $2"
        ))
        .bind(state.map_or("", JobState::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// Whether `node` should run the schedule `name` now: true when its period has passed since
    /// the last run and no other node holds its lease. The caller then holds the lease until
    /// `now + lease_ms` and runs the work; other nodes get `false` meanwhile. A node that dies
    /// holding the lease holds it until it lapses. Leases and runs recorded more than a lease
    /// or a period ahead of `now` (a clock set back) do not count.
    pub async fn claim_schedule(
        &self,
        name: &str,
        node: &str,
        now: i64,
        period_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, MetaError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO schedules (name, owner, lease_until, last_run_at) \
             VALUES ($1, NULL, 0, NULL) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .execute(&mut *tx.tx)
        .await?;
        let claimed = sqlx::query(
            "UPDATE schedules SET owner = $2, lease_until = $3, last_run_at = $4 \
             WHERE name = $1 AND (owner IS NULL OR owner = $2 OR lease_until <= $4 OR lease_until > $3) \
             AND (last_run_at IS NULL OR last_run_at <= $5 OR last_run_at > $6)",
        )
        .bind(name)
        .bind(node)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(now.saturating_sub(period_ms))
        // A lease or a last run further ahead than one lease or period is a clock that was set
        // back (or a node far ahead of the others), not a reason to stop running the schedule.
        .bind(now.saturating_add(period_ms))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(claimed.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let retry = Retry {
            max_attempts: 10,
            first_delay_ms: 1_000,
            max_delay_ms: 60_000,
        };
        let delays: Vec<i64> = (1..=8).map(|a| retry.delay_ms(a)).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        assert_eq!(retry.delay_ms(i64::MAX), 60_000);
        assert_eq!(retry.delay_ms(0), 1_000);
    }
}
