//! The events layer as vector tiles (`/tiles/events/{z}/{x}/{y}.mvt`): one point per event,
//! with its state, category (and top category), priority and deadline status, so a map can colour
//! points by state and category, and show the overdue in red.
//!
//! Up to [`CLUSTER_MAX_ZOOM`], events a few screen pixels apart are drawn as one cluster
//! ([`crate::tiles::cluster`]): a point with `count`, `open`, `overdue` and the most common
//! `top` category, its id the smallest of its events' ids. A town's year of events then makes a
//! tile of at most one feature per bin, not one per event; deeper, every event is its own point.

use super::category::CategoryTree;
use super::deadline::DueStatus;
use super::EventPoint;
use crate::tiles::cluster::{self, Bin};
use crate::tiles::{Feature, Layer, PropValue, TileId};
use chrono::{DateTime, Utc};
use geo::Point;
use std::collections::BTreeMap;

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
    ("count", "Number"),
    ("open", "Number"),
    ("overdue", "Number"),
];

/// The deepest zoom whose tiles cluster events; deeper tiles draw each event.
pub const CLUSTER_MAX_ZOOM: u8 = 14;

/// The point of one event, its id the event's id.
fn feature(e: &EventPoint, tree: &CategoryTree, now: DateTime<Utc>) -> Feature<Point<f64>> {
    let s = |v: &str| PropValue::Str(v.to_string());
    let mut props = vec![
        ("number".into(), s(&e.number)),
        ("state".into(), s(e.state.as_str())),
        ("category".into(), s(&e.category)),
        ("top".into(), s(tree.top(&e.category).unwrap_or("other"))),
        ("priority".into(), s(e.priority.as_str())),
        ("due".into(), s(e.due_status(now).as_str())),
    ];
    if let Some(g) = &e.grid {
        props.push(("grid".into(), s(g.as_str())));
    }
    Feature {
        id: e.id.max(0) as u64,
        geometry: Point::new(e.lon, e.lat),
        props,
    }
}

/// The point of a cluster of two or more events: how many, how many open and overdue, and the
/// most common top category (ties: the first by name).
fn cluster_feature(
    b: &Bin,
    events: &[EventPoint],
    tree: &CategoryTree,
    now: DateTime<Utc>,
) -> Feature<Point<f64>> {
    let members = || b.members.iter().map(|&i| &events[i]);
    let count = |f: &dyn Fn(&EventPoint) -> bool| members().filter(|e| f(e)).count() as i64;
    let mut tops: BTreeMap<&str, usize> = BTreeMap::new();
    for e in members() {
        *tops
            .entry(tree.top(&e.category).unwrap_or("other"))
            .or_default() += 1;
    }
    let top = tops
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or("other", |(t, _)| t);
    Feature {
        id: members().map(|e| e.id.max(0) as u64).min().unwrap_or(0),
        geometry: Point::new(b.at.0, b.at.1),
        props: vec![
            ("count".into(), PropValue::Int(b.members.len() as i64)),
            ("open".into(), PropValue::Int(count(&|e| e.state.is_open()))),
            (
                "overdue".into(),
                PropValue::Int(count(&|e| e.due_status(now) == DueStatus::Overdue)),
            ),
            ("top".into(), PropValue::Str(top.to_string())),
        ],
    }
}

/// The events layer of `events` on tile `id` (uncompressed MVT), `None` when none falls in it.
pub fn render(
    events: &[EventPoint],
    tree: &CategoryTree,
    now: DateTime<Utc>,
    id: TileId,
) -> Option<Vec<u8>> {
    if events.is_empty() {
        return None;
    }
    let features = if id.z <= CLUSTER_MAX_ZOOM {
        cluster::bins(events.iter().map(|e| (e.lon, e.lat)), id)
            .into_iter()
            .map(|b| match b.members[..] {
                [one] => feature(&events[one], tree, now),
                _ => cluster_feature(&b, events, tree, now),
            })
            .collect()
    } else {
        events.iter().map(|e| feature(e, tree, now)).collect()
    };
    Layer::points(LAYER, features)
        .render(id)
        .filter(|t| !t.is_empty())
}
