//! Household visits (入户走访) by grid workers: which households are due, which tagged ones are
//! overdue, and the month's visited share per grid and per worker.
//!
//! A household is a building's door: `"{building}/{door}"`, doors `1..=households` of the
//! building. Nothing else about residents is kept: no names, only what a visit needs (the door,
//! when, what was found and done).
//!
//! Cadences: every household once a calendar month (+08:00 by default); households needing help
//! (帮扶, [`Tag::Help`]) every 7 days; people of concern (关注, [`Tag::Concern`]) every 15 days. A
//! tagged household is **overdue** when it has no visit within its interval.

pub mod today;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a visit, tag or household key was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    /// A household key that is not `building/door`.
    #[error("household `{0}` is not `building/door` with a door number from 1")]
    BadHousehold(String),
    /// An unknown tag.
    #[error("tag `{0}` is not one of help (帮扶), concern (关注) or none")]
    BadTag(String),
}

/// A household: a door of a building.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Household {
    /// The building's id.
    pub building: String,
    /// The door number, from 1.
    pub door: u32,
}

impl Household {
    /// The key `building/door`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.building, self.door)
    }
}

impl FromStr for Household {
    type Err = VisitError;
    fn from_str(s: &str) -> Result<Household, VisitError> {
        let bad = || VisitError::BadHousehold(s.to_string());
        let (b, d) = s.rsplit_once('/').ok_or_else(bad)?;
        let door: u32 = d.parse().map_err(|_| bad())?;
        if b.is_empty() || door == 0 {
            return Err(bad());
        }
        Ok(Household {
            building: b.to_string(),
            door,
        })
    }
}

impl fmt::Display for Household {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.building, self.door)
    }
}

/// A leader's tag on a household, which sets how often it is visited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tag {
    /// 帮扶: needs help, visited weekly.
    Help,
    /// 关注: of concern, visited every half month.
    Concern,
}

const TAGS: &[(Tag, &str, &str)] = &[
    (Tag::Help, "help", "帮扶"),
    (Tag::Concern, "concern", "关注"),
];

impl Tag {
    /// `help` or `concern`.
    pub fn as_str(self) -> &'static str {
        TAGS.iter().find(|t| t.0 == self).map_or("", |t| t.1)
    }
    /// 帮扶 or 关注.
    pub fn zh(self) -> &'static str {
        TAGS.iter().find(|t| t.0 == self).map_or("", |t| t.2)
    }
    /// How many days may pass between visits.
    pub fn interval_days(self) -> i64 {
        match self {
            Tag::Help => 7,
            Tag::Concern => 15,
        }
    }
    /// Parses `help`/`帮扶`, `concern`/`关注`; `none`/`` is `Ok(None)` (the tag removed).
    pub fn parse_opt(s: &str) -> Result<Option<Tag>, VisitError> {
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(None);
        }
        TAGS.iter()
            .find(|t| t.1 == s || t.2 == s)
            .map(|t| Some(t.0))
            .ok_or_else(|| VisitError::BadTag(s.to_string()))
    }
}

/// The cadence of a household: its tag's, else monthly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Once a calendar month.
    Monthly,
    /// Every 15 days (关注).
    HalfMonthly,
    /// Every 7 days (帮扶).
    Weekly,
}

impl Cadence {
    /// The cadence of a household tagged `tag`.
    pub fn of(tag: Option<Tag>) -> Cadence {
        match tag {
            None => Cadence::Monthly,
            Some(Tag::Concern) => Cadence::HalfMonthly,
            Some(Tag::Help) => Cadence::Weekly,
        }
    }
}

/// The first instant of the calendar month of `now` (in `now`'s zone).
pub fn month_start(now: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let d = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or(now.date_naive());
    start_of(d, *now.offset())
}

/// The first instant of the month after `start`'s.
pub fn next_month(start: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let (y, m) = if start.month() == 12 {
        (start.year() + 1, 1)
    } else {
        (start.year(), start.month() + 1)
    };
    let d = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(start.date_naive());
    start_of(d, *start.offset())
}

fn start_of(d: NaiveDate, zone: FixedOffset) -> DateTime<FixedOffset> {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(zone).single())
        .unwrap_or_else(|| DateTime::<chrono::Utc>::UNIX_EPOCH.with_timezone(&zone))
}

/// Whether a household of `cadence` whose last visit was `last` is due at `now`: monthly ones
/// not visited this calendar month, tagged ones not visited within their interval.
pub fn is_due(
    cadence: Cadence,
    last: Option<DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
) -> bool {
    let Some(last) = last else { return true };
    match cadence {
        Cadence::Monthly => last < month_start(now),
        Cadence::HalfMonthly => now - last >= TimeDelta::days(15),
        Cadence::Weekly => now - last >= TimeDelta::days(7),
    }
}

