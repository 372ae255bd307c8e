//! The stored form of patrol points (轨迹存储格式): one worker's points of one day as one sorted,
//! de-duplicated, delta-encoded blob, and the H3 cell counts that heat maps read instead of points.
//!
//! Pure code (no database): the store ([`super`]) and the in-memory source of the map service use
//! the same functions, so both keep, merge and count points by the same rules.
//!
//! **A row** is one worker × one day. Days are cut at midnight China Standard Time (UTC+8,
//! [`ROW_OFFSET_S`]): a physical partition only (any window in any zone reads the rows it meets
//! and drops the points outside it), chosen so that a local day in China reads exactly one row
//! per worker. The day comes from the point's instant, never from the zone it was sent with, so
//! a re-sent point always lands in the row that holds it already.
//!
//! **Points** ([`Fix`]) are kept to the precision of their identity: UTC milliseconds, longitude
//! and latitude in 1e-7° (≈ 1 cm), the zone offset the time was sent with, accuracy to 1 cm, the
//! CRS it arrived in (WGS84, GCJ-02, BD-09; coordinates are WGS84) and, for a point a check
//! doubted, the flag text. Sorted by (time, lon, lat): the de-duplication key within a worker.
//!
//! **Blob** (`fixes`, format 1), every integer a LEB128 varint, signed ones zig-zagged:
//! `1` (format), `n_texts`, each text as `len` + UTF-8 bytes; `n`, then per point a tag byte
//! (bits 0–1 CRS 0 wgs84 / 1 gcj02 / 2 bd09, bit 2 accuracy follows, bit 3 flag follows, bit 4 zone
//! offset follows), the time (first: signed ms; then unsigned ms since the previous point),
//! signed Δlon and Δlat in 1e-7° from the previous point (the first from 0), then if tagged the
//! offset in seconds (signed, absolute), the accuracy in cm, the index of the flag text. A point
//! of a walk every 10 s takes about 9 bytes.
//!
//! **Cells** (`cells`, `cells_coarse`): per unflagged point the H3 cell at [`CELL_RES`] (10) or
//! [`COARSE_RES`] (7), counted: the resolution byte, `n`, then per cell in ascending order the
//! unsigned Δ of its 64-bit index from the previous one and its count.

use crate::crs::Crs;
use crate::patrol::cells::CellFinder;
use crate::patrol::PatrolPoint;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use geo::{Coord, LineString, MultiLineString};
use h3o::{CellIndex, Resolution};
use std::sync::Arc;

/// Rows are cut at midnight of this UTC offset (China Standard Time).
pub const ROW_OFFSET_S: i32 = 8 * 3600;
/// H3 resolution of the fine cell counts kept per row: the heat rule's base resolution, which
/// every coarser heat level is an ancestor of, so stored counts coarsen into exact heat.
pub const CELL_RES: Resolution = crate::patrol::heat::BASE_RES;
/// H3 resolution of the coarse cell counts kept per row (low zooms).
pub const COARSE_RES: Resolution = Resolution::Seven;
/// The track geometry is cut where two points are further apart in time (the default patrol gap),
/// so a map draws patrols, not a line across the grid from the morning round to the afternoon one.
pub const GEOMETRY_GAP_MS: i64 = 30 * 60 * 1000;
const FORMAT: u8 = 1;
const MS_PER_DAY: i64 = 86_400_000;

/// A blob could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// One stored point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fix {
    /// UTC milliseconds since 1970.
    pub ms: i64,
    /// Offset of the zone the time was sent with, in seconds east of UTC.
    pub offset_s: i32,
    /// WGS84 longitude in 1e-7°.
    pub lon_e7: i32,
    /// WGS84 latitude in 1e-7°.
    pub lat_e7: i32,
    /// Reported accuracy in centimetres.
    pub accuracy_cm: Option<u32>,
    /// The CRS the point arrived in.
    pub crs: Crs,
    /// Index of the flag text in the row's texts, when a check doubted the point.
    pub flag: Option<u32>,
}

