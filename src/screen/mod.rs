//! The command room's big screen (指挥中心大屏): what the wall shows, computed from the map and
//! today's patrol points (no HTTP, no database: the routes in `serve::routes::screen` read the
//! points and hand them here).
//!
//! [`summary`] gives a [`Summary`] of one [`Area`] (the whole jurisdiction, a town or a village)
//! for one local day:
//!
//! - **headline figures** ([`Headline`]): villages, grids, households, residents, registered grid
//!   workers and those *on duty* (a registered grid worker with at least one accepted point
//!   today inside the area, matched as [`crate::patrol::roster`] says), grids *patrolled twice*
//!   today (一日双巡 met), *once* (one or more patrols, not two far enough apart) and *not yet*
//!   (no patrol), the *coverage share* (grids patrolled at least once / grids), the share
//!   patrolled twice, the share of road length walked, and the day's points;
//! - the **grids that missed** today's patrols, worst first, by the daily report's own rule
//!   ([`crate::patrol::report::worst_first`]), with the grid leader;
//! - **points per hour** (24 local hours) of accepted points inside the area;
//! - each grid's **patrol state** (0 not yet, 1 once, 2 twice) for the map;
//! - the time of the newest point, and the area's events ([`event_board`]: today's figures and
//!   the open events as dots on the map, overdue first) when the store keeps events (else `None`).
//!
//! The patrol figures are exactly those of `GET /api/patrol/coverage?day=` and the daily report:
//! the same [`coverage_by_day`] run over the same accepted points.

use crate::events::deadline::DueStatus;
use crate::events::flow::State;
use crate::events::Event;
use crate::model::GridCode;
use crate::patrol::report::{daily_report, ranked, MissedGrid};
use crate::patrol::{
    coverage_by_day, CoverageIndex, GridCoverage, PatrolPoint, Period, Roster, Window,
};
use crate::snapshot::{Role, Snapshot};
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::convert::Infallible;

/// A screen's request that cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    /// `town=` or `village=` is not a code of the right length.
    #[error("`{field}={value}` is not a {want}-digit {field} code")]
    BadCode {
        /// `town` or `village`.
        field: &'static str,
        /// What was given.
        value: String,
        /// Digits wanted.
        want: usize,
    },
    /// Both `town=` and `village=` were given.
    #[error("give `town=` or `village=`, not both")]
    Both,
}

/// Which part of the jurisdiction a screen shows: everything, a town (9-digit code, 镇/街道) or a
/// village (12-digit code, 村/社区). Grids belong to an area by their village's code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Every village.
    #[default]
    All,
    /// The villages whose code starts with these 9 digits.
    Town(String),
    /// One village.
    Village(String),
}

fn digits(field: &'static str, value: &str, want: usize) -> Result<String, ScreenError> {
    let v = value.trim();
    if v.len() == want && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_string())
    } else {
        Err(ScreenError::BadCode {
            field,
            value: value.to_string(),
            want,
        })
    }
}

impl Area {
    /// The area of `town=` / `village=` (neither: everything).
    pub fn parse(town: Option<&str>, village: Option<&str>) -> Result<Area, ScreenError> {
        match (town, village) {
            (None, None) => Ok(Area::All),
            (Some(t), None) => digits("town", t, 9).map(Area::Town),
            (None, Some(v)) => digits("village", v, 12).map(Area::Village),
            (Some(_), Some(_)) => Err(ScreenError::Both),
        }
    }
    /// Whether a village (by code) is in the area.
    pub fn holds(&self, village_code: &str) -> bool {
        match self {
            Area::All => true,
            Area::Town(t) => village_code.starts_with(t.as_str()),
            Area::Village(v) => village_code == v,
        }
    }
    /// The code (`None` for everything).
    pub fn code(&self) -> Option<&str> {
        match self {
            Area::All => None,
            Area::Town(c) | Area::Village(c) => Some(c),
        }
    }
}

/// A grid's patrols today, as the map colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PatrolState {
    /// No patrol yet.
    None,
    /// One or more patrols, not two far enough apart.
    Once,
    /// Twice patrolled (一日双巡).
    Twice,
}

