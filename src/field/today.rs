//! My grid today (我的网格·今日): for a logged-in grid worker, each of their grids' patrol state
//! today (not yet / once / twice, with the times of each patrol), their own coverage shares today
//! and this month, and the buildings and key targets they have not passed this month.
//!
//! Nothing is recomputed here: the figures are [`crate::patrol::CoverageIndex`] runs, the same as
//! `GET /api/patrol/coverage?day=` and `?month=` give (one run over the day, one over its
//! calendar month fed a day at a time); this module only picks the caller's grids and worker out
//! of them and lists the patrols and the unpassed buildings the runs hold.

use crate::patrol::roster::Match;
use crate::patrol::{
    BuildingPass, CoverageIndex, GridCoverage, PatrolPoint, Period, Roster, WorkerCoverage,
};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::Serialize;
use std::collections::HashMap;

/// Most unpassed buildings listed (all are counted).
pub const MAX_UNPASSED: usize = 200;

/// A grid's patrol state on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatrolState {
    /// No patrol yet (未巡查).
    None,
    /// Patrolled, but not twice (已巡一次): one patrol, or two too close together.
    Once,
    /// Two patrols far enough apart (一日双巡).
    Twice,
}

const STATES: &[(PatrolState, &str, &str)] = &[
    (PatrolState::None, "none", "未巡查"),
    (PatrolState::Once, "once", "已巡一次"),
    (PatrolState::Twice, "twice", "已巡两次"),
];

impl PatrolState {
    /// `none`, `once` or `twice`.
    pub fn as_str(self) -> &'static str {
        STATES.iter().find(|s| s.0 == self).map_or("", |s| s.1)
    }
    /// 未巡查, 已巡一次 or 已巡两次.
    pub fn zh(self) -> &'static str {
        STATES.iter().find(|s| s.0 == self).map_or("", |s| s.2)
    }
    /// The state of a grid from its figures of one day.
    pub fn of(day: &GridCoverage) -> PatrolState {
        match (day.patrols, day.days.iter().any(|d| d.twice)) {
            (0, _) => PatrolState::None,
            (_, true) => PatrolState::Twice,
            _ => PatrolState::Once,
        }
    }
}

/// One patrol of a grid on the day, in the request's zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatrolTime {
    /// First point.
    pub start: DateTime<FixedOffset>,
    /// Last point.
    pub end: DateTime<FixedOffset>,
    /// Points inside the grid.
    pub points: usize,
    /// Walked by the caller (else by another worker of the grid).
    pub mine: bool,
}

/// One of my grids: its state and patrols today, its figures today and this month (every
/// worker's points, as `GET /api/patrol/coverage` gives them).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GridToday {
    /// The grid's code.
    pub code: String,
    /// Today's state.
    pub state: PatrolState,
    /// Today's state in Chinese.
    pub state_zh: &'static str,
    /// Today's patrols, in time order.
    pub patrols: Vec<PatrolTime>,
    /// The day's figures.
    pub today: GridCoverage,
    /// The month's figures (to the day).
    pub month: GridCoverage,
}

/// A building not passed this month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unpassed {
    /// The building's id.
    pub id: String,
    /// Its grid's code.
    pub grid: String,
    /// A key target (school, hospital, factory, shop, office).
    pub target: bool,
    /// Its address, when known.
    pub address: Option<String>,
    /// Its point (WGS84), when known.
    pub lon: Option<f64>,
    /// Its point (WGS84), when known.
    pub lat: Option<f64>,
    /// Metres from the position asked from, when one was given.
    pub distance_m: Option<f64>,
}

