//! Shapefiles: the `.shp` geometries (points, multipoints, polylines, polygons, with or without
//! Z/M), the `.dbf` attributes in UTF-8 or GBK, the `.prj` coordinate system; from a folder or one
//! `.zip`.
//!
//! The DBF's text encoding is, in this order: `--encoding`; the `.cpg` file; the DBF's language
//! driver byte (936 → GBK); else UTF-8 when every record is valid UTF-8 and GBK (read as
//! GB18030, its superset) when not.

use super::layer::{Layer, RawFeature, RawGeometry, ReadOptions};
use super::IngestError;
use crate::crs::source::SourceCrs;
use encoding_rs::Encoding;
use geo::{Contains, Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon};
use geo::{Orient, Point, Polygon};
use serde_json::{Map, Number, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The text encoding of a label: WHATWG labels (`gbk`, `gb18030`, `utf-8`, …) plus the Windows
/// code page names a `.cpg` may hold (`936`, `CP936`, `ANSI 936`, `65001`).
///
/// ```
/// use wangge::ingest::shp::encoding_from_label;
/// assert_eq!(encoding_from_label("CP936"), Some(encoding_rs::GBK));
/// assert_eq!(encoding_from_label("utf8"), Some(encoding_rs::UTF_8));
/// assert_eq!(encoding_from_label("klingon"), None);
/// ```
pub fn encoding_from_label(label: &str) -> Option<&'static Encoding> {
    let l = label.trim().to_ascii_lowercase();
    let l = l.trim_start_matches("ansi").trim();
    match l.trim_start_matches("cp").trim() {
        "936" => return Some(encoding_rs::GBK),
        "54936" => return Some(encoding_rs::GB18030),
        "65001" | "utf8" => return Some(encoding_rs::UTF_8),
        _ => {}
    }
    Encoding::for_label(l.as_bytes())
}

/// The files of one Shapefile, read into memory.
struct Parts {
    /// What errors call it.
    name: PathBuf,
    shp: Vec<u8>,
    dbf: Option<Vec<u8>>,
    prj: Option<(PathBuf, String)>,
    cpg: Option<(PathBuf, String)>,
}

/// Reads `x.shp` with `x.dbf`, `x.prj` and `x.cpg` beside it.
pub fn read_shp(path: &Path, opts: &ReadOptions) -> Result<Layer, IngestError> {
    let read = |p: &Path| -> Result<Option<Vec<u8>>, IngestError> {
        match std::fs::read(p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IngestError::file(p, format!("cannot be read: {e}"))),
        }
    };
    let side = |ext: &str| path.with_extension(ext);
    let text = |p: PathBuf| -> Result<Option<(PathBuf, String)>, IngestError> {
        Ok(read(&p)?.map(|b| (p, String::from_utf8_lossy(&b).into_owned())))
    };
    let shp = read(path)?.ok_or_else(|| IngestError::file(path, "cannot be read"))?;
    let parts = Parts {
        name: path.to_path_buf(),
        shp,
        dbf: read(&side("dbf"))?,
        prj: text(side("prj"))?,
        cpg: text(side("cpg"))?,
    };
    parts.read(opts)
}

