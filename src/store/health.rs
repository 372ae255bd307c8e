//! Figures for watching a running store (`/metrics`, `wangge doctor`): patrol points stored and
//! the newest time written.

use super::{Result, Store};
use sqlx::Row;

impl Store {
    /// Patrol points stored (sum over every worker's day track).
    pub async fn patrol_points_stored(&self) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(coalesce(sum(points), 0) AS BIGINT) FROM patrol_tracks")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        row.try_get::<i64, _>(0).map_err(|e| self.db(e))
    }

    /// The newest time the store holds a write at (a plan saved, an audit entry), RFC 3339 in
    /// UTC, if any: a clock set before it has gone back.
    pub async fn newest_write(&self) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT max(t) FROM (SELECT max(created_at) AS t FROM plans \
             UNION ALL SELECT max(at) AS t FROM audit_log) w",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        row.try_get::<Option<String>, _>(0).map_err(|e| self.db(e))
    }
}
