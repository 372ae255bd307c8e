//! Events (网格事件): a matter found or reported in a grid (a hazard, a dispute, rubbish, a broken
//! street light), from its report to its closure.
//!
//! - [`Event`]: what is kept of one event: its [`number`](Event::number) (town code + date +
//!   sequence, never reused), its category from a [`category::CategoryTree`], where it is
//!   ([`Location`]: village, grid and micro-grid, as the map's locator found them, with the
//!   ambiguity near a border), who reported it and how ([`Source`]), its [`Priority`];
//! - [`flow`]: the state machine 发现上报 → 受理派遣 → 处置反馈 → 任务核查 → 事件归档 → 考核评价 with its
//!   side-turns (returned, escalated, handled in the grid, reassigned, re-opened);
//! - [`deadline`]: time limits per category × priority and step; overdue (red) and amber;
//! - [`photo`]: photos checked by their bytes (JPEG/PNG, size-limited);
//! - [`figures`]: counts per grid, closure rate, median time to close, worst grids first;
//! - [`tile`]: the events layer as vector tiles (points by state and category).
//!
//! The module knows nothing of HTTP or databases: the store (`store::events`) keeps events and
//! their history, the server and the command line call both.
//!
//! ```
//! use wangge::events::{Priority, Source, State};
//! assert_eq!("urgent".parse::<Priority>().unwrap(), Priority::Urgent);
//! assert_eq!(Source::Hotline.as_str(), "hotline");
//! assert_eq!(State::Reported.label(), "待受理");
//! ```

pub mod category;
pub mod deadline;
pub mod figures;
pub mod flow;
pub mod hotline;
pub mod photo;
pub mod settings;
pub mod tile;

use crate::model::{GridCode, MicroGridCode, VillageCode};
use chrono::{DateTime, FixedOffset, Utc};

/// Something about an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A word that is not one of a kind's names.
    #[error("{field}: `{got}` is not one of {allowed}")]
    Unknown {
        /// The field (`priority`, `source`, `state`, `action`, `level`).
        field: &'static str,
        /// The text given.
        got: String,
        /// The names allowed, comma-separated.
        allowed: String,
    },
    /// A category code not in the tree.
    #[error("category: `{0}` is not in the category tree (GET /api/events/categories lists it)")]
    UnknownCategory(String),
    /// A required field missing or empty.
    #[error("{0}: missing or empty")]
    Missing(&'static str),
    /// A field of the wrong shape.
    #[error("{field}: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        why: String,
    },
}

/// Defines an enum of names with one `(variant, name, label)` table: `as_str`, `label`
/// (Chinese), `FromStr`, `Display`, `ALL` and serde as the name.
macro_rules! named {
    ($(#[$m:meta])* $name:ident, $field:literal, [$($(#[$vm:meta])* $v:ident = $s:literal / $l:literal),+ $(,)?]) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            const TABLE: &'static [($name, &'static str, &'static str)] = &[$(($name::$v, $s, $l)),+];
            /// The name (as stored and in the API).
            pub fn as_str(self) -> &'static str {
                Self::TABLE.iter().find(|(v, _, _)| *v == self).map(|t| t.1).unwrap_or("")
            }
            /// The Chinese label (as pages show it).
            pub fn label(self) -> &'static str {
                Self::TABLE.iter().find(|(v, _, _)| *v == self).map(|t| t.2).unwrap_or("")
            }
        }
        impl std::str::FromStr for $name {
            type Err = EventError;
            fn from_str(s: &str) -> Result<$name, EventError> {
                Self::TABLE.iter().find(|(_, n, _)| *n == s).map(|t| t.0).ok_or_else(|| EventError::Unknown {
                    field: $field,
                    got: s.to_string(),
                    allowed: Self::TABLE.iter().map(|t| t.1).collect::<Vec<_>>().join(", "),
                })
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use named;

named!(
    /// Who reported an event, and how.
    Source, "source", [
        /// A grid worker on patrol (网格员上报).
        Worker = "worker" / "网格员上报",
        /// The 12345 hotline (热线).
        Hotline = "hotline" / "热线",
        /// A resident (群众上报).
        Resident = "resident" / "群众上报",
        /// An inspection (巡查督查).
        Inspection = "inspection" / "巡查督查",
    ]
);

named!(
    /// How urgent an event is.
    Priority, "priority", [
        /// 低.
        Low = "low" / "低",
        /// 一般.
        Normal = "normal" / "一般",
        /// 紧急.
        High = "high" / "紧急",
        /// 特急.
        Urgent = "urgent" / "特急",
    ]
);

pub use flow::{Action, Level, State};

/// Where an event is: the village, grid and micro-grid holding its point, as the map's locator
/// found them. Near a border the grid named is the one the point is in, `ambiguous` is set and
/// `near` lists the grids within the tolerance.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Location {
    /// The village holding the point.
    pub village: Option<VillageCode>,
    /// The grid holding it.
    pub grid: Option<GridCode>,
    /// The (first) micro-grid holding it.
    pub micro_grid: Option<MicroGridCode>,
    /// Whether a grid border is within the tolerance.
    pub ambiguous: bool,
    /// The grids within the tolerance, nearest first.
    pub near: Vec<GridCode>,
    /// Distance (m) to the nearest grid border.
    pub border_m: Option<f64>,
}

impl Location {
    /// The town code (first 9 digits of the village code), `000000000` when unlocated.
    pub fn town(&self) -> String {
        self.village
            .as_ref()
            .map_or_else(|| "000000000".to_string(), |v| v.as_str()[..9].to_string())
    }
}

/// A photo as given: its declared type and bytes (checked with [`photo::check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    /// The checked type.
    pub kind: photo::PhotoKind,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A new event, checked, before it is stored.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The reporter's idempotency key: re-sent with the same key by the same reporter, the event
    /// is not stored again.
    pub client_id: Option<String>,
    /// Who reported it (a user's or token's name).
    pub reporter: String,
    /// How.
    pub source: Source,
    /// Category code.
    pub category: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// The address given, if any.
    pub address: Option<String>,
    /// Where it is.
    pub location: Location,
    /// Priority.
    pub priority: Priority,
    /// Photos.
    pub photos: Vec<Photo>,
    /// When it was reported (default: when received).
    pub reported_at: DateTime<Utc>,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Event {
    /// Store id.
    pub id: i64,
    /// Its number: town code (9) + date (8, China time) + sequence (5), never reused.
    pub number: String,
    /// The reporter's idempotency key.
    pub client_id: Option<String>,
    /// Who reported it.
    pub reporter: String,
    /// How.
    pub source: Source,
    /// Category code.
    pub category: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Priority.
    pub priority: Priority,
    /// Where it is in the flow.
    pub state: State,
    /// Whose queue: grid, village or town.
    pub level: Level,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// The address given.
    pub address: Option<String>,
    /// Where it is.
    pub location: Location,
    /// Who holds it now (a worker's name or phone), once dispatched.
    pub assignee: Option<String>,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its current step is due.
    pub due_at: Option<DateTime<Utc>>,
    /// The current step's limit (seconds), for amber.
    pub step_limit_s: Option<i64>,
    /// When it was archived.
    pub closed_at: Option<DateTime<Utc>>,
    /// How many times it was re-opened after a failed verification.
    pub reopened: i64,
    /// The evaluation (1–5).
    pub rating: Option<i64>,
    /// Its version: each action names the version it saw ([`flow::Request::expected_version`]).
    pub version: i64,
}

impl Event {
    /// Whether it is closed (archived or evaluated).
    pub fn is_closed(&self) -> bool {
        self.state.is_closed()
    }
    /// Its deadline status now.
    pub fn due_status(&self, now: DateTime<Utc>) -> deadline::DueStatus {
        deadline::status(self.due_at, self.step_limit_s, now)
    }
}

/// What a map point of an event needs ([`tile`]): an [`Event`] without its words, people and
/// history, read from the store without them.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPoint {
    /// Store id.
    pub id: i64,
    /// Its number.
    pub number: String,
    /// Category code.
    pub category: String,
    /// Priority.
    pub priority: Priority,
    /// Where it is in the flow.
    pub state: State,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Its grid, if located in one.
    pub grid: Option<GridCode>,
    /// When its current step is due.
    pub due_at: Option<DateTime<Utc>>,
    /// The current step's limit (seconds), for amber.
    pub step_limit_s: Option<i64>,
}

