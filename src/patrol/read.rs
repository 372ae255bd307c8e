//! Readers of patrol points (轨迹导入): CSV, GeoJSON, GPX 1.0/1.1 and KML (`gx:Track`).
//!
//! A reader returns every point it could read and, separately, every record it could not, each
//! error naming the file, the record (CSV line, GeoJSON feature index, GPX `trkpt` index) and the
//! field. Only a file that cannot be read at all (not CSV with the right header, not JSON, not
//! XML) is an `Err`. Values that parse but are impossible (bad coordinates, unknown CRS, future
//! time) are left to [`super::check()`].

use super::point::PatrolPoint;
use crate::crs::Crs;
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Which record of a file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A CSV line (1-based, the header is line 1).
    Line(u64),
    /// A GeoJSON feature (0-based index in `features`).
    Feature(usize),
    /// A GPX track point (0-based index among the file's `trkpt`).
    TrackPoint(usize),
    /// A KML track's point (0-based index among the file's `gx:Track` `when`/`gx:coord` pairs
    /// and timed `Point` placemarks).
    KmlPoint(usize),
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Line(n) => write!(f, "line {n}"),
            Record::Feature(i) => write!(f, "feature {i}"),
            Record::TrackPoint(i) => write!(f, "trkpt {i}"),
            Record::KmlPoint(i) => write!(f, "KML point {i}"),
        }
    }
}

/// A file or a record of it that could not be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// The file as a whole is unreadable.
    #[error("{file}: {what}")]
    File {
        /// File name as given.
        file: String,
        /// What is wrong.
        what: String,
    },
    /// One record is unreadable; the others were read.
    #[error("{file}: {record}: field `{field}`: {what}")]
    Record {
        /// File name as given.
        file: String,
        /// Which record.
        record: Record,
        /// Which field.
        field: &'static str,
        /// What is wrong.
        what: String,
    },
}

/// What a reader got from a file.
#[derive(Clone, Debug, Default)]
pub struct Read {
    /// Points read, in file order.
    pub points: Vec<PatrolPoint>,
    /// Records that could not be read, in file order: the file is refused as a whole.
    pub errors: Vec<ReadError>,
    /// Records of a valid file left out with their reason, in file order; the rest is stored.
    /// A GPX track point without `<time>` is one: GPX makes `<time>` optional, so such a file is
    /// valid, but a patrol point needs its time.
    pub skipped: Vec<ReadError>,
}

/// Options common to the readers.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The worker of points that do not name one (GPX always, GeoJSON without `worker`).
    pub worker: Option<String>,
    /// Express times in this zone (e.g. +08:00 for GPX files written in UTC), so that days are
    /// local; `None` keeps each time's own offset. A CSV or GeoJSON time written without an
    /// offset (`2026-11-18 08:30:00`, as terminals export local times) is read in this zone, and
    /// is an error without it.
    pub zone: Option<FixedOffset>,
}

/// Interns worker ids so the points of one worker share one allocation.
#[derive(Default)]
struct Workers(BTreeMap<String, Arc<str>>);

impl Workers {
    fn get(&mut self, w: &str) -> Arc<str> {
        if let Some(a) = self.0.get(w) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(w);
        self.0.insert(w.to_string(), a.clone());
        a
    }
}

/// How a time written without an offset is read.
#[derive(Clone, Copy, Debug)]
enum NoOffset {
    /// As UTC: GPX 1.0 and 1.1 say every time is UTC.
    Utc,
    /// In [`ReadOptions::zone`] if given, else an error.
    Zone(Option<FixedOffset>),
}