/// The answer of `GET /api/field/today`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MyDay {
    /// The day (local).
    pub day: NaiveDate,
    /// Its month, `YYYY-MM`.
    pub month: String,
    /// My grids.
    pub grids: Vec<GridToday>,
    /// My own figures today (my points only), when I am a registered grid worker.
    pub me_today: Option<WorkerCoverage>,
    /// My own figures this month.
    pub me_month: Option<WorkerCoverage>,
    /// Whose passing the unpassed list is about: `me` (my points) or `grid` (anyone's, for a
    /// caller who is not a registered worker, e.g. a grid leader).
    pub passed_by: &'static str,
    /// Key targets of my grids not passed this month.
    pub targets_unpassed: usize,
    /// Buildings (targets included) of my grids not passed this month.
    pub buildings_unpassed: usize,
    /// Of them, targets first, then nearest (or by id), at most [`MAX_UNPASSED`].
    pub unpassed: Vec<Unpassed>,
}

/// What `my_day` needs besides the points.
pub struct Ask<'a> {
    /// The coverage index (the whole map's).
    pub index: &'a CoverageIndex,
    /// The registered grid workers.
    pub roster: &'a Roster,
    /// The caller's worker key (their phone, else name), as their patrol points carry it.
    pub worker: &'a str,
    /// The caller's grids (indexes in the index).
    pub grids: &'a [usize],
    /// The day.
    pub day: NaiveDate,
    /// The zone of days.
    pub zone: FixedOffset,
    /// Address and point of buildings by id (for the unpassed list).
    pub places: &'a HashMap<String, (Option<String>, f64, f64)>,
    /// Where the caller stands (lon, lat), to list the nearest first.
    pub from: Option<(f64, f64)>,
}

/// The month of `day` up to `day`: the days to read points of.
pub fn days_to_read(day: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let first = day.with_day(1).unwrap_or(day);
    first.iter_days().take_while(move |d| *d <= day)
}

/// My day from the accepted points of each day of the month up to `ask.day`
/// (`points_of(d)`, as [`days_to_read`] lists them).
pub fn my_day<E>(
    ask: &Ask<'_>,
    mut points_of: impl FnMut(NaiveDate) -> Result<Vec<PatrolPoint>, E>,
) -> Result<MyDay, E> {
    let month = Period::month(ask.day.year(), ask.day.month(), ask.zone)
        .unwrap_or_else(|| Period::day(ask.day, ask.zone));
    let today = Period::day(ask.day, ask.zone);
    let mut m_run = ask.index.run(month.window(), Some(ask.roster));
    let mut d_run = ask.index.run(today.window(), Some(ask.roster));
    for d in days_to_read(ask.day) {
        let points = points_of(d)?;
        if d == ask.day {
            d_run.add(&points);
        }
        m_run.add(&points);
    }
    let me = match ask.roster.resolve(ask.worker) {
        Match::Worker(w) => Some(w),
        _ => None,
    };
    let patrols: Vec<Vec<PatrolTime>> = ask
        .grids
        .iter()
        .map(|&g| {
            d_run
                .grid_patrols(g)
                .into_iter()
                .map(|p| PatrolTime {
                    start: p.start.with_timezone(&ask.zone),
                    end: p.end.with_timezone(&ask.zone),
                    points: p.points,
                    mine: &*p.worker == ask.worker,
                })
                .collect()
        })
        .collect();
    let passes: Vec<BuildingPass> = match me {
        Some(w) => m_run.worker_buildings(w),
        None => ask
            .grids
            .iter()
            .flat_map(|&g| m_run.grid_buildings(g))
            .collect(),
    };
    let (d_cov, m_cov) = (d_run.finish(), m_run.finish());
    let worker_of = |c: &crate::patrol::Coverage| {
        let w = me.and_then(|w| ask.roster.workers().get(w))?;
        c.workers
            .iter()
            .find(|x| x.worker == w.name && x.phone == w.phone)
            .cloned()
    };
    let grids = ask
        .grids
        .iter()
        .zip(patrols)
        .filter_map(|(&g, patrols)| {
            let (today, month) = (d_cov.grids.get(g)?.clone(), m_cov.grids.get(g)?.clone());
            let state = PatrolState::of(&today);
            Some(GridToday {
                code: today.code.as_str().to_string(),
                state,
                state_zh: state.zh(),
                patrols,
                today,
                month,
            })
        })
        .collect();
    let (targets_unpassed, buildings_unpassed, unpassed) = unpassed_list(ask, &passes);
    Ok(MyDay {
        day: ask.day,
        month: format!("{:04}-{:02}", ask.day.year(), ask.day.month()),
        grids,
        me_today: worker_of(&d_cov),
        me_month: worker_of(&m_cov),
        passed_by: if me.is_some() { "me" } else { "grid" },
        targets_unpassed,
        buildings_unpassed,
        unpassed,
    })
}