/// Reads the one Shapefile inside a `.zip`.
pub fn read_zip(path: &Path, opts: &ReadOptions) -> Result<Layer, IngestError> {
    let err = |problem: String| IngestError::file(path, problem);
    let file = std::fs::File::open(path).map_err(|e| err(format!("cannot be read: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| err(format!("is not a readable .zip: {e}")))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let shps: Vec<&String> = names
        .iter()
        .filter(|n| n.to_ascii_lowercase().ends_with(".shp") && !n.starts_with("__MACOSX"))
        .collect();
    let shp_name = match shps.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(err("holds no .shp file".into())),
        many => {
            let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            return Err(err(format!(
                "holds {} .shp files ({}): put one layer in each .zip",
                many.len(),
                list.join(", ")
            )));
        }
    };
    let stem = &shp_name[..shp_name.len() - 4];
    let mut member = |ext: &str| -> Result<Option<(PathBuf, Vec<u8>)>, IngestError> {
        let Some(name) = names.iter().find(|n| {
            n.len() == stem.len() + 4
                && n.starts_with(stem)
                && n[stem.len()..].eq_ignore_ascii_case(ext)
        }) else {
            return Ok(None);
        };
        let mut f = zip
            .by_name(name)
            .map_err(|e| err(format!("{name}: cannot be read: {e}")))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| err(format!("{name}: cannot be read: {e}")))?;
        Ok(Some((
            PathBuf::from(format!("{}:{name}", path.display())),
            buf,
        )))
    };
    let shp = member(".shp")?.map(|m| m.1).unwrap_or_default();
    let dbf = member(".dbf")?.map(|m| m.1);
    let as_text = |m: Option<(PathBuf, Vec<u8>)>| {
        m.map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
    };
    let prj = as_text(member(".prj")?);
    let cpg = as_text(member(".cpg")?);
    Parts {
        name: path.to_path_buf(),
        shp,
        dbf,
        prj,
        cpg,
    }
    .read(opts)
}

impl Parts {
    fn read(self, opts: &ReadOptions) -> Result<Layer, IngestError> {
        let crs = match &self.prj {
            Some((p, wkt)) if !wkt.trim().is_empty() => {
                Some(SourceCrs::from_wkt(wkt).map_err(|e| IngestError::file(p, e.to_string()))?)
            }
            _ => None,
        };
        let shapes = read_shapes(&self.name, &self.shp)?;
        let table = match &self.dbf {
            Some(dbf) => {
                let enc = self.encoding(opts, dbf)?;
                read_dbf(&self.name, dbf, enc)?
            }
            None => Table {
                columns: Vec::new(),
                rows: vec![Some(Map::new()); shapes.len()],
            },
        };
        if table.rows.len() != shapes.len() {
            return Err(IngestError::file(
                &self.name,
                format!(
                    "has {} shapes but {} attribute records in its .dbf",
                    shapes.len(),
                    table.rows.len()
                ),
            ));
        }
        let features: Vec<RawFeature> = shapes
            .into_iter()
            .zip(table.rows)
            .filter_map(|(geometry, row)| {
                row.map(|props| RawFeature {
                    props,
                    id: None,
                    geometry,
                })
            })
            .collect();
        Ok(Layer {
            file: self.name,
            crs,
            columns: table.columns.into_iter().collect(),
            features,
        })
    }

    /// The DBF's text encoding (see the module's doc).
    fn encoding(&self, opts: &ReadOptions, dbf: &[u8]) -> Result<&'static Encoding, IngestError> {
        if let Some(e) = opts.encoding {
            return Ok(e);
        }
        if let Some((p, label)) = &self.cpg {
            if !label.trim().is_empty() {
                let enc = encoding_from_label(label).ok_or_else(|| {
                    IngestError::file(
                        p,
                        format!(
                            "names the text encoding {:?}, which wangge does not know: give --encoding gbk or utf-8",
                            label.trim()
                        ),
                    )
                })?;
                return Ok(enc);
            }
        }
        if dbf.get(29) == Some(&0x4D) {
            return Ok(encoding_rs::GBK);
        }
        let start = dbf
            .get(8..10)
            .map_or(dbf.len(), |b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .min(dbf.len());
        let names_end = start.min(dbf.len());
        if std::str::from_utf8(&dbf[start..]).is_ok()
            && dbf
                .get(32..names_end)
                .is_none_or(|h| std::str::from_utf8(h).is_ok())
        {
            Ok(encoding_rs::UTF_8)
        } else {
            Ok(encoding_rs::GB18030)
        }
    }
}

fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_f64(b: &[u8], at: usize) -> Option<f64> {
    Some(f64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Every record's geometry, in file order.
fn read_shapes(name: &Path, shp: &[u8]) -> Result<Vec<RawGeometry>, IngestError> {
    if shp.len() < 100 || be_i32(shp, 0) != Some(9994) {
        return Err(IngestError::file(name, "is not a Shapefile (.shp)"));
    }
    let mut out = Vec::new();
    let mut at = 100;
    while at + 8 <= shp.len() {
        let words = be_i32(shp, at + 4).unwrap_or(0).max(0) as usize;
        let content = at + 8;
        let end = content + 2 * words;
        let Some(rec) = shp.get(content..end) else {
            return Err(IngestError::file(
                name,
                format!("is cut short in record {}", out.len()),
            ));
        };
        out.push(shape(rec).unwrap_or_else(|| RawGeometry::Bad("is a truncated shape".into())));
        at = end;
    }
    Ok(out)
}

/// One record's content as a geometry.
fn shape(rec: &[u8]) -> Option<RawGeometry> {
    let kind = le_i32(rec, 0)?;
    let pt = |at: usize| -> Option<Coord<f64>> {
        Some(Coord {
            x: le_f64(rec, at)?,
            y: le_f64(rec, at + 8)?,
        })
    };
    Some(RawGeometry::Geo(match kind {
        0 => return Some(RawGeometry::Missing),
        1 | 11 | 21 => Geometry::Point(Point(pt(4)?)),
        8 | 18 | 28 => {
            let n = le_i32(rec, 36)?.max(0) as usize;
            let pts = (0..n)
                .map(|i| pt(40 + 16 * i).map(Point))
                .collect::<Option<Vec<_>>>()?;
            Geometry::MultiPoint(MultiPoint(pts))
        }
        3 | 13 | 23 | 5 | 15 | 25 => {
            let parts = le_i32(rec, 36)?.max(0) as usize;
            let n = le_i32(rec, 40)?.max(0) as usize;
            let starts = (0..parts)
                .map(|i| le_i32(rec, 44 + 4 * i).map(|s| s.max(0) as usize))
                .collect::<Option<Vec<_>>>()?;
            let base = 44 + 4 * parts;
            let mut lines = Vec::with_capacity(parts);
            for (i, &s) in starts.iter().enumerate() {
                let e = starts.get(i + 1).copied().unwrap_or(n);
                if s > e || e > n {
                    return None;
                }
                let coords = (s..e)
                    .map(|j| pt(base + 16 * j))
                    .collect::<Option<Vec<_>>>()?;
                lines.push(LineString(coords));
            }
            if matches!(kind, 5 | 15 | 25) {
                polygons(lines)
            } else if lines.len() == 1 {
                Geometry::LineString(lines.pop()?)
            } else {
                Geometry::MultiLineString(MultiLineString(lines))
            }
        }
        other => {
            return Some(RawGeometry::Bad(format!(
                "is a shape of type {other}, which wangge does not read"
            )))
        }
    }))
}

/// Shapefile rings into polygons: clockwise rings are outer rings, the others holes of the
/// outer ring that holds them.
fn polygons(rings: Vec<LineString<f64>>) -> Geometry<f64> {
    let signed = |r: &LineString<f64>| -> f64 {
        r.0.windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum::<f64>()
    };
    let (outer, holes): (Vec<_>, Vec<_>) = rings.into_iter().partition(|r| signed(r) <= 0.0);
    let mut polys: Vec<Polygon<f64>> = outer
        .into_iter()
        .map(|r| Polygon::new(r, Vec::new()))
        .collect();
    for h in holes {
        let probe = h.0.first().copied().map(Point);
        let owner = probe.and_then(|p| {
            polys
                .iter()
                .position(|poly| Polygon::new(poly.exterior().clone(), vec![]).contains(&p))
        });
        match owner {
            Some(i) => polys[i].interiors_push(h),
            None => polys.push(Polygon::new(h, Vec::new())),
        }
    }
    let mp = MultiPolygon(polys).orient(geo::orient::Direction::Default);
    if mp.0.len() == 1 {
        Geometry::Polygon(mp.0.into_iter().next().expect("one polygon"))
    } else {
        Geometry::MultiPolygon(mp)
    }
}

/// A DBF's columns and rows (`None` for a deleted record).
struct Table {
    columns: Vec<String>,
    rows: Vec<Option<Map<String, Value>>>,
}

struct Column {
    name: String,
    kind: u8,
    len: usize,
}

/// Reads a dBASE III/IV table, decoding text with `enc`.
fn read_dbf(name: &Path, dbf: &[u8], enc: &'static Encoding) -> Result<Table, IngestError> {
    let bad = |what: &str| IngestError::file(name, format!("has a broken .dbf: {what}"));
    if dbf.len() < 32 {
        return Err(bad("shorter than its header"));
    }
    let n = u32::from_le_bytes(dbf[4..8].try_into().expect("4 bytes")) as usize;
    let header = u16::from_le_bytes([dbf[8], dbf[9]]) as usize;
    let rec_len = u16::from_le_bytes([dbf[10], dbf[11]]) as usize;
    let mut cols = Vec::new();
    let mut at = 32;
    while at + 32 <= header.min(dbf.len()) && dbf[at] != 0x0D {
        let d = &dbf[at..at + 32];
        let raw = &d[..11];
        let raw = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(11)];
        cols.push(Column {
            name: decode(enc, raw).trim().to_string(),
            kind: d[11].to_ascii_uppercase(),
            len: d[16] as usize,
        });
        at += 32;
    }
    let utf8_declared = enc == encoding_rs::UTF_8;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let start = header + i * rec_len;
        let Some(rec) = dbf.get(start..start + rec_len) else {
            return Err(bad(&format!("record {i} is cut short")));
        };
        if rec[0] == b'*' {
            rows.push(None);
            continue;
        }
        let mut props = Map::new();
        let mut off = 1;
        for c in &cols {
            let Some(raw) = rec.get(off..off + c.len) else {
                return Err(bad(&format!("record {i} is shorter than its fields")));
            };
            off += c.len;
            if utf8_declared && std::str::from_utf8(raw).is_err() {
                return Err(IngestError {
                    file: name.to_path_buf(),
                    feature: Some(super::FeatureRef { index: i, id: None }),
                    field: Some(c.name.clone()),
                    problem:
                        "is not UTF-8 text as the .cpg (or --encoding) says: give --encoding gbk"
                            .into(),
                });
            }
            props.insert(c.name.clone(), value(c.kind, &decode(enc, raw)));
        }
        rows.push(Some(props));
    }
    Ok(Table {
        columns: cols.into_iter().map(|c| c.name).collect(),
        rows,
    })
}

fn decode(enc: &'static Encoding, raw: &[u8]) -> String {
    enc.decode_without_bom_handling(raw).0.into_owned()
}

/// A DBF field's text as a JSON value: numbers as numbers, blanks as null.
fn value(kind: u8, text: &str) -> Value {
    let t = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if t.is_empty() || t.chars().all(|c| c == '*') {
        return Value::Null;
    }
    match kind {
        b'N' | b'F' | b'B' | b'I' | b'O' => {
            if let Ok(i) = t.parse::<i64>() {
                Value::Number(i.into())
            } else if let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
                Value::Number(n)
            } else {
                Value::String(t.to_string())
            }
        }
        b'L' => match t {
            "T" | "t" | "Y" | "y" => Value::Bool(true),
            "F" | "f" | "N" | "n" => Value::Bool(false),
            _ => Value::Null,
        },
        _ => Value::String(t.to_string()),
    }
}
