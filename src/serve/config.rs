//! Settings of the map service (服务配置): where to listen is the caller's business (it hands over a
//! bound listener); these are the knobs of the server itself.

use std::time::Duration;

/// Settings of the map service.
#[derive(Clone, Debug)]
pub struct Config {
    /// How often the source's revision is polled for a newly activated plan (500 ms: a new plan
    /// shows in tiles within a second).
    pub poll_interval: Duration,
    /// Memory the cache of rendered (gzipped) tiles may hold, in bytes.
    pub tile_cache_bytes: usize,
    /// Memory the cache of heat tiles of the current patrol points may hold, in bytes.
    pub heat_cache_bytes: usize,
    /// Zoom levels advertised in TileJSON (tiles are served at any zoom up to
    /// [`crate::tiles::MAX_ZOOM`]).
    pub min_zoom: u8,
    /// Deepest zoom advertised in TileJSON; clients over-zoom beyond it.
    pub max_zoom: u8,
    /// Metres added to a converted point's uncertainty before a point near a border is called
    /// ambiguous (GPS error of a phone).
    pub gps_margin_m: f64,
    /// The same margin for raw WGS84 input.
    pub wgs84_margin_m: f64,
    /// Where users, tokens, sessions and the audit log are kept when the source has no store
    /// of its own (a [`super::StaticSource`]); a store source keeps them in its store.
    pub accounts: Option<crate::store::Store>,
    /// Every route but page assets and logging in needs a login (`wangge serve --private`).
    pub private: bool,
    /// Session cookies are `Secure` (the server is behind TLS).
    pub secure_cookies: bool,
    /// A request not answered within this (a client sending its body slowly, say) gets 408.
    pub request_timeout: Duration,
    /// A bearer token that lets other machines read `/metrics` (loopback needs none).
    pub metrics_token: Option<String>,
    /// The private CA (PEM) at the end of the served certificate chain, offered at `/ca.pem`
    /// for phones and PCs to install (see [`crate::ops::tls::private_root`]).
    pub ca_pem: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            poll_interval: Duration::from_millis(500),
            tile_cache_bytes: 48 << 20,
            heat_cache_bytes: 8 << 20,
            min_zoom: 0,
            max_zoom: 16,
            gps_margin_m: 3.0,
            wgs84_margin_m: 1.0,
            accounts: None,
            private: false,
            secure_cookies: false,
            request_timeout: Duration::from_secs(60),
            metrics_token: None,
            ca_pem: None,
        }
    }
}
