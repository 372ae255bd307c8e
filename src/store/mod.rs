//! Storage (存储): a town's data and its plan versions, in an embedded GeoPackage file (the default,
//! no set-up, opens in QGIS) or in PostGIS (for shared deployments), behind one interface.
//!
//! - [`Store::open`] takes `town.gpkg` (a file path, created if missing) or `postgres://…`;
//! - [`Store::import`] loads villages, buildings and barriers; [`Store::save_run`] saves a
//!   partition run as a new plan version per village and activates it; both are one transaction:
//!   a failure leaves the store exactly as it was;
//! - [`Store::import_assignment`] saves a planner's edited building → grid CSV as new versions;
//! - [`Store::activate`] re-activates an earlier version, [`Store::diff`] compares two;
//! - [`Store::map_snapshot`] loads what the map shows (the active plans) for the server, and
//!   [`Store::map_changes`] what changed since; buildings are asked for by area, village or
//!   address ([`Store::buildings_in`], [`Store::building_stream`], [`Store::find_address`]);
//!   [`Store::snapshot`] loads all of it at once (with every building) for the command line.
//!
//! Writers say which active version they started from ([`Base`]); if another writer activated a
//! plan of the same village meanwhile, the write fails with [`StoreError::Conflict`] instead of
//! silently replacing it. The schema and its migrations are in [`schema`]; the rules for codes
//! across versions in [`versioning`].

pub mod accounts;
pub mod backup;
mod colour;
pub mod edit;
// -- events (issue 15) --
mod event_settings;
pub mod events;
// -- end events --
pub mod export;
mod health;
pub mod layer_file;
/// The geometry encodings the store writes (kept at the crate root: ingest reads them too).
pub use crate::geom_codec as geom;
mod map;
pub mod patrol;
// -- field (issue 18)
pub mod visits;
// -- end field
mod print;
mod read;
pub mod reassign;
pub mod schema;
// -- screen (issue 16) --
pub mod screen;
// -- end screen --
mod sql;
pub mod versioning;
mod write;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use map::{plan_views, AddressFound, BuildingFilter, MapChanges, VillageChange};
pub use read::{AssignmentRecord, GridRecord, MicroRecord, PlanData, PlanInfo, VillagePlanRecord};
pub use versioning::PlanDiff;
pub use write::Imported;

/// Which database a store lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An OGC GeoPackage file (SQLite).
    Gpkg,
    /// PostgreSQL with PostGIS.
    Postgis,
}

/// Something went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or answered with an error.
    #[error("{target}: {source}")]
    Db {
        /// The store (file or URL without password).
        target: String,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// Another writer changed the village's active plan since this change was prepared.
    #[error(
        "village {village}: conflict: version {found} is active now, but this change was based on {base}; \
         someone else saved or activated a plan meanwhile; reload and try again"
    )]
    Conflict {
        /// Village code.
        village: String,
        /// The active version the writer started from (`none` for no plan).
        base: String,
        /// The active version found at commit time.
        found: String,
    },
    /// A record does not fit (a duplicate id, a village missing, a code out of numbers).
    #[error("{what}: {why}")]
    Invalid {
        /// The record: `villages.geojson feature #3 (id 110…)`, `plan of village 110…`.
        what: String,
        /// Why it was refused.
        why: String,
    },
    /// Not found.
    #[error("{0} not found")]
    NotFound(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        #[source]
        source: std::io::Error,
    },
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Who saves a plan, and why (kept with every version).
#[derive(Clone, Debug, Default)]
pub struct PlanMeta {
    /// Who (a login or a name).
    pub author: String,
    /// Why: "initial partition", "split grid 007 after new estate", ….
    pub reason: String,
    /// The options the plan was made with, as JSON text.
    pub params: String,
}

/// The active plan versions a writer started from, per village code. A village absent from the
/// map is not checked.
#[derive(Clone, Debug, Default)]
pub struct Base(pub BTreeMap<String, Option<i64>>);

/// One village's newly saved plan version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Saved {
    /// Village code.
    pub village: String,
    /// New version number.
    pub version: i64,
    /// Grid codes kept from the previous active version.
    pub kept: usize,
    /// Grid codes newly issued.
    pub issued: usize,
    /// Grid codes retired.
    pub retired: usize,
    /// Grids and micro-grids given the fifth map colour (four not found around them).
    pub fifth_colour: Vec<String>,
}

