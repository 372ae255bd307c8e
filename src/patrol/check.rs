//! Checks of patrol points (数据校验): duplicates kept once, impossible values rejected, doubtful
//! ones flagged, each with its reason. Nothing is dropped silently.
//!
//! The rules, in order:
//! 1. **Duplicates**: points with equal [`PatrolPoint::dedupe_key`] (same worker, instant and
//!    position) are one point; the first received is kept, the others are counted.
//! 2. **Rejected** (impossible): coordinates not finite, outside ±180°/±90°, or exactly (0, 0) (a
//!    fix that never happened); a CRS that is not WGS84/CGCS2000, GCJ-02 or BD-09; a time later than
//!    `now` + [`CheckRules::future_tolerance`]; a negative or non-finite accuracy.
//! 3. **Flagged** (doubtful, kept aside with the reason, not used for coverage): accuracy worse than
//!    [`CheckRules::max_accuracy_m`]; a jump from the worker's previous *accepted* point (in time
//!    order) longer than [`CheckRules::min_jump_m`] at more than [`CheckRules::max_speed_kmh`]
//!    (elapsed time taken as at least one second).
//!
//! Input order does not matter: points are sorted per worker by time first (out-of-order batches
//! are normal). A wrong *first* point of a worker makes the following correct ones look like a jump
//! from it; the flags say so and the points stay available.

use super::point::{distance_m, on_globe, PatrolPoint};
use chrono::{DateTime, FixedOffset, TimeDelta};
use std::fmt;

/// Limits of the checks.
#[derive(Clone, Debug)]
pub struct CheckRules {
    /// The present: later times are in the future.
    pub now: DateTime<FixedOffset>,
    /// Clock skew allowed past `now` (default 5 minutes).
    pub future_tolerance: TimeDelta,
    /// Accuracy above this (metres) is flagged (default 100).
    pub max_accuracy_m: f64,
    /// Faster than this from the previous accepted point is flagged (default 120 km/h, a car).
    pub max_speed_kmh: f64,
    /// Jumps shorter than this (metres) are never flagged, whatever the speed: GPS noise over a
    /// second or two (default 100).
    pub min_jump_m: f64,
}

impl CheckRules {
    /// The default limits with the present `now`.
    pub fn new(now: DateTime<FixedOffset>) -> CheckRules {
        CheckRules {
            now,
            future_tolerance: TimeDelta::minutes(5),
            max_accuracy_m: 100.0,
            max_speed_kmh: 120.0,
            min_jump_m: 100.0,
        }
    }
}

/// Why a point was rejected or flagged.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Longitude/latitude not finite or off the globe.
    BadCoordinates,
    /// Exactly (0, 0): a terminal without a fix.
    NullIsland,
    /// The CRS text is not one we know.
    UnknownCrs(String),
    /// Later than the present.
    Future {
        /// The present used.
        now: DateTime<FixedOffset>,
    },
    /// Accuracy negative or not a number.
    BadAccuracy(f64),
    /// Accuracy worse than the limit (flagged).
    Inaccurate {
        /// Reported accuracy (m).
        accuracy_m: f64,
    },
    /// Too fast from the previous accepted point (flagged).
    TooFast {
        /// Speed (km/h).
        kmh: f64,
        /// Distance (m).
        metres: f64,
        /// Time of the previous accepted point.
        since: DateTime<FixedOffset>,
    },
}

impl Reason {
    /// A short code: `bad_coordinates`, `null_island`, `unknown_crs`, `future`, `bad_accuracy`,
    /// `inaccurate`, `too_fast`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::BadCoordinates => "bad_coordinates",
            Reason::NullIsland => "null_island",
            Reason::UnknownCrs(_) => "unknown_crs",
            Reason::Future { .. } => "future",
            Reason::BadAccuracy(_) => "bad_accuracy",
            Reason::Inaccurate { .. } => "inaccurate",
            Reason::TooFast { .. } => "too_fast",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BadCoordinates => f.write_str("coordinates are not a place on Earth"),
            Reason::NullIsland => f.write_str("coordinates are (0, 0): no GPS fix"),
            Reason::UnknownCrs(s) => write!(f, "unknown crs `{s}`"),
            Reason::Future { now } => write!(f, "time is after now ({})", now.to_rfc3339()),
            Reason::BadAccuracy(a) => write!(f, "accuracy {a} is not a distance"),
            Reason::Inaccurate { accuracy_m } => write!(f, "accuracy {accuracy_m} m is too poor"),
            Reason::TooFast { kmh, metres, since } => write!(
                f,
                "jump of {metres:.0} m at {kmh:.0} km/h since {}",
                since.to_rfc3339()
            ),
        }
    }
}

