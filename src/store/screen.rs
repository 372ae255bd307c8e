//! The big screen in the store (migration 10), on both backends.
//!
//! - **Screen sessions.** A wall screen has no keyboard: it is opened once as `/screen?token=…`
//!   with a `screen` token, and the server answers with a session cookie. That session lives as
//!   long as the token (not the 12 h of a user's session: a screen runs for weeks) and is checked
//!   against the token on every request, so revoking the token ends it at once. Only the session
//!   id's SHA-256 hash is kept.
//! - **Today's events** for the screen: read only when the store has an `events` table (the
//!   events issue adds it); otherwise `None`, and the screen shows "—".

use super::accounts::AuditEntry;
use super::{Backend, Result, Store, StoreError};
use crate::accounts::{Caller, Role, Scope, Via};
use crate::events::Event;
use crate::store::events::EventFilter;
use chrono::{DateTime, Utc};
use sqlx::Row;

impl Store {
    /// Starts a session of the screen token `token_name` (its id's hash), ending when the token
    /// does, with its audit entry, in one transaction. Returns when it ends (RFC 3339); refused
    /// when the token is unknown, revoked or not a screen's.
    pub async fn screen_session_add(
        &self,
        token_name: &str,
        id_hash: &str,
        mut entry: AuditEntry,
    ) -> Result<String> {
        entry.at = super::now();
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let row = sqlx::query(
            "SELECT expires_at FROM tokens WHERE name = $1 AND role = $2 AND revoked_at IS NULL",
        )
        .bind(token_name)
        .bind(Role::Screen.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let Some(row) = row else {
            return Err(StoreError::Invalid {
                what: format!("token {token_name}"),
                why: "is not a live screen token".into(),
            });
        };
        let expires: String = row.try_get(0).map_err(|e| self.db(e))?;
        sqlx::query(
            "INSERT INTO screen_sessions (id_hash, token_name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(token_name)
        .bind(&entry.at)
        .bind(&expires)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        sqlx::query(
            "INSERT INTO audit_log (at, who, address, kind, objects, result) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&entry.at)
        .bind(&entry.who)
        .bind(&entry.address)
        .bind(&entry.kind)
        .bind(&entry.objects)
        .bind(&entry.result)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(expires)
    }

    /// The caller of a live screen session whose token is live and unrevoked (`now` RFC 3339).
    pub async fn screen_session_caller(&self, id_hash: &str, now: &str) -> Result<Option<Caller>> {
        let row = sqlx::query(
            "SELECT t.name, t.role, t.phone FROM screen_sessions s \
             JOIN tokens t ON t.name = s.token_name \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.expires_at > $2 \
             AND t.revoked_at IS NULL",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        row.map(|r| {
            Ok(Caller {
                name: r.try_get(0)?,
                role: r.try_get::<String, _>(1)?.parse().unwrap_or(Role::Screen),
                scope: Scope::default(),
                phone: r.try_get(2)?,
                via: Via::Session,
            })
        })
        .transpose()
        .map_err(|e| self.db(e))
    }

    /// Whether the store has a table `name`.
    pub async fn has_table(&self, name: &str) -> Result<bool> {
        let sql = match self.backend {
            Backend::Gpkg => {
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            Backend::Postgis => {
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let n: i64 = sqlx::query(sql)
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .try_get(0)
            .map_err(|e| self.db(e))?;
        Ok(n > 0)
    }

    /// What changes whenever an event does (the newest event and the newest change), so a
    /// screen recomputes its figures; `None` when the store has no `events` table.
    pub async fn events_revision(&self) -> Result<Option<String>> {
        if !self.has_table("events").await? {
            return Ok(None);
        }
        // the newest event and the newest change: both read off an index (`events_updated`,
        // migration 11), where `count(*)` scanned every event (68 ms at 260,000 on PostGIS)
        let row = sqlx::query("SELECT max(fid), max(updated_at) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let last: Option<i64> = row.try_get(0).map_err(|e| self.db(e))?;
        let newest: Option<String> = row.try_get(1).map_err(|e| self.db(e))?;
        Ok(Some(format!(
            "{}@{}",
            last.unwrap_or(0),
            newest.unwrap_or_default()
        )))
    }

    /// The events a screen needs for the day that began at `since`: those open now and those
    /// changed since (reported, closed …), in any area ([`crate::screen::event_board`] keeps
    /// the screen's). `None` when the store has no `events` table (a store older than
    /// migration 8 opened read-only).
    pub async fn screen_event_list(&self, since: DateTime<Utc>) -> Result<Option<Vec<Event>>> {
        use crate::events::flow::State;
        if !self.has_table("events").await? {
            return Ok(None);
        }
        let open = EventFilter {
            states: State::ALL.iter().copied().filter(|s| s.is_open()).collect(),
            ..EventFilter::default()
        };
        let changed = EventFilter {
            changed_from: Some(since),
            ..EventFilter::default()
        };
        let err = |e: crate::store::events::EventStoreError| StoreError::Invalid {
            what: "events".into(),
            why: e.to_string(),
        };
        let mut all = self.list_events(&open).await.map_err(err)?;
        let seen: std::collections::HashSet<i64> = all.iter().map(|e| e.id).collect();
        let more = self.list_events(&changed).await.map_err(err)?;
        all.extend(more.into_iter().filter(|e| !seen.contains(&e.id)));
        Ok(Some(all))
    }
}