impl Fix {
    /// The de-duplication key within a worker: instant and position (see
    /// [`crate::patrol::DedupeKey`]).
    pub fn key(&self) -> (i64, i32, i32) {
        (self.ms, self.lon_e7, self.lat_e7)
    }

    /// The fix of a point (its CRS must be known: points with an unknown CRS are rejected by the
    /// checks and never stored). `flag` is the index of its flag text.
    pub fn from_point(p: &PatrolPoint, flag: Option<u32>) -> Result<Fix, String> {
        let crs = match &p.crs {
            Ok(c) => *c,
            Err(e) => return Err(format!("crs `{}` is not one the store keeps", e.0)),
        };
        if !(p.lon.is_finite() && p.lat.is_finite() && p.lon.abs() <= 180.0 && p.lat.abs() <= 90.0)
        {
            return Err(format!("({}, {}) is not a place on Earth", p.lon, p.lat));
        }
        let accuracy_cm = match p.accuracy_m {
            None => None,
            Some(a) if a.is_finite() && a >= 0.0 => {
                Some((a * 100.0).round().min(u32::MAX as f64) as u32)
            }
            Some(a) => return Err(format!("accuracy {a} is not a distance")),
        };
        Ok(Fix {
            ms: p.time.timestamp_millis(),
            offset_s: p.time.offset().local_minus_utc(),
            lon_e7: (p.lon * 1e7).round() as i32,
            lat_e7: (p.lat * 1e7).round() as i32,
            accuracy_cm,
            crs,
            flag,
        })
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon_e7 as f64 / 1e7
    }
    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat_e7 as f64 / 1e7
    }

    /// The time, in the zone it was sent with.
    pub fn time(&self) -> DateTime<FixedOffset> {
        let utc = DateTime::from_timestamp_millis(self.ms).unwrap_or_default();
        let zone = FixedOffset::east_opt(self.offset_s)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC is a valid offset"));
        utc.with_timezone(&zone)
    }

    /// The point back, with `worker` as its id.
    pub fn to_point(&self, worker: &Arc<str>) -> PatrolPoint {
        PatrolPoint {
            worker: worker.clone(),
            time: self.time(),
            lon: self.lon(),
            lat: self.lat(),
            crs: Ok(self.crs),
            accuracy_m: self.accuracy_cm.map(|c| c as f64 / 100.0),
        }
    }
}

/// The row day (see [`ROW_OFFSET_S`]) of an instant, kept within the years 0000–9999 (whose
/// `YYYY-MM-DD` text sorts as the dates do; the points keep their exact instants).
pub fn row_day(ms: i64) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(0, 1, 1).expect("a valid date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");
    let days = ms
        .saturating_add(ROW_OFFSET_S as i64 * 1000)
        .div_euclid(MS_PER_DAY);
    TimeDelta::try_days(days)
        .and_then(|d| NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(d))
        .unwrap_or(if days < 0 { first } else { last })
        .clamp(first, last)
}

/// The row days that hold points of `[from_ms, to_ms)`, first and last (inclusive); `None` when
/// the window is empty.
pub fn row_days(from_ms: i64, to_ms: i64) -> Option<(NaiveDate, NaiveDate)> {
    (to_ms > from_ms).then(|| (row_day(from_ms), row_day(to_ms - 1)))
}

/// One worker's points of one row day: sorted by [`Fix::key`], each key once, with the texts
/// their flags point into.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fixes {
    /// The points.
    pub fixes: Vec<Fix>,
    /// Flag texts.
    pub texts: Vec<String>,
}

impl Fixes {
    /// Adds a point (in any order; [`Fixes::normalise`] sorts and de-duplicates).
    pub fn push(&mut self, p: &PatrolPoint, flag: Option<&str>) -> Result<(), String> {
        let flag = flag.map(|t| self.text(t));
        self.fixes.push(Fix::from_point(p, flag)?);
        Ok(())
    }