impl EventPoint {
    /// Its deadline status now.
    pub fn due_status(&self, now: DateTime<Utc>) -> deadline::DueStatus {
        deadline::status(self.due_at, self.step_limit_s, now)
    }
}

/// The [`Location`] of a point the map's locator found (`l` located in snapshot `s`).
pub fn location_of(s: &crate::snapshot::Snapshot, l: &crate::serve::locator::Located) -> Location {
    let grid = l.grid.and_then(|g| s.grids.get(g));
    Location {
        village: l
            .village
            .and_then(|v| s.villages.get(v))
            .map(|v| v.code.clone()),
        grid: grid.map(|g| g.code.clone()),
        micro_grid: l
            .micro_grids
            .first()
            .and_then(|m| s.micro_grids.get(*m))
            .map(|m| m.code.clone()),
        ambiguous: l.ambiguous,
        near: l
            .near
            .iter()
            .filter_map(|(g, _)| s.grids.get(*g))
            .map(|g| g.code.clone())
            .collect(),
        border_m: l.border_m.map(|b| (b * 10.0).round() / 10.0),
    }
}

/// China Standard Time (+08:00): event numbers and periods use its dates.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// The number prefix of an event of `town` reported at `at`: town code + date (China time).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 17, 0, 0).unwrap(); // 01:00 on 2 March in China
/// assert_eq!(wangge::events::number_prefix("320506001", at), "32050600120260302");
/// assert_eq!(wangge::events::number("32050600120260302", 7), "3205060012026030200007");
/// ```
pub fn number_prefix(town: &str, at: DateTime<Utc>) -> String {
    format!("{town}{}", at.with_timezone(&china()).format("%Y%m%d"))
}

/// An event number: its prefix and a 5-digit sequence (more digits past 99,999).
pub fn number(prefix: &str, seq: i64) -> String {
    format!("{prefix}{seq:05}")
}

/// Parses an RFC 3339 instant (the store's and the API's times).
pub fn parse_time(field: &'static str, s: &str) -> Result<DateTime<Utc>, EventError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| EventError::Invalid {
            field,
            why: format!("`{s}` is not an RFC 3339 time ({e})"),
        })
}

/// An instant as the store keeps it: RFC 3339, UTC, to the second (sorts as text).
pub fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_allowed() {
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), *p);
        }
        for s in Source::ALL {
            assert_eq!(s.as_str().parse::<Source>().unwrap(), *s);
        }
        let e = "soon".parse::<Priority>().unwrap_err().to_string();
        assert!(e.contains("priority") && e.contains("urgent"), "{e}");
    }

    #[test]
    fn times_are_kept_to_the_second_in_utc() {
        let t = parse_time("reported_at", "2026-03-01T09:30:00+08:00").unwrap();
        assert_eq!(time_text(t), "2026-03-01T01:30:00Z");
        assert!(parse_time("reported_at", "yesterday").is_err());
    }
}
