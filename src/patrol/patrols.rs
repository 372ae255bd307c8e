//! Patrols (巡查): runs of a worker's points, and whether a day had two (一日双巡).
//!
//! The rule: a worker's accepted points, in time order, are cut wherever two consecutive points are
//! more than [`PatrolRules::max_gap`] apart (default 30 min); each run is a patrol. A run shorter
//! than [`PatrolRules::min_duration`] (default 10 min, first to last point) is not a patrol (a phone
//! that woke up for a minute) and is only counted as `short`. A patrol belongs to the local day of
//! its first point. A day is *twice patrolled* when it has two patrols the second of which starts
//! at least [`PatrolRules::min_apart`] (default 2 h) after the first ends: two walks in the morning
//! separated by a coffee break are one round, not two.

use super::point::PatrolPoint;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use serde::Serialize;
use std::sync::Arc;

/// How points make patrols.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PatrolRules {
    /// A longer gap between two points ends a patrol (default 30 min).
    pub max_gap: TimeDelta,
    /// A shorter run is not a patrol (default 10 min).
    pub min_duration: TimeDelta,
    /// Two patrols count as two rounds when this far apart (default 2 h).
    pub min_apart: TimeDelta,
}

impl Default for PatrolRules {
    fn default() -> Self {
        PatrolRules {
            max_gap: TimeDelta::minutes(30),
            min_duration: TimeDelta::minutes(10),
            min_apart: TimeDelta::hours(2),
        }
    }
}

/// One patrol: a run of one worker's points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Patrol {
    /// The worker.
    #[serde(serialize_with = "ser_arc")]
    pub worker: Arc<str>,
    /// First point's time.
    pub start: DateTime<FixedOffset>,
    /// Last point's time.
    pub end: DateTime<FixedOffset>,
    /// Points in the run.
    pub points: usize,
}

fn ser_arc<S: serde::Serializer>(a: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a)
}

impl Patrol {
    /// From first to last point.
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }
}

/// A worker's day.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayPatrols {
    /// The worker.
    #[serde(serialize_with = "ser_arc")]
    pub worker: Arc<str>,
    /// Local day.
    pub day: NaiveDate,
    /// Patrols that started that day, in time order.
    pub patrols: Vec<Patrol>,
    /// Runs too short to be patrols.
    pub short: usize,
    /// Two patrols at least [`PatrolRules::min_apart`] apart.
    pub twice: bool,
}

/// Runs of one worker's points (sorted by time) split at gaps over `max_gap`, all kept, short
/// ones included.
pub fn runs<'a>(
    points: impl IntoIterator<Item = &'a PatrolPoint>,
    rules: &PatrolRules,
) -> Vec<Patrol> {
    let mut out: Vec<Patrol> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some(r) if p.time - r.end <= rules.max_gap => {
                r.end = r.end.max(p.time);
                r.points += 1;
            }
            _ => out.push(Patrol {
                worker: p.worker.clone(),
                start: p.time,
                end: p.time,
                points: 1,
            }),
        }
    }
    out
}

/// Whether `patrols` (any workers, sorted by start) hold two at least `min_apart` apart.
pub fn twice(patrols: &[Patrol], rules: &PatrolRules) -> bool {
    let Some(first_end) = patrols.iter().map(|p| p.end).min() else {
        return false;
    };
    patrols
        .iter()
        .any(|p| p.start - first_end >= rules.min_apart)
}

/// The days of a worker from their points (sorted by time).
pub fn days(points: &[PatrolPoint], rules: &PatrolRules) -> Vec<DayPatrols> {
    let mut out: Vec<DayPatrols> = Vec::new();
    for r in runs(points, rules) {
        let day = r.start.date_naive();
        if out.last().map(|d| d.day) != Some(day) {
            out.push(DayPatrols {
                worker: r.worker.clone(),
                day,
                patrols: Vec::new(),
                short: 0,
                twice: false,
            });
        }
        if let Some(d) = out.last_mut() {
            if r.duration() >= rules.min_duration {
                d.patrols.push(r);
            } else {
                d.short += 1;
            }
        }
    }
    for d in &mut out {
        d.twice = twice(&d.patrols, rules);
    }
    out
}

/// Every worker's days from accepted points sorted by worker then time (as
/// [`super::check::Checked::accepted`] is), in worker then day order.
pub fn worker_days(points: &[PatrolPoint], rules: &PatrolRules) -> Vec<DayPatrols> {
    points
        .chunk_by(|a, b| a.worker == b.worker)
        .flat_map(|w| days(w, rules))
        .collect()
}
