//! `serve`'s configuration: one model, three sources.
//!
//! clap reads flags and their `BERTH_*` variables (a flag beats its variable); values still
//! unset come from the TOML file; what is still unset takes its default. Every setting has a
//! working default, so `berth serve` needs nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
}

fn default_metadata(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display())
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
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
