//! The measures, each interleaved across the two servers and repeated.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use hyper::{Method, StatusCode};
use sha2::Digest as _;

use crate::client::Target;
use crate::servers::{rss_kib, scratch_dir, start_berth, start_distribution};
use crate::{wrk, Args, Measure};

const CHUNK: usize = 16 * 1024 * 1024;
pub const MIB: f64 = 1024.0 * 1024.0;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Deterministic incompressible bytes, fast to make.
fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub struct BigBlob {
    chunks: Vec<Bytes>,
    pub digest: String,
    pub len: u64,
}

/// `mib` MiB of bytes that `seed` makes, in 16 MiB chunks.
pub fn big_blob(mib: usize, seed: u64) -> BigBlob {
    let data = Bytes::from(pseudo_random(mib * 1024 * 1024, seed));
    let digest = sha256(&data);
    let chunks = (0..data.len())
        .step_by(CHUNK)
        .map(|i| data.slice(i..(i + CHUNK).min(data.len())))
        .collect();
    BigBlob {
        chunks,
        digest,
        len: data.len() as u64,
    }
}

/// After a timed push, untimed: the server must hold the blob under its digest, whole.
async fn verify_stored(t: &Target, digest: &str, len: u64) -> anyhow::Result<()> {
    let a = t
        .call(
            Method::HEAD,
            &format!("/v2/bench/blobs/{digest}"),
            &[],
            Bytes::new(),
        )
        .await?;
    let header = |name: &str| a.headers.get(name).and_then(|v| v.to_str().ok());
    ensure!(
        a.status == StatusCode::OK
            && header("content-length") == Some(len.to_string().as_str())
            && header("docker-content-digest") == Some(digest),
        "{}: after the push, HEAD of {digest} answered {} with length {:?} and digest {:?}",
        t.name,
        a.status,
        header("content-length"),
        header("docker-content-digest"),
    );
    Ok(())
}

pub async fn push_monolithic(t: &Target, blob: &BigBlob) -> anyhow::Result<f64> {
    let start = Instant::now();
    let loc = t.start_upload("bench").await?;
    let a = t
        .stream(
            Method::PUT,
            &Target::with_digest(&loc, &blob.digest),
            &[("content-length", blob.len.to_string())],
            blob.chunks.clone(),
        )
        .await?;
    ensure!(
        a.status == StatusCode::CREATED,
        "{}: monolithic PUT answered {}",
        t.name,
        a.status
    );
    let rate = blob.len as f64 / MIB / start.elapsed().as_secs_f64();
    verify_stored(t, &blob.digest, blob.len).await?;
    Ok(rate)
}

async fn push_chunked(t: &Target, blob: &BigBlob) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut loc = t.start_upload("bench").await?;
    let mut offset = 0u64;
    for chunk in &blob.chunks {
        let end = offset + chunk.len() as u64 - 1;
        let headers = [
            ("content-range", format!("{offset}-{end}")),
            ("content-type", "application/octet-stream".into()),
        ];
        let a = t.call(Method::PATCH, &loc, &headers, chunk.clone()).await?;
        ensure!(
            a.status == StatusCode::ACCEPTED,
            "{}: PATCH answered {}",
            t.name,
            a.status
        );
        loc = a.location.context("no Location after PATCH")?;
        offset = end + 1;
    }
    let a = t
        .call(
            Method::PUT,
            &Target::with_digest(&loc, &blob.digest),
            &[],
            Bytes::new(),
        )
        .await?;
    ensure!(
        a.status == StatusCode::CREATED,
        "{}: final PUT answered {}",
        t.name,
        a.status
    );
    let rate = blob.len as f64 / MIB / start.elapsed().as_secs_f64();
    verify_stored(t, &blob.digest, blob.len).await?;
    Ok(rate)
}

