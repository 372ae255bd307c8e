//! Vector tiles (矢量切片, Mapbox Vector Tile 2.1) of a town's layers.
//!
//! A [`Layer`] holds one kind of feature (grids, micro-grids, villages, buildings, roads, rivers,
//! labels) in lon/lat and renders the one-layer MVT of any tile. Polygon layers that tile the ground
//! (grids, micro-grids, villages) are simplified per zoom on their *shared borders*: the layer
//! builds the planar topology of its polygons once ([`crate::topology`]), simplifies each arc once
//! per zoom and rebuilds every polygon from the simplified arcs, so neighbours never gap or overlap
//! at any zoom.
//!
//! STUB: the API the server builds against; the implementation is being written.

use geo::{MultiLineString, MultiPolygon, Point, Rect};

/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 20;

/// A tile address (z/x/y, XYZ scheme as in the URL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Zoom.
    pub z: u8,
    /// Column, from the west.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

/// A tile address that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// Zoom above [`MAX_ZOOM`].
    #[error("zoom {z} is outside 0..={max}", max = MAX_ZOOM)]
    Zoom {
        /// Zoom asked for.
        z: u32,
    },
    /// Column or row outside 0..2^z.
    #[error("tile {x}/{y} does not exist at zoom {z} (0..{n})", n = 1u64 << z)]
    Outside {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
}

impl TileId {
    /// Checks the address.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileId, TileError> {
        if z > MAX_ZOOM as u32 {
            return Err(TileError::Zoom { z });
        }
        let z = z as u8;
        let n = 1u64 << z;
        if x as u64 >= n || y as u64 >= n {
            return Err(TileError::Outside { z, x, y });
        }
        Ok(TileId { z, x, y })
    }
    /// The tile's extent in lon/lat (Web Mercator tile, unbuffered).
    pub fn bounds(&self) -> Rect<f64> {
        let n = (1u64 << self.z) as f64;
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            (std::f64::consts::PI * (1.0 - 2.0 * y / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        Rect::new(
            (lon(self.x as f64), lat(self.y as f64 + 1.0)),
            (lon(self.x as f64 + 1.0), lat(self.y as f64)),
        )
    }
}

/// A property value of a feature.
#[derive(Clone, Debug, PartialEq)]
pub enum PropValue {
    /// Text.
    Str(String),
    /// Whole number.
    Int(i64),
    /// Number.
    Float(f64),
    /// Yes/no.
    Bool(bool),
}

/// A feature: a stable id (the same in every tile and zoom), a geometry and its properties.
#[derive(Clone, Debug)]
pub struct Feature<G> {
    /// Stable id (for grids, the 15-digit code as a number).
    pub id: u64,
    /// Geometry in lon/lat.
    pub geometry: G,
    /// Properties, in the order written.
    pub props: Vec<(String, PropValue)>,
}

/// One layer of features.
#[derive(Debug)]
pub enum Layer {
    /// Polygons that tile the ground, simplified on shared borders.
    Polygons {
        /// Layer name in the tile.
        name: String,
        /// Features.
        features: Vec<Feature<MultiPolygon<f64>>>,
    },
    /// Lines (roads, rivers).
    Lines {
        /// Layer name in the tile.
        name: String,
        /// Features.
        features: Vec<Feature<MultiLineString<f64>>>,
    },
    /// Points (labels, address points).
    Points {
        /// Layer name in the tile.
        name: String,
        /// Features.
        features: Vec<Feature<Point<f64>>>,
    },
}

impl Layer {
    /// A polygon layer; builds its shared-border topology.
    pub fn polygons(name: &str, features: Vec<Feature<MultiPolygon<f64>>>) -> Layer {
        Layer::Polygons {
            name: name.to_string(),
            features,
        }
    }
    /// A line layer.
    pub fn lines(name: &str, features: Vec<Feature<MultiLineString<f64>>>) -> Layer {
        Layer::Lines {
            name: name.to_string(),
            features,
        }
    }
    /// A point layer.
    pub fn points(name: &str, features: Vec<Feature<Point<f64>>>) -> Layer {
        Layer::Points {
            name: name.to_string(),
            features,
        }
    }
    /// The layer's name.
    pub fn name(&self) -> &str {
        match self {
            Layer::Polygons { name, .. }
            | Layer::Lines { name, .. }
            | Layer::Points { name, .. } => name,
        }
    }
    /// The uncompressed one-layer MVT of `tile`, or `None` when no feature touches it.
    pub fn render(&self, _tile: TileId) -> Option<Vec<u8>> {
        None
    }
}
