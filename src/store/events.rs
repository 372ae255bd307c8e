//! Events in the store (migration 8), on both backends: reports (idempotent per reporter and
//! `client_id`), actions under optimistic concurrency (each names the version it saw; the loser
//! of a race gets [`EventStoreError::Conflict`], nothing is lost), the history of every event and
//! its photos. Each write is one transaction. The flow's rules are the library's
//! ([`crate::events::flow`]); this module only keeps what they decide.

use super::{Store, StoreError};
use crate::events::deadline::{Limits, Step};
use crate::events::flow::{self, Current, FlowError, Request};
use crate::events::photo::PhotoKind;
use crate::events::{
    number, number_prefix, parse_time, time_text, Event, EventPoint, Level, Location, NewEvent,
    Photo, State,
};
use crate::model::{GridCode, MicroGridCode, VillageCode};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

/// Something went wrong keeping an event.
#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Someone else acted on the event since the actor saw it.
    #[error(
        "event {id}: conflict: it is at version {found} now, but this action was based on version \
         {expected}; someone else acted on it meanwhile; reload it and try again"
    )]
    Conflict {
        /// Event id.
        id: i64,
        /// The version the actor saw.
        expected: i64,
        /// The version found.
        found: i64,
    },
    /// The flow refused the action.
    #[error("event {id}: {error}")]
    Refused {
        /// Event id.
        id: i64,
        /// Why.
        error: FlowError,
    },
    /// No such event.
    #[error("event {0} not found")]
    NotFound(i64),
    /// A new category tree leaves out categories that stored events are in.
    #[error(
        "the new category tree leaves out {}: stored events are in them; keep them (under 其他 \
         if they are retired)",
        .0.iter().map(|(c, n)| format!("`{c}` ({n} events)")).collect::<Vec<_>>().join(", ")
    )]
    CategoriesInUse(Vec<(String, i64)>),
    /// A new category tree leaves out categories that time limits name.
    #[error(
        "the new category tree leaves out {}, which the time limits name; change or remove those \
         limits first",
        .0.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
    )]
    CategoriesInLimits(Vec<String>),
    /// A new setting does not fit the stored ones (limits naming a category the tree lacks).
    #[error(transparent)]
    Invalid(crate::events::EventError),
    /// A stored setting does not read.
    #[error("the stored event {key} do not read: {error}")]
    Setting {
        /// Which setting.
        key: &'static str,
        /// Why.
        error: crate::events::EventError,
    },
}

type Result<T> = std::result::Result<T, EventStoreError>;

/// What a report stored (or found stored already).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Reported {
    /// Event id.
    pub id: i64,
    /// Its number.
    pub number: String,
    /// The reporter's key.
    pub client_id: Option<String>,
    /// Its state now.
    pub state: State,
    /// Village code.
    pub village: Option<String>,
    /// Grid code.
    pub grid: Option<String>,
    /// Micro-grid code.
    pub micro_grid: Option<String>,
    /// Whether the report was stored before (the same reporter and `client_id`).
    pub duplicate: bool,
}

/// One transition of an event.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct HistoryEntry {
    /// When.
    pub at: String,
    /// Who.
    pub who: String,
    /// What ([`REPORT`](crate::events::flow::REPORT) or an action's name).
    pub action: String,
    /// Its Chinese label ([`history_label`](crate::events::flow::history_label)).
    pub label: String,
    /// State before (none for the report).
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// Level after.
    pub level: String,
    /// Who held it after.
    pub assignee: Option<String>,
    /// The note.
    pub note: String,
    /// The reason (returned, re-opened).
    pub reason: Option<String>,
    /// The event's version after.
    pub version: i64,
    /// Ids of the photos attached.
    pub photos: Vec<i64>,
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only these states (all when empty).
    pub states: Vec<State>,
    /// Only this grid.
    pub grid: Option<GridCode>,
    /// Only this village.
    pub village: Option<VillageCode>,
    /// Only villages of these towns or these villages (a leader's area; `None`: everywhere).
    pub area: Option<crate::accounts::Scope>,
    /// Only this category and its children.
    pub category: Option<String>,
    /// Reported at or after.
    pub from: Option<DateTime<Utc>>,
    /// Reported before.
    pub to: Option<DateTime<Utc>>,
    /// Only open events past their limit at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only events this person reported or holds (a worker's own).
    pub holder: Option<Vec<String>>,
    /// At most this many, newest first.
    pub limit: Option<i64>,
    /// Only events in this lon/lat box `[west, south, east, north]` (a tile's).
    pub bbox: Option<[f64; 4]>,
    /// Only events changed (reported, acted on, closed) at or after.
    pub changed_from: Option<DateTime<Utc>>,
}

