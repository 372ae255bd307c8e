//! Vector tiles (矢量切片, Mapbox Vector Tile 2.1) of a town's layers.
//!
//! A [`Layer`] holds one kind of feature (grids, micro-grids, villages, buildings, roads, rivers,
//! labels) in lon/lat and renders the one-layer MVT of any tile. Polygon layers that tile the ground
//! (grids, micro-grids, villages) are simplified per zoom on their *shared borders*: the layer
//! builds the planar topology of its polygons once ([`crate::topology`]), simplifies each arc once
//! per zoom and rebuilds every polygon from the simplified arcs, so neighbours never gap or overlap
//! at any zoom.
//!
//! Rendering a tile: the R-tree of feature boxes picks the features meeting the tile grown by
//! [`BUFFER`] pixels; their geometry, already in world Web Mercator coordinates (and, for polygons,
//! simplified for the zoom), is moved to tile pixels, clipped to the buffered tile with
//! identical cuts of identical edges, rounded to the integer grid and encoded.

mod clip;
mod encode;
mod tilemath;

pub use encode::IPt;
pub use tilemath::{tiles_covering, BUFFER, EXTENT};

use crate::spatial::{box_tree, BoxTree};
use crate::topology::{Coverage, Topology};
use clip::{Box2, P};
use geo::{MultiLineString, MultiPolygon, Point, Rect};
use std::sync::OnceLock;
use tilemath::{pixel_deg, to_world, TileFrame, World};

/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 20;

/// Deepest zoom at which polygon layers are simplified; deeper tiles draw every vertex.
pub const MAX_SIMPLIFY_ZOOM: u8 = 16;

/// Simplification tolerance in tile pixels: a shared border moves by at most this much.
const TOLERANCE_PX: f64 = 0.5;

/// Share of [`TOLERANCE_PX`] for arcs with a face on one side only.
const OUTLINE_TOLERANCE: f64 = 0.25;

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
        /// Indexes built on first use ([`LayerCache::default()`] when made by hand).
        cache: LayerCache,
    },
    /// Lines (roads, rivers).
    Lines {
        /// Layer name in the tile.
        name: String,
        /// Features.
        features: Vec<Feature<MultiLineString<f64>>>,
        /// Indexes built on first use ([`LayerCache::default()`] when made by hand).
        cache: LayerCache,
    },
    /// Points (labels, address points).
    Points {
        /// Layer name in the tile.
        name: String,
        /// Features.
        features: Vec<Feature<Point<f64>>>,
        /// Indexes built on first use ([`LayerCache::default()`] when made by hand).
        cache: LayerCache,
    },
}

