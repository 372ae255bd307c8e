//! The daily report per town (每日巡查通报): grids that missed their patrol or the second one.
//!
//! The rule: for the day's [`GridCoverage`] (window = that local day), a grid with no patrol has
//! *missed the patrol*; one with patrols but no two [`super::PatrolRules::min_apart`] apart has
//! *missed the second patrol*. Towns are the first 9 digits of village codes. Ranked worst first:
//! missed patrol before missed second, then by road share walked (lowest first; the H3 share for a
//! grid without roads, 0 when neither exists), then by grid code.

use super::coverage::GridCoverage;
use crate::model::GridCode;
use crate::snapshot::Snapshot;
use chrono::NaiveDate;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What a grid missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// No patrol at all.
    Patrol,
    /// One round only (一日双巡 not met).
    SecondPatrol,
}

impl Missed {
    /// `patrol` or `second_patrol`.
    pub fn as_str(self) -> &'static str {
        match self {
            Missed::Patrol => "patrol",
            Missed::SecondPatrol => "second_patrol",
        }
    }
}

/// A grid in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MissedGrid {
    /// 1 = worst.
    pub rank: usize,
    /// Grid code.
    pub grid: GridCode,
    /// Village or community name.
    pub village: String,
    /// What it missed.
    pub missed: Missed,
    /// Patrols that day.
    pub patrols: usize,
    /// Share of road length walked.
    pub road_share: Option<f64>,
    /// Share of key targets passed.
    pub target_share: Option<f64>,
    /// Share of H3 cells visited.
    pub cell_share: Option<f64>,
}

/// One town's day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TownReport {
    /// 9-digit town code.
    pub town: String,
    /// Local day.
    pub day: NaiveDate,
    /// Grids in the town.
    pub grids: usize,
    /// Grids twice patrolled.
    pub grids_twice: usize,
    /// Grids that missed something, worst first.
    pub missed: Vec<MissedGrid>,
}

/// The report of `day` per town, towns in code order, from that day's coverage.
pub fn daily_report(snap: &Snapshot, coverage: &[GridCoverage], day: NaiveDate) -> Vec<TownReport> {
    let mut towns: BTreeMap<String, TownReport> = BTreeMap::new();
    let mut keyed: BTreeMap<String, Vec<MissedGrid>> = BTreeMap::new();
    for c in coverage {
        let Some(g) = snap.grids.get(c.grid) else {
            continue;
        };
        let v = snap.villages.get(g.village);
        let vcode = v.map(|v| v.code.as_str()).unwrap_or("");
        let town: String = vcode.chars().take(9).collect();
        let t = towns.entry(town.clone()).or_insert_with(|| TownReport {
            town: town.clone(),
            day,
            grids: 0,
            grids_twice: 0,
            missed: Vec::new(),
        });
        t.grids += 1;
        let d = c.days.iter().find(|d| d.day == day);
        let patrols = d.map_or(0, |d| d.patrols);
        let missed = match d {
            Some(d) if d.twice => {
                t.grids_twice += 1;
                continue;
            }
            _ if patrols == 0 => Missed::Patrol,
            _ => Missed::SecondPatrol,
        };
        keyed.entry(town).or_default().push(MissedGrid {
            rank: 0,
            grid: c.code.clone(),
            village: v.map(|v| v.name.clone()).unwrap_or_default(),
            missed,
            patrols,
            road_share: c.road_share,
            target_share: c.target_share,
            cell_share: c.cell_share,
        });
    }
    for (town, rows) in keyed {
        if let Some(t) = towns.get_mut(&town) {
            t.missed = ranked(rows);
        }
    }
    towns.into_values().collect()
}

/// The report's order (see the [module docs](self)): missed patrol before missed second, then
/// by road share walked, lowest first (the H3 share without roads, 0 without either), then by
/// grid code.
pub fn worst_first(a: &MissedGrid, b: &MissedGrid) -> Ordering {
    let score = |m: &MissedGrid| m.road_share.or(m.cell_share).unwrap_or(0.0);
    a.missed
        .cmp(&b.missed)
        .then(score(a).total_cmp(&score(b)))
        .then_with(|| a.grid.cmp(&b.grid))
}

/// `rows` sorted [`worst_first`] and ranked from 1.
pub fn ranked(mut rows: Vec<MissedGrid>) -> Vec<MissedGrid> {
    rows.sort_by(worst_first);
    for (i, m) in rows.iter_mut().enumerate() {
        m.rank = i + 1;
    }
    rows
}

/// The reports as CSV text: `town,day,rank,grid,village,missed,patrols,road_share,target_share,
/// cell_share` (shares with 4 decimals, empty when there is nothing to cover).
pub fn to_csv(reports: &[TownReport]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let f = |x: Option<f64>| x.map(|x| format!("{x:.4}")).unwrap_or_default();
    let _ = w.write_record([
        "town",
        "day",
        "rank",
        "grid",
        "village",
        "missed",
        "patrols",
        "road_share",
        "target_share",
        "cell_share",
    ]);
    for t in reports {
        for m in &t.missed {
            let _ = w.write_record([
                t.town.clone(),
                t.day.to_string(),
                m.rank.to_string(),
                m.grid.to_string(),
                m.village.clone(),
                m.missed.as_str().to_string(),
                m.patrols.to_string(),
                f(m.road_share),
                f(m.target_share),
                f(m.cell_share),
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
