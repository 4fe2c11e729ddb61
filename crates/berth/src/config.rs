//! `serve`'s configuration: one model, three sources.
//!
//! clap reads flags and their `BERTH_*` variables (a flag beats its variable); values still
//! unset come from the TOML file; what is still unset takes its default. Every setting has a
//! working default, so `berth serve` needs nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "BERTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:5000].
    #[arg(long, env = "BERTH_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory for blobs and the embedded database [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Metadata database: sqlite://… or postgres://… [default: SQLite in the data directory].
    #[arg(long, env = "BERTH_METADATA")]
    pub metadata: Option<String>,
    /// The AWS region name this registry serves [default: us-east-1].
    #[arg(long, env = "BERTH_REGION")]
    pub region: Option<String>,
    /// Create repositories on first push instead of refusing with NAME_UNKNOWN.
    #[arg(long, env = "BERTH_AUTO_CREATE_REPOSITORIES")]
    pub auto_create_repositories: Option<bool>,
    /// PEM certificate chain for TLS (with --tls-key).
    #[arg(long, env = "BERTH_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS (with --tls-cert).
    #[arg(long, env = "BERTH_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "BERTH_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open [default: 30].
    #[arg(long, env = "BERTH_HEADER_READ_TIMEOUT_SECONDS")]
    pub header_read_timeout_seconds: Option<u64>,
    /// How long a request body may send nothing before the request fails [default: 60].
    #[arg(long, env = "BERTH_BODY_READ_TIMEOUT_SECONDS")]
    pub body_read_timeout_seconds: Option<u64>,
    /// Requests with credentials served at once; more wait [default: 4096].
    #[arg(long, env = "BERTH_MAX_CONCURRENT_REQUESTS")]
    pub max_concurrent_requests: Option<usize>,
    /// Requests without credentials served at once, in their own pool [default: 256].
    #[arg(long, env = "BERTH_MAX_ANONYMOUS_REQUESTS")]
    pub max_anonymous_requests: Option<usize>,
    /// MiB of request bodies buffered in memory at once across the server [default: 256].
    #[arg(long, env = "BERTH_MAX_BUFFERED_BODY_MIB")]
    pub max_buffered_body_mib: Option<usize>,
    /// Streams one HTTP/2 connection may have open at once [default: 128].
    #[arg(long, env = "BERTH_HTTP2_MAX_CONCURRENT_STREAMS")]
    pub http2_max_concurrent_streams: Option<u32>,
    /// Seconds between HTTP/2 keep-alive pings; an unanswered ping closes the connection
    /// [default: 20].
    #[arg(long, env = "BERTH_HTTP2_KEEP_ALIVE_SECONDS")]
    pub http2_keep_alive_seconds: Option<u64>,
    /// Layer upload sessions one repository may have in progress at once [default: 1000].
    #[arg(long, env = "BERTH_MAX_UPLOADS_PER_REPOSITORY")]
    pub max_uploads_per_repository: Option<usize>,
    /// Hours an upload session may go unwritten before it is removed with its bytes
    /// [default: 24].
    #[arg(long, env = "BERTH_UPLOAD_EXPIRY_HOURS")]
    pub upload_expiry_hours: Option<u64>,
    /// Shifts the server's clock, in seconds; for testing time-dependent behaviour only.
    #[arg(
        long,
        env = "BERTH_CLOCK_OFFSET_SECONDS",
        allow_hyphen_values = true,
        hide = true
    )]
    pub clock_offset_seconds: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The file's shape; the same settings as the flags, in snake_case.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    metadata: Option<String>,
    region: Option<String>,
    auto_create_repositories: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    log_format: Option<LogFormat>,
    header_read_timeout_seconds: Option<u64>,
    body_read_timeout_seconds: Option<u64>,
    max_concurrent_requests: Option<usize>,
    max_anonymous_requests: Option<usize>,
    max_buffered_body_mib: Option<usize>,
    http2_max_concurrent_streams: Option<u32>,
    http2_keep_alive_seconds: Option<u64>,
    max_uploads_per_repository: Option<usize>,
    upload_expiry_hours: Option<u64>,
}

/// The settings after merging, every one present.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub metadata: String,
    pub region: String,
    pub auto_create_repositories: bool,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub log_format: LogFormat,
    pub clock_offset_seconds: i64,
    /// Connection settings; `tls` is in [`Settings::tls`].
    pub serve: berth_server::ServeConfig,
    pub limits: berth_server::Limits,
    pub max_uploads_per_repository: usize,
    pub upload_expiry: Duration,
}