async fn small_uploads(
    t: &Target,
    count: usize,
    concurrency: usize,
    seed: u64,
) -> anyhow::Result<f64> {
    let blobs: Arc<Vec<(Bytes, String)>> = Arc::new(
        (0..count)
            .map(|i| {
                let b = Bytes::from(pseudo_random(
                    4096,
                    seed.wrapping_mul(1_000_003).wrapping_add(i as u64 + 1),
                ));
                let d = sha256(&b);
                (b, d)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (t, blobs, next) = (t.clone(), blobs.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((data, digest)) = blobs.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let loc = t.start_upload("bench").await?;
                let a = t
                    .call(
                        Method::PUT,
                        &Target::with_digest(&loc, digest),
                        &[],
                        data.clone(),
                    )
                    .await?;
                ensure!(
                    a.status == StatusCode::CREATED,
                    "{}: small PUT answered {}",
                    t.name,
                    a.status
                );
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    for (data, digest) in blobs.iter() {
        verify_stored(t, digest, data.len() as u64).await?;
    }
    Ok(rate)
}

/// Pushes a small image tagged `latest` and returns its manifest digest.
async fn push_image(t: &Target) -> anyhow::Result<String> {
    let config = Bytes::from_static(br#"{"architecture":"amd64","os":"linux"}"#);
    let layer = Bytes::from(pseudo_random(2048, 42));
    for blob in [&config, &layer] {
        let loc = t.start_upload("bench").await?;
        let a = t
            .call(
                Method::PUT,
                &Target::with_digest(&loc, &sha256(blob)),
                &[],
                blob.clone(),
            )
            .await?;
        ensure!(
            a.status == StatusCode::CREATED,
            "{}: blob PUT answered {}",
            t.name,
            a.status
        );
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&layer), "size": layer.len()}],
    })
    .to_string();
    let body = Bytes::from(manifest);
    let a = t
        .call(
            Method::PUT,
            "/v2/bench/manifests/latest",
            &[("content-type", OCI_MANIFEST.into())],
            body.clone(),
        )
        .await?;
    ensure!(
        a.status == StatusCode::CREATED,
        "{}: manifest PUT answered {}",
        t.name,
        a.status
    );
    let got = t
        .call(
            Method::GET,
            "/v2/bench/manifests/latest",
            &[("accept", OCI_MANIFEST.into())],
            Bytes::new(),
        )
        .await?;
    ensure!(
        got.status == StatusCode::OK && got.body == body,
        "{}: manifest GET did not return the pushed bytes",
        t.name
    );
    Ok(sha256(&body))
}

async fn tag_many(t: &Target, n: usize) -> anyhow::Result<()> {
    let body = t
        .call(
            Method::GET,
            "/v2/bench/manifests/latest",
            &[("accept", OCI_MANIFEST.into())],
            Bytes::new(),
        )
        .await?
        .body;
    for i in 0..n {
        let a = t
            .call(
                Method::PUT,
                &format!("/v2/bench/manifests/t{i:04}"),
                &[("content-type", OCI_MANIFEST.into())],
                body.clone(),
            )
            .await?;
        ensure!(
            a.status == StatusCode::CREATED,
            "{}: tag PUT answered {}",
            t.name,
            a.status
        );
    }
    Ok(())
}

/// Lists every tag as a client does: `tags/list` without `n`, then each `Link` to the next
/// page, until there is none. Returns the milliseconds one full listing took (median of
/// `rounds`).
async fn list_all_tags(t: &Target, expected: usize, rounds: usize) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let mut next = Some("/v2/bench/tags/list".to_owned());
        let mut seen = 0;
        while let Some(path) = next.take() {
            let a = t.call(Method::GET, &path, &[], Bytes::new()).await?;
            ensure!(
                a.status == StatusCode::OK,
                "{}: {path} answered {}",
                t.name,
                a.status
            );
            let v: serde_json::Value = serde_json::from_slice(&a.body)?;
            seen += v["tags"].as_array().map_or(0, Vec::len);
            next = a
                .headers
                .get("link")
                .and_then(|l| l.to_str().ok())
                .and_then(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_owned()));
        }
        ensure!(
            seen == expected,
            "{}: the listing returned {seen} tags, not {expected}",
            t.name
        );
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

