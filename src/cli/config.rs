//! `wangge config check FILE`: validates the service's config file and prints the settings it
//! gives (with defaults filled in); a wrong key or value is an error naming the line.

use anyhow::Result;
use std::path::PathBuf;
use wangge::ops::config::ServeFile;

/// `wangge config …`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a config file and print the settings it gives.
    Check {
        /// The config file (TOML), e.g. /etc/wangge/wangge.toml.
        file: PathBuf,
    },
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> Result<()> {
        match self {
            Command::Check { file } => {
                let s = ServeFile::read(&file)?.settings();
                println!("{}: ok", file.display());
                println!("listen = {}", s.listen);
                println!("db = {}", s.db);
                println!("private = {}", s.private);
                println!("request_timeout_s = {}", s.request_timeout_s);
                println!("cache.tile_mb = {}", s.tile_cache_mb);
                println!("cache.heat_mb = {}", s.heat_cache_mb);
                println!("log.format = {}", s.log_format);
                println!("log.level = {}", s.log_level);
                match &s.tls {
                    Some(t) => println!("tls = {} + {}", t.cert.display(), t.key.display()),
                    None => println!("tls = off"),
                }
                let metrics = if s.metrics_token.is_some() {
                    "loopback, or bearer token"
                } else {
                    "loopback only"
                };
                println!("metrics = {metrics}");
                Ok(())
            }
        }
    }
}
