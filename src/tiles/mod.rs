//! Vector tiles (矢量切片, Mapbox Vector Tile 2.1) of a town's layers.
//!
//! A [`Layer`] holds one kind of feature (grids, micro-grids, villages, buildings, roads, rivers,
//! labels) and renders the one-layer MVT of any tile. Polygon layers that tile the ground (grids,
//! micro-grids, villages) are simplified per zoom on their *shared borders*: [`Shapes`] keeps the
//! planar topology of the polygons ([`crate::topology`]), every arc once, each point with the first
//! zoom Douglas–Peucker keeps it at, and rebuilds every polygon from the arcs at the tile's zoom, so
//! neighbours never gap or overlap at any zoom. A polygon layer may come in pieces ([`Part`], one
//! village's grids), each with its own topology, so that one piece can be replaced without
//! touching the others.
//!
//! Rendering a tile: R-trees of piece and feature boxes pick the features meeting the tile grown by
//! [`BUFFER`] pixels; their geometry in world Web Mercator coordinates (for polygons, the arc
//! points kept at the zoom) is moved to tile pixels, clipped to the buffered tile with identical
//! cuts of identical edges, rounded to the integer grid and encoded.

mod clip;
pub mod cluster;
mod encode;
mod shapes;
mod tilemath;

pub use encode::IPt;
pub use shapes::Shapes;
pub use tilemath::{tiles_covering, BUFFER, EXTENT};

use crate::spatial::{box_tree, BoxTree};
use clip::{Box2, P};
use geo::{MultiLineString, MultiPolygon, Point, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use tilemath::{to_world, TileFrame, World};

/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 20;

/// Deepest zoom at which polygon layers are simplified; deeper tiles draw every vertex.
pub const MAX_SIMPLIFY_ZOOM: u8 = 16;

/// Simplification tolerance in tile pixels: a shared border moves by at most this much.
const TOLERANCE_PX: f64 = 0.5;

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

/// A property name (most are fixed words, kept without a copy per feature).
pub type Key = Cow<'static, str>;

/// A feature: a stable id (the same in every tile and zoom), a geometry and its properties.
#[derive(Clone, Debug)]
pub struct Feature<G> {
    /// Stable id (for grids, the 15-digit code as a number).
    pub id: u64,
    /// Geometry in lon/lat.
    pub geometry: G,
    /// Properties, in the order written.
    pub props: Vec<(Key, PropValue)>,
}

/// A feature's id and properties, its geometry being kept in [`Shapes`].
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// Stable id.
    pub id: u64,
    /// Properties, in the order written.
    pub props: Vec<(Key, PropValue)>,
}

/// Gives the id and properties of feature `i` of piece `part` of a polygon layer when a tile draws
/// it (see [`Layer::render_with`]).
pub trait FeatureProps: Sync {
    /// Writes the properties into `props` (empty) and returns the feature's id.
    fn props(&self, part: usize, i: usize, props: &mut Vec<(Key, PropValue)>) -> u64;
}

/// A piece of a polygon layer (one village's grids, say): its shapes and, feature by feature, their
/// ids and properties (or none, when [`FeatureProps`] gives them). Both are shared, so a layer of
/// many pieces is rebuilt cheaply when one piece changes.
#[derive(Clone, Debug)]
pub struct Part {
    /// Geometry, simplified per zoom on shared borders.
    pub shapes: Arc<Shapes>,
    /// One entry per feature of `shapes`, in the same order.
    pub meta: Arc<Vec<Meta>>,
}

/// One layer of features.
#[derive(Debug)]
pub struct Layer {
    name: String,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// Polygons, in pieces (a tree of the pieces' boxes picks those a tile meets).
    Polygons {
        parts: Vec<Part>,
        tree: BoxTree<u32>,
    },
    /// Lines (roads, rivers).
    Lines {
        features: Vec<Feature<MultiLineString<f64>>>,
        cache: LineCache,
    },
    /// Points (labels, address points).
    Points {
        features: Vec<Feature<Point<f64>>>,
        cache: PointCache,
    },
}

fn split<G>(features: Vec<Feature<G>>) -> (Vec<G>, Vec<Meta>) {
    features
        .into_iter()
        .map(|f| {
            (
                f.geometry,
                Meta {
                    id: f.id,
                    props: f.props,
                },
            )
        })
        .unzip()
}