fn default_metadata(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display())
}

/// A timeout in whole seconds, at least one.
fn seconds(value: Option<u64>, default: Duration) -> anyhow::Result<Duration> {
    match value {
        None => Ok(default),
        Some(0) => anyhow::bail!("timeouts are at least 1 second"),
        Some(s) => Ok(Duration::from_secs(s)),
    }
}

/// A count that must be at least one.
fn positive<T: PartialEq + From<u8>>(
    value: Option<T>,
    default: T,
    name: &str,
) -> anyhow::Result<T> {
    match value {
        None => Ok(default),
        Some(v) if v == T::from(0) => anyhow::bail!("{name} must be at least 1"),
        Some(v) => Ok(v),
    }
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let serve = berth_server::ServeConfig::default();
        let limits = berth_server::Limits::default();
        let file: FileConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = self
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("berth-data"));
        let metadata = self
            .metadata
            .or(file.metadata)
            .unwrap_or_else(|| default_metadata(&data_dir));
        let tls = match (
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => anyhow::bail!("TLS needs both --tls-cert and --tls-key"),
        };
        Ok(Settings {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5000))),
            data_dir,
            metadata,
            region: self
                .region
                .or(file.region)
                .unwrap_or_else(|| "us-east-1".into()),
            auto_create_repositories: self
                .auto_create_repositories
                .or(file.auto_create_repositories)
                .unwrap_or(false),
            tls,
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            clock_offset_seconds: self.clock_offset_seconds.unwrap_or(0),
            serve: berth_server::ServeConfig {
                tls: None,
                drain_timeout: serve.drain_timeout,
                header_read_timeout: seconds(
                    self.header_read_timeout_seconds
                        .or(file.header_read_timeout_seconds),
                    serve.header_read_timeout,
                )?,
                http2_max_concurrent_streams: positive(
                    self.http2_max_concurrent_streams
                        .or(file.http2_max_concurrent_streams),
                    serve.http2_max_concurrent_streams,
                    "http2_max_concurrent_streams",
                )?,
                http2_keep_alive_interval: seconds(
                    self.http2_keep_alive_seconds
                        .or(file.http2_keep_alive_seconds),
                    serve.http2_keep_alive_interval,
                )?,
            },
            max_uploads_per_repository: positive(
                self.max_uploads_per_repository
                    .or(file.max_uploads_per_repository),
                1000,
                "max_uploads_per_repository",
            )?,
            upload_expiry: Duration::from_secs(
                positive(
                    self.upload_expiry_hours.or(file.upload_expiry_hours),
                    24,
                    "upload_expiry_hours",
                )?
                .saturating_mul(3600),
            ),
            limits: berth_server::Limits {
                max_concurrent_requests: positive(
                    self.max_concurrent_requests
                        .or(file.max_concurrent_requests),
                    limits.max_concurrent_requests,
                    "max_concurrent_requests",
                )?,
                max_anonymous_requests: positive(
                    self.max_anonymous_requests.or(file.max_anonymous_requests),
                    limits.max_anonymous_requests,
                    "max_anonymous_requests",
                )?,
                max_buffered_body_bytes: positive(
                    self.max_buffered_body_mib.or(file.max_buffered_body_mib),
                    limits.max_buffered_body_bytes >> 20,
                    "max_buffered_body_mib",
                )?
                .checked_mul(1 << 20)
                .filter(|&b| b >= 16 << 20 && b <= u32::MAX as usize)
                .context("max_buffered_body_mib must be from 16 to 4095")?,
                body_read_timeout: seconds(
                    self.body_read_timeout_seconds
                        .or(file.body_read_timeout_seconds),
                    limits.body_read_timeout,
                )?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_defaults_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("berth-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("berth.toml");
        std::fs::write(
            &file,
            "region = \"eu-west-1\"\nlisten = \"127.0.0.1:6000\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..ServeArgs::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.listen.port(), 7000);
        assert_eq!(s.region, "eu-west-1");
        assert!(!s.auto_create_repositories);
        assert!(s.metadata.starts_with("sqlite://berth-data"));
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("berth-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("berth.toml");
        std::fs::write(&file, "regoin = \"x\"\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        };
        assert!(args.resolve().is_err());
    }
}
