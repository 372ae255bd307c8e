//! Copies of a GeoPackage store (备份): a consistent copy taken while the server writes
//! (SQLite's `VACUUM INTO` reads one snapshot in a read transaction), written to a temporary file
//! beside the target and renamed over it only when complete, so a backup file is never half
//! written; its restore; and the schema version a store file is at (for upgrades).
//!
//! PostGIS stores are backed up with `pg_dump` (see the README).

use super::{Result, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};
use std::path::{Path, PathBuf};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn db(path: &Path) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |source| StoreError::Db {
        target: path.display().to_string(),
        source,
    }
}

/// Opens a GeoPackage file as it is (no migration), read-only.
async fn open_ro(path: &Path) -> Result<SqliteConnection> {
    if !path.is_file() {
        return Err(StoreError::NotFound(format!("store {}", path.display())));
    }
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .map_err(db(path))
}

/// A temporary name beside `target` (same folder, so the rename is atomic).
fn partial_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wangge.gpkg".into());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Flushes `file` and its folder to disk, then renames `tmp` to `target`.
fn commit_file(tmp: &Path, target: &Path) -> Result<()> {
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(tmp))?;
    std::fs::rename(tmp, target).map_err(io(target))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // a folder fsync makes the rename itself durable (best effort: not every FS allows it)
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Writes a consistent copy of the GeoPackage `store` to `out` (replacing `out` if it exists),
/// while other connections may be writing: one read snapshot, whole transactions only.
pub async fn backup_gpkg(store: &Path, out: &Path) -> Result<u64> {
    let mut conn = open_ro(store).await?;
    let tmp = partial_name(out);
    let _ = std::fs::remove_file(&tmp);
    let res = sqlx::query("VACUUM INTO $1")
        .bind(tmp.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(db(store));
    let _ = conn.close().await;
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = set_delete_journal(&tmp).await {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    commit_file(&tmp, out)?;
    Ok(std::fs::metadata(out).map_err(io(out))?.len())
}

/// A copy made by `VACUUM INTO` keeps the source's WAL mode; a backup is one self-contained
/// file, so it is switched to a rollback journal (the store turns WAL on again when opened).
async fn set_delete_journal(path: &Path) -> Result<()> {
    let c = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Delete)
        .connect()
        .await
        .map_err(db(path))?;
    c.close().await.map_err(db(path))
}

/// What [`check_gpkg`] found in a store file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCheck {
    /// SQLite's `PRAGMA integrity_check` answer: `["ok"]` when healthy.
    pub integrity: Vec<String>,
    /// The migrations applied (empty: not a wangge store).
    pub migrations: Vec<i64>,
}

impl FileCheck {
    /// Whether SQLite found the file sound.
    pub fn sound(&self) -> bool {
        self.integrity == ["ok"]
    }
}

/// Checks a GeoPackage file as it is: SQLite's integrity check and the migrations applied.
pub async fn check_gpkg(path: &Path) -> Result<FileCheck> {
    let mut conn = open_ro(path).await?;
    let integrity: Vec<String> = sqlx::query("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .map_err(db(path))?
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
        .collect();
    let migrations = applied_migrations(&mut conn, path).await?;
    let _ = conn.close().await;
    Ok(FileCheck {
        integrity,
        migrations,
    })
}

async fn applied_migrations(conn: &mut SqliteConnection, path: &Path) -> Result<Vec<i64>> {
    let has: i64 = sqlx::query(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'wangge_migrations'",
    )
    .fetch_one(&mut *conn)
    .await
    .and_then(|r| r.try_get(0))
    .map_err(db(path))?;
    if has == 0 {
        return Ok(Vec::new());
    }
    sqlx::query("SELECT version FROM wangge_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(db(path))?
        .iter()
        .map(|r| r.try_get::<i64, _>(0).map_err(db(path)))
        .collect()
}

/// The migrations applied to a GeoPackage file (empty for a new or foreign file).
pub async fn gpkg_migrations(path: &Path) -> Result<Vec<i64>> {
    let mut conn = open_ro(path).await?;
    let v = applied_migrations(&mut conn, path).await;
    let _ = conn.close().await;
    v
}

/// Puts the backup `from` in place as the GeoPackage store `to`: checks it first (sound, a
/// wangge store), refuses to replace an existing store unless `force`, and replaces it in one
/// rename (its stale `-wal`/`-shm` files removed). The server must be stopped meanwhile.
pub async fn restore_gpkg(from: &Path, to: &Path, force: bool) -> Result<FileCheck> {
    let check = check_gpkg(from).await?;
    let why = if !check.sound() {
        Some(format!("is damaged: {}", check.integrity.join("; ")))
    } else if check.migrations.is_empty() {
        Some("is not a wangge store (no wangge_migrations table)".into())
    } else {
        None
    };
    if let Some(why) = why {
        return Err(StoreError::Invalid {
            what: from.display().to_string(),
            why,
        });
    }
    if to.exists() && !force {
        return Err(StoreError::Invalid {
            what: to.display().to_string(),
            why: "exists; give --force to replace it (take a backup of it first)".into(),
        });
    }
    let tmp = partial_name(to);
    std::fs::copy(from, &tmp).map_err(io(&tmp))?;
    for side in ["-wal", "-shm"] {
        let mut p = to.as_os_str().to_owned();
        p.push(side);
        match std::fs::remove_file(PathBuf::from(&p)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(Path::new(&p))(e)),
        }
    }
    commit_file(&tmp, to)?;
    Ok(check)
}