/// A data store: a GeoPackage file or a PostGIS database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    target: String,
}

/// The GeoPackage `application_id` ("GPKG") and `user_version` (1.3.0).
const GPKG_APPLICATION_ID: i64 = 0x4750_4B47;
const GPKG_USER_VERSION: i64 = 10300;

impl Store {
    /// Opens (and creates or migrates) a store: a `postgres://` / `postgresql://` URL, or a file path
    /// for a GeoPackage (created if missing).
    pub async fn open(target: &str) -> Result<Store> {
        Store::open_at(target, i64::MAX).await
    }

    /// Opens a store migrated up to migration `version` only: for tests of the migrations.
    #[doc(hidden)]
    pub async fn open_at(target: &str, version: i64) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url, shown) =
            if target.starts_with("postgres://") || target.starts_with("postgresql://") {
                (Backend::Postgis, target.to_string(), redact(target))
            } else {
                let path = Path::new(target);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if !dir.is_dir() {
                        return Err(StoreError::Io {
                            path: path.to_path_buf(),
                            source: std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                "its folder does not exist",
                            ),
                        });
                    }
                }
                (
                    Backend::Gpkg,
                    format!("sqlite://{target}?mode=rwc"),
                    target.to_string(),
                )
            };
        let db = |source| StoreError::Db {
            target: shown.clone(),
            source,
        };
        let mut opts = AnyPoolOptions::new().max_connections(4);
        if backend == Backend::Postgis {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    // The store's queries are short index lookups whose row estimates (a JSON
                    // list of key ranges, say) look big enough for PostgreSQL to JIT-compile
                    // them on every call: hundreds of milliseconds for a 5 ms query.
                    conn.execute("SET jit = off").await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Gpkg {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Gpkg {
            backup_before_upgrade(Path::new(target), version).await?;
        }
        let pool = opts.connect(&url).await.map_err(db)?;
        let store = Store {
            pool,
            backend,
            target: shown,
        };
        store.migrate(version).await?;
        Ok(store)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The store's name (file path, or URL without its password).
    pub fn target(&self) -> &str {
        &self.target
    }

    pub(crate) fn db(&self, source: sqlx::Error) -> StoreError {
        StoreError::Db {
            target: self.target.clone(),
            source,
        }
    }

    /// Applies the migrations not yet applied, up to `upto`, each in one transaction.
    async fn migrate(&self, upto: i64) -> Result<()> {
        use sqlx::{Executor, Row};
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        if self.backend == Backend::Gpkg {
            // A GeoPackage: its application id and version, then its core tables.
            let id: i64 = sqlx::query("PRAGMA application_id")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.db(e))?
                .try_get(0)
                .map_err(|e| self.db(e))?;
            let tables: i64 = sqlx::query("SELECT count(*) FROM sqlite_master")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| self.db(e))?
                .try_get(0)
                .map_err(|e| self.db(e))?;
            if id != GPKG_APPLICATION_ID && tables > 0 {
                return Err(StoreError::Invalid {
                    what: self.target.clone(),
                    why: "is an SQLite file but not a GeoPackage (application_id is not GPKG)"
                        .into(),
                });
            }
            conn.execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(|e| self.db(e))?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(|e| self.db(e))?;
            tx.execute(sqlx::AssertSqlSafe(format!(
                "PRAGMA application_id = {GPKG_APPLICATION_ID}"
            )))
            .await
            .map_err(|e| self.db(e))?;
            tx.execute(sqlx::AssertSqlSafe(format!(
                "PRAGMA user_version = {GPKG_USER_VERSION}"
            )))
            .await
            .map_err(|e| self.db(e))?;
            for s in schema::gpkg_core() {
                tx.execute(sqlx::AssertSqlSafe(s))
                    .await
                    .map_err(|e| self.db(e))?;
            }
            tx.commit().await.map_err(|e| self.db(e))?;
        } else {
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                .await
                .map_err(|e| self.db(e))?;
        }
        conn.execute(
            "CREATE TABLE IF NOT EXISTS wangge_migrations (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .await
        .map_err(|e| self.db(e))?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM wangge_migrations")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.db(e))?;
        refuse_newer(&self.target, &applied)?;
        // every pending migration in one transaction: an upgrade happens whole or not at all
        let mut tx = self.begin_write(&mut conn).await?;
        for m in schema::migrations(self.backend) {
            let (version, name) = (m.version, m.name);
            if version > upto {
                break;
            }
            let done = sqlx::query("SELECT count(*) FROM wangge_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.db(e))?
                .try_get::<i64, _>(0)
                .map_err(|e| self.db(e))?;
            if done > 0 {
                continue;
            }
            for s in m.stmts {
                tx.execute(sqlx::AssertSqlSafe(s))
                    .await
                    .map_err(|e| self.db(e))?;
            }
            if m.fill_building_keys {
                self.fill_building_keys(&mut tx).await?;
            }
            for s in m.after {
                tx.execute(sqlx::AssertSqlSafe(s))
                    .await
                    .map_err(|e| self.db(e))?;
            }
            if version == 2 {
                self.move_patrol_points(&mut tx).await?;
            }
            sqlx::query(
                "INSERT INTO wangge_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Starts a write transaction. On a GeoPackage it takes SQLite's write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue instead of failing half-way; on PostGIS, writers to
    /// one village queue on its row lock (see `lock_village`).
    pub(crate) async fn begin_write<'c>(
        &self,
        conn: &'c mut sqlx::pool::PoolConnection<sqlx::Any>,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>> {
        let stmt = match self.backend {
            Backend::Gpkg => "BEGIN IMMEDIATE",
            Backend::Postgis => "BEGIN",
        };
        sqlx::Connection::begin_with(&mut **conn, stmt)
            .await
            .map_err(|e| self.db(e))
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// ---- ops (issue 20): upgrades — refuse a newer store, back up an older GeoPackage first ----

/// The schema migrations this binary knows, in order.
pub fn known_migrations() -> Vec<i64> {
    schema::migrations(Backend::Gpkg)
        .iter()
        .map(|m| m.version)
        .collect()
}

/// Refuses a store with migrations this binary does not know (made by a newer wangge).
fn refuse_newer(target: &str, applied: &[i64]) -> Result<()> {
    let known = known_migrations();
    let unknown: Vec<String> = applied
        .iter()
        .filter(|v| !known.contains(v))
        .map(|v| v.to_string())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(StoreError::Invalid {
        what: target.to_string(),
        why: format!(
            "is at schema version {} (migrations {} unknown here), but this wangge {} knows              schema versions up to {}: it was written by a newer wangge; run that version or              a newer one (or restore a backup made before the upgrade)",
            applied.iter().max().copied().unwrap_or(0),
            unknown.join(", "),
            env!("CARGO_PKG_VERSION"),
            known.iter().max().copied().unwrap_or(0),
        ),
    })
}

/// Before a GeoPackage at an older schema is migrated (up to `upto`), copies it beside itself as
/// `NAME.schema-vN.gpkg` (N: its schema version; `-2`, `-3`… if that name is taken).
async fn backup_before_upgrade(path: &Path, upto: i64) -> Result<Option<PathBuf>> {
    if !path.is_file() || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
        return Ok(None);
    }
    let applied = backup::gpkg_migrations(path).await?;
    let Some(&old) = applied.iter().max() else {
        return Ok(None);
    };
    refuse_newer(&path.display().to_string(), &applied)?;
    let pending = known_migrations()
        .into_iter()
        .any(|v| v <= upto && !applied.contains(&v));
    if !pending {
        return Ok(None);
    }
    let stem = path
        .file_stem()
        .map_or("wangge".into(), |s| s.to_string_lossy());
    let mut n = 1;
    let out = loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let p = path.with_file_name(format!("{stem}.schema-v{old}{suffix}.gpkg"));
        if !p.exists() {
            break p;
        }
        n += 1;
    };
    backup::backup_gpkg(path, &out).await?;
    tracing::warn!(store = %path.display(), backup = %out.display(), schema = old,
        "upgrading an older store: a copy was kept first");
    eprintln!(
        "{}: schema version {old} is older than this wangge's; a copy was kept as {} before \
         upgrading",
        path.display(),
        out.display()
    );
    Ok(Some(out))
}

/// The time now, RFC 3339 in UTC to the second.
pub(crate) fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A URL with its password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::redact("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://u:***@127.0.0.1:5432/db"
        );
        assert_eq!(super::redact("town.gpkg"), "town.gpkg");
    }
}
