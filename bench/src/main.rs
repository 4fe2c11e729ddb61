//! `berth-bench`: measures berth beside CNCF distribution 2.8.2 in one run and prints
//! berth/distribution ratios.
//!
//! Two identical servers differ by up to ±15% on these machines, so every measure is
//! interleaved (distribution, berth, distribution, …), repeated, and reported as a median.
//! Every measure checks what it measures (status codes, byte counts, digests), and push figures
//! are only reported after both servers have refused a wrong digest, so a server that skips
//! verification cannot score.

mod client;
mod curl;
mod measures;
mod pulls;
mod servers;
mod wrk;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmark berth against CNCF distribution")]
struct Args {
    /// The berth binary, as the README builds and ships it: `cargo build --release -p berth`.
    #[arg(long, default_value = "target/release/berth")]
    berth: String,
    /// The distribution binary (Debian's docker-registry).
    #[arg(long, default_value = "/usr/bin/docker-registry")]
    distribution: String,
    /// Repetitions of each measure per server.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Size of the large blob, in MiB.
    #[arg(long, default_value_t = 1024)]
    big_mib: usize,
    /// Number of small uploads per run.
    #[arg(long, default_value_t = 2000)]
    small_count: usize,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    wrk_seconds: u32,
    /// Run only these measures (repeatable); all of them when absent.
    #[arg(long, value_enum)]
    only: Vec<Measure>,
}

/// The groups of measures, as `--only` names them.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Measure {
    Push,
    Pull,
    SmallUploads,
    ManifestGet,
    ListTags,
}

impl Args {
    fn runs(&self, m: Measure) -> bool {
        self.only.is_empty() || self.only.contains(&m)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(measures::run_all(&args))
}
