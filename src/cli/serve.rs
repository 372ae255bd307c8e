//! `wangge serve`: the map service over a store.

use super::{runtime, StoreArgs};
use anyhow::{Context, Result};

/// Flags of `wangge serve`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Every route but the pages and logging in needs a login (users: `wangge user add`).
    #[arg(long)]
    private: bool,
}

/// Runs `wangge serve` until the server stops.
pub fn run(a: Args) -> Result<()> {
    // a long-running server: two allocator arenas keep what threads free from piling up
    wangge::serve::memory::limit_arenas(2);
    let rt = runtime()?;
    rt.block_on(async {
        let db = &a.store.db;
        let store = a
            .store
            .open_existing(&format!(
                "make one with `wangge partition <input> --db {db}`"
            ))
            .await?;
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("serving {} on http://{addr}", store.target());
        let config = wangge::serve::Config {
            private: a.private,
            ..Default::default()
        };
        let source = std::sync::Arc::new(wangge::serve::StoreSource::new(store));
        wangge::serve::serve_with(listener, source, config)
            .await
            .context("the map service stopped")
    })
}
