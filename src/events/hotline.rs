//! A hotline system's export (12345 热线工单) as CSV: one work order a line, with a header naming
//! its columns in English or Chinese. Every line is read before anything is stored; the first
//! bad one is refused naming its line and field.
//!
//! | column | also | needed |
//! |---|---|---|
//! | `client_id` | 工单编号 | yes (re-importing the file stores nothing twice) |
//! | `reported_at` | 受理时间 | yes: RFC 3339 or `YYYY-MM-DD HH:MM[:SS]` (China time) |
//! | `category` | 事件类型 | yes: a code or a name of the tree |
//! | `title` | 标题 | yes |
//! | `description` | 诉求内容 | no |
//! | `lon`, `lat` | 经度, 纬度 | these, or `address` |
//! | `crs` | 坐标系 | no (wgs84; gcj02, bd09) |
//! | `address` | 地址 | no |
//! | `priority` | 紧急程度 | no (normal; or 低, 一般, 紧急, 特急) |
//!
//! ```
//! use wangge::events::category::CategoryTree;
//! use wangge::events::hotline::read;
//! let csv = "工单编号,受理时间,事件类型,标题,经度,纬度\nA1,2026-03-01 09:30,垃圾堆放,路边垃圾,120.5,31.2\n";
//! let rows = read(csv.as_bytes(), "x.csv", &CategoryTree::default()).unwrap();
//! assert_eq!(rows[0].category, "sanitation.rubbish");
//! let bad = "client_id,reported_at,category,title,lon,lat\nA1,2026-03-01 09:30,垃圾堆放,t,999,31\n";
//! let e = read(bad.as_bytes(), "x.csv", &CategoryTree::default()).unwrap_err();
//! assert_eq!(e.to_string(), "x.csv line 2, field lon: 999 is outside -180..180");
//! ```

use super::category::CategoryTree;
use super::{china, parse_time, Priority};
use crate::crs::Crs;
use chrono::{DateTime, NaiveDateTime, Utc};

/// A line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}, field {field}: {why}")]
pub struct LineError {
    /// The file.
    pub file: String,
    /// The line (1 is the header).
    pub line: u64,
    /// The field.
    pub field: String,
    /// Why.
    pub why: String,
}

/// One work order.
#[derive(Clone, Debug, PartialEq)]
pub struct HotlineRow {
    /// Its line.
    pub line: u64,
    /// The hotline's own number (the idempotency key).
    pub client_id: String,
    /// When it was received.
    pub reported_at: DateTime<Utc>,
    /// Category code.
    pub category: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Position, WGS84 (converted from `crs`).
    pub point: Option<(f64, f64)>,
    /// The CRS it came in.
    pub crs: Crs,
    /// The address.
    pub address: Option<String>,
    /// Priority.
    pub priority: Priority,
}

/// The columns: (name, Chinese name).
const COLUMNS: &[(&str, &str)] = &[
    ("client_id", "工单编号"),
    ("reported_at", "受理时间"),
    ("category", "事件类型"),
    ("title", "标题"),
    ("description", "诉求内容"),
    ("lon", "经度"),
    ("lat", "纬度"),
    ("crs", "坐标系"),
    ("address", "地址"),
    ("priority", "紧急程度"),
];

fn time(s: &str) -> Result<DateTime<Utc>, String> {
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            if let Some(t) = t.and_local_timezone(china()).single() {
                return Ok(t.with_timezone(&Utc));
            }
        }
    }
    parse_time("reported_at", s)
        .map_err(|_| format!("`{s}` is not a time (RFC 3339 or YYYY-MM-DD HH:MM[:SS], China time)"))
}

fn priority(s: &str) -> Result<Priority, String> {
    if s.is_empty() {
        return Ok(Priority::Normal);
    }
    Priority::ALL
        .iter()
        .find(|p| p.label() == s)
        .copied()
        .map_or_else(
            || s.parse().map_err(|e: super::EventError| e.to_string()),
            Ok,
        )
}

fn coordinate(s: &str, range: f64) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !x.is_finite() || x.abs() > range {
        return Err(format!("{s} is outside -{range}..{range}"));
    }
    Ok(x)
}

/// Reads a hotline export; `file` names it in errors.
pub fn read(
    input: impl std::io::Read,
    file: &str,
    tree: &CategoryTree,
) -> Result<Vec<HotlineRow>, LineError> {
    let err = |line: u64, field: &str, why: String| LineError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        why,
    };
    let mut r = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let header = r
        .headers()
        .map_err(|e| err(1, "header", e.to_string()))?
        .clone();
    let col: Vec<Option<usize>> = COLUMNS
        .iter()
        .map(|(en, zh)| {
            header
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == *en || h.trim() == *zh)
        })
        .collect();
    for (i, (en, zh)) in COLUMNS.iter().enumerate().take(4) {
        if col[i].is_none() {
            return Err(err(1, en, format!("column missing (`{en}` or `{zh}`)")));
        }
    }
    let mut out = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let line = n as u64 + 2;
        let rec = rec.map_err(|e| err(line, "-", e.to_string()))?;
        let get = |i: usize| col[i].and_then(|c| rec.get(c)).unwrap_or("").trim();
        let need = |i: usize| {
            let v = get(i);
            if v.is_empty() {
                Err(err(line, COLUMNS[i].0, "empty".into()))
            } else {
                Ok(v.to_string())
            }
        };
        let f = |i: usize| move |why: String| err(line, COLUMNS[i].0, why);
        let crs: Crs = match get(7) {
            "" => Crs::Wgs84,
            c => c
                .parse()
                .map_err(|e: crate::crs::UnknownCrs| f(7)(e.to_string()))?,
        };
        let point = match (get(5), get(6)) {
            ("", "") => None,
            (x, y) => Some(crs.to_wgs84(
                coordinate(x, 180.0).map_err(f(5))?,
                coordinate(y, 90.0).map_err(f(6))?,
            )),
        };
        let address = Some(get(8).to_string()).filter(|a| !a.is_empty());
        if point.is_none() && address.is_none() {
            return Err(err(line, "lon", "give lon and lat, or an address".into()));
        }
        out.push(HotlineRow {
            line,
            client_id: need(0)?,
            reported_at: time(&need(1)?).map_err(f(1))?,
            category: tree.resolve(&need(2)?).map_err(|e| f(2)(e.to_string()))?,
            title: need(3)?,
            description: get(4).to_string(),
            point,
            crs,
            address,
            priority: priority(get(9)).map_err(f(9))?,
        });
    }
    Ok(out)
}
