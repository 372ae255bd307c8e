//! The planner's editor (网格编辑) as the engine sees it: one village's cells, the grid of every
//! cell under a draft assignment, the grids a draft leaves in pieces, and a rebalance proposal.
//!
//! A draft is what the planner's page sends: each building (or unit) of the village → a grid code
//! of the village, or `new:K` for the K-th grid the planner added ([`Draft::read`]). Its grids are
//! the village's cells ([`crate::partition::cells`]) coloured by their buildings; a cell without a
//! building keeps the grid its interior point lay in in the plan being edited, else joins the
//! neighbouring grid it shares the longest border with ([`EditVillage::face_grids`]) — the rules a
//! saved assignment follows ([`crate::partition::assign`]), so what the page shows is what is saved.
//! [`EditVillage::pieces`] lists every grid the draft leaves in pieces; [`rebalance`] proposes the
//! fewest moves that bring unlocked grids into the band.
//!
//! The cells go to the page as TopoJSON ([`EditVillage::topojson`]): each border once, so the page
//! traces a grid by dropping the borders between its own cells, as the engine does.

pub mod rebalance;

use crate::model::{Dataset, GridCode, Weight};
use crate::partition::atoms::face_arcs;
use crate::partition::cells::{self, Cells};
use crate::partition::quality;
use crate::topology::{EdgeClass, Pt};
use geo::{BoundingRect, Contains, InteriorPoint, Intersects, MultiPolygon, Point, Rect};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One village's cells, ready for editing.
pub struct EditVillage {
    /// The village (index into `Dataset::villages`).
    pub village: usize,
    /// Its cells.
    pub cells: Cells,
    /// Arcs of each face.
    pub arcs_of: Vec<Vec<u32>>,
    /// Its buildings (indices into `Dataset::buildings`).
    pub buildings: Vec<u32>,
    /// Its units (indices into `Dataset::units`).
    pub units: Vec<u32>,
    /// The face of each of its buildings and units, by id.
    pub face_of: HashMap<String, u32>,
}

/// A grid of a draft in more than one piece (within one piece of the village).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pieces {
    /// The grid's code.
    pub grid: String,
    /// How many pieces.
    pub pieces: usize,
    /// Ids of the buildings and units outside its largest piece, sorted.
    pub stray: Vec<String>,
}

/// Something wrong with a draft assignment as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind: `unknown_building`, `missing_building`, `other_village`, `bad_code`,
    /// `not_contiguous`.
    pub kind: &'static str,
    /// The ids (of buildings or grids) concerned.
    pub ids: Vec<String>,
    /// In words.
    pub message: String,
}

/// A draft: each item's grid, as indices into `codes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    /// The grid codes, sorted; a `new:K` grid has been given a code after every code in use.
    pub codes: Vec<GridCode>,
    /// Grid of each building or unit, by id.
    pub grid_of: BTreeMap<String, u32>,
    /// The code given to each `new:K`.
    pub new_codes: BTreeMap<String, GridCode>,
}

/// Up to ten ids, then how many more.
pub fn shown(ids: &[String]) -> String {
    if ids.len() <= 10 {
        ids.join(", ")
    } else {
        format!("{}, … ({} more)", ids[..10].join(", "), ids.len() - 10)
    }
}