impl Layer {
    /// A polygon layer; builds its shared-border topology.
    pub fn polygons(name: &str, features: Vec<Feature<MultiPolygon<f64>>>) -> Layer {
        Layer::Polygons {
            name: name.to_string(),
            features,
            cache: LayerCache::default(),
        }
    }
    /// A polygon layer whose polygons do not share borders (building footprints): drawn as given
    /// at every zoom, so it needs no topology (cheap to build for a million footprints).
    pub fn footprints(name: &str, features: Vec<Feature<MultiPolygon<f64>>>) -> Layer {
        Layer::Polygons {
            name: name.to_string(),
            features,
            cache: LayerCache {
                as_given: true,
                ..LayerCache::default()
            },
        }
    }
    /// A line layer.
    pub fn lines(name: &str, features: Vec<Feature<MultiLineString<f64>>>) -> Layer {
        Layer::Lines {
            name: name.to_string(),
            features,
            cache: LayerCache::default(),
        }
    }
    /// A point layer.
    pub fn points(name: &str, features: Vec<Feature<Point<f64>>>) -> Layer {
        Layer::Points {
            name: name.to_string(),
            features,
            cache: LayerCache::default(),
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

    /// The lon/lat box around all features, `None` for an empty layer (TileJSON `bounds`).
    pub fn bounds(&self) -> Option<Rect<f64>> {
        let tree = self.tree();
        if tree.size() == 0 {
            return None;
        }
        let e = tree.root().envelope();
        Some(Rect::new(
            (e.lower()[0], e.lower()[1]),
            (e.upper()[0], e.upper()[1]),
        ))
    }

    /// Builds the feature index and, for polygons, the shared-border topology now rather than on
    /// the first tile (they are built once either way).
    pub fn prepare(&self) {
        self.tree();
        if let Layer::Polygons { cache, .. } = self {
            if !cache.as_given {
                self.world_polygons(0);
            }
        }
    }

    /// The uncompressed one-layer MVT of `tile`, or `None` when no feature touches it (or nothing
    /// of them is left on the tile's integer grid).
    pub fn render(&self, tile: TileId) -> Option<Vec<u8>> {
        let hits = self.hits(tile);
        if hits.is_empty() {
            return None;
        }
        let frame = TileFrame::new(tile);
        let bx = buffered_box();
        let mut layer = mvt::Tile::new(EXTENT).create_layer(self.name());
        let mut n = 0usize;
        let mut add = |layer: mvt::Layer, geom, id, props: &[(String, PropValue)]| {
            n += 1;
            encode::add_feature(layer, geom, id, props)
        };
        match self {
            Layer::Polygons { features, .. } => {
                let world = self.world_polygons(tile.z);
                for i in hits {
                    let polys = tile_polygon(&world[i], frame, &bx);
                    if polys.is_empty() {
                        continue;
                    }
                    if let Ok(g) = encode::polygon_geom(&polys) {
                        layer = add(layer, g, features[i].id, &features[i].props);
                    }
                }
            }
            Layer::Lines { features, .. } => {
                let world = self.world_lines();
                for i in hits {
                    let lines: Vec<Vec<IPt>> = world[i]
                        .iter()
                        .flat_map(|l| {
                            let px: Vec<P> = l.iter().map(|&w| frame.px(w)).collect();
                            clip::clip_line(&px, &bx)
                        })
                        .filter_map(|l| encode::finish_line(&l))
                        .collect();
                    if lines.is_empty() {
                        continue;
                    }
                    if let Ok(g) = encode::line_geom(&lines) {
                        layer = add(layer, g, features[i].id, &features[i].props);
                    }
                }
            }
            Layer::Points { features, .. } => {
                let world = self.world_points();
                for i in hits {
                    let p = frame.px(world[i]);
                    if !bx.contains(p) {
                        continue;
                    }
                    let ip = [p[0].round() as i32, p[1].round() as i32];
                    if let Ok(g) = encode::point_geom(ip) {
                        layer = add(layer, g, features[i].id, &features[i].props);
                    }
                }
            }
        }
        if n == 0 {
            return None;
        }
        let mut t = mvt::Tile::new(EXTENT);
        t.add_layer(layer).ok()?;
        t.to_bytes().ok()
    }

    /// The polygons of `tile` exactly as [`render`](Layer::render) encodes them, for checks: per
    /// feature met (by id), its polygons as open integer rings in tile pixels, exterior first and
    /// wound as MVT wants. Empty for line and point layers.
    pub fn tile_polygons(&self, tile: TileId) -> Vec<(u64, Vec<Vec<Vec<IPt>>>)> {
        let Layer::Polygons { features, .. } = self else {
            return Vec::new();
        };
        let frame = TileFrame::new(tile);
        let bx = buffered_box();
        let world = self.world_polygons(tile.z);
        self.hits(tile)
            .into_iter()
            .map(|i| (features[i].id, tile_polygon(&world[i], frame, &bx)))
            .filter(|(_, p)| !p.is_empty())
            .collect()
    }

    fn cache(&self) -> &LayerCache {
        match self {
            Layer::Polygons { cache, .. }
            | Layer::Lines { cache, .. }
            | Layer::Points { cache, .. } => cache,
        }
    }

    fn tree(&self) -> &BoxTree<usize> {
        self.cache().tree.get_or_init(|| match self {
            Layer::Polygons { features, .. } => {
                box_tree(features.iter().enumerate().map(|(i, f)| (i, &f.geometry)))
            }
            Layer::Lines { features, .. } => {
                box_tree(features.iter().enumerate().map(|(i, f)| (i, &f.geometry)))
            }
            Layer::Points { features, .. } => {
                box_tree(features.iter().enumerate().map(|(i, f)| (i, &f.geometry)))
            }
        })
    }

    /// Indexes of the features whose box meets the buffered tile, in feature order.
    fn hits(&self, tile: TileId) -> Vec<usize> {
        let q = tile.buffered_bounds(BUFFER);
        let env = rstar::AABB::from_corners([q.min().x, q.min().y], [q.max().x, q.max().y]);
        let mut hits: Vec<usize> = self
            .tree()
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .collect();
        hits.sort_unstable();
        hits
    }

    /// Polygons in world coordinates for zoom `z`: simplified on shared borders up to
    /// [`MAX_SIMPLIFY_ZOOM`], as given beyond.
    fn world_polygons(&self, z: u8) -> &[WorldPolygons] {
        let Layer::Polygons {
            features, cache, ..
        } = self
        else {
            return &[];
        };
        if z > MAX_SIMPLIFY_ZOOM || cache.as_given {
            return cache.raw_polygons.get_or_init(|| {
                features
                    .iter()
                    .map(|f| {
                        f.geometry
                            .0
                            .iter()
                            .map(|p| {
                                std::iter::once(p.exterior())
                                    .chain(p.interiors())
                                    .map(|r| r.0.iter().map(|c| to_world(c.x, c.y)).collect())
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            });
        }
        cache.zooms[z as usize].get_or_init(|| {
            let cov = cache.coverage.get_or_init(|| {
                let polys: Vec<MultiPolygon<f64>> =
                    features.iter().map(|f| f.geometry.clone()).collect();
                Topology::from_polygons(&polys)
            });
            // degrees of latitude are longer on the map than degrees of longitude: scale the
            // tolerance by cos(latitude) so it is at most TOLERANCE_PX either way
            let lat = self
                .bounds()
                .map(|b| b.center().y.to_radians().cos())
                .unwrap_or(1.0);
            let tol = TOLERANCE_PX * pixel_deg(z) * lat;
            // An arc with a face on one side only is on the layer's outline or against a
            // neighbour that does not share its vertices (grids of two villages): simplified
            // finely, so the two sides cannot open a visible crack.
            let topo = cov.topology.simplified_by(|a| {
                if a.right.is_some() {
                    tol
                } else {
                    tol * OUTLINE_TOLERANCE
                }
            });
            (0..features.len())
                .map(|f| {
                    cov.faces_of_feature[f]
                        .iter()
                        .map(|&face| {
                            topo.face_rings(face)
                                .into_iter()
                                .map(|r| r.iter().map(|p| to_world(p.lon(), p.lat())).collect())
                                .collect()
                        })
                        .collect()
                })
                .collect()
        })
    }

    fn world_lines(&self) -> &[Vec<Vec<World>>] {
        let Layer::Lines {
            features, cache, ..
        } = self
        else {
            return &[];
        };
        cache.lines.get_or_init(|| {
            features
                .iter()
                .map(|f| {
                    f.geometry
                        .0
                        .iter()
                        .map(|l| l.0.iter().map(|c| to_world(c.x, c.y)).collect())
                        .collect()
                })
                .collect()
        })
    }

    fn world_points(&self) -> &[World] {
        let Layer::Points {
            features, cache, ..
        } = self
        else {
            return &[];
        };
        cache.points.get_or_init(|| {
            features
                .iter()
                .map(|f| to_world(f.geometry.x(), f.geometry.y()))
                .collect()
        })
    }
}

/// A feature's polygons in world coordinates: parts → rings (exterior first) → closed points.
type WorldPolygons = Vec<Vec<Vec<World>>>;

/// What a layer builds on first use and keeps: the R-tree of feature boxes, the geometry in world
/// coordinates and, for polygons, the shared-border topology and its simplification per zoom.
/// Thread-safe: tiles of one layer may be rendered from many threads.
#[derive(Default)]
pub struct LayerCache {
    /// Polygons that do not tile the ground (building footprints) are drawn as given: no
    /// shared-border topology, no simplification.
    as_given: bool,
    tree: OnceLock<BoxTree<usize>>,
    coverage: OnceLock<Coverage>,
    zooms: [OnceLock<Vec<WorldPolygons>>; MAX_SIMPLIFY_ZOOM as usize + 1],
    raw_polygons: OnceLock<Vec<WorldPolygons>>,
    lines: OnceLock<Vec<Vec<Vec<World>>>>,
    points: OnceLock<Vec<World>>,
}

impl std::fmt::Debug for LayerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let zooms: Vec<usize> = (0..self.zooms.len())
            .filter(|&z| self.zooms[z].get().is_some())
            .collect();
        f.debug_struct("LayerCache")
            .field("indexed", &self.tree.get().is_some())
            .field("topology", &self.coverage.get().is_some())
            .field("simplified_zooms", &zooms)
            .finish()
    }
}

/// The tile grown by the buffer, in tile pixels.
fn buffered_box() -> Box2 {
    let (b, e) = (BUFFER as f64, EXTENT as f64);
    Box2 {
        min: [-b, -b],
        max: [e + b, e + b],
    }
}

/// One feature's polygons on a tile: clipped, on the integer grid, wound; a part whose exterior
/// is gone is dropped with its holes.
fn tile_polygon(parts: &WorldPolygons, frame: TileFrame, bx: &Box2) -> Vec<Vec<Vec<IPt>>> {
    let mut out = Vec::new();
    for part in parts {
        let mut rings: Vec<Vec<IPt>> = Vec::with_capacity(part.len());
        for (k, ring) in part.iter().enumerate() {
            let px: Vec<P> = ring.iter().map(|&w| frame.px(w)).collect();
            let clipped = clip::clip_ring(&px, bx);
            match encode::finish_ring(&clipped, k == 0) {
                Some(r) => rings.push(r),
                None if k == 0 => break,
                None => {}
            }
        }
        if !rings.is_empty() {
            out.push(rings);
        }
    }
    out
}
