//! `berth serve`: open the registry, print how to use it, serve until SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_core::{Registry, RegistryConfig, SystemClock};
use berth_iam::{AccessKeyId, SecretAccessKey};
use berth_server::{AppState, ServeConfig};

use crate::config::{LogFormat, ServeArgs};

/// How often expired upload sessions are looked for, across all nodes on one database.
const UPLOAD_SWEEP_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// How often this node asks whether a schedule is its to run now.
const SCHEDULE_TICK: Duration = Duration::from_secs(60);
/// How often pull times noted in memory are written to the database.
const PULL_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Logs go to stderr, filtered by `RUST_LOG` (`info`, `warn,berth_core=debug`, …; `info` when
/// unset). The filter is `Targets`, not `EnvFilter`: per-target levels are all a server needs,
/// and `EnvFilter` compiles regular expressions at startup, which keeps about half a megabyte
/// of regex engine paged in for the life of the process.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let default = || Targets::new().with_default(tracing::Level::INFO);
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec.parse().unwrap_or_else(|e| {
            eprintln!("berth: ignoring RUST_LOG={spec:?} ({e}); logging at info");
            default()
        }),
        _ => default(),
    };
    use std::io::IsTerminal;
    // Colours only on a terminal: a log file or the journal gets plain text.
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // The filter is global (a layer of its own), not per-layer: per-layer filter state is
    // kept per thread and leaks when a library asks `enabled!` without emitting (sqlx does, on
    // the async workers that run PostgreSQL queries), which silenced later events there.
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry.with(layer).init(),
        LogFormat::Json => registry.with(layer.json()).init(),
    }
}

/// The root key pair from `BERTH_ROOT_ACCESS_KEY_ID` and `BERTH_ROOT_SECRET_ACCESS_KEY`.
fn root_key_from_env() -> anyhow::Result<Option<(AccessKeyId, SecretAccessKey)>> {
    match (
        std::env::var("BERTH_ROOT_ACCESS_KEY_ID")
            .ok()
            .filter(|v| !v.is_empty()),
        std::env::var("BERTH_ROOT_SECRET_ACCESS_KEY")
            .ok()
            .filter(|v| !v.is_empty()),
    ) {
        (Some(id), Some(secret)) => Ok(Some((
            id.parse().context("BERTH_ROOT_ACCESS_KEY_ID")?,
            SecretAccessKey::new(secret),
        ))),
        (None, None) => Ok(None),
        _ => anyhow::bail!(
            "set both BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY, or neither"
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(settings.log_format);
    // Every connection and every upload in progress holds a file descriptor; the usual soft
    // limit of 1024 is far below the request slots, so take what the hard limit allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        // Bind before the first start creates the root key pair: were the port taken, the
        // one-time secret would be created, never shown, and lost.
        let listener = std::net::TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        if let Some((cert, key)) = &settings.tls {
            berth_server::serve::load_tls(cert, key)
                .await
                .with_context(|| format!("loading TLS from {} and {}", cert.display(), key.display()))?;
        }
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating {}", settings.data_dir.display()))?;
        let config = RegistryConfig {
            data_dir: settings.data_dir.clone(),
            metadata_url: settings.metadata.clone(),
            region: settings.region.clone(),
            auto_create_repositories: settings.auto_create_repositories,
            master_key: crate::master_key::load_or_create(&settings.data_dir)?,
            max_uploads_per_repository: settings.max_uploads_per_repository,
            upload_expiry: settings.upload_expiry,
        };
        let clock = Arc::new(SystemClock::new(settings.clock_offset_seconds));
        let (registry, boot) = Registry::open(config, clock, root_key_from_env()?)
            .await
            .context("opening the registry")?;
        let registry = Arc::new(registry);
        let scheme = if settings.tls.is_some() { "https" } else { "http" };
        let region = settings.region.clone();
        let on_listening = move |addr: std::net::SocketAddr| {
            let url = format!("{scheme}://{addr}");
            let mut out = format!(
                "berth {} is serving the registry at {url}\n  region:             {region}\n  account (registry): {}\n  root access key id: {}\n",
                env!("CARGO_PKG_VERSION"),
                boot.account,
                boot.root_access_key_id,
            );
            let login = format!(
                "berth login-password --endpoint {url} | docker login --username AWS --password-stdin {addr}"
            );
            match &boot.new_root_secret {
                // The one time the secret is known, the login line carries it, so it pastes
                // as it is.
                Some(secret) => out.push_str(&format!(
                    "  root secret key:    {secret}   (shown once: store it now)\n  docker login:       AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} {login}\n",
                    secret = secret.expose(),
                    key = boot.root_access_key_id,
                )),
                None => out.push_str(&format!(
                    "  root secret key:    (shown at first start)\n  docker login:       {login}   (with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set)\n  or, with the aws CLI: aws ecr get-login-password --region {region} --endpoint-url {url} | docker login --username AWS --password-stdin {addr}\n"
                )),
            }
            out.push_str(&format!("listening on {addr}\n"));
            print!("{out}");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        };
        let serve_config = ServeConfig {
            tls: settings.tls.clone(),
            ..settings.serve.clone()
        };
        let state = AppState::new(registry.clone(), scheme, &settings.limits);
        let flusher = registry.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PULL_FLUSH_INTERVAL).await;
                if let Err(e) = flusher.flush_pulls().await {
                    tracing::warn!(error = %e, "recording pull times failed; will retry");
                }
            }
        });
        let sweeper = registry.clone();
        tokio::spawn(async move {
            loop {
                match sweeper.sweep_uploads_when_due(UPLOAD_SWEEP_INTERVAL).await {
                    Ok(None) => {}
                    Ok(Some(0)) => tracing::debug!("swept upload sessions: none expired"),
                    Ok(Some(n)) => tracing::info!(removed = n, "removed expired upload sessions"),
                    Err(e) => tracing::warn!(error = %e, "sweeping expired uploads failed; will retry"),
                }
                tokio::time::sleep(SCHEDULE_TICK).await;
            }
        });
        berth_server::serve(state, serve_config, listener, shutdown_signal(), on_listening)
            .await
            .with_context(|| format!("serving on {}", settings.listen))?;
        if let Err(e) = registry.flush_pulls().await {
            tracing::warn!(error = %e, "recording pull times at shutdown failed");
        }
        registry.close().await;
        tracing::info!("stopped");
        Ok(())
    })
}
