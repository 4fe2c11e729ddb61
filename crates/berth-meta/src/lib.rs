//! Registry metadata on SQLite (embedded) or PostgreSQL (scale-out), through one set of queries.
//!
//! Every query is written once, in SQL both engines accept (`$n` placeholders, `ON CONFLICT`,
//! `RETURNING`), and runs through sqlx's `Any` driver. Only the schema differs per engine, in
//! [`schema`]. Rows come back as plain structs; this crate knows nothing of HTTP or JSON.
//!
//! **Invariants:**
//! - Every change that spans rows runs in one transaction.
//! - SQLite allows one writer: write transactions take [`Meta`]'s write lock first, so they queue
//!   in the process instead of failing with `SQLITE_BUSY` when a deferred transaction upgrades.
//! - Timestamps are milliseconds since the Unix epoch, handed in by the caller's clock.
//!
//! Start at [`Meta::connect`], then the query modules by table: [`accounts`], [`repositories`],
//! [`blobs`], [`images`], and the durable job queue, [`jobs`].

pub mod accounts;
pub mod blobs;
mod error;
pub mod images;
pub mod jobs;
mod pool;
pub mod repositories;
mod schema;
pub mod tags;

pub use error::MetaError;
pub use pool::{Backend, Meta};