impl Draft {
    /// Reads a draft of village `ev` (`id → "<grid code>" | "new:K"`). `in_use` are codes that a
    /// new grid must not take (the plan being edited). Every building and unit of the village must
    /// be given a grid, nothing else may be, and a code must be one of this village.
    pub fn read(
        ds: &Dataset,
        ev: &EditVillage,
        assignment: &BTreeMap<String, String>,
        in_use: &BTreeSet<String>,
    ) -> Result<Draft, Vec<Problem>> {
        let vcode = &ds.villages[ev.village].code;
        let mut problems = Vec::new();
        let unknown: Vec<String> = assignment
            .keys()
            .filter(|id| !ev.face_of.contains_key(*id))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            problems.push(Problem {
                kind: "unknown_building",
                message: format!(
                    "no building or unit of village {vcode} has id {}",
                    shown(&unknown)
                ),
                ids: unknown,
            });
        }
        let mut missing: Vec<String> = ev
            .face_of
            .keys()
            .filter(|id| !assignment.contains_key(*id))
            .cloned()
            .collect();
        missing.sort();
        if !missing.is_empty() {
            problems.push(Problem {
                kind: "missing_building",
                message: format!(
                    "{} building(s) of village {vcode} are given no grid: {}",
                    missing.len(),
                    shown(&missing)
                ),
                ids: missing,
            });
        }
        let (mut other, mut bad) = (BTreeSet::new(), BTreeSet::new());
        let mut named: BTreeSet<GridCode> = BTreeSet::new();
        let mut news: BTreeSet<(u64, String)> = BTreeSet::new();
        for v in assignment.values() {
            if let Some(k) = v.strip_prefix("new:") {
                match k.parse::<u64>() {
                    Ok(n) => {
                        news.insert((n, v.clone()));
                    }
                    Err(_) => {
                        bad.insert(v.clone());
                    }
                }
                continue;
            }
            match GridCode::parse(v) {
                Ok(c) if c.village() == *vcode => {
                    named.insert(c);
                }
                Ok(_) => {
                    other.insert(v.clone());
                }
                Err(_) => {
                    bad.insert(v.clone());
                }
            }
        }
        if !other.is_empty() {
            let ids: Vec<String> = other.into_iter().collect();
            problems.push(Problem {
                kind: "other_village",
                message: format!("not grids of village {vcode}: {}", shown(&ids)),
                ids,
            });
        }
        if !bad.is_empty() {
            let ids: Vec<String> = bad.into_iter().collect();
            problems.push(Problem {
                kind: "bad_code",
                message: format!(
                    "not a grid code (15 digits) nor new:<number>: {}",
                    shown(&ids)
                ),
                ids,
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let seq = |c: &str| c.get(12..).and_then(|s| s.parse::<u32>().ok());
        let mut next = named
            .iter()
            .map(|c| c.as_str())
            .chain(in_use.iter().map(String::as_str))
            .filter_map(seq)
            .max()
            .unwrap_or(0);
        let mut new_codes = BTreeMap::new();
        for (_, k) in news {
            next += 1;
            if next > 999 {
                return Err(vec![Problem {
                    kind: "bad_code",
                    ids: vec![k],
                    message: format!("village {vcode} has no grid code left"),
                }]);
            }
            let c = vcode.grid(next);
            named.insert(c.clone());
            new_codes.insert(k, c);
        }
        let codes: Vec<GridCode> = named.into_iter().collect();
        let index: BTreeMap<&str, u32> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        let grid_of = assignment
            .iter()
            .map(|(id, v)| {
                let c = new_codes.get(v).map_or(v.as_str(), |c| c.as_str());
                (id.clone(), index[c])
            })
            .collect();
        Ok(Draft {
            codes,
            grid_of,
            new_codes,
        })
    }
}

impl EditVillage {
    /// Cuts village `vi` of `ds` into its cells (as a partition run does, counting `weight`).
    pub fn new(ds: &Dataset, vi: usize, weight: &Weight) -> EditVillage {
        let buildings: Vec<u32> = (0..ds.buildings.len() as u32)
            .filter(|&b| ds.buildings[b as usize].village == vi)
            .collect();
        let units: Vec<u32> = (0..ds.units.len() as u32)
            .filter(|&u| ds.units[u as usize].village == vi)
            .collect();
        let cells = cells::build(ds, vi, &buildings, &units, weight);
        let arcs_of = face_arcs(&cells);
        let mut face_of = HashMap::new();
        for (f, bs) in cells.buildings.iter().enumerate() {
            for &b in bs {
                face_of.insert(ds.buildings[b as usize].id.clone(), f as u32);
            }
            if let Some(u) = cells.unit[f] {
                face_of.insert(ds.units[u as usize].id.clone(), f as u32);
            }
        }
        EditVillage {
            village: vi,
            cells,
            arcs_of,
            buildings,
            units,
            face_of,
        }
    }

    /// Number of faces.
    pub fn faces(&self) -> usize {
        self.cells.topo.faces.len()
    }

    /// The faces next to face `f`, with the length of border shared (metres) and whether any of
    /// it is a hard barrier (river, railway, expressway).
    pub fn neighbours(&self, f: usize) -> impl Iterator<Item = (usize, f64, bool)> + '_ {
        self.arcs_of[f].iter().filter_map(move |&a| {
            let arc = &self.cells.topo.arcs[a as usize];
            let o = if arc.left == Some(f as u32) {
                arc.right
            } else {
                arc.left
            }?;
            (o as usize != f).then(|| {
                (
                    o as usize,
                    self.cells.arc_len[a as usize],
                    arc.class.intersects(EdgeClass::HARD),
                )
            })
        })
    }

    /// The interior point of every face.
    pub fn interior_points(&self) -> Vec<Option<Point<f64>>> {
        (0..self.faces())
            .map(|f| {
                let rings = self.cells.topo.face_rings(f as u32);
                quality::to_multipolygon(&vec![rings]).interior_point()
            })
            .collect()
    }

    /// The grid of every face: a face with buildings or a unit takes theirs (`item_grid`, by id;
    /// the first one decides); a face without takes the grid of `previous` its interior point lies
    /// in (`points`, from [`EditVillage::interior_points`]), else, round by round, the neighbour
    /// it shares the longest border with.
    pub fn face_grids(
        &self,
        ds: &Dataset,
        item_grid: &dyn Fn(&str) -> Option<u32>,
        previous: &[(u32, &MultiPolygon<f64>)],
        points: &[Option<Point<f64>>],
    ) -> Vec<Option<u32>> {
        let nf = self.faces();
        let boxes: Vec<Option<Rect<f64>>> =
            previous.iter().map(|(_, m)| m.bounding_rect()).collect();
        let mut out: Vec<Option<u32>> = (0..nf)
            .map(|f| {
                let unit = self.cells.unit[f].map(|u| ds.units[u as usize].id.as_str());
                let first = self.cells.buildings[f]
                    .iter()
                    .map(|&b| ds.buildings[b as usize].id.as_str())
                    .chain(unit)
                    .find_map(item_grid);
                first.or_else(|| {
                    if self.has_items(f) {
                        return None;
                    }
                    let p = points.get(f).copied().flatten()?;
                    previous
                        .iter()
                        .zip(&boxes)
                        .find(|((_, m), b)| b.is_some_and(|b| b.intersects(&p)) && m.contains(&p))
                        .map(|((g, _), _)| *g)
                })
            })
            .collect();
        self.fill_empty(&mut out);
        out
    }

    /// Whether face `f` holds a building or a unit.
    pub fn has_items(&self, f: usize) -> bool {
        !self.cells.buildings[f].is_empty() || self.cells.unit[f].is_some()
    }

    /// Faces without a grid join, round by round, the neighbouring grid they share the longest
    /// border with (ties: the lower grid index).
    pub fn fill_empty(&self, grid: &mut [Option<u32>]) {
        loop {
            let mut choice = Vec::new();
            for f in 0..grid.len() {
                if grid[f].is_some() {
                    continue;
                }
                let mut shared: BTreeMap<u32, f64> = BTreeMap::new();
                for (o, len, _) in self.neighbours(f) {
                    if let Some(g) = grid[o] {
                        *shared.entry(g).or_default() += len;
                    }
                }
                if let Some((&g, _)) = shared
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                {
                    choice.push((f, g));
                }
            }
            if choice.is_empty() {
                return;
            }
            for (f, g) in choice {
                grid[f] = Some(g);
            }
        }
    }

    /// Per grid (of `n`): its faces in connected pieces, each sorted, in order of their first face.
    pub fn components(&self, grid: &[Option<u32>], n: usize) -> Vec<Vec<Vec<usize>>> {
        crate::partition::assign::grid_pieces(grid, n, |f, out| {
            out.extend(self.neighbours(f).map(|(o, _, _)| o));
        })
    }

    /// Every grid of `codes` that the face grids leave in more than one piece holding buildings,
    /// within one piece of the village (a piece of land without buildings is given away when
    /// saved, so it does not count).
    pub fn pieces(&self, ds: &Dataset, grid: &[Option<u32>], codes: &[GridCode]) -> Vec<Pieces> {
        let all = vec![Some(0u32); grid.len()];
        let mut piece_of = vec![0usize; grid.len()];
        for (i, c) in self.components(&all, 1)[0].iter().enumerate() {
            for &f in c {
                piece_of[f] = i;
            }
        }
        let mut out = Vec::new();
        for (gi, comps) in self.components(grid, codes.len()).into_iter().enumerate() {
            let mut by_piece: BTreeMap<usize, Vec<Vec<String>>> = BTreeMap::new();
            for c in comps {
                let items: Vec<String> = c
                    .iter()
                    .flat_map(|&f| self.ids_in(ds, f))
                    .map(str::to_string)
                    .collect();
                if !items.is_empty() {
                    by_piece.entry(piece_of[c[0]]).or_default().push(items);
                }
            }
            for mut parts in by_piece.into_values() {
                if parts.len() < 2 {
                    continue;
                }
                parts.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
                let mut stray: Vec<String> = parts[1..].concat();
                stray.sort();
                out.push(Pieces {
                    grid: codes[gi].to_string(),
                    pieces: parts.len(),
                    stray,
                });
            }
        }
        out
    }

    /// Ids of the buildings and the unit in face `f`.
    pub fn ids_in<'a>(&'a self, ds: &'a Dataset, f: usize) -> impl Iterator<Item = &'a str> + 'a {
        self.cells.buildings[f]
            .iter()
            .map(move |&b| ds.buildings[b as usize].id.as_str())
            .chain(self.cells.unit[f].map(|u| ds.units[u as usize].id.as_str()))
    }