/// Whether a household tagged `tag` is overdue at `now`: no visit within its interval.
pub fn is_overdue(
    tag: Tag,
    last: Option<DateTime<FixedOffset>>,
    now: DateTime<FixedOffset>,
) -> bool {
    last.is_none_or(|l| now - l > TimeDelta::days(tag.interval_days()))
}

/// One visit as figures need it.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitFact {
    /// Who visited (the worker's key: phone, else name).
    pub worker: String,
    /// The household.
    pub household: String,
    /// Its grid.
    pub grid: String,
}

/// The month's figures of one grid or worker.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Share {
    /// Households (of the grid, or of the worker's grids).
    pub households: u64,
    /// Distinct households visited this month.
    pub visited: u64,
    /// Visits logged this month.
    pub visits: u64,
    /// `visited / households` (0 when there are none).
    pub share: f64,
}

impl Share {
    fn finish(&mut self) {
        self.share = if self.households == 0 {
            0.0
        } else {
            (self.visited as f64 / self.households as f64 * 10_000.0).round() / 10_000.0
        };
    }
}

/// The visited shares of a month's `visits`: per grid of `grids` (code → households) and per
/// worker of `workers` (worker → their grids' codes).
pub fn shares(
    grids: &BTreeMap<String, u64>,
    workers: &BTreeMap<String, Vec<String>>,
    visits: &[VisitFact],
) -> (BTreeMap<String, Share>, BTreeMap<String, Share>) {
    let mut by_grid: BTreeMap<String, Share> = grids
        .iter()
        .map(|(g, h)| {
            (
                g.clone(),
                Share {
                    households: *h,
                    ..Share::default()
                },
            )
        })
        .collect();
    let mut seen_grid = std::collections::BTreeSet::new();
    let mut by_worker: BTreeMap<String, Share> = workers
        .iter()
        .map(|(w, gs)| {
            let households = gs.iter().filter_map(|g| grids.get(g)).sum();
            (
                w.clone(),
                Share {
                    households,
                    ..Share::default()
                },
            )
        })
        .collect();
    let mut seen_worker = std::collections::BTreeSet::new();
    for v in visits {
        if let Some(s) = by_grid.get_mut(&v.grid) {
            s.visits += 1;
            if seen_grid.insert((&v.grid, &v.household)) {
                s.visited += 1;
            }
        }
        let s = by_worker.entry(v.worker.clone()).or_default();
        s.visits += 1;
        if seen_worker.insert((&v.worker, &v.household)) {
            s.visited += 1;
        }
    }
    by_grid.values_mut().for_each(Share::finish);
    by_worker.values_mut().for_each(Share::finish);
    (by_grid, by_worker)
}

/// Distance in metres between two WGS84 points (equirectangular; fine within a town).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = std::f64::consts::PI / 180.0 * 6_371_008.8;
    let dx = (a.0 - b.0) * k * ((a.1 + b.1) / 2.0 * std::f64::consts::PI / 180.0).cos();
    let dy = (a.1 - b.1) * k;
    dx.hypot(dy)
}

/// A building of a grid as the due list needs it.
#[derive(Clone, Debug)]
pub struct DoorsOf {
    /// The building's id.
    pub building: String,
    /// Its grid.
    pub grid: String,
    /// How many households (doors 1..=n).
    pub households: u64,
    /// A point inside it (lon, lat).
    pub point: (f64, f64),
    /// Its address, if known.
    pub address: Option<String>,
}

/// A household due for a visit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Due {
    /// `building/door`.
    pub household: String,
    /// The building.
    pub building: String,
    /// The door.
    pub door: u32,
    /// Its grid.
    pub grid: String,
    /// The building's address.
    pub address: Option<String>,
    /// Its tag.
    pub tag: Option<Tag>,
    /// Its cadence.
    pub cadence: Cadence,
    /// The latest visit (RFC 3339, `now`'s zone).
    pub last_visit: Option<String>,
    /// Tagged and not visited within its interval.
    pub overdue: bool,
    /// Metres from the asking position, when one was given.
    pub distance_m: Option<f64>,
    /// The building's point.
    pub lon: f64,
    /// The building's point.
    pub lat: f64,
}

