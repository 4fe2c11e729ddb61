//! Runs wrk and reads its summary.

use std::process::Command;

use anyhow::{bail, Context};

pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn millis(s: &str) -> anyhow::Result<f64> {
    let (num, unit) = s.split_at(
        s.find(|c: char| c.is_ascii_alphabetic())
            .context("no unit")?,
    );
    let n: f64 = num.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        other => bail!("unknown wrk unit {other}"),
    })
}

/// Runs `wrk --latency` against `url`; fails if any response was not 2xx.
pub fn run(
    url: &str,
    authorization: Option<&str>,
    accept: &str,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "--latency",
        "-t",
        "2",
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{seconds}s"),
    ]);
    cmd.args(["-H", &format!("Accept: {accept}")]);
    if let Some(a) = authorization {
        cmd.args(["-H", &format!("Authorization: {a}")]);
    }
    let out = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        bail!("wrk saw non-2xx responses:\n{text}");
    }
    // "Socket errors: connect 0, read 0, write 0, timeout 3": any failed request voids the run.
    if let Some(line) = text.lines().find(|l| l.contains("Socket errors:")) {
        let failed = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u64>().ok())
            .any(|n| n > 0);
        if failed {
            bail!("wrk saw failed requests:\n{text}");
        }
    }
    let field = |prefix: &str| -> anyhow::Result<&str> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .with_context(|| format!("wrk output lacks {prefix}:\n{text}"))
    };
    Ok(WrkResult {
        requests_per_sec: field("Requests/sec:")?.parse()?,
        p50_ms: millis(field("50%")?)?,
        p99_ms: millis(field("99%")?)?,
    })
}