impl PatrolState {
    /// `none`, `once` or `twice`.
    pub fn as_str(self) -> &'static str {
        match self {
            PatrolState::None => "none",
            PatrolState::Once => "once",
            PatrolState::Twice => "twice",
        }
    }
    /// 0, 1 or 2 (what the screen's map is coloured by).
    pub fn level(self) -> u8 {
        self as u8
    }
    /// The state of a grid's figures on `day`.
    pub fn of(c: &GridCoverage, day: NaiveDate) -> PatrolState {
        match c.days.iter().find(|d| d.day == day) {
            Some(d) if d.twice => PatrolState::Twice,
            Some(d) if d.patrols > 0 => PatrolState::Once,
            _ => PatrolState::None,
        }
    }
}

impl Serialize for PatrolState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.level())
    }
}

/// Today's events of the area ([`event_board`]), when the store has an events table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EventFigures {
    /// Reported today.
    pub reported: u64,
    /// Open now.
    pub open: u64,
    /// Open past their deadline.
    pub overdue: u64,
    /// Closed today.
    pub closed: u64,
}

/// An open event on the screen's map (no title or description: a wall is seen by visitors).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventDot {
    /// Its number.
    pub number: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Where it is in the flow.
    pub state: State,
    /// Its deadline status now: overdue ones pulse red on the screen.
    pub due: DueStatus,
}

/// Most dots sent to a screen: the overdue first, then the newest.
pub const MAX_DOTS: usize = 5000;

/// Today's event figures of `area` and its open events as dots (overdue first, then newest,
/// at most [`MAX_DOTS`]), from `events` (any area: those outside are left out). `window` is the
/// local day: reported in it, open now, open and past their step's deadline at `now`, closed
/// in it.
pub fn event_board(
    events: &[Event],
    area: &Area,
    window: &Window,
    now: DateTime<Utc>,
) -> (EventFigures, Vec<EventDot>) {
    let today = |t: DateTime<Utc>| t >= window.from && t < window.to;
    let mut f = EventFigures::default();
    let mut dots = Vec::new();
    // the whole jurisdiction counts events located in no village too
    let inside = events.iter().filter(|e| match &e.location.village {
        Some(v) => area.holds(v.as_str()),
        None => *area == Area::All,
    });
    for e in inside {
        let due = e.due_status(now);
        f.reported += u64::from(today(e.reported_at));
        if e.state.is_open() {
            f.open += 1;
            f.overdue += u64::from(due == DueStatus::Overdue);
            dots.push((
                e.reported_at,
                EventDot {
                    number: e.number.clone(),
                    lon: e.lon,
                    lat: e.lat,
                    state: e.state,
                    due,
                },
            ));
        }
        f.closed += u64::from(e.state.is_closed() && e.closed_at.is_some_and(today));
    }
    dots.sort_by(|(ta, a), (tb, b)| {
        (b.due == DueStatus::Overdue)
            .cmp(&(a.due == DueStatus::Overdue))
            .then(tb.cmp(ta))
            .then(a.number.cmp(&b.number))
    });
    dots.truncate(MAX_DOTS);
    (f, dots.into_iter().map(|(_, d)| d).collect())
}

/// The headline figures of an area today.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Headline {
    /// Villages and communities.
    pub villages: usize,
    /// Grids.
    pub grids: usize,
    /// Households (sum of the grids').
    pub households: f64,
    /// Residents (sum of the grids').
    pub residents: f64,
    /// Registered grid workers of the area's grids.
    pub workers: usize,
    /// Of them, with an accepted point inside the area today.
    pub workers_on_duty: usize,
    /// Grids patrolled twice today.
    pub grids_twice: usize,
    /// Grids patrolled, but not twice.
    pub grids_once: usize,
    /// Grids not patrolled yet.
    pub grids_none: usize,
    /// Grids patrolled at least once / grids (`None` without grids).
    pub coverage_share: Option<f64>,
    /// Grids patrolled twice / grids.
    pub twice_share: Option<f64>,
    /// Road length walked / road length of the area's grids (`None` without roads).
    pub road_share: Option<f64>,
    /// Accepted points inside the area today.
    pub points: usize,
}

/// A grid of the worst-first list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MissedRow {
    /// The daily report's row (rank, grid, village, what it missed, shares).
    #[serde(flatten)]
    pub report: MissedGrid,
    /// The grid leader's name.
    pub leader: Option<String>,
    /// The grid leader's phone.
    pub phone: Option<String>,
}