/// The households of `buildings` due at `now` (see [`is_due`]), nearest `from` first when a
/// position is given (else overdue first, then by household), with `tags` and each household's
/// latest visit in `last` (UTC milliseconds).
pub fn due_list(
    buildings: &[DoorsOf],
    tags: &BTreeMap<String, Tag>,
    last: &BTreeMap<String, i64>,
    now: DateTime<FixedOffset>,
    from: Option<(f64, f64)>,
) -> Vec<Due> {
    let zone = *now.offset();
    let mut out = Vec::new();
    for b in buildings {
        let dist = from.map(|p| (distance_m(p, b.point) * 10.0).round() / 10.0);
        for door in 1..=u32::try_from(b.households).unwrap_or(u32::MAX) {
            let key = format!("{}/{door}", b.building);
            let tag = tags.get(&key).copied();
            let cadence = Cadence::of(tag);
            let lv = last
                .get(&key)
                .and_then(|ms| DateTime::from_timestamp_millis(*ms))
                .map(|t| t.with_timezone(&zone));
            if !is_due(cadence, lv, now) {
                continue;
            }
            out.push(Due {
                overdue: tag.is_some_and(|t| is_overdue(t, lv, now)),
                household: key,
                building: b.building.clone(),
                door,
                grid: b.grid.clone(),
                address: b.address.clone(),
                tag,
                cadence,
                last_visit: lv.map(|t| t.to_rfc3339()),
                distance_m: dist,
                lon: b.point.0,
                lat: b.point.1,
            });
        }
    }
    match from {
        Some(_) => out.sort_by(|a, b| {
            a.distance_m
                .partial_cmp(&b.distance_m)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.door.cmp(&b.door))
        }),
        None => out.sort_by(|a, b| {
            b.overdue
                .cmp(&a.overdue)
                .then(a.household.cmp(&b.household))
        }),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn households_and_tags_parse() {
        let h: Household = "B-12/3".parse().unwrap();
        assert_eq!(h.key(), "B-12/3");
        assert!("B-12".parse::<Household>().is_err());
        assert!("B/0".parse::<Household>().is_err());
        assert_eq!(Tag::parse_opt("帮扶").unwrap(), Some(Tag::Help));
        assert_eq!(Tag::parse_opt("concern").unwrap(), Some(Tag::Concern));
        assert_eq!(Tag::parse_opt("none").unwrap(), None);
        assert!(Tag::parse_opt("vip").is_err());
    }

    #[test]
    fn due_and_overdue() {
        let now = t("2026-12-06T10:00:00+08:00");
        assert!(is_due(Cadence::Monthly, None, now));
        assert!(!is_due(
            Cadence::Monthly,
            Some(t("2026-12-01T00:00:00+08:00")),
            now
        ));
        assert!(is_due(
            Cadence::Monthly,
            Some(t("2026-11-30T23:59:00+08:00")),
            now
        ));
        assert!(is_overdue(
            Tag::Help,
            Some(t("2026-11-28T10:00:00+08:00")),
            now
        ));
        assert!(!is_overdue(
            Tag::Help,
            Some(t("2026-11-30T10:00:00+08:00")),
            now
        ));
        assert!(!is_overdue(
            Tag::Concern,
            Some(t("2026-11-28T10:00:00+08:00")),
            now
        ));
        assert_eq!(next_month(month_start(now)), t("2027-01-01T00:00:00+08:00"));
    }

    #[test]
    fn shares_count_households_once() {
        let grids = BTreeMap::from([("G1".to_string(), 4), ("G2".to_string(), 2)]);
        let workers = BTreeMap::from([("w".to_string(), vec!["G1".to_string()])]);
        let v = |w: &str, h: &str, g: &str| VisitFact {
            worker: w.into(),
            household: h.into(),
            grid: g.into(),
        };
        let visits = [
            v("w", "a/1", "G1"),
            v("w", "a/1", "G1"),
            v("w", "a/2", "G1"),
            v("x", "b/1", "G2"),
        ];
        let (g, w) = shares(&grids, &workers, &visits);
        assert_eq!(g["G1"].visited, 2);
        assert_eq!(g["G1"].visits, 3);
        assert_eq!(g["G1"].share, 0.5);
        assert_eq!(g["G2"].share, 0.5);
        assert_eq!(w["w"].share, 0.5);
        assert_eq!(w["x"].households, 0);
    }

    #[test]
    fn due_lists_nearest_first_and_skips_visited() {
        let now = t("2026-12-06T10:00:00+08:00");
        let b = |id: &str, x: f64| DoorsOf {
            building: id.into(),
            grid: "G".into(),
            households: 2,
            point: (x, 30.0),
            address: None,
        };
        let last = BTreeMap::from([("far/1".to_string(), now.timestamp_millis() - 3_600_000)]);
        let tags = BTreeMap::from([("near/2".to_string(), Tag::Help)]);
        let d = due_list(
            &[b("far", 120.01), b("near", 120.0)],
            &tags,
            &last,
            now,
            Some((120.0, 30.0)),
        );
        let keys: Vec<&str> = d.iter().map(|d| d.household.as_str()).collect();
        assert_eq!(keys, ["near/1", "near/2", "far/2"]);
        assert!(d[1].overdue && !d[0].overdue);
        assert_eq!(d[1].cadence, Cadence::Weekly);
    }
}