    fn text(&mut self, t: &str) -> u32 {
        match self.texts.iter().position(|x| x == t) {
            Some(i) => i as u32,
            None => {
                self.texts.push(t.to_string());
                (self.texts.len() - 1) as u32
            }
        }
    }

    /// Sorts by key and keeps the first of equal keys (in the order they were pushed); returns
    /// how many were dropped.
    pub fn normalise(&mut self) -> usize {
        let before = self.fixes.len();
        self.fixes.sort_by_key(Fix::key);
        self.fixes.dedup_by(|b, a| a.key() == b.key());
        before - self.fixes.len()
    }

    /// Merges `new` into these (stored) points: a key already here keeps the stored point.
    /// Returns how many of `new` were added. Both must be normalised; the result is.
    pub fn merge(&mut self, new: Fixes) -> usize {
        let before = self.fixes.len();
        let map: Vec<Option<u32>> = new.texts.iter().map(|t| Some(self.text(t))).collect();
        let mut out = Vec::with_capacity(self.fixes.len() + new.fixes.len());
        let (mut a, mut b) = (
            self.fixes.iter().peekable(),
            new.fixes.into_iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.key().cmp(&y.key()) {
                    std::cmp::Ordering::Less => out.push(*a.next().expect("peeked")),
                    std::cmp::Ordering::Equal => {
                        out.push(*a.next().expect("peeked"));
                        b.next();
                    }
                    std::cmp::Ordering::Greater => {
                        let mut f = b.next().expect("peeked");
                        f.flag = f.flag.and_then(|i| map.get(i as usize).copied().flatten());
                        out.push(f);
                    }
                },
                (Some(_), None) => out.push(*a.next().expect("peeked")),
                (None, Some(_)) => {
                    let mut f = b.next().expect("peeked");
                    f.flag = f.flag.and_then(|i| map.get(i as usize).copied().flatten());
                    out.push(f);
                }
                (None, None) => break,
            }
        }
        self.fixes = out;
        self.fixes.len() - before
    }

    /// The flag text of a point.
    pub fn flag_text(&self, f: &Fix) -> Option<&str> {
        f.flag
            .and_then(|i| self.texts.get(i as usize))
            .map(String::as_str)
    }

    /// Points not flagged.
    pub fn unflagged(&self) -> impl Iterator<Item = &Fix> + '_ {
        self.fixes.iter().filter(|f| f.flag.is_none())
    }

    /// `(first ms, last ms, [min lon, min lat, max lon, max lat])` of all points, `None` if empty.
    pub fn extent(&self) -> Option<(i64, i64, [f64; 4])> {
        let first = self.fixes.first()?;
        let last = self.fixes.last()?;
        let mut b = [f64::INFINITY, f64::INFINITY, -f64::INFINITY, -f64::INFINITY];
        for f in &self.fixes {
            let (x, y) = (f.lon(), f.lat());
            b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
        }
        Some((first.ms, last.ms, b))
    }

    /// The unflagged points as lines, cut at gaps over [`GEOMETRY_GAP_MS`]; a lone point is a
    /// line of two equal points. Empty when every point is flagged.
    pub fn geometry(&self) -> MultiLineString<f64> {
        let mut parts: Vec<LineString<f64>> = Vec::new();
        let mut cur: Vec<Coord<f64>> = Vec::new();
        let mut last_ms: Option<i64> = None;
        let mut close = |cur: &mut Vec<Coord<f64>>| {
            if cur.len() == 1 {
                cur.push(cur[0]);
            }
            if !cur.is_empty() {
                parts.push(LineString::new(std::mem::take(cur)));
            }
        };
        for f in self.unflagged() {
            if last_ms.is_some_and(|l| f.ms - l > GEOMETRY_GAP_MS) {
                close(&mut cur);
            }
            cur.push(Coord {
                x: f.lon(),
                y: f.lat(),
            });
            last_ms = Some(f.ms);
        }
        close(&mut cur);
        MultiLineString(parts)
    }

    /// Counts of unflagged points per H3 cell at `res`, ascending by cell; only points with
    /// `from_ms <= ms < to_ms`. Exactly h3o's cells, found faster (see [`CellFinder`]).
    pub fn cells(&self, res: Resolution, from_ms: i64, to_ms: i64) -> Vec<(CellIndex, u32)> {
        let mut finder = CellFinder::new(res);
        let mut cells: Vec<CellIndex> = self
            .unflagged()
            .filter(|f| f.ms >= from_ms && f.ms < to_ms)
            .filter_map(|f| finder.cell(f.lon(), f.lat()))
            .collect();
        cells.sort_unstable();
        count_sorted(cells.into_iter().map(|c| (c, 1)))
    }

    /// The blob (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.fixes.len() * 10);
        out.push(FORMAT);
        put_u(&mut out, self.texts.len() as u64);
        for t in &self.texts {
            put_u(&mut out, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        put_u(&mut out, self.fixes.len() as u64);
        let (mut ms, mut lon, mut lat, mut off) = (0i64, 0i32, 0i32, 0i32);
        for (i, f) in self.fixes.iter().enumerate() {
            let crs = match f.crs {
                Crs::Wgs84 => 0u8,
                Crs::Gcj02 => 1,
                Crs::Bd09 => 2,
            };
            let tag = crs
                | (f.accuracy_cm.is_some() as u8) << 2
                | (f.flag.is_some() as u8) << 3
                | ((f.offset_s != off) as u8) << 4;
            out.push(tag);
            if i == 0 {
                put_i(&mut out, f.ms);
            } else {
                put_u(&mut out, (f.ms - ms) as u64);
            }
            put_i(&mut out, f.lon_e7 as i64 - lon as i64);
            put_i(&mut out, f.lat_e7 as i64 - lat as i64);
            if f.offset_s != off {
                put_i(&mut out, f.offset_s as i64);
            }
            if let Some(a) = f.accuracy_cm {
                put_u(&mut out, a as u64);
            }
            if let Some(t) = f.flag {
                put_u(&mut out, t as u64);
            }
            (ms, lon, lat, off) = (f.ms, f.lon_e7, f.lat_e7, f.offset_s);
        }
        out
    }

    /// Reads a blob written by [`Fixes::encode`].
    pub fn decode(buf: &[u8]) -> Result<Fixes, CodecError> {
        let mut r = Reader { buf, at: 0 };
        let format = r.byte()?;
        if format != FORMAT {
            return Err(CodecError(format!(
                "points blob of format {format}; this version of wangge reads format {FORMAT}"
            )));
        }
        let n_texts = r.count()?;
        let mut texts = Vec::with_capacity(n_texts);
        for _ in 0..n_texts {
            let len = r.count()?;
            let bytes = r.take(len)?;
            texts.push(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| CodecError("a flag text is not UTF-8".into()))?,
            );
        }
        let n = r.count()?;
        let mut fixes = Vec::with_capacity(n);
        let (mut ms, mut lon, mut lat, mut off) = (0i64, 0i64, 0i64, 0i64);
        for i in 0..n {
            let tag = r.byte()?;
            let crs = match tag & 3 {
                0 => Crs::Wgs84,
                1 => Crs::Gcj02,
                2 => Crs::Bd09,
                _ => return Err(CodecError(format!("point {i}: unknown CRS code 3"))),
            };
            ms = if i == 0 {
                r.i()?
            } else {
                ms.checked_add(r.u()? as i64)
                    .ok_or_else(|| CodecError(format!("point {i}: time overflows")))?
            };
            lon += r.i()?;
            lat += r.i()?;
            if tag & 16 != 0 {
                off = r.i()?;
            }
            let accuracy_cm = if tag & 4 != 0 {
                Some(r.u()? as u32)
            } else {
                None
            };
            let flag = if tag & 8 != 0 {
                let t = r.u()? as u32;
                if t as usize >= texts.len() {
                    return Err(CodecError(format!("point {i}: flag text {t} is missing")));
                }
                Some(t)
            } else {
                None
            };
            if lon.abs() > 1_800_000_000 || lat.abs() > 900_000_000 || off.abs() >= 86_400 {
                return Err(CodecError(format!("point {i}: out of range")));
            }
            fixes.push(Fix {
                ms,
                offset_s: off as i32,
                lon_e7: lon as i32,
                lat_e7: lat as i32,
                accuracy_cm,
                crs,
                flag,
            });
        }
        if r.at != buf.len() {
            return Err(CodecError("bytes left after the last point".into()));
        }
        Ok(Fixes { fixes, texts })
    }
}

