//! Event figures (事件统计) of a set of events (a period's, a village's): per grid and village,
//! reported, open, overdue and closed, the closure rate and the median time to close, by
//! category and by source; the grids with most overdue and open events first.
//!
//! ```
//! use wangge::events::figures::Counts;
//! let mut c = Counts::default();
//! (c.reported, c.open, c.closed) = (4, 1, 3);
//! assert_eq!(c.closure_rate(), Some(0.75));
//! ```

use super::deadline::DueStatus;
use super::Event;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The counts of a set of events.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Counts {
    /// Reported in the period.
    pub reported: u64,
    /// Still open (neither closed nor returned).
    pub open: u64,
    /// Open and past their step's limit.
    pub overdue: u64,
    /// Closed (archived or evaluated).
    pub closed: u64,
    /// Returned to their reporters.
    pub returned: u64,
    /// Median hours from report to closure of the closed ones.
    pub median_close_h: Option<f64>,
    /// closed / (reported - returned).
    pub closure_rate: Option<f64>,
    #[serde(skip)]
    close_s: Vec<i64>,
}

impl Counts {
    fn add(&mut self, e: &Event, now: DateTime<Utc>) {
        self.reported += 1;
        if e.state.is_open() {
            self.open += 1;
            if e.due_status(now) == DueStatus::Overdue {
                self.overdue += 1;
            }
        } else if e.is_closed() {
            self.closed += 1;
            if let Some(c) = e.closed_at {
                self.close_s.push((c - e.reported_at).num_seconds());
            }
        } else {
            self.returned += 1;
        }
    }

    fn finish(&mut self) {
        self.closure_rate = self.closure_rate();
        let v = &mut self.close_s;
        v.sort_unstable();
        self.median_close_h = match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2] as f64 / 3600.0),
            n => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 7200.0),
        }
        .map(|h| (h * 10.0).round() / 10.0);
        v.clear();
    }

    /// Closed over reported (returned ones left out), `None` with nothing to close.
    pub fn closure_rate(&self) -> Option<f64> {
        let base = self.reported - self.returned;
        (base > 0).then(|| self.closed as f64 / base as f64)
    }
}

/// One grid's counts.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GridCounts {
    /// Grid code (`-` for events outside every grid).
    pub grid: String,
    /// Its village code.
    pub village: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The figures of a set of events.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Figures {
    /// Per grid, most overdue then most open first.
    pub grids: Vec<GridCounts>,
    /// Per village code.
    pub villages: BTreeMap<String, Counts>,
    /// Per top-level category code.
    pub by_category: BTreeMap<String, Counts>,
    /// Per source.
    pub by_source: BTreeMap<String, Counts>,
    /// All of them.
    pub totals: Counts,
}

/// The figures of `events` at `now`; `top` maps a category code to its top-level one.
pub fn figures<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    top: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Figures {
    let mut f = Figures::default();
    let mut grids: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for e in events {
        let l = &e.location;
        let village = l.village.as_ref().map_or("-", |v| v.as_str()).to_string();
        let grid = l.grid.as_ref().map_or("-", |g| g.as_str()).to_string();
        grids
            .entry((grid, village.clone()))
            .or_default()
            .add(e, now);
        f.villages.entry(village).or_default().add(e, now);
        f.by_category
            .entry(top(&e.category))
            .or_default()
            .add(e, now);
        f.by_source
            .entry(e.source.as_str().into())
            .or_default()
            .add(e, now);
        f.totals.add(e, now);
    }
    f.grids = grids
        .into_iter()
        .map(|((grid, village), mut counts)| {
            counts.finish();
            GridCounts {
                grid,
                village,
                counts,
            }
        })
        .collect();
    f.grids.sort_by(|a, b| {
        (b.counts.overdue, b.counts.open)
            .cmp(&(a.counts.overdue, a.counts.open))
            .then_with(|| a.grid.cmp(&b.grid))
    });
    for c in f
        .villages
        .values_mut()
        .chain(f.by_category.values_mut())
        .chain(f.by_source.values_mut())
    {
        c.finish();
    }
    f.totals.finish();
    f
}