/// The columns of an [`EventPoint`].
const POINT_COLS: &str =
    "fid, number, category, priority, state, lon, lat, grid_code, due_at, step_limit_s";

const COLS: &str = "fid, number, client_id, reporter, source, category, title, description, \
    priority, state, level, lon, lat, address, village_code, grid_code, micro_code, ambiguous, \
    near_grids, border_m, assignee, reported_at, updated_at, due_at, step_limit_s, closed_at, \
    reopened, rating, version";

fn bad(what: &str, why: impl std::fmt::Display) -> EventStoreError {
    EventStoreError::Store(StoreError::Invalid {
        what: what.to_string(),
        why: why.to_string(),
    })
}

impl Store {
    fn ev_db(&self, e: sqlx::Error) -> EventStoreError {
        EventStoreError::Store(self.db(e))
    }

    fn point_of(&self, r: &AnyRow) -> Result<EventPoint> {
        let s = |c: &str| r.try_get::<String, _>(c).map_err(|e| self.ev_db(e));
        let os = |c: &str| r.try_get::<Option<String>, _>(c).map_err(|e| self.ev_db(e));
        let id = r.try_get::<i64, _>("fid").map_err(|e| self.ev_db(e))?;
        let what = format!("event {id}");
        Ok(EventPoint {
            id,
            number: s("number")?,
            category: s("category")?,
            priority: s("priority")?.parse().map_err(|e| bad(&what, e))?,
            state: s("state")?.parse().map_err(|e| bad(&what, e))?,
            lon: r.try_get("lon").map_err(|e| self.ev_db(e))?,
            lat: r.try_get("lat").map_err(|e| self.ev_db(e))?,
            grid: os("grid_code")?.and_then(|c| GridCode::parse(&c).ok()),
            due_at: os("due_at")?
                .map(|v| parse_time("due_at", &v).map_err(|e| bad(&what, e)))
                .transpose()?,
            step_limit_s: r
                .try_get::<Option<i64>, _>("step_limit_s")
                .map_err(|e| self.ev_db(e))?,
        })
    }

    fn event_of(&self, r: &AnyRow) -> Result<Event> {
        let s = |c: &str| r.try_get::<String, _>(c).map_err(|e| self.ev_db(e));
        let os = |c: &str| r.try_get::<Option<String>, _>(c).map_err(|e| self.ev_db(e));
        let i = |c: &str| r.try_get::<i64, _>(c).map_err(|e| self.ev_db(e));
        let oi = |c: &str| r.try_get::<Option<i64>, _>(c).map_err(|e| self.ev_db(e));
        let id = i("fid")?;
        let what = format!("event {id}");
        let t = |c: &'static str, v: String| parse_time(c, &v).map_err(|e| bad(&what, e));
        let ot = |c: &'static str, v: Option<String>| v.map(|v| t(c, v)).transpose();
        let near: Vec<String> =
            serde_json::from_str(&s("near_grids")?).map_err(|e| bad(&what, e))?;
        Ok(Event {
            id,
            number: s("number")?,
            client_id: os("client_id")?,
            reporter: s("reporter")?,
            source: s("source")?.parse().map_err(|e| bad(&what, e))?,
            category: s("category")?,
            title: s("title")?,
            description: s("description")?,
            priority: s("priority")?.parse().map_err(|e| bad(&what, e))?,
            state: s("state")?.parse().map_err(|e| bad(&what, e))?,
            level: s("level")?.parse().map_err(|e| bad(&what, e))?,
            lon: r.try_get("lon").map_err(|e| self.ev_db(e))?,
            lat: r.try_get("lat").map_err(|e| self.ev_db(e))?,
            address: os("address")?,
            location: Location {
                village: os("village_code")?.and_then(|c| VillageCode::parse(&c).ok()),
                grid: os("grid_code")?.and_then(|c| GridCode::parse(&c).ok()),
                micro_grid: os("micro_code")?.and_then(|c| MicroGridCode::parse(&c).ok()),
                ambiguous: i("ambiguous")? != 0,
                near: near
                    .iter()
                    .filter_map(|c| GridCode::parse(c).ok())
                    .collect(),
                border_m: r.try_get("border_m").map_err(|e| self.ev_db(e))?,
            },
            assignee: os("assignee")?,
            reported_at: t("reported_at", s("reported_at")?)?,
            updated_at: t("updated_at", s("updated_at")?)?,
            due_at: ot("due_at", os("due_at")?)?,
            step_limit_s: oi("step_limit_s")?,
            closed_at: ot("closed_at", os("closed_at")?)?,
            reopened: i("reopened")?,
            rating: oi("rating")?,
            version: i("version")?,
        })
    }