impl Layer {
    /// A polygon layer whose polygons tile the ground: builds their shared-border topology, each
    /// border simplified once per zoom.
    pub fn polygons(name: &str, features: Vec<Feature<MultiPolygon<f64>>>) -> Layer {
        let (geoms, meta) = split(features);
        let refs: Vec<&MultiPolygon<f64>> = geoms.iter().collect();
        let shapes = Shapes::coverage(&refs);
        Layer::from_parts(
            name,
            vec![Part {
                shapes: Arc::new(shapes),
                meta: Arc::new(meta),
            }],
        )
    }
    /// A polygon layer whose polygons do not share borders (building footprints): drawn as given
    /// at every zoom, so it needs no topology (cheap to build for a great many footprints).
    pub fn footprints(name: &str, features: Vec<Feature<MultiPolygon<f64>>>) -> Layer {
        let (geoms, meta) = split(features);
        let refs: Vec<&MultiPolygon<f64>> = geoms.iter().collect();
        let shapes = Shapes::as_given(&refs);
        Layer::from_parts(
            name,
            vec![Part {
                shapes: Arc::new(shapes),
                meta: Arc::new(meta),
            }],
        )
    }
    /// A polygon layer of pieces, drawn in order (features of the first piece first). Each piece
    /// keeps its own topology: borders between pieces are simplified as outlines (finely).
    pub fn from_parts(name: &str, parts: Vec<Part>) -> Layer {
        let tree = RTree::bulk_load(
            parts
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let r = p.shapes.bounds()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i as u32,
                    ))
                })
                .collect(),
        );
        Layer {
            name: name.to_string(),
            body: Body::Polygons { parts, tree },
        }
    }
    /// A line layer.
    pub fn lines(name: &str, features: Vec<Feature<MultiLineString<f64>>>) -> Layer {
        Layer {
            name: name.to_string(),
            body: Body::Lines {
                features,
                cache: LineCache::default(),
            },
        }
    }
    /// A point layer.
    pub fn points(name: &str, features: Vec<Feature<Point<f64>>>) -> Layer {
        Layer {
            name: name.to_string(),
            body: Body::Points {
                features,
                cache: PointCache::default(),
            },
        }
    }
    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pieces of a polygon layer (empty for lines and points).
    pub fn parts(&self) -> &[Part] {
        match &self.body {
            Body::Polygons { parts, .. } => parts,
            _ => &[],
        }
    }

    /// The lon/lat box around all features, `None` for an empty layer (TileJSON `bounds`).
    pub fn bounds(&self) -> Option<Rect<f64>> {
        let e = match &self.body {
            Body::Polygons { tree, .. } => {
                if tree.size() == 0 {
                    return None;
                }
                tree.root().envelope()
            }
            _ => {
                let tree = self.tree();
                if tree.size() == 0 {
                    return None;
                }
                tree.root().envelope()
            }
        };
        Some(Rect::new(
            (e.lower()[0], e.lower()[1]),
            (e.upper()[0], e.upper()[1]),
        ))
    }

    /// Builds the indexes of line and point layers now rather than on the first tile (polygon
    /// layers are built whole when made).
    pub fn prepare(&self) {
        match &self.body {
            Body::Polygons { .. } => {}
            Body::Lines { .. } => {
                self.tree();
                self.world_lines();
            }
            Body::Points { .. } => {
                self.tree();
                self.world_points();
            }
        }
    }

    /// Bytes the layer's geometry and indexes hold (an estimate, for the record).
    pub fn heap_bytes(&self) -> usize {
        match &self.body {
            Body::Polygons { parts, .. } => parts.iter().map(|p| p.shapes.heap_bytes()).sum(),
            Body::Lines { features, .. } => features
                .iter()
                .map(|f| f.geometry.0.iter().map(|l| l.0.len() * 16).sum::<usize>())
                .sum(),
            Body::Points { features, .. } => features.len() * 16,
        }
    }

    /// The uncompressed one-layer MVT of `tile`, or `None` when no feature touches it (or nothing
    /// of them is left on the tile's integer grid).
    pub fn render(&self, tile: TileId) -> Option<Vec<u8>> {
        self.render_with(tile, None)
    }

    /// [`render`](Layer::render), the ids and properties of polygon features given by `props`
    /// rather than by the pieces' own [`Meta`] (which may then be empty): properties made when a
    /// tile needs them take no memory between tiles.
    pub fn render_with(&self, tile: TileId, props: Option<&dyn FeatureProps>) -> Option<Vec<u8>> {
        let frame = TileFrame::new(tile);
        let bx = buffered_box();
        let mut layer = mvt::Tile::new(EXTENT).create_layer(self.name());
        let mut n = 0usize;
        let mut add = |layer: mvt::Layer, geom, id, props: &[(Key, PropValue)]| {
            n += 1;
            encode::add_feature(layer, geom, id, props)
        };
        match &self.body {
            Body::Polygons { .. } => {
                let mut buf: Vec<(Key, PropValue)> = Vec::new();
                for (pi, part, i, polys) in self.polygons_on(tile, frame, &bx) {
                    if let Ok(g) = encode::polygon_geom(&polys) {
                        match props {
                            Some(p) => {
                                buf.clear();
                                let id = p.props(pi, i, &mut buf);
                                layer = add(layer, g, id, &buf);
                            }
                            None => {
                                let m = &part.meta[i];
                                layer = add(layer, g, m.id, &m.props);
                            }
                        }
                    }
                }
            }
            Body::Lines { features, .. } => {
                let world = self.world_lines();
                for i in self.hits(tile) {
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
            Body::Points { features, .. } => {
                let world = self.world_points();
                for i in self.hits(tile) {
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
        if !matches!(self.body, Body::Polygons { .. }) {
            return Vec::new();
        }
        let frame = TileFrame::new(tile);
        let bx = buffered_box();
        self.polygons_on(tile, frame, &bx)
            .into_iter()
            .map(|(_, part, i, polys)| (part.meta.get(i).map_or(i as u64, |m| m.id), polys))
            .collect()
    }

    /// The polygon features meeting `tile`, piece by piece, each with its clipped integer
    /// polygons (features with nothing left on the tile are left out).
    fn polygons_on(
        &self,
        tile: TileId,
        frame: TileFrame,
        bx: &Box2,
    ) -> Vec<(usize, &Part, usize, TilePolygons)> {
        let Body::Polygons { parts, tree } = &self.body else {
            return Vec::new();
        };
        let env = tile_envelope(tile);
        let mut ps: Vec<usize> = tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data as usize)
            .collect();
        ps.sort_unstable();
        let mut out = Vec::new();
        let mut rings: Vec<Vec<World>> = Vec::new();
        for pi in ps {
            let part = &parts[pi];
            for i in part.shapes.hits(&env) {
                let per_part = part.shapes.feature_rings(i, tile.z, &mut rings);
                let polys = tile_polygon(&rings, &per_part, frame, bx);
                if !polys.is_empty() {
                    out.push((pi, part, i, polys));
                }
            }
        }
        out
    }

    fn tree(&self) -> &BoxTree<usize> {
        match &self.body {
            Body::Polygons { .. } => unreachable!("polygon layers index their pieces"),
            Body::Lines { features, cache } => cache.tree.get_or_init(|| {
                box_tree(features.iter().enumerate().map(|(i, f)| (i, &f.geometry)))
            }),
            Body::Points { features, cache } => cache.tree.get_or_init(|| {
                box_tree(features.iter().enumerate().map(|(i, f)| (i, &f.geometry)))
            }),
        }
    }

    /// Indexes of the features whose box meets the buffered tile, in feature order.
    fn hits(&self, tile: TileId) -> Vec<usize> {
        let env = tile_envelope(tile);
        let mut hits: Vec<usize> = self
            .tree()
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .collect();
        hits.sort_unstable();
        hits
    }

    fn world_lines(&self) -> &[Vec<Vec<World>>] {
        let Body::Lines { features, cache } = &self.body else {
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
        let Body::Points { features, cache } = &self.body else {
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

/// One feature's polygons on a tile: parts → rings (exterior first) → integer points.
type TilePolygons = Vec<Vec<Vec<IPt>>>;

/// The lon/lat envelope of a tile grown by [`BUFFER`] pixels.
fn tile_envelope(tile: TileId) -> rstar::AABB<[f64; 2]> {
    let q = tile.buffered_bounds(BUFFER);
    rstar::AABB::from_corners([q.min().x, q.min().y], [q.max().x, q.max().y])
}

/// What a line layer builds on first use: the R-tree of feature boxes, the lines in world
/// coordinates. Thread-safe: tiles may be rendered from many threads.
#[derive(Default, Debug)]
struct LineCache {
    tree: OnceLock<BoxTree<usize>>,
    lines: OnceLock<Vec<Vec<Vec<World>>>>,
}

/// The same for a point layer.
#[derive(Default, Debug)]
struct PointCache {
    tree: OnceLock<BoxTree<usize>>,
    points: OnceLock<Vec<World>>,
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
/// is gone is dropped with its holes. `rings` holds the parts' rings one after the other,
/// `per_part[k]` rings for part `k`, exterior first.
fn tile_polygon(
    rings: &[Vec<World>],
    per_part: &[usize],
    frame: TileFrame,
    bx: &Box2,
) -> Vec<Vec<Vec<IPt>>> {
    let mut out = Vec::new();
    let mut at = 0;
    for &n in per_part {
        let part = &rings[at..at + n];
        at += n;
        let mut done: Vec<Vec<IPt>> = Vec::with_capacity(part.len());
        for (k, ring) in part.iter().enumerate() {
            let px: Vec<P> = ring.iter().map(|&w| frame.px(w)).collect();
            let clipped = clip::clip_ring(&px, bx);
            match encode::finish_ring(&clipped, k == 0) {
                Some(r) => done.push(r),
                None if k == 0 => break,
                None => {}
            }
        }
        if !done.is_empty() {
            out.push(done);
        }
    }
    out
}
