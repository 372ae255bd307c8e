//! A seeded generator of patrol tracks (模拟巡查轨迹) for tests and benchmarks.
//!
//! One worker per grid (`W` + grid code) walks the grid's road pieces in road order (straight
//! across between roads; around the grid's outline when it has no road) at walking speed, a fix
//! every [`TrackConfig::interval_s`] seconds, in two rounds a day: one starting between 08:00 and
//! 09:30 and one between 14:00 and 15:30 local time, each [`TrackConfig::patrol_minutes`] long.
//! Fixes get Gaussian noise; a share of workers send GCJ-02 (as Amap SDKs do); some fixes are sent
//! twice (a terminal re-sending after a timeout), some are bad (one of: (0, 0), a year in the future,
//! a 10 km jump, an unknown CRS, a negative accuracy), and some workers' afternoon round arrives
//! before their morning round (out of order).
//!
//! Output is deterministic for a seed and produced one day (or one slice of grids of a day) at a
//! time, so a month for a district never has to be in memory at once.

use super::coverage::{CoverageIndex, Metric};
use super::point::PatrolPoint;
use crate::crs::{wgs84_to_gcj02, Crs, UnknownCrs};
use crate::model::GridCode;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// Parameters of the generator.
#[derive(Clone, Copy, Debug)]
pub struct TrackConfig {
    /// Seed: same seed, same points.
    pub seed: u64,
    /// Day 0.
    pub first_day: NaiveDate,
    /// Local zone of the times (default +08:00).
    pub zone: FixedOffset,
    /// Seconds between fixes (default 10).
    pub interval_s: i64,
    /// Length of each of the two daily rounds (default 60 min).
    pub patrol_minutes: i64,
    /// Walking speed (default 1.2 m/s).
    pub speed_mps: f64,
    /// Standard deviation of GPS noise per axis (default 5 m).
    pub noise_m: f64,
    /// Share of fixes sent twice (default 0.005).
    pub duplicate_rate: f64,
    /// Share of fixes that are bad (default 0.0005).
    pub bad_rate: f64,
    /// Share of workers sending GCJ-02 (default 0.2).
    pub gcj_share: f64,
    /// Share of worker-days whose afternoon round is sent first (default 0.1).
    pub out_of_order_share: f64,
}

impl TrackConfig {
    /// Defaults from day `first_day`.
    pub fn new(seed: u64, first_day: NaiveDate) -> TrackConfig {
        TrackConfig {
            seed,
            first_day,
            zone: FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset"),
            interval_s: 10,
            patrol_minutes: 60,
            speed_mps: 1.2,
            noise_m: 5.0,
            duplicate_rate: 0.005,
            bad_rate: 0.0005,
            gcj_share: 0.2,
            out_of_order_share: 0.1,
        }
    }
}

/// A walkable closed route in metres with cumulative lengths.
struct Route {
    pts: Vec<[f64; 2]>,
    cum: Vec<f64>,
}

impl Route {
    fn new(mut pts: Vec<[f64; 2]>) -> Option<Route> {
        let first = *pts.first()?;
        pts.push(first);
        let mut cum = Vec::with_capacity(pts.len());
        let mut acc = 0.0;
        cum.push(0.0);
        for w in pts.windows(2) {
            acc += (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]);
            cum.push(acc);
        }
        Some(Route { pts, cum })
    }
    fn len(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }
    fn at(&self, s: f64) -> [f64; 2] {
        let l = self.len();
        if l <= 0.0 {
            return self.pts[0];
        }
        let s = s.rem_euclid(l);
        let i = self
            .cum
            .partition_point(|&c| c <= s)
            .clamp(1, self.pts.len() - 1);
        let (a, b) = (self.pts[i - 1], self.pts[i]);
        let seg = self.cum[i] - self.cum[i - 1];
        let f = if seg > 0.0 {
            (s - self.cum[i - 1]) / seg
        } else {
            0.0
        };
        [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]
    }
}

/// The generator for one snapshot's grids.
pub struct TrackGen {
    cfg: TrackConfig,
    metric: Metric,
    workers: Vec<Option<(Arc<str>, Route)>>,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64 finaliser
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(1e-12);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

impl TrackGen {
    /// Routes for every grid of `index`; `codes` names the workers (`W` + grid code).
    pub fn new(index: &CoverageIndex, codes: &[GridCode], cfg: TrackConfig) -> TrackGen {
        let workers = (0..index.len())
            .map(|g| {
                let mut pts: Vec<[f64; 2]> = index.road_pieces(g).iter().map(|p| p.mid).collect();
                if pts.is_empty() {
                    if let Some(poly) = index.outline_m(g).and_then(|m| m.0.first()) {
                        pts = poly.exterior().coords().map(|c| [c.x, c.y]).collect();
                    }
                }
                let name: Arc<str> = match codes.get(g) {
                    Some(c) => Arc::from(format!("W{c}")),
                    None => Arc::from(format!("W{g}")),
                };
                Route::new(pts).map(|r| (name, r))
            })
            .collect();
        TrackGen {
            cfg,
            metric: *index.metric(),
            workers,
        }
    }