/// A worker's name and cell counts (ascending by cell).
pub type WorkerCells = (String, Vec<(CellIndex, u32)>);

/// A day's heat (`patrol_days.heat`): every worker's unflagged points of one row day counted per
/// H3 cell at [`COARSE_RES`], kept up to date by every insert, so a map of a whole district over
/// a week or a month reads one row per day. Blob: format `1`, the resolution, `n_workers`, then per
/// worker (by name) its name (`len` + UTF-8), `n_cells` and per cell (ascending) the unsigned Δ
/// of its index from the previous one of the worker and its count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayHeat {
    /// Worker → (cell → points).
    pub workers: std::collections::BTreeMap<String, std::collections::BTreeMap<CellIndex, u32>>,
}

impl DayHeat {
    /// Replaces a worker's counts `old` by `new` (a row rewritten).
    pub fn replace(&mut self, worker: &str, old: &[(CellIndex, u32)], new: &[(CellIndex, u32)]) {
        let m = self.workers.entry(worker.to_string()).or_default();
        for (c, n) in old {
            if let Some(v) = m.get_mut(c) {
                *v = v.saturating_sub(*n);
                if *v == 0 {
                    m.remove(c);
                }
            }
        }
        for (c, n) in new {
            *m.entry(*c).or_default() += n;
        }
        if m.is_empty() {
            self.workers.remove(worker);
        }
    }