/// Reads an RFC 3339 time, or one without an offset (`T` or a space between date and time,
/// optional fractional seconds, optional `Z`-less form) as `no_offset` says; then expresses it
/// in `zone` if given.
fn parse_time(
    s: &str,
    zone: Option<FixedOffset>,
    no_offset: NoOffset,
) -> Result<DateTime<FixedOffset>, String> {
    let s = s.trim();
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t,
        Err(e) => {
            let naive = [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
            .ok_or_else(|| format!("`{s}` is not an RFC 3339 time ({e})"))?;
            let utc = FixedOffset::east_opt(0).expect("zero offset");
            let at = match no_offset {
                NoOffset::Utc => utc,
                NoOffset::Zone(Some(z)) => z,
                NoOffset::Zone(None) => {
                    return Err(format!(
                        "`{s}` has no zone offset; give the zone its times are in (--zone +08:00)"
                    ))
                }
            };
            naive
                .and_local_timezone(at)
                .single()
                .ok_or_else(|| format!("`{s}` is not a time in {at}"))?
        }
    };
    Ok(match zone {
        Some(z) => t.with_timezone(&z),
        None => t,
    })
}

fn parse_f64(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("`{s}` is not a number"))
}

fn parse_crs(s: Option<&str>) -> Result<Crs, crate::crs::UnknownCrs> {
    match s.map(str::trim) {
        None | Some("") => Ok(Crs::Wgs84),
        Some(t) => t.parse(),
    }
}

