//! What printed maps read that the map snapshot does not hold.

use super::{Result, Store};
use sqlx::Row;

impl Store {
    /// The name of the town coded `code` (9 digits), if the store has the town.
    pub async fn town_name(&self, code: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT name FROM towns WHERE code = $1")
            .bind(code.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        row.map(|r| r.try_get::<String, _>(0).map_err(|e| self.db(e)))
            .transpose()
    }
}