/// What the big screen shows (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The area's code (`None`: everything).
    pub area: Option<String>,
    /// The local day.
    pub day: NaiveDate,
    /// Its zone, e.g. `+08:00`.
    pub zone: String,
    /// When this was computed (RFC 3339, in the zone).
    pub computed_at: String,
    /// The newest accepted point of the day inside the area (RFC 3339), if any.
    pub last_point_at: Option<String>,
    /// The store's patrol revision the points were read at.
    pub patrol_revision: i64,
    /// The map's revision.
    pub map_revision: i64,
    /// Headline figures.
    pub figures: Headline,
    /// Today's events; `None` when the store has no events.
    pub events: Option<EventFigures>,
    /// The area's open events on the map, overdue first ([`event_board`]).
    pub event_dots: Vec<EventDot>,
    /// Grids that missed today's patrol or the second one, worst first (at most `list_len`).
    pub missed: Vec<MissedRow>,
    /// How many grids missed something (the list may be cut).
    pub missed_total: usize,
    /// Accepted points inside the area per local hour 0–23.
    pub hourly: [usize; 24],
    /// Each grid of the area: its patrol state (0 none, 1 once, 2 twice), by code.
    pub grids: BTreeMap<GridCode, PatrolState>,
}

/// What a summary is computed from.
pub struct Input<'a> {
    /// The map.
    pub snapshot: &'a Snapshot,
    /// Its coverage index (in snapshot grid order).
    pub index: &'a CoverageIndex,
    /// Its registered grid workers.
    pub roster: &'a Roster,
    /// The day's accepted points (any area: those outside are left out).
    pub points: &'a [PatrolPoint],
    /// The local day.
    pub day: NaiveDate,
    /// Its zone.
    pub zone: FixedOffset,
    /// The area shown.
    pub area: &'a Area,
    /// The time now (for `computed_at`).
    pub now: DateTime<FixedOffset>,
    /// The patrol revision the points were read at.
    pub patrol_revision: i64,
    /// The events open now or changed today, any area (`None`: the store keeps no events).
    pub events: Option<&'a [Event]>,
    /// Longest worst-first list.
    pub list_len: usize,
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Which grids (snapshot indexes) are in the area.
fn area_grids(snap: &Snapshot, area: &Area) -> Vec<bool> {
    snap.grids
        .iter()
        .map(|g| {
            snap.villages
                .get(g.village)
                .is_some_and(|v| area.holds(v.code.as_str()))
        })
        .collect()
}

/// Computes the screen's summary (see the [module docs](self)).
pub fn summary(i: &Input<'_>) -> Summary {
    let snap = i.snapshot;
    let inside = area_grids(snap, i.area);
    let period = Period::day(i.day, i.zone);
    let cov = coverage_by_day(
        i.index,
        &period,
        Some(i.roster),
        |_| Ok::<_, Infallible>(i.points.to_vec()),
        |_, _| {},
    )
    .unwrap_or_else(|e| match e {});
    let mine: Vec<GridCoverage> = cov
        .grids
        .iter()
        .filter(|c| inside.get(c.grid).copied().unwrap_or(false))
        .cloned()
        .collect();
    let (hourly, last) = hourly(i, &inside);
    let mut figures = headline(snap, &mine, i.day, i.area);
    figures.points = hourly.iter().sum();
    figures.workers = i
        .roster
        .workers()
        .iter()
        .filter(|w| w.grids.iter().any(|&g| inside.get(g) == Some(&true)))
        .count();
    figures.workers_on_duty = on_duty(i, &inside);
    let (missed, missed_total) = missed_rows(snap, &mine, i.day, i.list_len);
    let window = Window::day(i.day, i.zone);
    let board = i
        .events
        .map(|evs| event_board(evs, i.area, &window, i.now.with_timezone(&Utc)));
    Summary {
        area: i.area.code().map(str::to_string),
        day: i.day,
        zone: i.zone.to_string(),
        computed_at: i.now.to_rfc3339_opts(SecondsFormat::Secs, false),
        last_point_at: last.map(|t| {
            t.with_timezone(&i.zone)
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        }),
        patrol_revision: i.patrol_revision,
        map_revision: snap.revision,
        figures,
        events: board.as_ref().map(|(f, _)| *f),
        event_dots: board.map(|(_, d)| d).unwrap_or_default(),
        missed,
        missed_total,
        hourly,
        grids: mine
            .iter()
            .map(|c| (c.code.clone(), PatrolState::of(c, i.day)))
            .collect(),
    }
}

