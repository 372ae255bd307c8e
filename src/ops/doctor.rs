//! `wangge doctor`: is this machine fit to keep serving? Checks the store (SQLite's integrity
//! check, its schema version against this binary's), the free disk beside it, the TLS
//! certificate's expiry, the clock (not behind the store's newest write, synchronised) and the
//! time zone (patrol days are local days). Every finding says what to do.

use crate::store::{backup, known_migrations, Store};
use chrono::{DateTime, Local, Utc};
use std::path::Path;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but look at it.
    Warn,
    /// Must be fixed.
    Fail,
}

impl Level {
    /// The word printed before a finding.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

/// One check's finding.
#[derive(Clone, Debug)]
pub struct Finding {
    /// What was checked (`store`, `disk`, `tls`, `clock`, `timezone`).
    pub check: &'static str,
    /// How bad.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// What to do about it (empty when fine).
    pub todo: String,
}

fn finding(check: &'static str, level: Level, detail: String, todo: &str) -> Finding {
    Finding {
        check,
        level,
        detail,
        todo: todo.to_string(),
    }
}

/// What to examine.
#[derive(Clone, Debug, Default)]
pub struct Patient {
    /// The store (GeoPackage path or postgres:// URL).
    pub db: String,
    /// The TLS certificate served, if any.
    pub tls_cert: Option<std::path::PathBuf>,
}

/// Runs every check.
pub async fn examine(p: &Patient) -> Vec<Finding> {
    let mut out = Vec::new();
    let newest = check_store(&p.db, &mut out).await;
    if !p.db.contains("://") {
        out.push(check_disk(&p.db));
    }
    if let Some(cert) = &p.tls_cert {
        out.push(check_tls(cert));
    }
    out.push(check_clock(Utc::now(), newest.as_deref()));
    out.push(check_timezone());
    out
}

/// Checks the store; returns its newest write time if it could be read.
async fn check_store(db: &str, out: &mut Vec<Finding>) -> Option<String> {
    let known = known_migrations();
    if !db.contains("://") {
        let path = Path::new(db);
        let c = match backup::check_gpkg(path).await {
            Ok(c) => c,
            Err(e) => {
                out.push(finding("store", Level::Fail, e.to_string(),
                    "check --db; restore the newest backup with `wangge restore --from FILE --db STORE --force`"));
                return None;
            }
        };
        if !c.sound() {
            out.push(finding("store", Level::Fail,
                format!("{db}: SQLite integrity check failed: {}", c.integrity.join("; ")),
                "stop the service and restore the newest backup: `wangge restore --from FILE --db STORE --force`"));
            return None;
        }
        if c.migrations.is_empty() {
            out.push(finding(
                "store",
                Level::Fail,
                format!("{db}: not a wangge store"),
                "check --db / the config file's db",
            ));
            return None;
        }
        if let Some(v) = c.migrations.iter().find(|v| !known.contains(v)) {
            out.push(finding(
                "store",
                Level::Fail,
                format!(
                    "{db}: schema version {v} is newer than this wangge {} knows",
                    env!("CARGO_PKG_VERSION")
                ),
                "run the newer wangge that wrote it, or restore a backup made before the upgrade",
            ));
            return None;
        }
        if known.iter().any(|v| !c.migrations.contains(v)) {
            out.push(finding(
                "store",
                Level::Warn,
                format!(
                    "{db}: sound, schema version {} is older than this wangge's {}",
                    c.migrations.iter().max().unwrap_or(&0),
                    known.iter().max().unwrap_or(&0)
                ),
                "the next `wangge serve` upgrades it, after keeping a copy beside it",
            ));
            return None;
        }
    }
    match Store::open(db).await {
        Ok(store) => {
            let newest = store.newest_write().await.ok().flatten();
            let points = store.patrol_points_stored().await.unwrap_or(0);
            out.push(finding(
                "store",
                Level::Ok,
                format!(
                    "{}: sound, schema version {}, {points} patrol points",
                    store.target(),
                    known.iter().max().unwrap_or(&0)
                ),
                "",
            ));
            store.close().await;
            newest
        }
        Err(e) => {
            out.push(finding(
                "store",
                Level::Fail,
                e.to_string(),
                "check that the database is running and the URL is right",
            ));
            None
        }
    }
}

/// Free space on the store's file system, judged by [`disk_level`] against the store's size.
fn check_disk(db: &str) -> Finding {
    let dir = Path::new(db)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some((free, total)) = free_space(dir) else {
        return finding(
            "disk",
            Level::Warn,
            format!("{}: free space unknown", dir.display()),
            "check with `df -h`",
        );
    };
    let store = std::fs::metadata(db).map(|m| m.len()).unwrap_or(0);
    let pct = if total > 0 {
        free as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let detail = format!(
        "{}: {} MiB free ({pct:.0} %), store {} MiB",
        dir.display(),
        free >> 20,
        store >> 20
    );
    let level = disk_level(free, store);
    let todo = match level {
        Level::Ok => "",
        _ => "free space (old backups, logs) or move the store to a larger disk: backups and upgrades need room for a copy of the store",
    };
    finding("disk", level, detail, todo)
}

/// What `free` bytes beside a store of `store` bytes allow: a backup or an upgrade writes a
/// whole copy of the store beside it, so FAIL when one copy and 256 MiB no longer fit, warn
/// when two copies and 2 GiB no longer fit. Only sizes count: 9 % of a 250 GB disk is
/// plenty, 20 % of a 4 GB card is not.
///
/// ```
/// use wangge::ops::doctor::{disk_level, Level};
/// const MIB: u64 = 1 << 20;
/// assert_eq!(disk_level(24_000 * MIB, 40 * MIB), Level::Ok);
/// assert_eq!(disk_level(1_500 * MIB, 40 * MIB), Level::Warn);
/// assert_eq!(disk_level(200 * MIB, 40 * MIB), Level::Fail);
/// assert_eq!(disk_level(5_000 * MIB, 4_900 * MIB), Level::Fail);
/// ```
pub fn disk_level(free: u64, store: u64) -> Level {
    const MIB: u64 = 1 << 20;
    if free < store + 256 * MIB {
        Level::Fail
    } else if free < 2 * store + 2048 * MIB {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// (free bytes for unprivileged users, total bytes) of the file system holding `dir`.
#[allow(clippy::unnecessary_cast)] // the field types differ between platforms
pub fn free_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `s` a valid, writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    let frsize = s.f_frsize as u64;
    Some((s.f_bavail as u64 * frsize, s.f_blocks as u64 * frsize))
}

/// The TLS certificate: FAIL if unreadable or expired, warn within 30 days of expiry.
fn check_tls(cert: &Path) -> Finding {
    match crate::ops::tls::not_after(cert) {
        Err(e) => finding(
            "tls",
            Level::Fail,
            e.to_string(),
            "check [tls] cert in the config file",
        ),
        Ok(end) => {
            let days = (end - Utc::now()).num_days();
            let detail = format!(
                "{}: valid until {} ({days} days)",
                cert.display(),
                end.format("%Y-%m-%d")
            );
            let todo =
                "make a new certificate (`wangge cert`, or from your CA) and restart the service";
            if days < 0 {
                finding("tls", Level::Fail, detail, todo)
            } else if days < 30 {
                finding("tls", Level::Warn, detail, todo)
            } else {
                finding("tls", Level::Ok, detail, "")
            }
        }
    }
}

/// The clock: FAIL if it is behind the store's newest write (by 5 minutes or more) or before
/// 2025; warn if the system says it is not synchronised.
pub fn check_clock(now: DateTime<Utc>, newest: Option<&str>) -> Finding {
    let set = "set the clock (`timedatectl set-time`, or an intranet NTP server with chrony)";
    if now.timestamp() < 1_735_689_600 {
        return finding(
            "clock",
            Level::Fail,
            format!("the clock says {now}, before 2025"),
            set,
        );
    }
    if let Some(t) = newest.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        if t.with_timezone(&Utc) - now > chrono::TimeDelta::minutes(5) {
            return finding(
                "clock",
                Level::Fail,
                format!(
                    "the clock says {}, but the store holds a write at {t}: the clock went back",
                    now.format("%Y-%m-%dT%H:%M:%SZ")
                ),
                set,
            );
        }
    }
    let synced = std::process::Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "yes");
    let detail = format!("{} UTC", now.format("%Y-%m-%d %H:%M:%S"));
    match synced {
        Some(false) => finding(
            "clock",
            Level::Warn,
            format!("{detail}, not synchronised (NTP)"),
            "point chrony/systemd-timesyncd at the intranet's time server",
        ),
        _ => finding("clock", Level::Ok, detail, ""),
    }
}

/// The time zone: patrol days are local days; warn unless the offset is China's (UTC+8).
fn check_timezone() -> Finding {
    let offset = Local::now().offset().local_minus_utc();
    let name = std::env::var("TZ").ok().or_else(|| {
        std::fs::read_link("/etc/localtime").ok().map(|p| {
            p.to_string_lossy()
                .split("zoneinfo/")
                .last()
                .unwrap_or("")
                .to_string()
        })
    });
    let detail = format!(
        "{} (UTC{:+})",
        name.as_deref().unwrap_or("unknown"),
        offset / 3600
    );
    if offset == 8 * 3600 {
        finding("timezone", Level::Ok, detail, "")
    } else {
        finding("timezone", Level::Warn, detail,
            "patrol days are local days: set China's time zone (`timedatectl set-timezone Asia/Shanghai`) unless this is meant")
    }
}

/// The verdict over the findings: the worst level.
pub fn verdict(findings: &[Finding]) -> Level {
    findings.iter().map(|f| f.level).max().unwrap_or(Level::Ok)
}
