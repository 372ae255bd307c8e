//! Geometry encodings, for the store and for reading a town's own GeoPackage: WKB (PostGIS, via `ST_GeomFromWKB`/`ST_AsBinary`) and
//! GeoPackage geometry blobs (OGC 12-128r18 §2.1.3: a `GP` header with the SRS id and envelope,
//! then WKB).

use geo::{BoundingRect, Geometry};
use geo_traits::to_geo::ToGeoGeometry;
use wkb::writer::WriteOptions;
use wkb::Endianness;

/// WGS84 / CGCS2000 lon/lat, the only SRS wangge stores.
pub const SRID: i32 = 4326;

/// A geometry could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GeomError(pub String);

/// Little-endian WKB of a geometry.
pub fn to_wkb(g: &Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(wkb::writer::geometry_wkb_size(g));
    wkb::writer::write_geometry(
        &mut out,
        g,
        &WriteOptions {
            endianness: Endianness::LittleEndian,
        },
    )
    .expect("writing WKB to a Vec cannot fail");
    out
}

/// Reads WKB (or PostGIS EWKB) into a geometry.
pub fn from_wkb(buf: &[u8]) -> Result<Geometry<f64>, GeomError> {
    let w = wkb::reader::read_wkb(buf).map_err(|e| GeomError(format!("bad WKB: {e}")))?;
    Ok(w.to_geometry())
}

/// A GeoPackage geometry blob: `GP`, version 0, flags (little-endian, xy envelope), SRS id,
/// envelope (min x, max x, min y, max y), then WKB.
///
/// ```
/// use geo::{Geometry, Point};
/// use wangge::store::geom::{from_gpkg, to_gpkg};
/// let g = Geometry::Point(Point::new(121.5, 31.2));
/// let blob = to_gpkg(&g);
/// assert_eq!(&blob[..2], b"GP");
/// assert_eq!(from_gpkg(&blob).unwrap(), g);
/// ```
pub fn to_gpkg(g: &Geometry<f64>) -> Vec<u8> {
    let wkb = to_wkb(g);
    let rect = g.bounding_rect();
    let mut out = Vec::with_capacity(8 + 32 + wkb.len());
    out.extend_from_slice(b"GP");
    out.push(0);
    match rect {
        Some(r) => {
            out.push(0b0000_0011);
            out.extend_from_slice(&SRID.to_le_bytes());
            for v in [r.min().x, r.max().x, r.min().y, r.max().y] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        None => {
            // Empty geometry: the empty flag, no envelope.
            out.push(0b0001_0001);
            out.extend_from_slice(&SRID.to_le_bytes());
        }
    }
    out.extend_from_slice(&wkb);
    out
}

/// Reads a GeoPackage geometry blob.
pub fn from_gpkg(blob: &[u8]) -> Result<Geometry<f64>, GeomError> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err(GeomError("not a GeoPackage geometry blob".into()));
    }
    let flags = blob[3];
    if flags & 0b0010_0000 != 0 {
        return Err(GeomError(
            "extended GeoPackage geometries are not supported".into(),
        ));
    }
    let env = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        n => return Err(GeomError(format!("bad envelope code {n}"))),
    };
    let start = 8 + env;
    if blob.len() < start {
        return Err(GeomError("truncated GeoPackage geometry blob".into()));
    }
    from_wkb(&blob[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    #[test]
    fn polygon_round_trips_through_both_encodings() {
        let p = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)];
        let g = Geometry::MultiPolygon(MultiPolygon::new(vec![p]));
        assert_eq!(from_wkb(&to_wkb(&g)).unwrap(), g);
        let blob = to_gpkg(&g);
        assert_eq!(blob[3], 3);
        assert_eq!(f64::from_le_bytes(blob[16..24].try_into().unwrap()), 1.0); // max x
        assert_eq!(from_gpkg(&blob).unwrap(), g);
    }

    #[test]
    fn rejects_garbage() {
        assert!(from_gpkg(b"XX\0\x03....").is_err());
        assert!(from_wkb(&[1, 2, 3]).is_err());
    }
}