/// The figures of the area's grids (`mine`) that come from the map and the grids' coverage.
fn headline(snap: &Snapshot, mine: &[GridCoverage], day: NaiveDate, area: &Area) -> Headline {
    let mut h = Headline {
        grids: mine.len(),
        // villages of the area, with a plan or not
        villages: snap
            .villages
            .iter()
            .filter(|v| area.holds(v.code.as_str()))
            .count(),
        ..Headline::default()
    };
    let (mut road, mut walked) = (0.0, 0.0);
    for c in mine {
        if let Some(g) = snap.grids.get(c.grid) {
            h.households += g.figures.households;
            h.residents += g.figures.residents;
        }
        road += c.road_m;
        walked += c.road_walked_m;
        match PatrolState::of(c, day) {
            PatrolState::Twice => h.grids_twice += 1,
            PatrolState::Once => h.grids_once += 1,
            PatrolState::None => h.grids_none += 1,
        }
    }
    h.coverage_share = share(h.grids_twice + h.grids_once, h.grids);
    h.twice_share = share(h.grids_twice, h.grids);
    h.road_share = (road > 0.0).then(|| walked / road);
    h
}

/// Points per local hour inside the area, and the newest one's time.
fn hourly(i: &Input<'_>, inside: &[bool]) -> ([usize; 24], Option<DateTime<FixedOffset>>) {
    let mut hours = [0usize; 24];
    let mut last: Option<DateTime<FixedOffset>> = None;
    let whole = matches!(i.area, Area::All);
    for p in i.points {
        let t = p.time.with_timezone(&i.zone);
        if t.date_naive() != i.day {
            continue;
        }
        if !whole {
            let g = i.index.grid_at(i.index.metric().xy(p.lon, p.lat));
            if !g.is_some_and(|g| inside.get(g).copied().unwrap_or(false)) {
                continue;
            }
        }
        hours[t.hour() as usize] += 1;
        if last.is_none_or(|l| p.time > l) {
            last = Some(p.time);
        }
    }
    (hours, last)
}

/// Registered grid workers of the area with a point inside it today.
fn on_duty(i: &Input<'_>, inside: &[bool]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    let whole = matches!(i.area, Area::All);
    for p in i.points {
        if p.time.with_timezone(&i.zone).date_naive() != i.day {
            continue;
        }
        let crate::patrol::roster::Match::Worker(w) = i.roster.resolve(&p.worker) else {
            continue;
        };
        if seen.contains(&w) {
            continue;
        }
        let registered_here = i.roster.workers()[w]
            .grids
            .iter()
            .any(|&g| inside.get(g) == Some(&true));
        let here = whole || {
            let g = i.index.grid_at(i.index.metric().xy(p.lon, p.lat));
            g.is_some_and(|g| inside.get(g).copied().unwrap_or(false))
        };
        if registered_here && here {
            seen.insert(w);
        }
    }
    seen.len()
}

/// The area's grids that missed today's patrols, worst first across towns (at most `len`), and
/// how many missed.
fn missed_rows(
    snap: &Snapshot,
    mine: &[GridCoverage],
    day: NaiveDate,
    len: usize,
) -> (Vec<MissedRow>, usize) {
    let all: Vec<MissedGrid> = daily_report(snap, mine, day)
        .into_iter()
        .flat_map(|t| t.missed)
        .collect();
    let total = all.len();
    let by_code: BTreeMap<&str, usize> = mine.iter().map(|c| (c.code.as_str(), c.grid)).collect();
    let rows = ranked(all)
        .into_iter()
        .take(len)
        .map(|m| {
            let leader = by_code
                .get(m.grid.as_str())
                .and_then(|&g| snap.grids.get(g))
                .and_then(|g| g.people.iter().find(|p| p.role == Role::GridLeader));
            MissedRow {
                leader: leader.map(|p| p.name.clone()),
                phone: leader.and_then(|p| p.phone.clone()),
                report: m,
            }
        })
        .collect();
    (rows, total)
}