    /// Stores a batch of reports in one transaction. A report whose reporter and `client_id`
    /// are stored already is not stored again: it is answered with `duplicate` set.
    pub async fn report_events(
        &self,
        batch: &[NewEvent],
        limits: &Limits,
    ) -> Result<Vec<Reported>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.ev_db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let mut out = Vec::with_capacity(batch.len());
        for e in batch {
            if let Some(cid) = &e.client_id {
                let found = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLS} FROM events WHERE reporter = $1 AND client_id = $2"
                )))
                .bind(&e.reporter)
                .bind(cid)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.ev_db(e))?;
                if let Some(row) = found {
                    out.push(reported(&self.event_of(&row)?, true));
                    continue;
                }
            }
            let ev = self.insert_event(&mut tx, e, limits).await?;
            out.push(reported(&ev, false));
        }
        tx.commit().await.map_err(|e| self.ev_db(e))?;
        Ok(out)
    }

    async fn next_number(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        prefix: &str,
    ) -> Result<i64> {
        sqlx::query(
            "INSERT INTO event_numbers (prefix, last) VALUES ($1, 1) ON CONFLICT (prefix) \
             DO UPDATE SET last = event_numbers.last + 1 RETURNING last",
        )
        .bind(prefix)
        .fetch_one(&mut **tx)
        .await
        .and_then(|r| r.try_get::<i64, _>(0))
        .map_err(|e| self.ev_db(e))
    }

    async fn insert_event(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        e: &NewEvent,
        limits: &Limits,
    ) -> Result<Event> {
        let l = &e.location;
        let prefix = number_prefix(&l.town(), e.reported_at);
        let num = number(&prefix, self.next_number(tx, &prefix).await?);
        let limit = limits
            .limit(&e.category, e.priority, Step::Accept)
            .as_secs() as i64;
        let due = e.reported_at + chrono::TimeDelta::seconds(limit);
        let near: Vec<&str> = l.near.iter().map(|g| g.as_str()).collect();
        let at = time_text(e.reported_at);
        let sql = format!(
            "INSERT INTO events (geom, number, client_id, reporter, source, category, title, \
             description, priority, state, level, lon, lat, address, village_code, grid_code, \
             micro_code, ambiguous, near_grids, border_m, assignee, reported_at, updated_at, due_at, \
             step_limit_s, closed_at, reopened, rating, version) VALUES ({}, $2, $3, $4, $5, $6, $7, \
             $8, $9, 'reported', 'grid', $10, $11, $12, $13, $14, $15, $16, $17, $18, NULL, $19, $19, \
             $20, $21, NULL, 0, NULL, 1) RETURNING fid",
            self.geom_param(1)
        );
        let point = geo::Geometry::Point(geo::Point::new(e.lon, e.lat));
        let id: i64 = sqlx::query(AssertSqlSafe(sql))
            .bind(self.encode_geom(&point))
            .bind(&num)
            .bind(e.client_id.clone())
            .bind(&e.reporter)
            .bind(e.source.as_str())
            .bind(&e.category)
            .bind(&e.title)
            .bind(&e.description)
            .bind(e.priority.as_str())
            .bind(e.lon)
            .bind(e.lat)
            .bind(e.address.clone())
            .bind(l.village.as_ref().map(|c| c.as_str().to_string()))
            .bind(l.grid.as_ref().map(|c| c.as_str().to_string()))
            .bind(l.micro_grid.as_ref().map(|c| c.as_str().to_string()))
            .bind(i64::from(l.ambiguous))
            .bind(serde_json::to_string(&near).expect("strings serialise"))
            .bind(l.border_m)
            .bind(&at)
            .bind(time_text(due))
            .bind(limit)
            .fetch_one(&mut **tx)
            .await
            .and_then(|r| r.try_get::<i64, _>(0))
            .map_err(|e| self.ev_db(e))?;
        let h = self
            .append_history(
                tx,
                id,
                &at,
                &e.reporter,
                crate::events::flow::REPORT,
                None,
                State::Reported,
                Level::Grid,
                None,
                "",
                None,
                1,
            )
            .await?;
        self.add_photos(tx, id, h, &e.photos, &at).await?;
        self.event_in(tx, id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn append_history(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: i64,
        at: &str,
        who: &str,
        action: &str,
        from: Option<State>,
        to: State,
        level: Level,
        assignee: Option<&str>,
        note: &str,
        reason: Option<&str>,
        version: i64,
    ) -> Result<i64> {
        sqlx::query(
            "INSERT INTO event_history (event_fid, at, who, action, from_state, to_state, level, \
             assignee, note, reason, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             RETURNING fid",
        )
        .bind(id)
        .bind(at)
        .bind(who)
        .bind(action)
        .bind(from.map(|s| s.as_str()))
        .bind(to.as_str())
        .bind(level.as_str())
        .bind(assignee)
        .bind(note)
        .bind(reason)
        .bind(version)
        .fetch_one(&mut **tx)
        .await
        .and_then(|r| r.try_get::<i64, _>(0))
        .map_err(|e| self.ev_db(e))
    }

    async fn add_photos(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: i64,
        history: i64,
        photos: &[Photo],
        at: &str,
    ) -> Result<()> {
        for p in photos {
            sqlx::query(
                "INSERT INTO event_photos (event_fid, history_fid, kind, bytes, data, added_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(history)
            .bind(p.kind.as_str())
            .bind(p.data.len() as i64)
            .bind(p.data.clone())
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(|e| self.ev_db(e))?;
        }
        Ok(())
    }

    async fn event_in(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: i64) -> Result<Event> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLS} FROM events WHERE fid = $1"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.ev_db(e))?
        .ok_or(EventStoreError::NotFound(id))?;
        self.event_of(&row)
    }

    /// One event.
    pub async fn event(&self, id: i64) -> Result<Event> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLS} FROM events WHERE fid = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.ev_db(e))?
        .ok_or(EventStoreError::NotFound(id))?;
        self.event_of(&row)
    }

    /// One event by its number.
    pub async fn event_by_number(&self, number: &str) -> Result<Option<Event>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLS} FROM events WHERE number = $1"
        )))
        .bind(number)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.ev_db(e))?;
        row.map(|r| self.event_of(&r)).transpose()
    }

    /// Applies an action by `actor` at `now`: refused if the event is at another version than
    /// the one the actor saw, or if the flow does not allow it; else the event changes, the
    /// transition and its photos are kept, all in one transaction.
    pub async fn act_on_event(
        &self,
        id: i64,
        rq: &Request,
        actor: &str,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<Event> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.ev_db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let ev = self.event_in(&mut tx, id).await?;
        let conflict = |found| EventStoreError::Conflict {
            id,
            expected: rq.expected_version,
            found,
        };
        if ev.version != rq.expected_version {
            return Err(conflict(ev.version));
        }
        let ch = flow::next(&Current::of(&ev), rq, actor, limits, now)
            .map_err(|error| EventStoreError::Refused { id, error })?;
        let at = time_text(now);
        let n = sqlx::query(
            "UPDATE events SET state = $1, level = $2, assignee = $3, due_at = $4, step_limit_s = $5, \
             closed_at = CASE WHEN $6 = 1 THEN $7 ELSE closed_at END, reopened = reopened + $8, \
             rating = COALESCE($9, rating), updated_at = $7, version = version + 1 \
             WHERE fid = $10 AND version = $11",
        )
        .bind(ch.state.as_str())
        .bind(ch.level.as_str())
        .bind(ch.assignee.clone())
        .bind(ch.due_at.map(time_text))
        .bind(ch.step_limit_s)
        .bind(i64::from(ch.closed))
        .bind(&at)
        .bind(i64::from(ch.reopened))
        .bind(ch.rating)
        .bind(id)
        .bind(rq.expected_version)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.ev_db(e))?
        .rows_affected();
        if n == 0 {
            // another writer got there first (PostgreSQL re-checks the version after its lock)
            let found = self.event_in(&mut tx, id).await?.version;
            return Err(conflict(found));
        }
        let h = self
            .append_history(
                &mut tx,
                id,
                &at,
                actor,
                rq.action.as_str(),
                Some(ev.state),
                ch.state,
                ch.level,
                ch.assignee.as_deref(),
                &rq.note,
                rq.reason.as_deref(),
                ev.version + 1,
            )
            .await?;
        self.add_photos(&mut tx, id, h, &rq.photos, &at).await?;
        let out = self.event_in(&mut tx, id).await?;
        tx.commit().await.map_err(|e| self.ev_db(e))?;
        Ok(out)
    }

    /// The history of an event, oldest first.
    pub async fn event_history(&self, id: i64) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT h.fid AS fid, h.at AS at, h.who AS who, h.action AS action, \
             h.from_state AS from_state, h.to_state AS to_state, h.level AS level, \
             h.assignee AS assignee, h.note AS note, h.reason AS reason, h.version AS version \
             FROM event_history h WHERE h.event_fid = $1 ORDER BY h.fid",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.ev_db(e))?;
        let photos = sqlx::query(
            "SELECT fid, history_fid FROM event_photos WHERE event_fid = $1 ORDER BY fid",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.ev_db(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let g = |c: &str| r.try_get::<String, _>(c).map_err(|e| self.ev_db(e));
            let og = |c: &str| r.try_get::<Option<String>, _>(c).map_err(|e| self.ev_db(e));
            let fid: i64 = r.try_get("fid").map_err(|e| self.ev_db(e))?;
            let action: String = g("action")?;
            out.push(HistoryEntry {
                at: g("at")?,
                who: g("who")?,
                label: crate::events::flow::history_label(&action).to_string(),
                action,
                from_state: og("from_state")?,
                to_state: g("to_state")?,
                level: g("level")?,
                assignee: og("assignee")?,
                note: g("note")?,
                reason: og("reason")?,
                version: r.try_get("version").map_err(|e| self.ev_db(e))?,
                photos: photos
                    .iter()
                    .filter(|p| p.try_get::<Option<i64>, _>(1).ok().flatten() == Some(fid))
                    .filter_map(|p| p.try_get::<i64, _>(0).ok())
                    .collect(),
            });
        }
        Ok(out)
    }

    /// A photo of an event: its type and bytes.
    pub async fn event_photo(&self, id: i64, photo: i64) -> Result<(PhotoKind, Vec<u8>)> {
        let row =
            sqlx::query("SELECT kind, data FROM event_photos WHERE event_fid = $1 AND fid = $2")
                .bind(id)
                .bind(photo)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.ev_db(e))?
                .ok_or(EventStoreError::NotFound(id))?;
        let kind: String = row.try_get(0).map_err(|e| self.ev_db(e))?;
        let data: Vec<u8> = row.try_get(1).map_err(|e| self.ev_db(e))?;
        Ok((kind.parse().map_err(|e| bad("event photo", e))?, data))
    }

    /// The counts of the events reported since `from` at `now` (a screen's "today").
    pub async fn event_counts_since(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<crate::events::figures::Counts> {
        let f = EventFilter {
            from: Some(from),
            ..EventFilter::default()
        };
        let evs = self.list_events(&f).await?;
        Ok(crate::events::figures::figures(&evs, &|c: &str| c.to_string(), now).totals)
    }

    /// Events as `f` says, newest first.
    pub async fn list_events(&self, f: &EventFilter) -> Result<Vec<Event>> {
        let (sql, args) = list_sql(f);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLS} FROM events WHERE {sql} ORDER BY reported_at DESC, fid DESC{}",
            f.limit.map_or(String::new(), |n| format!(" LIMIT {n}"))
        )));
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.ev_db(e))?;
        rows.iter().map(|r| self.event_of(r)).collect()
    }

    /// The map points of the events of a filter (as [`list_events`](Self::list_events), in the
    /// same order), reading only the columns a point needs: a town's year in one tile is read
    /// without its texts.
    pub async fn event_points(&self, f: &EventFilter) -> Result<Vec<EventPoint>> {
        let (sql, args) = list_sql(f);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POINT_COLS} FROM events WHERE {sql} ORDER BY reported_at DESC, fid DESC{}",
            f.limit.map_or(String::new(), |n| format!(" LIMIT {n}"))
        )));
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(|e| self.ev_db(e))?;
        rows.iter().map(|r| self.point_of(r)).collect()
    }
}

