//! The service's config file (`wangge serve --config /etc/wangge/wangge.toml`): TOML holding
//! everything the flags of `wangge serve` do. Unknown keys and wrong values are errors naming the
//! file and line. Flags given on the command line override the file (see `src/cli/serve.rs`).
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! db = "/var/lib/wangge/wangge.gpkg"
//! private = true
//! [cache]
//! tile_mb = 48
//! [log]
//! format = "json"
//! ```

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A config file that could not be read or does not fit.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        #[source]
        source: std::io::Error,
    },
    /// A syntax error, an unknown key or a wrong value.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Line of the key or value at fault (1-based; 0 if unknown).
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// How request and service logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (for journald / log collectors).
    Json,
}

const LOG_FORMATS: &[(LogFormat, &str)] = &[(LogFormat::Text, "text"), (LogFormat::Json, "json")];

impl LogFormat {
    /// The name used in the config file and `--log-format`.
    pub fn as_str(self) -> &'static str {
        LOG_FORMATS.iter().find(|(f, _)| *f == self).unwrap().1
    }
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LOG_FORMATS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(f, _)| *f)
            .ok_or_else(|| format!("unknown log format {s:?} (expected text or json)"))
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The config file: every key is optional; what is missing takes the flag's default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    /// Address and port to listen on (`--listen`).
    pub listen: Option<SocketAddr>,
    /// The store: a GeoPackage path or postgres://… URL (`--db`).
    pub db: Option<String>,
    /// Every route but the pages and logging in needs a login (`--private`).
    pub private: Option<bool>,
    /// Seconds before a request not answered gets 408.
    pub request_timeout_s: Option<u64>,
    /// Cache sizes.
    #[serde(default)]
    pub cache: CacheFile,
    /// Logging.
    #[serde(default)]
    pub log: LogFile,
    /// TLS: certificate and key files (PEM).
    pub tls: Option<TlsFile>,
    /// Access to `/metrics` from other machines.
    #[serde(default)]
    pub metrics: MetricsFile,
}

/// `[cache]`: memory the server's caches may hold.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CacheFile {
    /// Rendered vector tiles, MiB (`--tile-cache-mb`, default 48).
    pub tile_mb: Option<u32>,
    /// Heat tiles of the current patrol points, MiB (`--heat-cache-mb`, default 8).
    pub heat_mb: Option<u32>,
}

/// `[log]`: how the service logs.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// `text` or `json` (`--log-format`).
    pub format: Option<LogFormat>,
    /// A tracing filter: `info`, `wangge=debug,info`, … (`--log-level`; `WANGGE_LOG` wins).
    pub level: Option<String>,
}

/// `[tls]`: serve HTTPS with these PEM files (`--tls-cert`, `--tls-key`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// `[metrics]`: who may read `/metrics`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// A bearer token for scrapers on other machines (loopback needs none; without a token,
    /// only loopback may read `/metrics`).
    pub token: Option<String>,
}

impl ServeFile {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<ServeFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ServeFile::parse(&text).map_err(|(line, message)| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Parses config text; an error is (line, message).
    pub fn parse(text: &str) -> Result<ServeFile, (usize, String)> {
        let file: ServeFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            let mut message = e.message().trim().to_string();
            // a wrong value's message names the type, not the key: quote the line
            if let Some(l) = text.lines().nth(line.wrapping_sub(1)).map(str::trim) {
                if !l.is_empty() && !message.contains(l) {
                    message = format!("{message} (in `{l}`)");
                }
            }
            (line, message)
        })?;
        file.check(text)?;
        Ok(file)
    }

    /// Checks what TOML types alone do not: sizes and timeouts above zero, TLS files both given.
    fn check(&self, text: &str) -> Result<(), (usize, String)> {
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(0, |i| i + 1)
        };
        for (key, v) in [
            ("tile_mb", self.cache.tile_mb),
            ("heat_mb", self.cache.heat_mb),
        ] {
            if v == Some(0) {
                return Err((line_of(key), format!("cache.{key} must be at least 1")));
            }
        }
        if self.request_timeout_s == Some(0) {
            return Err((
                line_of("request_timeout_s"),
                "request_timeout_s must be at least 1".into(),
            ));
        }
        if let Some(level) = &self.log.level {
            if !filter_ok(level) {
                return Err((
                    line_of("level"),
                    format!("log.level {level:?} is not a filter"),
                ));
            }
        }
        Ok(())
    }
}