    /// Workers (one per grid with a route).
    pub fn workers(&self) -> usize {
        self.workers.iter().flatten().count()
    }

    /// Fixes per worker and day before duplicates.
    pub fn fixes_per_day(&self) -> usize {
        2 * (self.cfg.patrol_minutes * 60 / self.cfg.interval_s.max(1) + 1) as usize
    }

    /// Every worker's points of day `day` (0-based from `first_day`).
    pub fn day(&self, day: u32) -> Vec<PatrolPoint> {
        self.day_grids(day, 0..self.workers.len())
    }

    /// The points of day `day` of the workers of grids `grids` (a slice of a day, to bound memory).
    pub fn day_grids(&self, day: u32, grids: Range<usize>) -> Vec<PatrolPoint> {
        let end = grids.end.min(self.workers.len());
        let parts: Vec<Vec<PatrolPoint>> = (grids.start.min(end)..end)
            .into_par_iter()
            .map(|g| self.worker_day(day, g))
            .collect();
        parts.concat()
    }

    fn worker_day(&self, day: u32, g: usize) -> Vec<PatrolPoint> {
        let Some((name, route)) = &self.workers[g] else {
            return Vec::new();
        };
        let c = &self.cfg;
        let mut rng = ChaCha8Rng::seed_from_u64(mix(c.seed ^ mix(((day as u64) << 32) | g as u64)));
        // Per worker (not per day): the CRS the terminal sends.
        let gcj = (mix(c.seed ^ g as u64) as f64 / u64::MAX as f64) < c.gcj_share;
        let date = c.first_day + TimeDelta::days(day as i64);
        let midnight: DateTime<FixedOffset> = match date
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(c.zone).single())
        {
            Some(t) => t,
            None => return Vec::new(),
        };
        let n = (c.patrol_minutes * 60 / c.interval_s.max(1)) as usize + 1;
        let mut rounds: Vec<Vec<PatrolPoint>> = Vec::with_capacity(2);
        for start_h in [8i64, 14] {
            let start = midnight
                + TimeDelta::hours(start_h)
                + TimeDelta::seconds(rng.random_range(0..90 * 60));
            let s0 = rng.random_range(0.0..route.len().max(1.0));
            let dir = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            let mut pts = Vec::with_capacity(n + n / 100 + 2);
            for k in 0..n {
                let t = start + TimeDelta::seconds(k as i64 * c.interval_s);
                let s = s0 + dir * c.speed_mps * (k as i64 * c.interval_s) as f64;
                let [x, y] = route.at(s);
                let xy = [
                    x + gauss(&mut rng) * c.noise_m,
                    y + gauss(&mut rng) * c.noise_m,
                ];
                let (lon, lat) = self.metric.lonlat(xy);
                let acc = Some((rng.random_range(3.0..15.0f64) * 10.0).round() / 10.0);
                let mut p = if gcj {
                    let (gl, ga) = wgs84_to_gcj02(lon, lat);
                    PatrolPoint::new(name.clone(), t, gl, ga, Ok(Crs::Gcj02), acc)
                } else {
                    PatrolPoint::new(name.clone(), t, lon, lat, Ok(Crs::Wgs84), acc)
                };
                if rng.random_bool(c.bad_rate.clamp(0.0, 1.0)) {
                    match rng.random_range(0..5u8) {
                        0 => {
                            p.lon = 0.0;
                            p.lat = 0.0;
                        }
                        1 => p.time += TimeDelta::days(365),
                        2 => p.lon += 0.1,
                        3 => p.crs = Err(UnknownCrs("utm50n".into())),
                        _ => p.accuracy_m = Some(-1.0),
                    }
                }
                let dup = rng.random_bool(c.duplicate_rate.clamp(0.0, 1.0));
                if dup {
                    pts.push(p.clone());
                }
                pts.push(p);
            }
            rounds.push(pts);
        }
        if rng.random_bool(c.out_of_order_share.clamp(0.0, 1.0)) {
            rounds.reverse();
        }
        rounds.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_walks_around_and_wraps() {
        let r = Route::new(vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]).unwrap();
        // 10 + 10 + 14.14 back to the start.
        assert!((r.len() - (20.0 + 200f64.sqrt())).abs() < 1e-9);
        assert_eq!(r.at(5.0), [5.0, 0.0]);
        assert_eq!(r.at(15.0), [10.0, 5.0]);
        let back = r.at(r.len() + 5.0);
        assert!((back[0] - 5.0).abs() < 1e-9 && back[1].abs() < 1e-9);
        let neg = r.at(-5.0);
        assert!((neg[0] - neg[1]).abs() < 1e-9 && neg[0] > 0.0, "{neg:?}");
        assert!(Route::new(vec![]).is_none());
    }
}