    /// Points counted.
    pub fn points(&self) -> u64 {
        self.workers
            .values()
            .flat_map(|m| m.values())
            .map(|n| *n as u64)
            .sum()
    }

    /// The blob.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(FORMAT);
        out.push(u8::from(COARSE_RES));
        put_u(&mut out, self.workers.len() as u64);
        for (w, cells) in &self.workers {
            put_u(&mut out, w.len() as u64);
            out.extend_from_slice(w.as_bytes());
            put_u(&mut out, cells.len() as u64);
            let mut prev = 0u64;
            for (c, n) in cells {
                let v = u64::from(*c);
                put_u(&mut out, v.wrapping_sub(prev));
                put_u(&mut out, *n as u64);
                prev = v;
            }
        }
        out
    }

    /// Reads a blob written by [`DayHeat::encode`].
    pub fn decode(buf: &[u8]) -> Result<DayHeat, CodecError> {
        Ok(DayHeat {
            workers: DayHeat::read(buf)?
                .into_iter()
                .map(|(w, cells)| (w, cells.into_iter().collect()))
                .collect(),
        })
    }

    /// Reads a blob as lists: per worker (by name) its cells (ascending) and counts.
    pub fn read(buf: &[u8]) -> Result<Vec<WorkerCells>, CodecError> {
        let mut r = Reader { buf, at: 0 };
        let format = r.byte()?;
        if format != FORMAT {
            return Err(CodecError(format!("day heat of format {format}")));
        }
        let res = r.byte()?;
        if res != u8::from(COARSE_RES) {
            return Err(CodecError(format!("day heat at resolution {res}")));
        }
        let n = r.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.count()?;
            let name = String::from_utf8(r.take(len)?.to_vec())
                .map_err(|_| CodecError("a worker name is not UTF-8".into()))?;
            let k = r.count()?;
            let mut cells = Vec::with_capacity(k);
            let mut prev = 0u64;
            for i in 0..k {
                prev = prev.wrapping_add(r.u()?);
                let c = CellIndex::try_from(prev)
                    .map_err(|e| CodecError(format!("day heat: {name}: cell {i}: {e}")))?;
                cells.push((c, r.u()? as u32));
            }
            out.push((name, cells));
        }
        if r.at != buf.len() {
            return Err(CodecError(
                "day heat: bytes left after the last worker".into(),
            ));
        }
        Ok(out)
    }
}

