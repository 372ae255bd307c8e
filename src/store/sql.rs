//! SQL helpers shared by both backends: batched inserts (a batch is one JSON parameter for
//! SQLite, one array parameter per column for PostgreSQL) and geometry in/out expressions.
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

    /// A subquery of the strings of the JSON array parameter `$n`, for `col IN (…)`.
    pub(crate) fn json_text_list(&self, n: usize) -> String {
        match self.backend {
            Backend::Gpkg => format!("SELECT value FROM json_each(${n})"),
            Backend::Postgis => format!("SELECT jsonb_array_elements_text(${n}::jsonb)"),
        }
    }

    /// Inserts rows in batches. Each batch travels as few parameters, which the database
    /// unpacks itself: one JSON array of rows for SQLite (`json_each`), one array per column for
    /// PostgreSQL (`unnest($1::bigint[], $2::text[], …)`); binding every value separately costs
    /// more than the insert. Geometry goes as hex of the backend's bytes. `on_conflict` is
    /// appended (e.g. `ON CONFLICT (…) DO NOTHING`); `on_rows` is called with the count so far.
    /// Returns the rows inserted.
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
        let mut next = self.batch(rows, &mut |first| {
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
        while let Some(params) = next {
            // The database works on this batch (PostgreSQL in its own process, SQLite on sqlx's
            // worker thread) while this task encodes the next one.
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for p in params {
                q = q.bind(p);
            }
            let (done, built) = tokio::join!(q.execute(&mut *conn), async {
                self.batch(rows, &mut |_| {})
            });
            total += done.map_err(|e| self.db(e))?.rows_affected() as usize;
            on_rows(total);
            next = built;
        }
        Ok(total)
    }

    /// The parameters of the next batch of `rows`, or `None` when they are all sent: one JSON
    /// array for a GeoPackage, one array literal per column for PostgreSQL. `first` sees the
    /// first row of the batch (its types decide the SQL).
    fn batch(
        &self,
        rows: &mut (dyn Iterator<Item = Vec<Val>> + Send),
        first: &mut dyn FnMut(&[Val]),
    ) -> Option<Vec<String>> {
        match self.backend {
            Backend::Gpkg => self.json_batch(rows, first).map(|j| vec![j]),
            Backend::Postgis => self.column_batch(rows, first),
        }
    }

    /// The next batch as one PostgreSQL array literal per column (`{1,NULL,"a \"b\""}`), which
    /// `unnest($1::bigint[], $2::text[], …)` zips back into rows: the server parses each value
    /// once with its type's input function, where a JSON batch parsed the document and then
    /// extracted and converted every field (a 1.5M-household import: 96k-115k buildings/s with
    /// JSON, 131k with arrays).
    fn column_batch(
        &self,
        rows: &mut (dyn Iterator<Item = Vec<Val>> + Send),
        first: &mut dyn FnMut(&[Val]),
    ) -> Option<Vec<String>> {
        const PER_BATCH: usize = 2000;
        let mut cols: Vec<String> = Vec::new();
        for (i, row) in rows.take(PER_BATCH).enumerate() {
            if i == 0 {
                first(&row);
                cols = row.iter().map(|_| String::from("{")).collect();
            }
            for (c, v) in cols.iter_mut().zip(row) {
                if i > 0 {
                    c.push(',');
                }
                self.push_value(c, v, Spelling::PgArray);
            }
        }
        if cols.is_empty() {
            return None;
        }
        for c in &mut cols {
            c.push('}');
        }
        Some(cols)
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
                    format!("ST_GeomFromWKB(decode(u.c{i}, 'hex'), 4326)")
                }
                (Backend::Postgis, _) => format!("u.c{i}"),
            })
            .collect();
        let from = match self.backend {
            Backend::Gpkg => "json_each($1)".to_string(),
            Backend::Postgis => {
                let arrays: Vec<String> = first
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let ty = match v {
                            Val::Int(_) | Val::OptInt(_) => "bigint",
                            Val::Real(_) | Val::OptReal(_) => "double precision",
                            Val::Text(_) | Val::OptText(_) | Val::Geom(_) => "text",
                        };
                        format!("${}::{ty}[]", i + 1)
                    })
                    .collect();
                let names: Vec<String> = (0..first.len()).map(|i| format!("c{i}")).collect();
                format!("unnest({}) AS u({})", arrays.join(", "), names.join(", "))
            }
        };
        format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {from}",
            cols.join(", "),
            exprs.join(", ")
        )
    }

    fn push_json_row(&self, out: &mut String, row: Vec<Val>) {
        out.push('[');
        for (i, v) in row.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.push_value(out, v, Spelling::Json);
        }
        out.push(']');
    }

    /// Appends `v` as `spelling` writes it. Numbers are the same in both: integers as they are,
    /// reals in Rust's shortest round-trip form (parsed back to the same f64); a non-finite real
    /// is null. Geometry is hex of the backend's bytes.
    fn push_value(&self, out: &mut String, v: Val, spelling: Spelling) {
        use std::fmt::Write as _;
        let json = matches!(spelling, Spelling::Json);
        match v {
            Val::Int(n) | Val::OptInt(Some(n)) => {
                let _ = write!(out, "{n}");
            }
            Val::Real(f) | Val::OptReal(Some(f)) if f.is_finite() => {
                let _ = write!(out, "{f:?}");
            }
            Val::Text(t) | Val::OptText(Some(t)) if json => {
                out.push_str(&serde_json::to_string(&t).expect("a string serialises"))
            }
            Val::Text(t) | Val::OptText(Some(t)) => {
                // an array element in double quotes: only `"` and `\` are escaped
                out.push('"');
                for ch in t.chars() {
                    if ch == '"' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push('"');
            }
            Val::Real(_) | Val::OptReal(_) | Val::OptInt(None) | Val::OptText(None) => {
                out.push_str(if json { "null" } else { "NULL" })
            }
            Val::Geom(g) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                if json {
                    out.push('"');
                }
                for b in self.encode_geom(&g) {
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                }
                if json {
                    out.push('"');
                }
            }
        }
    }
}

/// How a batch spells its values: inside a JSON array (SQLite) or a PostgreSQL array literal.
#[derive(Clone, Copy)]
enum Spelling {
    Json,
    PgArray,
}
