//! berth-meta on both engines it supports: every test here runs once on a fresh SQLite file and
//! once on a fresh PostgreSQL database, on the server `BERTH_TEST_POSTGRES_URL` names (which
//! `./scripts/test` starts). Without it the PostgreSQL half fails, saying so: it is never
//! skipped.

use std::sync::atomic::{AtomicUsize, Ordering};

use berth_meta::accounts::AccessKeyRow;
use berth_meta::jobs::{JobState, NewJob, Retry};
use berth_meta::repositories::RepositoryRow;
use berth_meta::{Meta, MetaError};
use sqlx::Connection as _;

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A name no other test of this run, or of another run, uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh SQLite database and its URL.
async fn sqlite() -> (Meta, String) {
    let path = std::env::temp_dir().join(format!("{}.db", unique("berth_meta")));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let meta = Meta::connect(&url)
        .await
        .expect("opening a fresh SQLite database");
    (meta, url)
}

/// A fresh PostgreSQL database and its URL.
async fn postgres() -> (Meta, String) {
    let base = std::env::var("BERTH_TEST_POSTGRES_URL")
        .expect("BERTH_TEST_POSTGRES_URL is not set: run ./scripts/test, which starts PostgreSQL");
    let name = unique("berth_meta");
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connecting to BERTH_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("creating a test database");
    let url = format!(
        "{}/{name}",
        base.rsplit_once('/').map_or(&*base, |(b, _)| b)
    );
    let meta = Meta::connect(&url)
        .await
        .expect("opening the fresh PostgreSQL database");
    (meta, url)
}

/// Each `async fn name(meta, url) { … }` becomes a module `name` with two tests, `sqlite` and
/// `postgres`, that run the body on a fresh database of each engine (`url` names it).
macro_rules! on_both_backends {
    ($(async fn $name:ident($meta:ident, $url:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_variables)]
            async fn run(($meta, $url): (Meta, String)) $body

            #[tokio::test]
            async fn sqlite() {
                run(super::sqlite().await).await
            }

            #[tokio::test]
            async fn postgres() {
                run(super::postgres().await).await
            }
        }
    )*};
}

fn repository(name: &str) -> RepositoryRow {
    RepositoryRow {
        id: 0,
        account_id: "111122223333".into(),
        name: name.into(),
        created_at: 1,
        tag_mutability: "MUTABLE".into(),
        mutability_filters: String::new(),
        scan_on_push: false,
        encryption_type: "AES256".into(),
        kms_key: None,
    }
}

const RETRY: Retry = Retry {
    max_attempts: 3,
    first_delay_ms: 1_000,
    max_delay_ms: 10_000,
};

fn job(kind: &str) -> NewJob<'_> {
    NewJob {
        kind,
        payload: "{}",
        run_at: 0,
    }
}

fn key(id: usize, user: &str) -> AccessKeyRow {
    AccessKeyRow {
        id: format!("AKIATEST{id:012}"),
        account_id: "111122223333".into(),
        user_name: user.into(),
        secret: "enc1:test".into(),
        created_at: 1,
    }
}

