//! Running wangge for years on an intranet machine (运维): the service's config file
//! ([`config`]), consistent backups and restores of a store ([`backup`]), and the health checks
//! of `wangge doctor` ([`doctor`]). The `/metrics` counters live with the server
//! ([`crate::serve::metrics`]).

pub mod backup;
pub mod config;
pub mod doctor;
pub mod tls;