/// The service's settings: the file's, overridden by flags, with defaults for what neither sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The store.
    pub db: String,
    /// `--private`.
    pub private: bool,
    /// Request timeout, seconds.
    pub request_timeout_s: u64,
    /// Tile cache, MiB.
    pub tile_cache_mb: u32,
    /// Heat tile cache, MiB.
    pub heat_cache_mb: u32,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// TLS certificate and key.
    pub tls: Option<TlsFile>,
    /// Bearer token for `/metrics` from other machines.
    pub metrics_token: Option<String>,
}

impl ServeFile {
    /// This file with every key `flags` sets replaced (flags override the file).
    pub fn overlay(self, flags: ServeFile) -> ServeFile {
        ServeFile {
            listen: flags.listen.or(self.listen),
            db: flags.db.or(self.db),
            private: flags.private.or(self.private),
            request_timeout_s: flags.request_timeout_s.or(self.request_timeout_s),
            cache: CacheFile {
                tile_mb: flags.cache.tile_mb.or(self.cache.tile_mb),
                heat_mb: flags.cache.heat_mb.or(self.cache.heat_mb),
            },
            log: LogFile {
                format: flags.log.format.or(self.log.format),
                level: flags.log.level.or(self.log.level),
            },
            tls: flags.tls.or(self.tls),
            metrics: MetricsFile {
                token: flags.metrics.token.or(self.metrics.token),
            },
        }
    }

    /// The settings, with defaults for what is not set (the defaults of `wangge serve`'s flags).
    pub fn settings(&self) -> Settings {
        Settings {
            listen: self.listen.unwrap_or(([127, 0, 0, 1], 8080).into()),
            db: self.db.clone().unwrap_or_else(|| "wangge.gpkg".into()),
            private: self.private.unwrap_or(false),
            request_timeout_s: self.request_timeout_s.unwrap_or(60),
            tile_cache_mb: self.cache.tile_mb.unwrap_or(48),
            heat_cache_mb: self.cache.heat_mb.unwrap_or(8),
            log_format: self.log.format.unwrap_or_default(),
            log_level: self.log.level.clone().unwrap_or_else(|| "info".into()),
            tls: self.tls.clone(),
            metrics_token: self.metrics.token.clone(),
        }
    }
}

/// Whether a log filter is made of known levels (`info`, `wangge=debug,warn`).
fn filter_ok(level: &str) -> bool {
    level.split(',').all(|part| {
        let lvl = part.rsplit('=').next().unwrap_or("").trim();
        matches!(lvl, "trace" | "debug" | "info" | "warn" | "error" | "off")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let f = ServeFile::parse(
            "listen = \"0.0.0.0:9000\"\ndb = \"/var/lib/wangge/wangge.gpkg\"\nprivate = true\n\
             [cache]\ntile_mb = 64\n[log]\nformat = \"json\"\n[metrics]\ntoken = \"s\"\n",
        )
        .unwrap();
        assert_eq!(f.listen, Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(f.cache.tile_mb, Some(64));
        assert_eq!(f.log.format, Some(LogFormat::Json));
        assert_eq!(f.private, Some(true));
    }

    #[test]
    fn flags_override_the_file() {
        let file =
            ServeFile::parse("db = \"a.gpkg\"\nprivate = true\n[cache]\ntile_mb = 9\n").unwrap();
        let flags = ServeFile {
            db: Some("b.gpkg".into()),
            ..Default::default()
        };
        let s = file.overlay(flags).settings();
        assert_eq!(s.db, "b.gpkg");
        assert!(s.private);
        assert_eq!(s.tile_cache_mb, 9);
        assert_eq!(s.heat_cache_mb, 8);
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn errors_name_the_line() {
        let (line, msg) = ServeFile::parse("db = \"x.gpkg\"\n\nlisen = \"1\"\n").unwrap_err();
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("lisen"), "{msg}");
        let (line, msg) =
            ServeFile::parse("db = \"x.gpkg\"\n[log]\nformat = \"xml\"\n").unwrap_err();
        assert_eq!(line, 3, "{msg}");
        assert!(msg.contains("xml"), "{msg}");
        let (line, _) = ServeFile::parse("listen = \"nowhere\"\n").unwrap_err();
        assert_eq!(line, 1);
        let (line, msg) = ServeFile::parse("[cache]\n\ntile_mb = 0\n").unwrap_err();
        assert_eq!(line, 3, "{msg}");
    }
}
