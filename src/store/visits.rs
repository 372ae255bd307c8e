//! Household visits and household tags in the store (migration 9), on both backends; the rules
//! are in [`crate::field`].
//!
//! A batch of visits is one transaction; a visit whose `(worker, client_id)` is stored already is
//! answered as a duplicate and not stored again (terminals re-send what they queued offline).

use super::{Result, Store};
use crate::field::Tag;
use sqlx::Row;

/// A visit to store.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VisitRow {
    /// The terminal's idempotency key.
    pub client_id: String,
    /// The worker's key (phone, else name).
    pub worker: String,
    /// The household, `building/door`.
    pub household: String,
    /// Its grid.
    pub grid_code: String,
    /// When (RFC 3339 as sent).
    pub visited_at: String,
    /// The same instant in UTC milliseconds.
    pub epoch_ms: i64,
    /// Where, WGS84, if known.
    pub lon: Option<f64>,
    /// Where, WGS84, if known.
    pub lat: Option<f64>,
    /// What was found.
    pub found: String,
    /// What was done.
    pub done: String,
}

/// A tagged household.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TagRow {
    /// The household, `building/door`.
    pub household: String,
    /// Its grid.
    pub grid_code: String,
    /// The tag.
    pub tag: Tag,
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Stores `visits` in one transaction; for each, whether it was new (`false`: the worker had
    /// sent this `client_id` before, nothing changed).
    pub async fn insert_visits(&self, visits: &[VisitRow]) -> Result<Vec<bool>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let now = super::now();
        let mut out = Vec::with_capacity(visits.len());
        for v in visits {
            let n = sqlx::query(
                "INSERT INTO visits (client_id, worker, household, grid_code, visited_at, epoch_ms, \
                 lon, lat, found, done, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (worker, client_id) DO NOTHING",
            )
            .bind(&v.client_id)
            .bind(&v.worker)
            .bind(&v.household)
            .bind(&v.grid_code)
            .bind(&v.visited_at)
            .bind(v.epoch_ms)
            .bind(v.lon)
            .bind(v.lat)
            .bind(&v.found)
            .bind(&v.done)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
            .rows_affected();
            out.push(n > 0);
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(out)
    }

    /// The visits to households of `grids` in `[from_ms, to_ms)`, oldest first.
    pub async fn visits_in(
        &self,
        grids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<VisitRow>> {
        if grids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT client_id, worker, household, grid_code, visited_at, epoch_ms, lon, lat, found, done \
             FROM visits WHERE epoch_ms >= $1 AND epoch_ms < $2 AND grid_code IN ({}) \
             ORDER BY epoch_ms, fid",
            placeholders(3, grids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from_ms)
            .bind(to_ms);
        for g in grids {
            q = q.bind(g);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                Ok(VisitRow {
                    client_id: r.try_get(0).map_err(|e| self.db(e))?,
                    worker: r.try_get(1).map_err(|e| self.db(e))?,
                    household: r.try_get(2).map_err(|e| self.db(e))?,
                    grid_code: r.try_get(3).map_err(|e| self.db(e))?,
                    visited_at: r.try_get(4).map_err(|e| self.db(e))?,
                    epoch_ms: r.try_get(5).map_err(|e| self.db(e))?,
                    lon: r.try_get(6).map_err(|e| self.db(e))?,
                    lat: r.try_get(7).map_err(|e| self.db(e))?,
                    found: r.try_get(8).map_err(|e| self.db(e))?,
                    done: r.try_get(9).map_err(|e| self.db(e))?,
                })
            })
            .collect()
    }

    /// The latest visit (UTC milliseconds) of each household of `grids` that has one.
    pub async fn last_visits(&self, grids: &[String]) -> Result<Vec<(String, i64)>> {
        if grids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT household, max(epoch_ms) FROM visits WHERE grid_code IN ({}) GROUP BY household",
            placeholders(1, grids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for g in grids {
            q = q.bind(g);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(|e| self.db(e))?,
                    r.try_get(1).map_err(|e| self.db(e))?,
                ))
            })
            .collect()
    }

    /// Sets (or with `None` removes) the tag of `household` of grid `grid`, one transaction.
    pub async fn set_tag(
        &self,
        household: &str,
        grid: &str,
        tag: Option<Tag>,
        by: &str,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        sqlx::query("DELETE FROM household_tags WHERE household = $1")
            .bind(household)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        if let Some(t) = tag {
            sqlx::query(
                "INSERT INTO household_tags (household, grid_code, tag, set_by, set_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(household)
            .bind(grid)
            .bind(t.as_str())
            .bind(by)
            .bind(super::now())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// The tagged households of `grids`.
    pub async fn tags_in(&self, grids: &[String]) -> Result<Vec<TagRow>> {
        if grids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT household, grid_code, tag FROM household_tags WHERE grid_code IN ({}) ORDER BY household",
            placeholders(1, grids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for g in grids {
            q = q.bind(g);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for r in &rows {
            let tag: String = r.try_get(2).map_err(|e| self.db(e))?;
            // a tag this build does not know is left out rather than failing every read
            if let Ok(Some(tag)) = Tag::parse_opt(&tag) {
                out.push(TagRow {
                    household: r.try_get(0).map_err(|e| self.db(e))?,
                    grid_code: r.try_get(1).map_err(|e| self.db(e))?,
                    tag,
                });
            }
        }
        Ok(out)
    }
}
