//! SQL helpers shared by both backends: batched inserts (a batch is one JSON parameter) and
//! geometry in/out expressions.
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

    /// Inserts rows in batches. Each batch travels as ONE parameter, a JSON array of rows, which
    /// the database unpacks itself (`json_each` in SQLite, `jsonb_array_elements` in PostgreSQL, whose
    /// binary form reads each field directly where `json` re-scans the text for every `->>`):
    /// binding every value separately costs more than the insert. Geometry goes as hex of the
    /// backend's bytes. `on_conflict` is appended (e.g. `ON CONFLICT (…) DO NOTHING`);
    /// `on_rows` is called with the count so far. Returns the rows inserted.
    pub(crate) async fn insert_many(
        &self,
        conn: &mut AnyConnection,
        table: &str,
        cols: &[&str],
        on_conflict: Option<&str>,
        rows: &mut (dyn Iterator<Item = Vec<Val>> + Send),
        on_rows: &mut (dyn FnMut(usize) + Send),
    ) -> super::Result<usize> {
        let mut sql: Option<String> = None;
        let mut total = 0;
        let mut next = self.json_batch(rows, &mut |first| {
            let mut s = self.insert_sql(table, cols, first);
            if let Some(c) = on_conflict {
                // `WHERE true`: after `INSERT … SELECT … FROM json_each(…)`, SQLite reads
                // `ON CONFLICT` as a join constraint unless a WHERE clause comes first (a
                // parsing ambiguity its documentation names); PostgreSQL accepts it too.
                s.push_str(" WHERE true ");
                s.push_str(c);
            }
            sql = Some(s);
        });
        let Some(sql) = sql else { return Ok(0) };
        while let Some(json) = next {
            // The database works on this batch (PostgreSQL in its own process, SQLite on sqlx's
            // worker thread) while this task encodes the next one.
            let q = sqlx::query(AssertSqlSafe(sql.clone())).bind(json);
            let (done, built) = tokio::join!(q.execute(&mut *conn), async {
                self.json_batch(rows, &mut |_| {})
            });
            total += done.map_err(|e| self.db(e))?.rows_affected() as usize;
            on_rows(total);
            next = built;
        }
        Ok(total)
    }

    /// The next batch of `rows` as one JSON array, or `None` when they are all sent. `first` sees
    /// the first row of the batch (its types decide the SQL).
    fn json_batch(
        &self,
        rows: &mut (dyn Iterator<Item = Vec<Val>> + Send),
        first: &mut dyn FnMut(&[Val]),
    ) -> Option<String> {
        const PER_BATCH: usize = 2000;
        let mut json = String::new();
        for (i, row) in rows.take(PER_BATCH).enumerate() {
            if i == 0 {
                first(&row);
                json.reserve(PER_BATCH * 64);
                json.push('[');
            } else {
                json.push(',');
            }
            self.push_json_row(&mut json, row);
        }
        if json.is_empty() {
            return None;
        }
        json.push(']');
        Some(json)
    }

    /// `INSERT INTO table (cols) SELECT <each column from the JSON row> FROM <rows of $1>`.
    fn insert_sql(&self, table: &str, cols: &[&str], first: &[Val]) -> String {
        let exprs: Vec<String> = first
            .iter()
            .enumerate()
            .map(|(i, v)| match (self.backend, v) {
                (Backend::Gpkg, Val::Geom(_)) => format!("unhex(value ->> {i})"),
                (Backend::Gpkg, _) => format!("value ->> {i}"),
                (Backend::Postgis, Val::Geom(_)) => {
                    format!("ST_GeomFromWKB(decode(v ->> {i}, 'hex'), 4326)")
                }
                (Backend::Postgis, Val::Int(_) | Val::OptInt(_)) => format!("(v ->> {i})::bigint"),
                (Backend::Postgis, Val::Real(_) | Val::OptReal(_)) => {
                    format!("(v ->> {i})::double precision")
                }
                (Backend::Postgis, Val::Text(_) | Val::OptText(_)) => format!("v ->> {i}"),
            })
            .collect();
        let from = match self.backend {
            Backend::Gpkg => "json_each($1)",
            Backend::Postgis => "jsonb_array_elements($1::jsonb) AS r(v)",
        };
        format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {from}",
            cols.join(", "),
            exprs.join(", ")
        )
    }

    fn push_json_row(&self, out: &mut String, row: Vec<Val>) {
        use std::fmt::Write as _;
        out.push('[');
        for (i, v) in row.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match v {
                Val::Int(n) | Val::OptInt(Some(n)) => {
                    let _ = write!(out, "{n}");
                }
                Val::Real(f) | Val::OptReal(Some(f)) if f.is_finite() => {
                    // Rust's shortest round-trip form: parsed back to the same f64.
                    let _ = write!(out, "{f:?}");
                }
                Val::Text(s) | Val::OptText(Some(s)) => {
                    out.push_str(&serde_json::to_string(&s).expect("a string serialises"))
                }
                Val::Real(_) | Val::OptReal(_) | Val::OptInt(None) | Val::OptText(None) => {
                    out.push_str("null")
                }
                Val::Geom(g) => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push('"');
                    for b in self.encode_geom(&g) {
                        out.push(HEX[(b >> 4) as usize] as char);
                        out.push(HEX[(b & 15) as usize] as char);
                    }
                    out.push('"');
                }
            }
        }
        out.push(']');
    }
}
