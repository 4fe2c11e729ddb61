//! Starting the two servers side by side, each with fresh storage on the same disk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use bytes::Bytes;
use hyper::{Method, StatusCode};

use crate::client::Target;

pub struct Running {
    pub target: Target,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_ready(target: &Target) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(a) = target.call(Method::GET, "/v2/", &[], Bytes::new()).await {
            if a.status == StatusCode::OK {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{} did not become ready", target.name)
}

pub fn scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("berth-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub async fn start_distribution(binary: &str, dir: &Path) -> anyhow::Result<Running> {
    let port = free_port()?;
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("storage").display()
        ),
    )?;
    let child = Command::new(binary)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let pid = child.id();
    let running = Running {
        target: Target::new(
            "distribution",
            format!("http://127.0.0.1:{port}"),
            None,
            pid,
        ),
        child,
    };
    wait_ready(&running.target).await?;
    Ok(running)
}

const KEY: &str = "AKIABENCHBENCHBENCH1";
const SECRET: &str = "bench-secret-bench-secret-bench-secret00";

pub async fn start_berth(binary: &str, dir: &Path) -> anyhow::Result<Running> {
    let port = free_port()?;
    let child = Command::new(binary)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .env("BERTH_ROOT_ACCESS_KEY_ID", KEY)
        .env("BERTH_ROOT_SECRET_ACCESS_KEY", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let pid = child.id();
    let base = format!("http://127.0.0.1:{port}");
    // The token and the repository come from berth's own CLI, which signs its requests: the
    // bench needs no copy of the signing code, and measures the binary as users drive it.
    let cli = |args: &[&str]| -> anyhow::Result<Option<String>> {
        let out = Command::new(binary)
            .args(args)
            .args(["--endpoint", &base])
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_REGION", "us-east-1")
            .output()
            .with_context(|| format!("running {binary} {}", args.join(" ")))?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        if let Some(token) = cli(&["login-password"])? {
            break token;
        }
        if Instant::now() > deadline {
            bail!("berth did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if cli(&["repo", "create", "bench"])?.is_none() {
        bail!("creating the bench repository failed");
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let target = Target::new(
        "berth",
        base,
        Some(format!("Basic {}", b64.encode(format!("AWS:{token}")))),
        pid,
    );
    wait_ready(&target).await?;
    Ok(Running { target, child })
}

/// (current RSS, peak RSS) in KiB, from /proc.
pub fn rss_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .context("no such field")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}
