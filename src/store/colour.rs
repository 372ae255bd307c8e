//! The colours of a plan being saved, among its neighbours.
//!
//! A saved plan's grids are coloured with the town's other villages' active grids as they are
//! (pinned: a save never changes another village's colours), so that no two bordering grids
//! share a colour across the village border either. A grid that keeps its code keeps the colour
//! it had in the version it replaces unless a neighbour forces a change; a new grid takes the
//! colour its plan proposed where it can. Micro-grids the same way (parts of one split building
//! share one colour). See [`crate::partition::colour`] for the algorithm.

use super::read::VillagePlanRecord;
use super::{Result, Store};
use crate::partition::colour::{borders, colour};
use geo::{BoundingRect, Intersects, MultiPolygon, Rect};
use sqlx::{AnyConnection, AssertSqlSafe};
use std::collections::{BTreeMap, HashMap};

/// Degrees (about 1 m) by which a plan's box is widened to find its neighbours.
const REACH_DEG: f64 = 1e-5;

/// Colours chosen for a plan being saved.
pub(super) struct SavedColours {
    /// By the record's grid code.
    pub grid: HashMap<String, u8>,
    /// By the record's micro-grid code.
    pub micro: HashMap<String, u8>,
    /// Final codes of the grids and micro-grids given the fifth colour.
    pub fifth: Vec<String>,
}

/// One vertex of a colouring: its outline, its preferred colour, whether it is pinned, and which
/// of the record's items it stands for.
struct Vertex {
    shape: MultiPolygon<f64>,
    previous: Option<u8>,
    kept: bool,
    pinned: bool,
    items: Vec<String>,
}

fn bbox_of<'a>(shapes: impl Iterator<Item = &'a MultiPolygon<f64>>) -> Option<Rect<f64>> {
    shapes
        .filter_map(|s| s.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        })
        .map(|r| {
            Rect::new(
                (r.min().x - REACH_DEG, r.min().y - REACH_DEG),
                (r.max().x + REACH_DEG, r.max().y + REACH_DEG),
            )
        })
}

fn near(bbox: &Rect<f64>, s: &MultiPolygon<f64>) -> bool {
    s.bounding_rect().is_some_and(|r| r.intersects(bbox))
}

/// Colours `vs` (kept colours first, then proposals, then the rest); returns each vertex's
/// colour and the vertices given the fifth.
fn colour_vertices(vs: &[Vertex]) -> (Vec<u8>, Vec<usize>) {
    // Order: pinned, then colours kept from the replaced version, then proposals, by input order.
    let mut order: Vec<usize> = (0..vs.len()).collect();
    order.sort_by_key(|&i| (!vs[i].pinned, !vs[i].kept, i));
    let shapes: Vec<&MultiPolygon<f64>> = order.iter().map(|&i| &vs[i].shape).collect();
    let g = borders(&shapes);
    let prev: Vec<Option<u8>> = order.iter().map(|&i| vs[i].previous).collect();
    let pinned: Vec<bool> = order.iter().map(|&i| vs[i].pinned).collect();
    let c = colour(&g, &prev, &pinned, 0);
    let mut out = vec![0; vs.len()];
    for (k, &i) in order.iter().enumerate() {
        out[i] = c.colors[k];
    }
    let fifth = c.fifth.iter().map(|&k| order[k]).collect();
    (out, fifth)
}

/// Colours the record's items `vs` beside the neighbouring villages' outlines `near` (pinned to
/// their colours): each item's colour, the items given the fifth colour (by final code, from
/// `codes`) added to `fifth`.
fn colour_items(
    mut vs: Vec<Vertex>,
    near: Vec<(MultiPolygon<f64>, Option<u8>)>,
    codes: &HashMap<&str, String>,
    fifth: &mut Vec<String>,
) -> HashMap<String, u8> {
    vs.extend(near.into_iter().map(|(shape, c)| Vertex {
        shape,
        previous: c,
        kept: false,
        pinned: c.is_some(),
        items: Vec::new(),
    }));
    let (cs, f) = colour_vertices(&vs);
    fifth.extend(
        f.iter()
            .flat_map(|&i| &vs[i].items)
            .map(|c| codes[c.as_str()].clone()),
    );
    vs.into_iter()
        .zip(cs)
        .flat_map(|(v, c)| v.items.into_iter().map(move |it| (it, c)))
        .collect()
}