/// The WHERE clause of a filter and its text arguments.
fn list_sql(f: &EventFilter) -> (String, Vec<String>) {
    let mut w = vec!["1 = 1".to_string()];
    let mut args: Vec<String> = Vec::new();
    let mut arg = |v: String| {
        args.push(v);
        format!("${}", args.len())
    };
    if !f.states.is_empty() {
        let list: Vec<String> = f.states.iter().map(|s| arg(s.as_str().into())).collect();
        w.push(format!("state IN ({})", list.join(", ")));
    }
    if let Some(g) = &f.grid {
        w.push(format!("grid_code = {}", arg(g.as_str().into())));
    }
    if let Some(v) = &f.village {
        w.push(format!("village_code = {}", arg(v.as_str().into())));
    }
    if let Some(a) = &f.area {
        let mut any: Vec<String> = a
            .villages
            .iter()
            .map(|v| format!("village_code = {}", arg(v.clone())))
            .collect();
        any.extend(
            a.towns
                .iter()
                .map(|t| format!("substr(village_code, 1, 9) = {}", arg(t.clone()))),
        );
        any.push("1 = 0".into());
        w.push(format!("({})", any.join(" OR ")));
    }
    if let Some(c) = &f.category {
        let a = arg(c.clone());
        let b = arg(format!("{c}.%"));
        w.push(format!("(category = {a} OR category LIKE {b})"));
    }
    if let Some(t) = f.from {
        w.push(format!("reported_at >= {}", arg(time_text(t))));
    }
    if let Some(t) = f.to {
        w.push(format!("reported_at < {}", arg(time_text(t))));
    }
    if let Some(t) = f.changed_from {
        w.push(format!("updated_at >= {}", arg(time_text(t))));
    }
    if let Some(t) = f.overdue_at {
        let open: Vec<String> = State::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| arg(s.as_str().into()))
            .collect();
        w.push(format!(
            "state IN ({}) AND due_at < {}",
            open.join(", "),
            arg(time_text(t))
        ));
    }
    if let Some([w0, s0, e0, n0]) = f.bbox {
        let mut num = |v: f64| format!("CAST({} AS DOUBLE PRECISION)", arg(v.to_string()));
        let (w0, e0, s0, n0) = (num(w0), num(e0), num(s0), num(n0));
        w.push(format!(
            "lon >= {w0} AND lon <= {e0} AND lat >= {s0} AND lat <= {n0}"
        ));
    }
    if let Some(h) = &f.holder {
        let mut any: Vec<String> = Vec::new();
        for k in h {
            let a = arg(k.clone());
            any.push(format!("reporter = {a} OR assignee = {a}"));
        }
        any.push("1 = 0".into());
        w.push(format!("({})", any.join(" OR ")));
    }
    (w.join(" AND "), args)
}

fn reported(e: &Event, duplicate: bool) -> Reported {
    let l = &e.location;
    Reported {
        id: e.id,
        number: e.number.clone(),
        client_id: e.client_id.clone(),
        state: e.state,
        village: l.village.as_ref().map(|c| c.as_str().into()),
        grid: l.grid.as_ref().map(|c| c.as_str().into()),
        micro_grid: l.micro_grid.as_ref().map(|c| c.as_str().into()),
        duplicate,
    }
}