/// A point set aside, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// The point as received (lon/lat converted to WGS84 if its CRS was known).
    pub point: PatrolPoint,
    /// Why.
    pub reason: Reason,
}

/// The outcome of [`check`].
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// Points used for patrols and coverage, sorted by worker then time.
    pub accepted: Vec<PatrolPoint>,
    /// Doubtful points, sorted by worker then time.
    pub flagged: Vec<Issue>,
    /// Impossible points, sorted by worker then time.
    pub rejected: Vec<Issue>,
    /// Duplicates removed (each kept once in one of the lists above).
    pub duplicates: usize,
}

/// The reason a point is impossible on its own, if it is.
pub fn impossible(p: &PatrolPoint, rules: &CheckRules) -> Option<Reason> {
    if !on_globe(p.lon, p.lat) {
        return Some(Reason::BadCoordinates);
    }
    if p.lon == 0.0 && p.lat == 0.0 {
        return Some(Reason::NullIsland);
    }
    if let Err(e) = &p.crs {
        return Some(Reason::UnknownCrs(e.0.clone()));
    }
    if p.time > rules.now + rules.future_tolerance {
        return Some(Reason::Future { now: rules.now });
    }
    match p.accuracy_m {
        Some(a) if !a.is_finite() || a < 0.0 => Some(Reason::BadAccuracy(a)),
        _ => None,
    }
}

/// Checks a batch (see the [module docs](self) for the rules).
pub fn check(points: Vec<PatrolPoint>, rules: &CheckRules) -> Checked {
    // Sort compact keys, not the points: (worker rank, instant, position, arrival), so of equal
    // keys the first received comes first and is the one kept.
    let mut names: Vec<(&str, usize)> = Vec::new();
    let mut rank_of: Vec<u32> = Vec::with_capacity(points.len());
    {
        let mut last: Option<(&std::sync::Arc<str>, u32)> = None;
        let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        for p in &points {
            let r = match last {
                Some((w, r)) if std::sync::Arc::ptr_eq(w, &p.worker) => r,
                _ => {
                    let n = seen.len() as u32;
                    let r = *seen.entry(&p.worker).or_insert(n);
                    if r == n {
                        names.push((&p.worker, n as usize));
                    }
                    last = Some((&p.worker, r));
                    r
                }
            };
            rank_of.push(r);
        }
    }
    names.sort_unstable();
    let mut rank = vec![0u32; names.len()];
    for (i, (_, first)) in names.iter().enumerate() {
        rank[*first] = i as u32;
    }
    let mut keys: Vec<(u32, i64, i64, i64, u32)> = points
        .iter()
        .zip(&rank_of)
        .enumerate()
        .map(|(i, (p, r))| {
            let k = p.dedupe_key();
            (rank[*r as usize], k.time_ms, k.lon_e7, k.lat_e7, i as u32)
        })
        .collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup_by(|b, a| (a.0, a.1, a.2, a.3) == (b.0, b.1, b.2, b.3));
    let mut out = Checked {
        duplicates: before - keys.len(),
        ..Checked::default()
    };
    let mut slots: Vec<Option<PatrolPoint>> = points.into_iter().map(Some).collect();
    // The worker (rank), time and position of the worker's previous accepted point.
    let mut prev: Option<(u32, DateTime<FixedOffset>, f64, f64)> = None;
    for k in keys {
        let Some(p) = slots[k.4 as usize].take() else {
            continue;
        };
        if let Some(reason) = impossible(&p, rules) {
            out.rejected.push(Issue { point: p, reason });
            continue;
        }
        if let Some(a) = p.accuracy_m.filter(|a| *a > rules.max_accuracy_m) {
            out.flagged.push(Issue {
                point: p,
                reason: Reason::Inaccurate { accuracy_m: a },
            });
            continue;
        }
        if let Some((w, t, lon, lat)) = prev {
            if w == k.0 {
                let metres = distance_m(lon, lat, p.lon, p.lat);
                let secs = ((p.time - t).num_milliseconds() as f64 / 1000.0).max(1.0);
                let kmh = metres / secs * 3.6;
                if metres > rules.min_jump_m && kmh > rules.max_speed_kmh {
                    out.flagged.push(Issue {
                        point: p,
                        reason: Reason::TooFast {
                            kmh,
                            metres,
                            since: t,
                        },
                    });
                    continue;
                }
            }
        }
        prev = Some((k.0, p.time, p.lon, p.lat));
        out.accepted.push(p);
    }
    out
}