    /// The cells as TopoJSON: arcs quantised to 10⁻⁷° (delta-encoded, with the `transform`),
    /// each face a `Polygon` whose `id` is its index, with properties `grid` (from `grid`, codes
    /// of `codes`) and `items` (ids of its buildings and unit); `arc_class` gives each arc's
    /// [`EdgeClass`] bits (rivers, roads, group lines, the boundary).
    pub fn topojson(&self, ds: &Dataset, grid: &[Option<u32>], codes: &[GridCode]) -> TopoJson {
        const Q: f64 = 1e-7;
        let topo = &self.cells.topo;
        let (mut x0, mut y0) = (i64::MAX, i64::MAX);
        for a in &topo.arcs {
            for p in &a.points {
                x0 = x0.min(p.x);
                y0 = y0.min(p.y);
            }
        }
        let origin = Pt { x: x0, y: y0 };
        let q = |v: i64, o: i64| ((v - o) as f64 / crate::topology::SCALE / Q).round() as i64;
        let arcs: Vec<Vec<[i64; 2]>> = topo
            .arcs
            .iter()
            .map(|a| {
                let mut prev = [0i64, 0];
                a.points
                    .iter()
                    .map(|p| {
                        let c = [q(p.x, origin.x), q(p.y, origin.y)];
                        let d = [c[0] - prev[0], c[1] - prev[1]];
                        prev = c;
                        d
                    })
                    .collect()
            })
            .collect();
        let geometries = topo
            .faces
            .iter()
            .enumerate()
            .map(|(f, face)| TopoFace {
                kind: "Polygon",
                id: f,
                arcs: face
                    .rings
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|d| {
                                if d.forward {
                                    d.arc as i64
                                } else {
                                    !(d.arc as i64)
                                }
                            })
                            .collect()
                    })
                    .collect(),
                properties: FaceProps {
                    grid: grid[f].map(|g| codes[g as usize].to_string()),
                    items: self.ids_in(ds, f).map(str::to_string).collect(),
                },
            })
            .collect();
        TopoJson {
            kind: "Topology",
            transform: Transform {
                scale: [Q, Q],
                translate: [origin.lon(), origin.lat()],
            },
            arcs,
            arc_class: topo.arcs.iter().map(|a| a.class.0).collect(),
            objects: Objects {
                cells: Collection {
                    kind: "GeometryCollection",
                    geometries,
                },
            },
        }
    }
}

/// A TopoJSON topology (RFC-like spec: github.com/topojson/topojson-specification).
#[derive(Serialize)]
pub struct TopoJson {
    #[serde(rename = "type")]
    kind: &'static str,
    transform: Transform,
    arcs: Vec<Vec<[i64; 2]>>,
    /// Each arc's [`EdgeClass`] bits (not part of the TopoJSON specification; readers ignore it).
    arc_class: Vec<u16>,
    objects: Objects,
}

#[derive(Serialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Serialize)]
struct Objects {
    cells: Collection,
}

#[derive(Serialize)]
struct Collection {
    #[serde(rename = "type")]
    kind: &'static str,
    geometries: Vec<TopoFace>,
}

#[derive(Serialize)]
struct TopoFace {
    #[serde(rename = "type")]
    kind: &'static str,
    id: usize,
    arcs: Vec<Vec<i64>>,
    properties: FaceProps,
}

#[derive(Serialize)]
struct FaceProps {
    grid: Option<String>,
    items: Vec<String>,
}