impl Store {
    /// The colours of `rec` (village `village`) among the active plans of its neighbouring
    /// villages; `old` is the version it replaces, `grid_code`/`micro_code` the final codes.
    pub(super) async fn colours_in(
        &self,
        tx: &mut AnyConnection,
        rec: &VillagePlanRecord,
        grid_code: &HashMap<&str, String>,
        micro_code: &HashMap<&str, String>,
        old: Option<&VillagePlanRecord>,
    ) -> Result<SavedColours> {
        let village = rec.village.as_str();
        let Some(bbox) = bbox_of(rec.grids.iter().map(|g| &g.geometry)) else {
            return Ok(SavedColours {
                grid: HashMap::new(),
                micro: HashMap::new(),
                fifth: Vec::new(),
            });
        };
        let (near_grids, near_micro) = self.neighbours_in(tx, village, &bbox).await?;
        let old_grid: HashMap<&str, Option<u8>> = old
            .iter()
            .flat_map(|o| o.grids.iter().map(|g| (g.code.as_str(), g.color)))
            .collect();
        let old_micro: HashMap<&str, Option<u8>> = old
            .iter()
            .flat_map(|o| o.micro_grids.iter().map(|m| (m.code.as_str(), m.color)))
            .collect();
        let mut fifth = Vec::new();
        // grids
        let vs: Vec<Vertex> = rec
            .grids
            .iter()
            .map(|g| {
                let kept = old_grid
                    .get(grid_code[g.code.as_str()].as_str())
                    .copied()
                    .flatten();
                Vertex {
                    shape: g.geometry.clone(),
                    previous: kept.or(g.color),
                    kept: kept.is_some(),
                    pinned: false,
                    items: vec![g.code.clone()],
                }
            })
            .collect();
        let grid = colour_items(vs, near_grids, grid_code, &mut fifth);
        // micro-grids: one vertex per footprint (parts of a split building share one)
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, m) in rec.micro_grids.iter().enumerate() {
            let key = match &m.stack {
                Some(s) => format!("{}\u{1}{}", m.grid_code, s.building),
                None => format!("{}\u{0}", m.code),
            };
            groups.entry(key).or_default().push(i);
        }
        let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
        groups.sort_by_key(|g| g[0]);
        let vs: Vec<Vertex> = groups
            .iter()
            .map(|ms| {
                let kept = ms.iter().find_map(|&i| {
                    let code = micro_code[rec.micro_grids[i].code.as_str()].as_str();
                    old_micro.get(code).copied().flatten()
                });
                let m = &rec.micro_grids[ms[0]];
                Vertex {
                    shape: m.geometry.clone(),
                    previous: kept.or(m.color),
                    kept: kept.is_some(),
                    pinned: false,
                    items: ms
                        .iter()
                        .map(|&i| rec.micro_grids[i].code.clone())
                        .collect(),
                }
            })
            .collect();
        let micro = colour_items(vs, near_micro, micro_code, &mut fifth);
        Ok(SavedColours { grid, micro, fifth })
    }

    /// The active grids and micro-grids (outline, colour) of the other villages whose boundary
    /// meets `bbox`, those whose own box meets it.
    #[allow(clippy::type_complexity)]
    async fn neighbours_in(
        &self,
        tx: &mut AnyConnection,
        village: &str,
        bbox: &Rect<f64>,
    ) -> Result<(
        Vec<(MultiPolygon<f64>, Option<u8>)>,
        Vec<(MultiPolygon<f64>, Option<u8>)>,
    )> {
        let sql = format!(
            "SELECT code, {} AS g FROM villages WHERE code <> $1 ORDER BY code",
            self.geom_out("geom")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(village.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        let mut villages = Vec::new();
        for r in &rows {
            let code: String = sqlx::Row::try_get(r, "code").map_err(|e| self.db(e))?;
            let shape = self.multipolygon(r, &format!("village {code}"))?;
            if near(bbox, &shape) {
                villages.push(code);
            }
        }
        let mut grids = Vec::new();
        let mut micro = Vec::new();
        for (table, out) in [("grids", &mut grids), ("micro_grids", &mut micro)] {
            let sql = format!(
                "SELECT t.code AS code, t.color AS color, {} AS g FROM {table} t \
                 JOIN plans p ON p.fid = t.plan_fid WHERE p.active = 1 AND p.village_code = $1 \
                 ORDER BY t.code",
                self.geom_out("t.geom")
            );
            for v in &villages {
                let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(v.clone())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| self.db(e))?;
                for r in &rows {
                    let code: String = sqlx::Row::try_get(r, "code").map_err(|e| self.db(e))?;
                    let shape = self.multipolygon(r, &format!("{table} {code}"))?;
                    if near(bbox, &shape) {
                        out.push((shape, self.color(r)?));
                    }
                }
            }
        }
        Ok((grids, micro))
    }
}
