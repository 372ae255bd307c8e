//! KML documents: every `Placemark` with its `name`, `ExtendedData` (`Data`/`value` and
//! `SchemaData`/`SimpleData`) and geometry (`Point`, `LineString`, `Polygon`, `MultiGeometry`).
//! KML coordinates are WGS84 lon/lat (or GCJ-02/BD-09 with `--crs`).

use super::layer::{Layer, RawFeature, RawGeometry};
use super::IngestError;
use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Number, Value};
use std::path::Path;

/// A polygon being read: its outer ring (once read) and inner rings.
type OpenPolygon = (Option<LineString<f64>>, Vec<LineString<f64>>);

/// A Placemark being read.
#[derive(Default)]
struct Mark {
    props: Map<String, Value>,
    geoms: Vec<Geometry<f64>>,
    bad: Option<String>,
    /// The polygon being read: outer ring, inner rings.
    polygon: Option<OpenPolygon>,
}

fn attr(e: &BytesStart, k: &str) -> Option<String> {
    e.try_get_attribute(k).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|c| c.into_owned())
    })
}

/// Text that is a number written the way a number prints becomes a number (`12`, `3.5`), any
/// other text stays text (`007`, `B12`).
fn typed(text: &str) -> Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        if i.to_string() == t {
            return Value::Number(i.into());
        }
    }
    if let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
        if n.to_string() == t {
            return Value::Number(n);
        }
    }
    Value::String(t.to_string())
}

fn coords(text: &str) -> Result<Vec<Coord<f64>>, String> {
    text.split_whitespace()
        .map(|tuple| {
            let mut it = tuple.split(',').map(str::parse::<f64>);
            match (it.next(), it.next()) {
                (Some(Ok(x)), Some(Ok(y))) => Ok(Coord { x, y }),
                _ => Err(format!("has coordinates that are not lon,lat: {tuple:?}")),
            }
        })
        .collect()
}

/// Reads every Placemark of a KML file.
pub fn read(path: &Path) -> Result<Layer, IngestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| IngestError::file(path, format!("cannot be read: {e}")))?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut features = Vec::new();
    let mut path_stack: Vec<Vec<u8>> = Vec::new();
    let mut buf = String::new();
    let mut mark: Option<Mark> = None;
    let mut data_name: Option<String> = None;
    loop {
        let ev = reader.read_event().map_err(|e| {
            IngestError::file(
                path,
                format!(
                    "is not well-formed XML at byte {}: {e}",
                    reader.error_position()
                ),
            )
        })?;
        match ev {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_vec();
                match name.as_slice() {
                    b"Placemark" => mark = Some(Mark::default()),
                    b"Polygon" => {
                        if let Some(m) = mark.as_mut() {
                            m.polygon = Some((None, Vec::new()));
                        }
                    }
                    b"SimpleData" | b"Data" => data_name = attr(&e, "name"),
                    _ => {}
                }
                path_stack.push(name);
                buf.clear();
            }
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
            Event::End(_) => {
                let name = path_stack.pop().unwrap_or_default();
                let parent = path_stack.last().map(|p| p.as_slice()).unwrap_or(b"");
                let grand = path_stack
                    .len()
                    .checked_sub(2)
                    .map(|i| path_stack[i].as_slice())
                    .unwrap_or(b"");
                if let Some(m) = mark.as_mut() {
                    end_in_mark(m, &name, parent, grand, &buf, &mut data_name);
                }
                if name == b"Placemark" {
                    if let Some(m) = mark.take() {
                        features.push(finish(m));
                    }
                }
                buf.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Layer {
        file: path.to_path_buf(),
        crs: None,
        columns: Layer::columns_of(&features),
        features,
    })
}

fn end_in_mark(
    m: &mut Mark,
    name: &[u8],
    parent: &[u8],
    grand: &[u8],
    text: &str,
    data_name: &mut Option<String>,
) {
    match (name, parent) {
        (b"name", b"Placemark") | (b"description", b"Placemark") => {
            let key = String::from_utf8_lossy(name).into_owned();
            m.props.entry(key).or_insert_with(|| typed(text));
        }
        (b"SimpleData", _) | (b"value", b"Data") => {
            if let Some(k) = data_name.take() {
                m.props.insert(k, typed(text));
            }
        }
        (b"coordinates", _) => match coords(text) {
            Err(e) => m.bad = Some(e),
            Ok(cs) => match parent {
                b"Point" => match cs.first() {
                    Some(c) => m.geoms.push(Geometry::Point(Point(*c))),
                    None => m.bad = Some("has a Point without coordinates".into()),
                },
                b"LineString" => m.geoms.push(Geometry::LineString(LineString(cs))),
                b"LinearRing" => {
                    if let Some((outer, inner)) = m.polygon.as_mut() {
                        if grand == b"innerBoundaryIs" {
                            inner.push(LineString(cs));
                        } else {
                            *outer = Some(LineString(cs));
                        }
                    }
                }
                _ => {}
            },
        },
        (b"Polygon", _) => {
            if let Some((outer, inner)) = m.polygon.take() {
                match outer {
                    Some(o) => m.geoms.push(Geometry::Polygon(Polygon::new(o, inner))),
                    None => m.bad = Some("has a Polygon without an outer ring".into()),
                }
            }
        }
        _ => {}
    }
}

/// A Placemark's geometries as one geometry.
fn finish(m: Mark) -> RawFeature {
    let geometry = if let Some(b) = m.bad {
        RawGeometry::Bad(b)
    } else if m.geoms.len() <= 1 {
        m.geoms
            .into_iter()
            .next()
            .map_or(RawGeometry::Missing, RawGeometry::Geo)
    } else {
        let g = m.geoms;
        RawGeometry::Geo(if g.iter().all(|g| matches!(g, Geometry::Polygon(_))) {
            Geometry::MultiPolygon(MultiPolygon(
                g.into_iter()
                    .filter_map(|g| Polygon::try_from(g).ok())
                    .collect(),
            ))
        } else if g.iter().all(|g| matches!(g, Geometry::LineString(_))) {
            Geometry::MultiLineString(MultiLineString(
                g.into_iter()
                    .filter_map(|g| LineString::try_from(g).ok())
                    .collect(),
            ))
        } else if g.iter().all(|g| matches!(g, Geometry::Point(_))) {
            Geometry::MultiPoint(MultiPoint(
                g.into_iter()
                    .filter_map(|g| Point::try_from(g).ok())
                    .collect(),
            ))
        } else {
            Geometry::GeometryCollection(geo::GeometryCollection(g))
        })
    };
    RawFeature {
        props: m.props,
        id: None,
        geometry,
    }
}
