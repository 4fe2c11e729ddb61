//! Pulls as users meet them: the first pull right after a push (CI pushes, a deploy pulls),
//! the same pull again with the blob warm, and a cold pull after the page cache is dropped for
//! both servers; with the CPU time each server spent per GiB it sent.
//!
//! No pull warms the blob before the first timed one. Each repetition pushes a blob neither
//! server has seen, so that what a server's push left in the page cache is what its first pull
//! finds.

use std::sync::Arc;

use anyhow::{ensure, Context};
use hyper::StatusCode;

use crate::client::Target;
use crate::measures::{big_blob, median, push_monolithic, row, settle, BigBlob, Row, MIB};

/// One pull: throughput, and the server's CPU seconds per GiB sent.
#[derive(Clone, Copy)]
struct Pulled {
    mb_per_s: f64,
    cpu_per_gib: f64,
}

/// Figures of one server, one entry per repetition.
#[derive(Default)]
struct Series {
    first: Vec<Pulled>,
    warm: Vec<Pulled>,
    cold: Vec<Pulled>,
}

/// The server's user plus system CPU time so far, in seconds, from `/proc/<pid>/stat` (which
/// sums the process's threads).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name, in parentheses, may hold spaces; the fields after it are plain.
    let after = stat.rsplit_once(')').context("no ')' in stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 / clock_ticks_per_second())
}

/// The unit of `/proc/<pid>/stat`'s times, as `getconf CLK_TCK` tells (100 on Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// A timed pull with curl; the bytes are counted here and their digest checked afterwards by
/// [`verify_pull`], so that the client's hashing does not cap the figure.
async fn timed_pull(t: &Target, blob: &Arc<BigBlob>) -> anyhow::Result<Pulled> {
    let url = format!("{}/v2/bench/blobs/{}", t.base, blob.digest);
    let before = cpu_seconds(t.pid)?;
    let authorization = t.authorization.clone();
    let got = tokio::task::spawn_blocking(move || crate::curl::get(&url, authorization.as_deref()))
        .await??;
    let cpu = cpu_seconds(t.pid)? - before;
    ensure!(
        got.status == 200 && got.bytes == blob.len,
        "{}: curl pull gave {} with {} bytes",
        t.name,
        got.status,
        got.bytes
    );
    let gib = got.bytes as f64 / (1024.0 * MIB);
    Ok(Pulled {
        mb_per_s: got.bytes as f64 / MIB / got.seconds,
        cpu_per_gib: cpu / gib,
    })
}

/// An untimed pull that hashes what it receives: the server sent the blob it was given.
async fn verify_pull(t: &Target, blob: &BigBlob) -> anyhow::Result<()> {
    let (status, n, digest) = t
        .download(&format!("/v2/bench/blobs/{}", blob.digest))
        .await?;
    ensure!(
        status == StatusCode::OK && n == blob.len && digest == blob.digest,
        "{}: pull gave {status} with {n} bytes hashing to {digest:?}",
        t.name
    );
    Ok(())
}

/// Writes back dirty pages and drops the page cache for everyone, as root may. `Ok(false)`
/// where this process may not (not root, or `/proc/sys` read-only in a container).
fn drop_page_cache() -> anyhow::Result<bool> {
    let status = std::process::Command::new("sync").status()?;
    ensure!(status.success(), "sync failed: {status}");
    Ok(std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok())
}

/// Runs the three pulls `repeat` times per server, alternating which server goes first, and
/// returns the report's rows.
pub async fn measure(targets: &[Target; 2], mib: usize, repeat: usize) -> anyhow::Result<Vec<Row>> {
    let mut series = [Series::default(), Series::default()];
    let mut cold_skipped = false;
    for rep in 0..repeat {
        let blob = Arc::new(big_blob(mib, 0x5eed_0000 + rep as u64));
        let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let t = &targets[i];
            push_monolithic(t, &blob).await?;
            settle().await?;
            series[i].first.push(timed_pull(t, &blob).await?);
            series[i].warm.push(timed_pull(t, &blob).await?);
            let cold = tokio::task::spawn_blocking(drop_page_cache).await??;
            if cold {
                series[i].cold.push(timed_pull(t, &blob).await?);
            } else {
                cold_skipped = true;
            }
            verify_pull(t, &blob).await?;
        }
    }
    if cold_skipped {
        eprintln!(
            "cold pulls skipped: writing /proc/sys/vm/drop_caches needs root and a writable /proc/sys"
        );
    }
    let size = format!("{mib} MiB");
    let mut rows = Vec::new();
    for (name, target, pick) in [
        (
            "first pull after push",
            ">= 1.5x",
            (|s: &Series| &s.first) as fn(&Series) -> &Vec<Pulled>,
        ),
        ("warm pull", ">= 2x", |s: &Series| &s.warm),
        ("cold pull, page cache dropped", ">= 1.3x", |s: &Series| {
            &s.cold
        }),
    ] {
        let [d, b] = [pick(&series[0]), pick(&series[1])];
        if d.is_empty() || b.is_empty() {
            continue;
        }
        let medians = |f: fn(&Pulled) -> f64| {
            (
                median(d.iter().map(f).collect()),
                median(b.iter().map(f).collect()),
            )
        };
        rows.push(row(
            format!("{size} {name}"),
            "MB/s",
            medians(|p| p.mb_per_s),
            target,
        ));
        rows.push(row(
            "  server CPU per GiB sent",
            "s",
            medians(|p| p.cpu_per_gib),
            "<= 1.0x",
        ));
    }
    Ok(rows)
}
