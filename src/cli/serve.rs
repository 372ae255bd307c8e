//! `wangge serve`: the map service over a store. Everything can come from a config file
//! (`--config /etc/wangge/wangge.toml`, see [`wangge::ops::config`]); flags override it.

use super::runtime;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use wangge::ops::config::{CacheFile, LogFile, LogFormat, ServeFile, Settings, TlsFile};

/// Flags of `wangge serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Config file (TOML) holding any of the settings below; flags given here override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// The store: a GeoPackage file or postgres://… URL [default: wangge.gpkg].
    #[arg(long)]
    db: Option<String>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Every route but the pages and logging in needs a login (users: `wangge user add`).
    #[arg(long)]
    private: bool,
    /// Memory for rendered vector tiles, MiB [default: 48].
    #[arg(long)]
    tile_cache_mb: Option<u32>,
    /// Memory for heat tiles of the current patrol points, MiB [default: 8].
    #[arg(long)]
    heat_cache_mb: Option<u32>,
    /// Log format: text or json [default: text].
    #[arg(long)]
    log_format: Option<LogFormat>,
    /// Log filter: info, debug, wangge=debug,warn… [default: info; WANGGE_LOG wins].
    #[arg(long)]
    log_level: Option<String>,
    /// TLS certificate chain (PEM, e.g. from `wangge cert`); serve HTTPS (needs --tls-key).
    /// SIGHUP reads the files again: a renewed certificate needs no restart.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl Args {
    /// The settings: the config file's (if any), overridden by the flags given.
    pub fn settings(&self) -> Result<Settings> {
        let file = match &self.config {
            Some(p) => ServeFile::read(p)?,
            None => ServeFile::default(),
        };
        let flags = ServeFile {
            listen: self.listen,
            db: self.db.clone(),
            private: self.private.then_some(true),
            request_timeout_s: None,
            cache: CacheFile {
                tile_mb: self.tile_cache_mb,
                heat_mb: self.heat_cache_mb,
            },
            log: LogFile {
                format: self.log_format,
                level: self.log_level.clone(),
            },
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFile {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            metrics: Default::default(),
        };
        Ok(file.overlay(flags).settings())
    }
}

/// Runs `wangge serve` until the server stops.
pub fn run(a: Args) -> Result<()> {
    let s = a.settings()?;
    let ca_pem = match &s.tls {
        Some(tls) => wangge::ops::tls::private_root(&tls.cert)?,
        None => None,
    };
    // a long-running server: two allocator arenas keep what threads free from piling up
    wangge::serve::memory::limit_arenas(2);
    let rt = runtime()?;
    rt.block_on(async {
        let store = super::StoreArgs { db: s.db.clone() }
            .open_existing(&format!(
                "make one with `wangge partition <input> --db {}`",
                s.db
            ))
            .await?;
        let listener = tokio::net::TcpListener::bind(s.listen)
            .await
            .with_context(|| format!("cannot listen on {}", s.listen))?;
        let addr = listener.local_addr()?;
        let scheme = if s.tls.is_some() { "https" } else { "http" };
        eprintln!("serving {} on {scheme}://{addr}", store.target());
        tracing::info!(store = store.target(), %addr, scheme, "serving");
        let config = wangge::serve::Config {
            private: s.private,
            tile_cache_bytes: (s.tile_cache_mb as usize) << 20,
            heat_cache_bytes: (s.heat_cache_mb as usize) << 20,
            request_timeout: std::time::Duration::from_secs(s.request_timeout_s),
            secure_cookies: s.tls.is_some(),
            metrics_token: s.metrics_token.clone(),
            ca_pem,
            ..Default::default()
        };
        let source = std::sync::Arc::new(wangge::serve::StoreSource::new(store));
        match &s.tls {
            Some(tls) => {
                let (cert, key) = (tls.cert.clone(), tls.key.clone());
                wangge::serve::serve_tls_with(listener, source, config, cert, key).await
            }
            None => wangge::serve::serve_with(listener, source, config).await,
        }
        .context("the map service stopped")
    })
}
