//! Fresh stores for the tests, on every backend: a GeoPackage file always, and a new database in a
//! real PostgreSQL + PostGIS when `WANGGE_TEST_PG` names an admin URL (scripts/test starts a
//! throwaway cluster, sets it, and sets `WANGGE_REQUIRE_PG=1` so CI cannot skip it silently).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A backend to run a test against.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Gpkg,
    Postgis,
}

/// The backends this run tests.
pub fn kinds() -> Vec<Kind> {
    let mut k = vec![Kind::Gpkg];
    match std::env::var("WANGGE_TEST_PG") {
        Ok(_) => k.push(Kind::Postgis),
        Err(_) if std::env::var("WANGGE_REQUIRE_PG").is_ok() => {
            panic!("WANGGE_REQUIRE_PG is set but WANGGE_TEST_PG (a PostgreSQL admin URL) is not")
        }
        Err(_) => eprintln!("NOTE: WANGGE_TEST_PG not set: PostGIS half skipped"),
    }
    k
}

/// The target (file path or URL) of a fresh, empty store of this kind.
pub async fn fresh_target(kind: Kind, dir: &Path) -> String {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    match kind {
        Kind::Gpkg => dir
            .join(format!("store{n}.gpkg"))
            .to_str()
            .unwrap()
            .to_string(),
        Kind::Postgis => {
            use sqlx::{Connection, Executor};
            let admin = std::env::var("WANGGE_TEST_PG").unwrap();
            let name = format!("wangge_t{}_{n}", std::process::id());
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .expect("admin connection");
            c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').unwrap().0;
            format!("{base}/{name}")
        }
    }
}

/// Runs `sql` on a store's database through its own driver (not wangge's), as another tool
/// would: to age a store or damage it on purpose.
pub async fn execute_sql(kind: Kind, target: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match kind {
        Kind::Gpkg => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{target}"))
                .await
                .expect("open the GeoPackage");
            c.execute(sql).await.expect("run SQL on the GeoPackage");
        }
        Kind::Postgis => {
            let mut c = sqlx::PgConnection::connect(target)
                .await
                .expect("connect to the store");
            c.execute(sql).await.expect("run SQL on PostGIS");
        }
    }
}
