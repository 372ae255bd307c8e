//! The events layer as vector tiles (`/tiles/events/{z}/{x}/{y}.mvt`): one point per event,
//! with its state, category (and top category), priority and deadline status, so a map can colour
//! points by state and category, and show the overdue in red.

use super::category::CategoryTree;
use super::Event;
use crate::tiles::{Feature, Layer, PropValue, TileId};
use chrono::{DateTime, Utc};
use geo::Point;

/// The layer's name in the tile and its TileJSON.
pub const LAYER: &str = "events";

/// The properties of a point and their TileJSON types.
pub const FIELDS: &[(&str, &str)] = &[
    ("number", "String"),
    ("state", "String"),
    ("category", "String"),
    ("top", "String"),
    ("priority", "String"),
    ("due", "String"),
    ("grid", "String"),
];

/// The point of one event, its id the event's id.
fn feature(e: &Event, tree: &CategoryTree, now: DateTime<Utc>) -> Feature<Point<f64>> {
    let s = |v: &str| PropValue::Str(v.to_string());
    let mut props = vec![
        ("number".into(), s(&e.number)),
        ("state".into(), s(e.state.as_str())),
        ("category".into(), s(&e.category)),
        ("top".into(), s(tree.top(&e.category).unwrap_or("other"))),
        ("priority".into(), s(e.priority.as_str())),
        ("due".into(), s(e.due_status(now).as_str())),
    ];
    if let Some(g) = &e.location.grid {
        props.push(("grid".into(), s(g.as_str())));
    }
    Feature {
        id: e.id.max(0) as u64,
        geometry: Point::new(e.lon, e.lat),
        props,
    }
}

/// The events layer of `events` on tile `id` (uncompressed MVT), `None` when none falls in it.
pub fn render(
    events: &[Event],
    tree: &CategoryTree,
    now: DateTime<Utc>,
    id: TileId,
) -> Option<Vec<u8>> {
    if events.is_empty() {
        return None;
    }
    let features = events.iter().map(|e| feature(e, tree, now)).collect();
    Layer::points(LAYER, features)
        .render(id)
        .filter(|t| !t.is_empty())
}