/// The first instant (UTC ms) of a row day, and the first of the next.
pub fn row_day_ms(day: NaiveDate) -> (i64, i64) {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    let start = (day - epoch).num_days() * MS_PER_DAY - ROW_OFFSET_S as i64 * 1000;
    (start, start + MS_PER_DAY)
}

/// Sums the counts of equal cells in a sorted sequence.
pub fn count_sorted(cells: impl Iterator<Item = (CellIndex, u32)>) -> Vec<(CellIndex, u32)> {
    let mut out: Vec<(CellIndex, u32)> = Vec::new();
    for (c, n) in cells {
        match out.last_mut() {
            Some(l) if l.0 == c => l.1 += n,
            _ => out.push((c, n)),
        }
    }
    out
}

/// The cells blob of counts at `res` (ascending by cell).
pub fn encode_cells(res: Resolution, cells: &[(CellIndex, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + cells.len() * 5);
    out.push(u8::from(res));
    put_u(&mut out, cells.len() as u64);
    let mut prev = 0u64;
    for &(c, n) in cells {
        let v = u64::from(c);
        put_u(&mut out, v.wrapping_sub(prev));
        put_u(&mut out, n as u64);
        prev = v;
    }
    out
}

/// Reads a cells blob: its resolution and counts.
pub fn decode_cells(buf: &[u8]) -> Result<(Resolution, Vec<(CellIndex, u32)>), CodecError> {
    let mut r = Reader { buf, at: 0 };
    let res = Resolution::try_from(r.byte()?)
        .map_err(|e| CodecError(format!("cells blob: resolution: {e}")))?;
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    let mut prev = 0u64;
    for i in 0..n {
        prev = prev.wrapping_add(r.u()?);
        let c = CellIndex::try_from(prev)
            .map_err(|e| CodecError(format!("cells blob: cell {i}: {e}")))?;
        out.push((c, r.u()? as u32));
    }
    if r.at != buf.len() {
        return Err(CodecError(
            "cells blob: bytes left after the last cell".into(),
        ));
    }
    Ok((res, out))
}

/// Coarser counts from finer ones (ascending).
pub fn coarsen_cells(cells: &[(CellIndex, u32)], res: Resolution) -> Vec<(CellIndex, u32)> {
    let mut v: Vec<(CellIndex, u32)> = cells
        .iter()
        .filter_map(|&(c, n)| Some((c.parent(res)?, n)))
        .collect();
    v.sort_unstable_by_key(|e| e.0);
    count_sorted(v.into_iter())
}

fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_i(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .buf
            .get(self.at)
            .ok_or_else(|| CodecError("blob ends early".into()))?;
        self.at += 1;
        Ok(b)
    }
    fn u(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(CodecError("a number is longer than 64 bits".into()))
    }
    fn i(&mut self) -> Result<i64, CodecError> {
        let u = self.u()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }
    /// A length or count, which cannot exceed the bytes left.
    fn count(&mut self) -> Result<usize, CodecError> {
        let n = self.u()?;
        if n > (self.buf.len() - self.at) as u64 {
            return Err(CodecError(format!("a count of {n} exceeds the blob")));
        }
        Ok(n as usize)
    }
    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let s = self
            .buf
            .get(self.at..self.at + n)
            .ok_or_else(|| CodecError("blob ends early".into()))?;
        self.at += n;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use h3o::LatLng;

    fn p(time: &str, lon: f64, lat: f64, acc: Option<f64>) -> PatrolPoint {
        PatrolPoint::new(
            Arc::from("w"),
            DateTime::parse_from_rfc3339(time).unwrap(),
            lon,
            lat,
            Ok(Crs::Wgs84),
            acc,
        )
    }

    #[test]
    fn blob_round_trips_every_field() {
        let mut f = Fixes::default();
        f.push(
            &p("2024-05-01T08:00:00+08:00", 120.5001, 31.2501, Some(4.5)),
            None,
        )
        .unwrap();
        f.push(
            &p("2024-05-01T00:00:10Z", 120.5, 31.25, None),
            Some("inaccurate: x"),
        )
        .unwrap();
        let mut g = p(
            "2024-05-01T08:00:20.250+08:00",
            -0.0000001,
            -89.9,
            Some(0.0),
        );
        g.crs = Ok(Crs::Bd09);
        f.push(&g, Some("too_fast: y")).unwrap();
        f.push(
            &p("2024-05-01T08:00:00+08:00", 120.5001, 31.2501, Some(9.0)),
            None,
        )
        .unwrap();
        assert_eq!(f.normalise(), 1);
        assert_eq!(
            f.fixes[0].accuracy_cm,
            Some(450),
            "the first of a key is kept"
        );
        let blob = f.encode();
        let back = Fixes::decode(&blob).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.fixes[1].offset_s, 0);
        assert_eq!(
            back.fixes[2].time().to_rfc3339(),
            "2024-05-01T08:00:20.250+08:00"
        );
        assert_eq!(back.flag_text(&back.fixes[2]), Some("too_fast: y"));
        let w: Arc<str> = Arc::from("w");
        assert_eq!(back.fixes[0].to_point(&w).lon, 120.5001);
        // Corrupt blobs are errors, not panics.
        for cut in 0..blob.len() {
            assert!(Fixes::decode(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = blob.clone();
        extra.push(0);
        assert!(Fixes::decode(&extra).is_err());
    }

    #[test]
    fn merge_keeps_stored_points_and_counts_new_ones() {
        let mut stored = Fixes::default();
        stored
            .push(
                &p("2024-05-01T08:00:00+08:00", 120.5, 31.25, None),
                Some("a"),
            )
            .unwrap();
        stored
            .push(&p("2024-05-01T08:00:20+08:00", 120.5, 31.25, None), None)
            .unwrap();
        stored.normalise();
        let mut new = Fixes::default();
        // Same instant in UTC: the same point; its flag text differs and is not taken.
        new.push(&p("2024-05-01T00:00:00Z", 120.5, 31.25, None), Some("b"))
            .unwrap();
        new.push(
            &p("2024-05-01T08:00:10+08:00", 120.5, 31.25, None),
            Some("c"),
        )
        .unwrap();
        new.normalise();
        assert_eq!(stored.merge(new), 1);
        let ms: Vec<i64> = stored.fixes.iter().map(|f| f.ms % 100_000).collect();
        assert_eq!(ms, vec![0, 10_000, 20_000]);
        assert_eq!(stored.flag_text(&stored.fixes[0]), Some("a"));
        assert_eq!(stored.flag_text(&stored.fixes[1]), Some("c"));
        assert_eq!(stored.fixes[0].offset_s, 8 * 3600, "the stored zone stays");
    }

    #[test]
    fn rows_are_cut_at_midnight_china_time() {
        let d = |s: &str| row_day(DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis());
        let day = |n| NaiveDate::from_ymd_opt(2024, 5, n).unwrap();
        assert_eq!(d("2024-05-01T00:00:00+08:00"), day(1));
        assert_eq!(d("2024-04-30T16:00:00Z"), day(1));
        assert_eq!(
            d("2024-04-30T15:59:59.999Z"),
            NaiveDate::from_ymd_opt(2024, 4, 30).unwrap()
        );
        assert_eq!(
            d("1969-12-31T15:00:00Z"),
            NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()
        );
        let from = DateTime::parse_from_rfc3339("2024-05-01T00:00:00+08:00")
            .unwrap()
            .timestamp_millis();
        assert_eq!(row_days(from, from + MS_PER_DAY), Some((day(1), day(1))));
        assert_eq!(
            row_days(from, from + MS_PER_DAY + 1),
            Some((day(1), day(2)))
        );
        assert_eq!(row_days(from, from), None);
        assert_eq!(row_day_ms(day(1)), (from, from + MS_PER_DAY));
        let (lo, hi) = row_days(i64::MIN, i64::MAX).unwrap();
        assert_eq!(
            (lo.to_string(), hi.to_string()),
            ("0000-01-01".into(), "9999-12-31".into())
        );
    }

    #[test]
    fn day_heat_follows_rewritten_rows() {
        let cell = |lon: f64| LatLng::new(31.25, lon).unwrap().to_cell(COARSE_RES);
        let (a, b) = (cell(120.5), cell(120.6));
        let mut d = DayHeat::default();
        d.replace("w1", &[], &[(a, 3)]);
        d.replace("w2", &[], &[(a, 1), (b, 2)]);
        d.replace("w1", &[(a, 3)], &[(a, 4), (b, 1)]);
        d.replace("w2", &[(a, 1), (b, 2)], &[]);
        assert_eq!(d.points(), 5);
        assert_eq!(d.workers.len(), 1, "a worker with no point left is dropped");
        let blob = d.encode();
        assert_eq!(DayHeat::decode(&blob).unwrap(), d);
        assert!(DayHeat::decode(&blob[..blob.len() - 1]).is_err());
    }

    #[test]
    fn cells_count_unflagged_points_and_round_trip() {
        let mut f = Fixes::default();
        f.push(&p("2024-05-01T08:00:00+08:00", 120.5, 31.25, None), None)
            .unwrap();
        f.push(
            &p("2024-05-01T08:00:10+08:00", 120.50001, 31.25, None),
            None,
        )
        .unwrap();
        f.push(
            &p("2024-05-01T08:00:20+08:00", 120.5, 31.25, None),
            Some("x"),
        )
        .unwrap();
        f.push(&p("2024-05-01T08:00:30+08:00", 121.5, 31.25, None), None)
            .unwrap();
        f.normalise();
        let all = f.cells(CELL_RES, i64::MIN, i64::MAX);
        assert_eq!(all.iter().map(|c| c.1).sum::<u32>(), 3);
        assert_eq!(all.len(), 2);
        let blob = encode_cells(CELL_RES, &all);
        assert_eq!(decode_cells(&blob).unwrap(), (CELL_RES, all.clone()));
        let coarse = coarsen_cells(&all, COARSE_RES);
        assert_eq!(coarse.iter().map(|c| c.1).sum::<u32>(), 3);
        assert!(decode_cells(&blob[..blob.len() - 1]).is_err());
        // A window keeps only its points.
        let t = DateTime::parse_from_rfc3339("2024-05-01T08:00:10+08:00")
            .unwrap()
            .timestamp_millis();
        let part = f.cells(CELL_RES, t, i64::MAX);
        assert_eq!(part.iter().map(|c| c.1).sum::<u32>(), 2);
        // Geometry: the unflagged points in one line (no gap over 30 min).
        let g = f.geometry();
        assert_eq!(g.0.len(), 1);
        assert_eq!(g.0[0].0.len(), 3);
    }
}