/// The unpassed buildings: (targets, all, the listed ones: targets first, then nearest or by id).
fn unpassed_list(ask: &Ask<'_>, passes: &[BuildingPass]) -> (usize, usize, Vec<Unpassed>) {
    let mut list: Vec<Unpassed> = passes
        .iter()
        .filter(|b| !b.passed)
        .map(|b| {
            let place = ask.places.get(&*b.id);
            let (lon, lat) = (place.map(|p| p.1), place.map(|p| p.2));
            Unpassed {
                id: b.id.to_string(),
                grid: ask
                    .index
                    .code(b.grid)
                    .map_or(String::new(), |c| c.as_str().to_string()),
                target: b.target,
                address: place.and_then(|p| p.0.clone()),
                lon,
                lat,
                distance_m: match (ask.from, lon, lat) {
                    (Some(a), Some(x), Some(y)) => {
                        Some((super::distance_m(a, (x, y)) * 10.0).round() / 10.0)
                    }
                    _ => None,
                },
            }
        })
        .collect();
    let targets = list.iter().filter(|u| u.target).count();
    let all = list.len();
    list.sort_by(|a, b| {
        b.target
            .cmp(&a.target)
            .then(
                a.distance_m
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.distance_m.unwrap_or(f64::MAX)),
            )
            .then(a.id.cmp(&b.id))
    });
    list.truncate(MAX_UNPASSED);
    (targets, all, list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patrol::GridDay;

    fn day(patrols: usize, twice: bool) -> GridCoverage {
        let d: NaiveDate = "2026-12-06".parse().unwrap();
        GridCoverage {
            grid: 0,
            code: crate::model::GridCode::parse("110101001001001").unwrap(),
            points: 10,
            patrols,
            days: (patrols > 0)
                .then_some(GridDay {
                    day: d,
                    patrols,
                    workers: 1,
                    twice,
                })
                .into_iter()
                .collect(),
            days_twice: usize::from(twice),
            road_m: 0.0,
            road_walked_m: 0.0,
            road_share: None,
            targets: 0,
            targets_passed: 0,
            target_share: None,
            buildings: 0,
            buildings_passed: 0,
            building_share: None,
            cells: 0,
            cells_visited: 0,
            cell_share: None,
        }
    }

    #[test]
    fn states_from_a_days_figures() {
        assert_eq!(PatrolState::of(&day(0, false)), PatrolState::None);
        assert_eq!(PatrolState::of(&day(1, false)), PatrolState::Once);
        // two walks close together are one round
        assert_eq!(PatrolState::of(&day(2, false)), PatrolState::Once);
        assert_eq!(PatrolState::of(&day(2, true)), PatrolState::Twice);
        assert_eq!(PatrolState::Once.zh(), "已巡一次");
        assert_eq!(PatrolState::Twice.as_str(), "twice");
    }

    #[test]
    fn the_month_is_read_to_the_day() {
        let d: NaiveDate = "2026-12-06".parse().unwrap();
        let days: Vec<NaiveDate> = days_to_read(d).collect();
        assert_eq!(days.len(), 6);
        assert_eq!(days[0].to_string(), "2026-12-01");
        assert_eq!(days[5], d);
    }
}
