//! Timed blob pulls with curl.
//!
//! The in-process hyper client tops out near 1.8 GB/s on a 2-core machine, which is below what
//! either server can send, so both servers measured the same and the ratio said nothing about
//! them. curl, writing to /dev/null, is a leaner reader; like wrk for manifests, it is a real
//! client run beside the servers.

use std::process::Command;

use anyhow::{bail, Context};

pub struct Pulled {
    pub status: u16,
    pub bytes: u64,
    pub seconds: f64,
}

pub fn get(url: &str, authorization: Option<&str>) -> anyhow::Result<Pulled> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} %{time_total}",
    ]);
    if let Some(a) = authorization {
        cmd.args(["-H", &format!("Authorization: {a}")]);
    }
    let out = cmd.arg(url).output().context("running curl")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [status, bytes, seconds] = fields.as_slice() else {
        bail!("unexpected curl output {text:?}");
    };
    Ok(Pulled {
        status: status.parse()?,
        bytes: bytes.parse()?,
        seconds: seconds.parse()?,
    })
}
