//! Running wangge for years on an intranet machine (运维): the service's config file
//! ([`config`]), the health checks of `wangge doctor` ([`doctor`]) and TLS certificate files
//! ([`tls`]). Backups and upgrades are the store's ([`crate::store::backup`]); the `/metrics`
//! counters live with the server ([`crate::serve::metrics`]).

pub mod config;
pub mod doctor;
pub mod tls;