on_both_backends! {
    async fn a_second_connect_finds_the_schema_current(meta, url) {
        meta.ensure_account("111122223333", 1).await.unwrap();
        meta.create_repository(&repository("kept"), &[]).await.unwrap();
        meta.close().await;
        // Connecting again runs the migrator again: it must apply nothing and lose nothing.
        let again = Meta::connect(&url).await.unwrap();
        assert!(again.repository("111122223333", "kept").await.unwrap().is_some());
    }

    async fn concurrent_key_creation_stops_at_the_limit(meta, url) {
        meta.ensure_account("111122223333", 1).await.unwrap();
        meta.create_user("111122223333", "racer", 1).await.unwrap();
        let attempts = (0..8).map(|i| {
            let key = key(i, "racer");
            let meta = &meta;
            async move { meta.create_access_key(&key, 2).await }
        });
        let results = futures_util::future::join_all(attempts).await;
        let created = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(created, 2, "{results:?}");
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(MetaError::KeyLimitExceeded))));
        assert_eq!(
            meta.list_access_keys("111122223333", "racer").await.unwrap().len(),
            2
        );
    }

    async fn a_user_with_keys_is_not_deleted(meta, url) {
        meta.ensure_account("111122223333", 1).await.unwrap();
        meta.create_user("111122223333", "ci", 1).await.unwrap();
        meta.create_access_key(&key(1, "ci"), 2).await.unwrap();
        assert!(matches!(
            meta.delete_user("111122223333", "ci").await,
            Err(MetaError::UserHasKeys)
        ));
        assert!(meta.delete_access_key("111122223333", &key(1, "ci").id).await.unwrap());
        meta.delete_user("111122223333", "ci").await.unwrap();
        assert!(matches!(
            meta.create_access_key(&key(2, "ci"), 2).await,
            Err(MetaError::UserNotFound)
        ));
    }

    async fn a_write_to_a_deleted_repository_is_refused(meta, url) {
        meta.ensure_account("111122223333", 1).await.unwrap();
        let repo = meta.create_repository(&repository("gone"), &[]).await.unwrap();
        meta.delete_repository("111122223333", "gone", false).await.unwrap();
        assert!(matches!(
            meta.link_blob(repo.id, "sha256:00", 1, 1).await,
            Err(MetaError::RepositoryNotFound)
        ));
    }

    async fn a_repository_name_is_unique_per_account(meta, url) {
        meta.ensure_account("111122223333", 1).await.unwrap();
        meta.create_repository(&repository("twice"), &[]).await.unwrap();
        assert!(matches!(
            meta.create_repository(&repository("twice"), &[]).await,
            Err(MetaError::RepositoryExists)
        ));
    }

    async fn a_claimed_job_is_leased_and_taken_over_when_the_lease_lapses(meta, url) {
        let id = meta.enqueue(&job("sweep"), 0).await.unwrap();
        let first = meta.claim_job("node-a", 100, 1_000, &RETRY).await.unwrap().unwrap();
        assert_eq!((first.id, first.state, first.attempts), (id, JobState::Running, 1));
        assert!(meta.claim_job("node-b", 500, 1_000, &RETRY).await.unwrap().is_none());
        // node-a died: at the end of its lease node-b takes the job over, and node-a's late
        // completion changes nothing.
        let second = meta.claim_job("node-b", 1_100, 1_000, &RETRY).await.unwrap().unwrap();
        assert_eq!((second.id, second.attempts), (id, 2));
        assert!(!meta.complete_job(&first).await.unwrap());
        assert!(meta.complete_job(&second).await.unwrap());
        assert!(meta.list_jobs(None, 10).await.unwrap().is_empty());
    }

    async fn a_failing_job_backs_off_then_is_parked_dead_with_its_error(meta, url) {
        let id = meta.enqueue(&job("scan"), 0).await.unwrap();
        let mut now = 0;
        for attempt in 1..=3 {
            let claimed = meta.claim_job("w", now, 60_000, &RETRY).await.unwrap().unwrap();
            assert_eq!((claimed.id, claimed.attempts), (id, attempt));
            let state = meta
                .fail_job(&claimed, &format!("failure {attempt}"), now, &RETRY)
                .await
                .unwrap();
            if attempt < 3 {
                assert_eq!(state, Some(JobState::Queued));
                let wait = RETRY.delay_ms(attempt);
                // Not before its backoff has passed.
                assert!(meta.claim_job("w", now + wait - 1, 60_000, &RETRY).await.unwrap().is_none());
                now += wait;
            } else {
                assert_eq!(state, Some(JobState::Dead));
            }
        }
        assert!(meta.claim_job("w", i64::MAX / 2, 60_000, &RETRY).await.unwrap().is_none());
        let dead = meta.list_jobs(Some(JobState::Dead), 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("failure 3"));
    }

    async fn a_late_attempt_cannot_touch_a_newer_claim_on_the_same_worker(meta, url) {
        meta.enqueue(&job("gc"), 0).await.unwrap();
        let old = meta.claim_job("node", 0, 1_000, &RETRY).await.unwrap().unwrap();
        // The same worker claims its own lapsed job again; the first attempt then reports.
        let new = meta.claim_job("node", 1_000, 1_000, &RETRY).await.unwrap().unwrap();
        assert_eq!(meta.fail_job(&old, "late", 1_500, &RETRY).await.unwrap(), None);
        assert!(!meta.complete_job(&old).await.unwrap());
        let running = meta.list_jobs(Some(JobState::Running), 10).await.unwrap();
        assert_eq!(running.len(), 1);
        assert!(meta.complete_job(&new).await.unwrap());
    }

    async fn a_job_whose_worker_dies_on_every_attempt_is_parked_dead(meta, url) {
        meta.enqueue(&job("poison"), 0).await.unwrap();
        let mut now = 0;
        for _ in 0..3 {
            assert!(meta.claim_job("w", now, 1_000, &RETRY).await.unwrap().is_some());
            now += 1_000;
        }
        assert!(meta.claim_job("w", now, 1_000, &RETRY).await.unwrap().is_none());
        let dead = meta.list_jobs(Some(JobState::Dead), 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].last_error.as_deref().unwrap_or("").contains("stopped"));
    }

    async fn concurrent_workers_claim_each_job_once(meta, url) {
        for _ in 0..6 {
            meta.enqueue(&job("replicate"), 0).await.unwrap();
        }
        let claims = (0..12).map(|w| {
            let meta = &meta;
            async move { meta.claim_job(&format!("w{w}"), 10, 60_000, &RETRY).await }
        });
        let claimed: Vec<i64> = futures_util::future::join_all(claims)
            .await
            .into_iter()
            .filter_map(|r| r.unwrap().map(|j| j.id))
            .collect();
        let mut unique = claimed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((claimed.len(), unique.len()), (6, 6), "{claimed:?}");
    }

    async fn a_schedule_runs_on_one_node_per_period(meta, url) {
        let (period, lease) = (60_000, 10_000);
        assert!(meta.claim_schedule("gc", "a", 0, period, lease).await.unwrap());
        assert!(!meta.claim_schedule("gc", "b", 1, period, lease).await.unwrap());
        // Before the period has passed, not even the holder runs it again.
        assert!(!meta.claim_schedule("gc", "a", 30_000, period, lease).await.unwrap());
        // After it, whoever asks first runs it: the lease has lapsed.
        assert!(meta.claim_schedule("gc", "b", 60_000, period, lease).await.unwrap());
        assert!(!meta.claim_schedule("gc", "a", 60_001, period, lease).await.unwrap());
        // A clock set back by more than a period does not stall the schedule for everyone.
        assert!(meta.claim_schedule("gc", "c", -100_000, period, lease).await.unwrap());
    }
}