async fn refuses_wrong_digest(t: &Target) -> anyhow::Result<()> {
    let loc = t.start_upload("bench").await?;
    let wrong = sha256(b"not these bytes");
    let a = t
        .call(
            Method::PUT,
            &Target::with_digest(&loc, &wrong),
            &[],
            Bytes::from_static(b"these bytes"),
        )
        .await?;
    if a.status != StatusCode::BAD_REQUEST {
        bail!(
            "{} accepted a blob under the wrong digest ({}); its push figures would be meaningless",
            t.name,
            a.status
        );
    }
    Ok(())
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One row of the report.
pub struct Row {
    name: String,
    unit: &'static str,
    distribution: f64,
    berth: f64,
    target: &'static str,
}

pub fn row(
    name: impl Into<String>,
    unit: &'static str,
    (distribution, berth): (f64, f64),
    target: &'static str,
) -> Row {
    Row {
        name: name.into(),
        unit,
        distribution,
        berth,
        target,
    }
}

/// Flushes dirty pages before a measure, untimed, so that no measure pays for the writeback of
/// the one before it. distribution never fsyncs, so without this its pushed gigabytes were
/// written back during whatever ran next, on either server.
pub async fn settle() -> anyhow::Result<()> {
    let status =
        tokio::task::spawn_blocking(|| std::process::Command::new("sync").status()).await??;
    ensure!(status.success(), "sync failed: {status}");
    Ok(())
}

/// Runs `measure` `repeat` times per server, alternating which goes first, and returns the
/// medians (distribution, berth).
async fn interleaved<F, Fut>(
    targets: &[Target; 2],
    repeat: usize,
    mut measure: F,
) -> anyhow::Result<(f64, f64)>
where
    F: FnMut(Target, usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<f64>>,
{
    let mut results = [Vec::new(), Vec::new()];
    for rep in 0..repeat {
        let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            settle().await?;
            results[i].push(measure(targets[i].clone(), rep).await?);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let [d, b] = results;
    Ok((median(d), median(b)))
}

pub async fn run_all(args: &Args) -> anyhow::Result<()> {
    let dist_dir = scratch_dir("distribution")?;
    let berth_dir = scratch_dir("berth")?;
    let dist = start_distribution(&args.distribution, &dist_dir).await?;
    let berth = start_berth(&args.berth, &berth_dir).await?;
    let targets = [dist.target.clone(), berth.target.clone()];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = [
        rss_kib(targets[0].pid)?.0 as f64,
        rss_kib(targets[1].pid)?.0 as f64,
    ];
    let mut rows = Vec::new();

    for t in &targets {
        refuses_wrong_digest(t).await?;
    }
    eprintln!("both servers refuse a wrong digest; measuring");

    let size = format!("{} MiB", args.big_mib);
    if args.runs(Measure::Push) {
        let blob = Arc::new(big_blob(args.big_mib, 0x9e3779b97f4a7c15));
        let b = blob.clone();
        let (d, br) = interleaved(&targets, args.repeat, move |t, _| {
            let b = b.clone();
            async move { push_monolithic(&t, &b).await }
        })
        .await?;
        rows.push(row(
            format!("{size} push, monolithic"),
            "MB/s",
            (d, br),
            ">= 3x",
        ));
        let (d, br) = interleaved(&targets, args.repeat, move |t, _| {
            let b = blob.clone();
            async move { push_chunked(&t, &b).await }
        })
        .await?;
        rows.push(row(
            format!("{size} push, 16 MiB chunks"),
            "MB/s",
            (d, br),
            ">= 3x",
        ));
    }
    if args.runs(Measure::Pull) {
        rows.extend(crate::pulls::measure(&targets, args.big_mib, args.repeat).await?);
    }

    if args.runs(Measure::SmallUploads) {
        for concurrency in [1usize, 16] {
            let count = args.small_count;
            let (d, br) = interleaved(&targets, args.repeat, move |t, rep| async move {
                small_uploads(
                    &t,
                    count,
                    concurrency,
                    (rep * 100 + concurrency) as u64 + if t.name == "berth" { 7 } else { 0 },
                )
                .await
            })
            .await?;
            rows.push(row(
                format!("{count} x 4 KiB uploads, concurrency {concurrency}"),
                "ops/s",
                (d, br),
                ">= 6x",
            ));
        }
    }

    if args.runs(Measure::ManifestGet) {
        for t in &targets {
            push_image(t).await?;
        }
        for connections in [16u32, 64] {
            let seconds = args.wrk_seconds;
            let mut rps = [Vec::new(), Vec::new()];
            let mut p50 = [Vec::new(), Vec::new()];
            let mut p99 = [Vec::new(), Vec::new()];
            for rep in 0..args.repeat {
                let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
                for i in order {
                    let t = &targets[i];
                    let url = format!("{}/v2/bench/manifests/latest", t.base);
                    let r = wrk::run(
                        &url,
                        t.authorization.as_deref(),
                        OCI_MANIFEST,
                        connections,
                        seconds,
                    )?;
                    rps[i].push(r.requests_per_sec);
                    p50[i].push(r.p50_ms);
                    p99[i].push(r.p99_ms);
                }
            }
            for (name, unit, [d, b], target) in [
                ("manifest GET by tag", "req/s", rps, ">= 12x"),
                ("  p50 latency", "ms", p50, ""),
                ("  p99 latency", "ms", p99, "<= 0.1x"),
            ] {
                rows.push(row(
                    format!("{name}, {connections} conns"),
                    unit,
                    (median(d), median(b)),
                    target,
                ));
            }
        }
    }

    if args.runs(Measure::ListTags) {
        for t in &targets {
            if !args.runs(Measure::ManifestGet) {
                push_image(t).await?;
            }
            tag_many(t, 1000).await?;
        }
        let (d, br) = interleaved(&targets, args.repeat, |t, _| async move {
            list_all_tags(&t, 1001, 50).await
        })
        .await?;
        rows.push(row(
            "list all 1,001 tags, following Link",
            "ms",
            (d, br),
            "<= 0.5x",
        ));
    }

    let peak = [
        rss_kib(targets[0].pid)?.1 as f64,
        rss_kib(targets[1].pid)?.1 as f64,
    ];
    rows.push(row(
        "RSS at idle",
        "MiB",
        (idle[0] / 1024.0, idle[1] / 1024.0),
        "<= 0.5x",
    ));
    rows.push(row(
        "RSS at peak",
        "MiB",
        (peak[0] / 1024.0, peak[1] / 1024.0),
        "",
    ));

    println!("\n| measure | unit | distribution 2.8.2 | berth | berth/distribution | target |");
    println!("|---|---|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.2}x | {} |",
            r.name,
            r.unit,
            r.distribution,
            r.berth,
            r.berth / r.distribution,
            r.target
        );
    }
    drop(berth);
    drop(dist);
    let _ = std::fs::remove_dir_all(dist_dir);
    let _ = std::fs::remove_dir_all(berth_dir);
    Ok(())
}
