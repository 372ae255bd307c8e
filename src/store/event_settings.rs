//! A deployment's event settings in the store (migration 11), on both backends: the category
//! tree and the time limits as JSON, one row each; absent rows are the defaults.

use super::events::EventStoreError;
use super::{Backend, Store};
use crate::events::category::CategoryTree;
use crate::events::deadline::Limits;
use crate::events::settings::{Key, Settings};
use sqlx::Row;

type Result<T> = std::result::Result<T, EventStoreError>;

/// Both settings rows (an absent row is the default).
const SELECT: &str = "SELECT key, value FROM event_settings";

impl Store {
    /// The categories and limits events are reported and timed by.
    pub async fn event_settings(&self) -> Result<Settings> {
        let rows = sqlx::query(SELECT)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| EventStoreError::Store(self.db(e)))?;
        self.settings_of(rows)
    }

    /// The settings as a write transaction sees them, the table locked against the other
    /// setting's writer first: a check of one setting against the other holds until the commit.
    /// (On a GeoPackage the write transaction already holds the only write lock.)
    async fn settings_for_write(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> Result<Settings> {
        let db = |e| EventStoreError::Store(self.db(e));
        if self.backend == Backend::Postgis {
            sqlx::query("LOCK TABLE event_settings IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        let rows = sqlx::query(SELECT).fetch_all(&mut **tx).await.map_err(db)?;
        self.settings_of(rows)
    }

    fn settings_of(&self, rows: Vec<sqlx::any::AnyRow>) -> Result<Settings> {
        let mut out = Settings::default();
        for r in rows {
            let key: String = r
                .try_get(0)
                .map_err(|e| EventStoreError::Store(self.db(e)))?;
            let value: String = r
                .try_get(1)
                .map_err(|e| EventStoreError::Store(self.db(e)))?;
            let bad = |key: Key| {
                move |error| EventStoreError::Setting {
                    key: key.as_str(),
                    error,
                }
            };
            if key == Key::Categories.as_str() {
                out.categories = CategoryTree::from_json(&value).map_err(bad(Key::Categories))?;
            } else if key == Key::Limits.as_str() {
                out.limits = Limits::from_json(&value).map_err(bad(Key::Limits))?;
            }
        }
        Ok(out)
    }

    /// Sets the category tree, in one transaction; refused when it leaves out a category that
    /// a stored event is in ([`EventStoreError::CategoriesInUse`]) or a time limit names
    /// ([`EventStoreError::CategoriesInLimits`]).
    pub async fn set_event_categories(&self, tree: &CategoryTree, who: &str) -> Result<()> {
        let db = |e| EventStoreError::Store(self.db(e));
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut tx = self.begin_write(&mut conn).await?;
        let named = self
            .settings_for_write(&mut tx)
            .await?
            .limits
            .unknown_categories(tree);
        if !named.is_empty() {
            return Err(EventStoreError::CategoriesInLimits(named));
        }
        let used = sqlx::query(
            "SELECT category, count(*) FROM events GROUP BY category ORDER BY category",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let codes = tree.codes();
        let mut missing = Vec::new();
        for r in used {
            let code: String = r.try_get(0).map_err(db)?;
            if !codes.contains(&code.as_str()) {
                missing.push((code, r.try_get::<i64, _>(1).map_err(db)?));
            }
        }
        if !missing.is_empty() {
            return Err(EventStoreError::CategoriesInUse(missing));
        }
        let json = serde_json::to_string(tree).unwrap_or_default();
        self.put_setting(&mut tx, Key::Categories, &json, who)
            .await?;
        tx.commit().await.map_err(db)
    }

    /// Sets the time limits, in one transaction (for events reported or moved on from now on;
    /// the running steps keep the deadlines they were given); refused when an override names a category the
    /// stored tree lacks ([`EventStoreError::Invalid`]).
    pub async fn set_event_limits(&self, limits: &Limits, who: &str) -> Result<()> {
        let db = |e| EventStoreError::Store(self.db(e));
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut tx = self.begin_write(&mut conn).await?;
        let tree = self.settings_for_write(&mut tx).await?.categories;
        limits
            .check_categories(&tree)
            .map_err(EventStoreError::Invalid)?;
        let json = limits.to_json().to_string();
        self.put_setting(&mut tx, Key::Limits, &json, who).await?;
        tx.commit().await.map_err(db)
    }

    async fn put_setting(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        key: Key,
        value: &str,
        who: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO event_settings (key, value, set_by, set_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, \
             set_at = excluded.set_at",
        )
        .bind(key.as_str())
        .bind(value)
        .bind(who)
        .bind(super::now())
        .execute(&mut **tx)
        .await
        .map_err(|e| EventStoreError::Store(self.db(e)))?;
        Ok(())
    }
}
