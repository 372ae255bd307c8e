//! The map service (地图服务): GeoJSON, vector tiles, TileJSON, the MapLibre style and pages, and
//! "which grid am I in?" over HTTP (axum), on an intranet with no internet at all: every page,
//! script, style and glyph is embedded in the binary.
//!
//! Built like a small tile server: [`config`] holds the knobs, a [`source::Source`] is what the
//! server reads (the store, or a [`source::StaticSource`] in tests), [`state`] holds the loaded
//! snapshot with its indexes and tile layers and swaps in a new one when the source's revision
//! changes, and [`routes`] answers requests from it. The routes (see `/api/openapi.json`):
//!
//! - `GET /`, `GET /<file>`: the viewer under `web/`; `GET /tiles/<file>`: the style and glyphs
//!   under `tiles/`;
//! - `GET /api/villages|grids|micro_grids|buildings` (`village=`, `bbox=`, `plan=`),
//!   `GET /api/grids/{code}`, `GET /api/micro_grids/{code}`: GeoJSON (RFC 7946);
//! - `GET /tiles/{layer}.json` (TileJSON 3.0.0), `GET /tiles/{layer}/{z}/{x}/{y}.mvt`;
//! - `GET /api/locate?lon=&lat=&crs=` and `GET /api/locate?address=`;
//! - `GET /api/health`, `GET /api/openapi.json`, `GET /ca.pem` (the private CA to install on
//!   phones, when the served chain ends in one).
//! - `POST|GET|DELETE /api/session` (log in, who am I, log out), `GET /api/audit` (admins).
//!
//! Every route passes [`auth::guard`]: the caller (session cookie or bearer token) and the
//! route's rule from [`crate::accounts::policy`].

pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod layers;
pub mod locator;
pub mod memory;
pub mod metrics;
pub mod routes;
pub mod source;
pub mod state;
pub mod store_source;

pub use config::Config;
pub use routes::router;
pub use source::{PlanGrids, Source, SourceError, StaticSource};
pub use state::{Service, State};
pub use store_source::StoreSource;

use std::io;
use std::sync::Arc;

/// Serves `source` on `listener` with the default [`Config`] until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, source: impl Source) -> io::Result<()> {
    serve_with(listener, Arc::new(source), Config::default()).await
}

/// Serves `source` on `listener` with `config`: loads the first snapshot (an error if the source
/// fails), starts polling for new revisions and answers requests until the process ends.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    source: Arc<dyn Source>,
    config: Config,
) -> io::Result<()> {
    let service = start(source, config).await?;
    axum::serve(
        listener,
        router(service).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// Serves `source` over HTTPS on `listener` (rustls; HTTP/1.1 and HTTP/2) with the PEM
/// certificate chain `cert` and private key `key`, like [`serve_with`]. On SIGHUP both files
/// are read again, so a renewed certificate is served without a restart (`systemctl reload`);
/// a bad new pair is logged and the old one kept.
pub async fn serve_tls_with(
    listener: tokio::net::TcpListener,
    source: Arc<dyn Source>,
    config: Config,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) -> io::Result<()> {
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
        .await
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} / {}: {e}", cert.display(), key.display()),
            )
        })?;
    let service = start(source, config).await?;
    tokio::spawn(reload_on_hangup(tls.clone(), cert, key));
    axum_server::from_tcp_rustls(listener.into_std()?, tls)?
        .serve(router(service).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

/// Loads the first snapshot and starts polling the source for new revisions.
async fn start(source: Arc<dyn Source>, config: Config) -> io::Result<Arc<Service>> {
    let service = Arc::new(
        Service::load(source, config)
            .await
            .map_err(io::Error::other)?,
    );
    tokio::spawn(Service::poll(Arc::downgrade(&service)));
    Ok(service)
}

/// Reads the certificate files again on each SIGHUP.
async fn reload_on_hangup(
    tls: axum_server::tls_rustls::RustlsConfig,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: the certificate is reloaded only on restart");
        return;
    };
    while hangups.recv().await.is_some() {
        match tls.reload_from_pem_file(&cert, &key).await {
            Ok(()) => tracing::info!(cert = %cert.display(), "SIGHUP: certificate reloaded"),
            Err(e) => tracing::error!(cert = %cert.display(), error = %e,
                "SIGHUP: the new certificate cannot be used, still serving the old one"),
        }
    }
}
