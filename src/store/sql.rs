//! SQL helpers shared by both backends: batched multi-row inserts and geometry in/out expressions.
//!
//! Both backends take the same SQL with `$1`-style parameters. Only geometry differs: a GeoPackage
//! stores its own blob (`$n`), PostGIS parses WKB (`ST_GeomFromWKB($n, 4326)`) and hands it back
//! with `ST_AsBinary(geom)`.

use super::geom::{from_gpkg, from_wkb, to_gpkg, to_wkb, GeomError};
use super::{Backend, Store, StoreError};
use geo::Geometry;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

/// A value to insert.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Int(i64),
    Real(f64),
    Text(String),
    OptText(Option<String>),
    OptInt(Option<i64>),
    OptReal(Option<f64>),
    Geom(Geometry<f64>),
}

impl Store {
    /// The SQL expression for geometry parameter `$n`.
    pub(crate) fn geom_param(&self, n: usize) -> String {
        match self.backend {
            Backend::Gpkg => format!("${n}"),
            Backend::Postgis => format!("ST_GeomFromWKB(${n}, 4326)"),
        }
    }

    /// The SQL expression that reads geometry column `col` as bytes for [`Store::decode_geom`].
    pub(crate) fn geom_out(&self, col: &str) -> String {
        match self.backend {
            Backend::Gpkg => col.to_string(),
            Backend::Postgis => format!("ST_AsBinary({col})"),
        }
    }

    /// Bytes of a geometry as this backend takes them.
    pub(crate) fn encode_geom(&self, g: &Geometry<f64>) -> Vec<u8> {
        match self.backend {
            Backend::Gpkg => to_gpkg(g),
            Backend::Postgis => to_wkb(g),
        }
    }

    /// A geometry from the bytes [`Store::geom_out`] selected.
    pub(crate) fn decode_geom(&self, b: &[u8]) -> Result<Geometry<f64>, GeomError> {
        match self.backend {
            Backend::Gpkg => from_gpkg(b),
            Backend::Postgis => from_wkb(b),
        }
    }

    /// Reads geometry column `i` of a row.
    pub(crate) fn row_geom(&self, row: &AnyRow, col: &str) -> super::Result<Geometry<f64>> {
        let b: Vec<u8> = row.try_get(col).map_err(|e| self.db(e))?;
        self.decode_geom(&b).map_err(|e| StoreError::Invalid {
            what: format!("{}: column {col}", self.target),
            why: e.to_string(),
        })
    }

    /// Inserts rows in batches of multi-row `INSERT … VALUES (…), (…)` (one prepared statement per
    /// batch size, so the database parses it once). `on_row` is called with the count so far.
    pub(crate) async fn insert_many(
        &self,
        conn: &mut AnyConnection,
        table: &str,
        cols: &[&str],
        rows: &mut (dyn Iterator<Item = Vec<Val>> + Send),
        on_rows: &mut (dyn FnMut(usize) + Send),
    ) -> super::Result<usize> {
        // SQLite allows 32,766 parameters, PostgreSQL 65,535; stay well under both.
        let per = (4000 / cols.len()).clamp(1, 500);
        let mut batch: Vec<Vec<Val>> = Vec::with_capacity(per);
        let mut total = 0;
        let mut rows = rows.peekable();
        while rows.peek().is_some() {
            batch.clear();
            batch.extend(rows.by_ref().take(per));
            let sql = self.insert_sql(table, cols, &batch[0], batch.len());
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in batch.drain(..) {
                for v in row {
                    q = match v {
                        Val::Int(i) => q.bind(i),
                        Val::Real(f) => q.bind(f),
                        Val::Text(s) => q.bind(s),
                        Val::OptText(s) => q.bind(s),
                        Val::OptInt(i) => q.bind(i),
                        Val::OptReal(f) => q.bind(f),
                        Val::Geom(g) => q.bind(self.encode_geom(&g)),
                    };
                }
            }
            let n = q
                .execute(&mut *conn)
                .await
                .map_err(|e| self.db(e))?
                .rows_affected();
            total += n as usize;
            on_rows(total);
        }
        Ok(total)
    }

    fn insert_sql(&self, table: &str, cols: &[&str], first: &[Val], n: usize) -> String {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut p = 0;
        for r in 0..n {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for (c, v) in first.iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                p += 1;
                if matches!(v, Val::Geom(_)) {
                    sql.push_str(&self.geom_param(p));
                } else {
                    sql.push('$');
                    sql.push_str(&p.to_string());
                }
            }
            sql.push(')');
        }
        sql
    }
}