/// Why a file of points could not be read as a whole (see [`read_path`]).
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The file cannot be opened or read.
    #[error("cannot {what} {file}")]
    Io {
        /// File name as given.
        file: String,
        /// `open` or `read`.
        what: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The extension names no reader.
    #[error("{0}: unknown kind of file; use .csv, .geojson (or .json) or .gpx")]
    UnknownKind(String),
    /// The reader refused the file.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Reads a file of points with the reader its extension names: `.csv` ([`read_csv`]),
/// `.geojson` or `.json` ([`read_geojson`]), `.gpx` ([`read_gpx`]), `.kml` ([`read_kml`]),
/// case-insensitive.
pub fn read_path(path: &std::path::Path, opts: &ReadOptions) -> Result<Read, PathError> {
    let file = path.display().to_string();
    let io = |what: &'static str| {
        let file = file.clone();
        move |source| PathError::Io { file, what, source }
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = || std::fs::read_to_string(path).map_err(io("read"));
    Ok(match ext.as_str() {
        "csv" => read_csv(&file, std::fs::File::open(path).map_err(io("open"))?, opts)?,
        "geojson" | "json" => read_geojson(&file, &text()?, opts)?,
        "gpx" => read_gpx(&file, &text()?, opts)?,
        "kml" => read_kml(&file, &text()?, opts)?,
        _ => return Err(PathError::UnknownKind(file)),
    })
}

/// Reads CSV with the header `worker,time,lon,lat,crs,accuracy` (columns in any order; `crs` and
/// `accuracy` may be missing or empty: WGS84, unknown accuracy).
pub fn read_csv(
    file: &str,
    data: impl std::io::Read,
    opts: &ReadOptions,
) -> Result<Read, ReadError> {
    let file_err = |what: String| ReadError::File {
        file: file.to_string(),
        what,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let header = rdr
        .headers()
        .map_err(|e| file_err(format!("no CSV header: {e}")))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let need = |name: &'static str| {
        col(name).ok_or_else(|| {
            file_err(format!(
                "header has no `{name}` column (want worker,time,lon,lat,crs,accuracy)"
            ))
        })
    };
    let (cw, ct, cx, cy) = (need("worker"), need("time")?, need("lon")?, need("lat")?);
    let cw = match (cw, &opts.worker) {
        (Ok(c), _) => Some(c),
        (Err(_), Some(_)) => None,
        (Err(e), None) => return Err(e),
    };
    let (cc, ca) = (col("crs"), col("accuracy"));
    let mut out = Read::default();
    let mut workers = Workers::default();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.errors.push(ReadError::Record {
                    file: file.to_string(),
                    record: Record::Line(line),
                    field: "*",
                    what: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let bad = |field: &'static str, what: String| ReadError::Record {
            file: file.to_string(),
            record: Record::Line(line),
            field,
            what,
        };
        let get = |c: usize| rec.get(c).unwrap_or("");
        let parsed = (|| {
            let worker = match cw {
                Some(c) if !get(c).is_empty() => get(c).to_string(),
                Some(_) | None => opts
                    .worker
                    .clone()
                    .ok_or_else(|| bad("worker", "empty".into()))?,
            };
            let time = parse_time(get(ct), opts.zone, NoOffset::Zone(opts.zone))
                .map_err(|w| bad("time", w))?;
            let lon = parse_f64(get(cx)).map_err(|w| bad("lon", w))?;
            let lat = parse_f64(get(cy)).map_err(|w| bad("lat", w))?;
            let crs = parse_crs(cc.map(get));
            let accuracy = match ca.map(get) {
                None | Some("") => None,
                Some(s) => Some(parse_f64(s).map_err(|w| bad("accuracy", w))?),
            };
            Ok((worker, time, lon, lat, crs, accuracy))
        })();
        match parsed {
            Ok((w, time, lon, lat, crs, acc)) => {
                out.points
                    .push(PatrolPoint::new(workers.get(&w), time, lon, lat, crs, acc))
            }
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

/// Reads a GeoJSON FeatureCollection of Point features with properties `worker` (or
/// [`ReadOptions::worker`]), `time` (RFC 3339), `crs` (optional, WGS84) and `accuracy` (optional,
/// metres).
pub fn read_geojson(file: &str, text: &str, opts: &ReadOptions) -> Result<Read, ReadError> {
    use serde_json::Value;
    let file_err = |what: String| ReadError::File {
        file: file.to_string(),
        what,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| file_err(format!("not JSON: {e}")))?;
    let feats = match (v.get("type").and_then(Value::as_str), v.get("features")) {
        (Some("FeatureCollection"), Some(Value::Array(f))) => f,
        _ => return Err(file_err("not a GeoJSON FeatureCollection".into())),
    };
    let mut out = Read::default();
    let mut workers = Workers::default();
    for (i, f) in feats.iter().enumerate() {
        let bad = |field: &'static str, what: String| ReadError::Record {
            file: file.to_string(),
            record: Record::Feature(i),
            field,
            what,
        };
        let props = f.get("properties");
        let prop = |k: &str| props.and_then(|p| p.get(k)).filter(|x| !x.is_null());
        let parsed = (|| {
            let g = f
                .get("geometry")
                .filter(|g| !g.is_null())
                .ok_or_else(|| bad("geometry", "missing".into()))?;
            if g.get("type").and_then(Value::as_str) != Some("Point") {
                return Err(bad("geometry", "not a Point".into()));
            }
            let c = g
                .get("coordinates")
                .and_then(Value::as_array)
                .filter(|c| c.len() >= 2)
                .ok_or_else(|| bad("geometry", "coordinates are not [lon, lat]".into()))?;
            let lon = c[0]
                .as_f64()
                .ok_or_else(|| bad("geometry", "longitude is not a number".into()))?;
            let lat = c[1]
                .as_f64()
                .ok_or_else(|| bad("geometry", "latitude is not a number".into()))?;
            let worker = match prop("worker") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(_) => return Err(bad("worker", "not a string".into())),
                None => opts
                    .worker
                    .clone()
                    .ok_or_else(|| bad("worker", "missing".into()))?,
            };
            let time = match prop("time") {
                Some(Value::String(s)) => parse_time(s, opts.zone, NoOffset::Zone(opts.zone))
                    .map_err(|w| bad("time", w))?,
                Some(_) => return Err(bad("time", "not a string".into())),
                None => return Err(bad("time", "missing".into())),
            };
            let crs = match prop("crs") {
                None => Ok(Crs::Wgs84),
                Some(Value::String(s)) => parse_crs(Some(s)),
                Some(_) => return Err(bad("crs", "not a string".into())),
            };
            let accuracy = match prop("accuracy") {
                None => None,
                Some(x) => Some(
                    x.as_f64()
                        .ok_or_else(|| bad("accuracy", "not a number".into()))?,
                ),
            };
            Ok((worker, time, lon, lat, crs, accuracy))
        })();
        match parsed {
            Ok((w, time, lon, lat, crs, acc)) => {
                out.points
                    .push(PatrolPoint::new(workers.get(&w), time, lon, lat, crs, acc))
            }
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

/// Reads GPX 1.0 and 1.1 track points (`trkpt lat=… lon=…` with `<time>`; coordinates WGS84 as
/// GPX requires; a time without an offset is UTC, as GPX says). A point without `<time>` is
/// [`Read::skipped`]; a file where no point has one is an error. The worker is [`ReadOptions::worker`] if given, else the track's `<name>`, else the
/// file's `<metadata><name>`; a point with none of them is an error.
pub fn read_gpx(file: &str, text: &str, opts: &ReadOptions) -> Result<Read, ReadError> {
    use quick_xml::events::Event;
    let file_err = |what: String| ReadError::File {
        file: file.to_string(),
        what,
    };
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Read::default();
    let mut workers = Workers::default();
    // Element path, the text of the element being read, names found so far.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut text_buf = String::new();
    let mut file_name: Option<String> = None;
    let mut trk_name: Option<String> = None;
    let mut n_trkpt = 0usize;
    let mut open: Option<OpenTrkpt> = None;
    let mut saw_gpx = false;
    let attr = |e: &quick_xml::events::BytesStart, k: &str| -> Option<String> {
        e.try_get_attribute(k).ok().flatten().and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|c| c.into_owned())
        })
    };
    loop {
        let ev = reader.read_event().map_err(|e| {
            file_err(format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        let start = |e: &quick_xml::events::BytesStart,
                     path: &[Vec<u8>],
                     open: &mut Option<OpenTrkpt>,
                     n_trkpt: &mut usize| {
            let name = e.local_name().as_ref().to_vec();
            if name == b"trkpt" && path.last().map(|p| p.as_slice()) == Some(b"trkseg") {
                let idx = *n_trkpt;
                *n_trkpt += 1;
                let bad = |field: &'static str, what: String| ReadError::Record {
                    file: file.to_string(),
                    record: Record::TrackPoint(idx),
                    field,
                    what,
                };
                let num = |k: &'static str| -> Result<f64, ReadError> {
                    let s = attr(e, k).ok_or_else(|| bad(k, "missing".into()))?;
                    parse_f64(&s).map_err(|w| bad(k, w))
                };
                let pos = num("lon").and_then(|lon| Ok((lon, num("lat")?)));
                *open = Some(OpenTrkpt {
                    idx,
                    pos,
                    time: None,
                });
            }
            name
        };
        match ev {
            Event::Start(e) => {
                let name = start(&e, &path, &mut open, &mut n_trkpt);
                if name == b"gpx" {
                    saw_gpx = true;
                }
                path.push(name);
                text_buf.clear();
            }
            Event::Empty(e) => {
                let name = start(&e, &path, &mut open, &mut n_trkpt);
                if name == b"trkpt" {
                    close_trkpt(
                        file,
                        opts,
                        &mut open,
                        &trk_name,
                        &file_name,
                        &mut workers,
                        &mut out,
                    );
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(|p| p.as_slice());
                match (name.as_slice(), parent) {
                    (b"name", Some(b"trk")) => trk_name = Some(text_buf.trim().to_string()),
                    (b"name", Some(b"metadata")) => file_name = Some(text_buf.trim().to_string()),
                    (b"time", Some(b"trkpt")) => {
                        if let Some(o) = open.as_mut() {
                            o.time = Some(text_buf.trim().to_string());
                        }
                    }
                    (b"trkpt", _) => close_trkpt(
                        file,
                        opts,
                        &mut open,
                        &trk_name,
                        &file_name,
                        &mut workers,
                        &mut out,
                    ),
                    (b"trk", _) => trk_name = None,
                    _ => {}
                }
                text_buf.clear();
            }
            Event::Eof => break,
            other => push_xml_text(&other, &mut text_buf),
        }
    }
    if !saw_gpx {
        return Err(file_err("no <gpx> element: not a GPX file".into()));
    }
    if n_trkpt > 0 && out.skipped.len() == n_trkpt {
        return Err(file_err(format!(
            "none of its {n_trkpt} track points has a <time>: a route or a drawn track, not a \
             patrol"
        )));
    }
    Ok(out)
}

/// The track point being read: index, lon/lat (or why not), `<time>` text.
struct OpenTrkpt {
    idx: usize,
    pos: Result<(f64, f64), ReadError>,
    time: Option<String>,
}

fn close_trkpt(
    file: &str,
    opts: &ReadOptions,
    open: &mut Option<OpenTrkpt>,
    trk_name: &Option<String>,
    file_name: &Option<String>,
    workers: &mut Workers,
    out: &mut Read,
) {
    let Some(o) = open.take() else { return };
    let OpenTrkpt { idx, pos, time } = o;
    let bad = |field: &'static str, what: String| ReadError::Record {
        file: file.to_string(),
        record: Record::TrackPoint(idx),
        field,
        what,
    };
    let Some(time) = time else {
        out.skipped
            .push(bad("time", "no <time>: a patrol point needs one".into()));
        return;
    };
    let parsed = (|| {
        let (lon, lat) = pos?;
        let time = parse_time(&time, opts.zone, NoOffset::Utc).map_err(|w| bad("time", w))?;
        let worker = opts
            .worker
            .clone()
            .or_else(|| trk_name.clone().filter(|s| !s.is_empty()))
            .or_else(|| file_name.clone().filter(|s| !s.is_empty()))
            .ok_or_else(|| bad("worker", "no worker given and no <trk><name>".into()))?;
        Ok((worker, time, lon, lat))
    })();
    match parsed {
        Ok((w, time, lon, lat)) => out.points.push(PatrolPoint::new(
            workers.get(&w),
            time,
            lon,
            lat,
            Ok(Crs::Wgs84),
            None,
        )),
        Err(e) => out.errors.push(e),
    }
}

/// Appends the text an XML event carries (text, CDATA, a character or predefined entity
/// reference) to `buf`; other events add nothing.
fn push_xml_text(ev: &quick_xml::events::Event<'_>, buf: &mut String) {
    use quick_xml::events::Event;
    match ev {
        Event::Text(t) => {
            if let Ok(s) = t.decode() {
                buf.push_str(&s);
            }
        }
        Event::CData(t) => {
            if let Ok(s) = t.decode() {
                buf.push_str(&s);
            }
        }
        Event::GeneralRef(r) => {
            if let Ok(Some(c)) = r.resolve_char_ref() {
                buf.push(c);
            } else if let Ok(name) = r.decode() {
                if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    buf.push_str(s);
                }
            }
        }
        _ => {}
    }
}

/// A KML point as written: its time (if any), its coordinate text, the name of its placemark.
struct KmlRaw {
    when: Option<String>,
    coord: String,
    name: Option<String>,
}

/// What [`read_kml`] gathers while it walks the file.
#[derive(Default)]
struct KmlWalk {
    path: Vec<Vec<u8>>,
    text: String,
    saw_kml: bool,
    tracks: usize,
    doc_name: Option<String>,
    placemark_name: Option<String>,
    whens: Vec<String>,
    coords: Vec<String>,
    stamp: Option<String>,
    point: Option<String>,
    /// Points of the placemark being read, named when it closes.
    pending: Vec<(Option<String>, String)>,
    raws: Vec<KmlRaw>,
}

impl KmlWalk {
    fn flush(&mut self) {
        let name = self.placemark_name.take();
        for (when, coord) in self.pending.drain(..) {
            self.raws.push(KmlRaw {
                when,
                coord,
                name: name.clone(),
            });
        }
    }

    /// Handles the end of element `name`; `Err` names what makes the file unreadable.
    fn end(&mut self, name: &[u8]) -> Result<(), String> {
        let parent = self.path.last().map(|p| p.as_slice());
        let text = self.text.trim().to_string();
        match (name, parent) {
            (b"name", Some(b"Placemark")) => self.placemark_name = Some(text),
            (b"name", Some(b"Document")) => self.doc_name = Some(text),
            (b"when", Some(b"Track")) => self.whens.push(text),
            (b"coord", Some(b"Track")) => self.coords.push(text),
            (b"when", Some(b"TimeStamp")) => self.stamp = Some(text),
            (b"coordinates", Some(b"Point")) => self.point = Some(text),
            (b"Track", _) => {
                self.tracks += 1;
                if self.whens.len() != self.coords.len() {
                    return Err(format!(
                        "gx:Track {}: {} <when> but {} <gx:coord>; they cannot be paired",
                        self.tracks - 1,
                        self.whens.len(),
                        self.coords.len()
                    ));
                }
                let pairs = self.whens.drain(..).zip(self.coords.drain(..));
                self.pending.extend(pairs.map(|(w, c)| (Some(w), c)));
            }
            (b"Placemark", _) => {
                if let Some(c) = self.point.take() {
                    self.pending.push((self.stamp.take(), c));
                }
                self.flush();
            }
            _ => {}
        }
        self.text.clear();
        Ok(())
    }
}

/// Reads KML tracks as terminals and Google Earth write them: each `gx:Track` (also inside a
/// `gx:MultiTrack`) pairs its `<when>` times with its `<gx:coord>` positions (`lon lat [alt]`,
/// WGS84) in order, and a `Placemark` with a `Point` and a `<TimeStamp><when>` is one point. A
/// time without an offset is UTC. The worker is [`ReadOptions::worker`] if given, else the
/// placemark's `<name>`, else the document's. A track whose `<when>` and `<gx:coord>` counts
/// differ cannot be paired and is a file error; a `Point` placemark without a time is
/// [`Read::skipped`], and a file where no point has a time is an error.
pub fn read_kml(file: &str, text: &str, opts: &ReadOptions) -> Result<Read, ReadError> {
    use quick_xml::events::Event;
    let file_err = |what: String| ReadError::File {
        file: file.to_string(),
        what,
    };
    let mut reader = quick_xml::Reader::from_str(text);
    let mut w = KmlWalk::default();
    loop {
        let ev = reader.read_event().map_err(|e| {
            file_err(format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match &ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                match name.as_slice() {
                    b"kml" => w.saw_kml = true,
                    b"Placemark" => {
                        w.placemark_name = None;
                        w.stamp = None;
                        w.point = None;
                    }
                    _ => {}
                }
                w.path.push(name);
                w.text.clear();
            }
            Event::End(_) => {
                let name = w.path.pop().unwrap_or_default();
                w.end(&name).map_err(file_err)?;
            }
            Event::Eof => break,
            other => push_xml_text(other, &mut w.text),
        }
    }
    w.flush();
    if !w.saw_kml {
        return Err(file_err("no <kml> element: not a KML file".into()));
    }
    if w.raws.is_empty() {
        return Err(file_err(
            "no gx:Track and no Point placemark with a time: no patrol points in it".into(),
        ));
    }
    let mut out = Read::default();
    let mut workers = Workers::default();
    let doc_name = w.doc_name.filter(|s| !s.is_empty());
    for (idx, raw) in w.raws.into_iter().enumerate() {
        kml_point(file, opts, idx, raw, &doc_name, &mut workers, &mut out);
    }
    if out.points.is_empty() && out.errors.is_empty() {
        return Err(file_err(format!(
            "none of its {} points has a time: placemarks, not a patrol",
            out.skipped.len()
        )));
    }
    Ok(out)
}

fn kml_point(
    file: &str,
    opts: &ReadOptions,
    idx: usize,
    raw: KmlRaw,
    doc_name: &Option<String>,
    workers: &mut Workers,
    out: &mut Read,
) {
    let bad = |field: &'static str, what: String| ReadError::Record {
        file: file.to_string(),
        record: Record::KmlPoint(idx),
        field,
        what,
    };
    let Some(when) = raw.when else {
        out.skipped.push(bad(
            "when",
            "no <TimeStamp><when>: a patrol point needs one".into(),
        ));
        return;
    };
    let parsed = (|| {
        let nums: Vec<&str> = raw
            .coord
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .collect();
        if nums.len() < 2 {
            return Err(bad(
                "coord",
                format!("`{}` is not `lon lat [alt]`", raw.coord),
            ));
        }
        let lon = parse_f64(nums[0]).map_err(|w| bad("coord", w))?;
        let lat = parse_f64(nums[1]).map_err(|w| bad("coord", w))?;
        let time = parse_time(&when, opts.zone, NoOffset::Utc).map_err(|w| bad("when", w))?;
        let worker = opts
            .worker
            .clone()
            .or_else(|| raw.name.clone().filter(|s| !s.is_empty()))
            .or_else(|| doc_name.clone())
            .ok_or_else(|| bad("worker", "no worker given and no <name>".into()))?;
        Ok((worker, time, lon, lat))
    })();
    match parsed {
        Ok((w, time, lon, lat)) => out.points.push(PatrolPoint::new(
            workers.get(&w),
            time,
            lon,
            lat,
            Ok(Crs::Wgs84),
            None,
        )),
        Err(e) => out.errors.push(e),
    }
}

/// One point of a batch that could not be read: which record, which field, what.
fn field_err(index: usize, field: &str, what: &str) -> String {
    format!("record {index}: field `{field}`: {what}")
}

/// Reads a JSON array of point objects; every unreadable record is listed.
fn read_array(items: &[serde_json::Value]) -> Result<Vec<PatrolPoint>, Vec<String>> {
    use serde_json::Value;
    let mut workers: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut points = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let Some(o) = v.as_object() else {
            errors.push(format!("record {i}: is not an object"));
            continue;
        };
        let text = |f: &str| -> Result<&str, String> {
            match o.get(f) {
                None | Some(Value::Null) => Err(field_err(i, f, "missing")),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.as_str()),
                Some(_) => Err(field_err(i, f, "is not a non-empty string")),
            }
        };
        let num = |f: &str| -> Result<f64, String> {
            match o.get(f) {
                None | Some(Value::Null) => Err(field_err(i, f, "missing")),
                Some(Value::Number(n)) => {
                    n.as_f64().ok_or_else(|| field_err(i, f, "is not a number"))
                }
                Some(Value::String(s)) => s
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| field_err(i, f, "is not a number")),
                Some(_) => Err(field_err(i, f, "is not a number")),
            }
        };
        let worker = text("worker");
        let time = text("time").and_then(|s| {
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|e| field_err(i, "time", &format!("`{s}` is not RFC 3339 ({e})")))
        });
        let lon = num("lon");
        let lat = num("lat");
        let crs = match o.get("crs") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(field_err(i, "crs", "is not a string")),
        };
        let accuracy = match o.get("accuracy") {
            None | Some(Value::Null) => Ok(None),
            Some(_) => num("accuracy").map(Some),
        };
        match (worker, time, lon, lat, crs, accuracy) {
            (Ok(w), Ok(t), Ok(lon), Ok(lat), Ok(crs), Ok(acc)) => {
                let w = workers
                    .entry(w.to_string())
                    .or_insert_with(|| Arc::from(w))
                    .clone();
                let crs = match crs.map(str::trim) {
                    None | Some("") => Ok(crate::crs::Crs::Wgs84),
                    Some(c) => c.parse(),
                };
                points.push(PatrolPoint::new(w, t, lon, lat, crs, acc));
            }
            (w, t, lon, lat, crs, acc) => {
                errors.extend(w.err());
                errors.extend(t.err());
                errors.extend(lon.err());
                errors.extend(lat.err());
                errors.extend(crs.err());
                errors.extend(acc.err());
            }
        }
    }
    if errors.is_empty() {
        Ok(points)
    } else {
        Err(errors)
    }
}

/// Reads a batch as `POST /api/patrol/points` gets it: a JSON array of `{worker, time, lon, lat,
/// crs?, accuracy?}` or a GeoJSON FeatureCollection; all of it or the list of what is unreadable.
pub fn read_batch(body: &[u8]) -> Result<Vec<PatrolPoint>, Vec<String>> {
    let text = std::str::from_utf8(body).map_err(|e| vec![format!("body is not UTF-8: {e}")])?;
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| vec![format!("body is not JSON: {e}")])?;
    match &v {
        serde_json::Value::Array(items) => read_array(items),
        serde_json::Value::Object(o) if o.get("type").and_then(|t| t.as_str()).is_some() => {
            let r =
                read_geojson("body", text, &Default::default()).map_err(|e| vec![e.to_string()])?;
            if r.errors.is_empty() {
                Ok(r.points)
            } else {
                Err(r.errors.iter().map(ToString::to_string).collect())
            }
        }
        _ => Err(vec![
            "body is neither a JSON array of points nor a GeoJSON FeatureCollection".into(),
        ]),
    }
}
