//! What the map shows (地图快照): a read-only picture of a town's active plans.
//!
//! The store loads one ([`crate::partition`] results saved as plan versions, the people responsible
//! for each grid, buildings and barriers); the server builds its indexes and tiles from it and swaps
//! in a new one when a plan is activated. A snapshot can also be made straight from a partition run
//! ([`Snapshot::from_plan`]), which is how tests serve a town without a database.

use crate::model::{Barrier, Building, Dataset, GridCode, MicroGridCode, Mode, VillageCode};
use crate::partition::{Figures, MicroKind, Plan, Stack};
use crate::topology::RingSet;
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use serde::Serialize;

/// The active plans of a town, as the map shows them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Villages and communities, in code order.
    pub villages: Vec<VillageView>,
    /// Grids of every village's active plan, in code order.
    pub grids: Vec<GridView>,
    /// Micro-grids of the active plans, in code order.
    pub micro_grids: Vec<MicroView>,
    /// Buildings, with the grid and micro-grids they fall in under the active plans.
    pub buildings: Vec<BuildingView>,
    /// Roads, rivers and railways.
    pub barriers: Vec<Barrier>,
    /// Changes whenever anything the map shows changes (a plan saved or activated, people edited).
    pub revision: i64,
    /// Changes only when the base data (villages, buildings, barriers) is imported again, so a
    /// reload after a plan change can keep them.
    pub data_revision: i64,
}

/// A village with its boundary and active plan.
#[derive(Clone, Debug)]
pub struct VillageView {
    /// 12-digit code.
    pub code: VillageCode,
    /// Name.
    pub name: String,
    /// Mode of division.
    pub mode: Mode,
    /// Boundary.
    pub boundary: MultiPolygon<f64>,
    /// The active plan's version, if the village has one.
    pub plan_version: Option<i64>,
}

/// Who is responsible for a grid (posted on its notice board, 公示牌).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Grid leader (网格长).
    GridLeader,
    /// Grid worker (网格员).
    GridWorker,
}

impl Role {
    /// The role's text: `grid_leader` or `grid_worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GridLeader => "grid_leader",
            Role::GridWorker => "grid_worker",
        }
    }
    /// Parses `grid_leader` or `grid_worker`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "grid_leader" => Some(Role::GridLeader),
            "grid_worker" => Some(Role::GridWorker),
            _ => None,
        }
    }
}

/// A person responsible for a grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Their role.
    pub role: Role,
    /// Name.
    pub name: String,
    /// Phone, if public.
    pub phone: Option<String>,
}

/// One grid of an active plan.
#[derive(Clone, Debug)]
pub struct GridView {
    /// 15-digit code.
    pub code: GridCode,
    /// Index of its village in [`Snapshot::villages`].
    pub village: usize,
    /// Outline (one polygon; traced from shared borders, so neighbours share vertices exactly).
    pub geometry: MultiPolygon<f64>,
    /// A point inside the grid for its label (not the centroid, which can fall outside).
    pub label: Point<f64>,
    /// Households, residents, area, compactness.
    pub figures: Figures,
    /// Grid leader and workers.
    pub people: Vec<Person>,
    /// Map colour, an index into [`PALETTE`](crate::partition::colour::PALETTE) no neighbour
    /// shares (none for plans stored before colours were).
    pub color: Option<u8>,
}

/// One micro-grid of an active plan.
#[derive(Clone, Debug)]
pub struct MicroView {
    /// 18-digit code.
    pub code: MicroGridCode,
    /// Index of its grid in [`Snapshot::grids`].
    pub grid: usize,
    /// Outline (parts of one split building share it).
    pub geometry: MultiPolygon<f64>,
    /// A point inside.
    pub label: Point<f64>,
    /// Figures.
    pub figures: Figures,
    /// Why it is what it is.
    pub kind: MicroKind,
    /// For parts of a split building or firm.
    pub stack: Option<Stack>,
    /// Map colour, as for grids: no neighbouring micro-grid shares it.
    pub color: Option<u8>,
}

/// A building and where the active plan puts it.
#[derive(Clone, Debug)]
pub struct BuildingView {
    /// The building.
    pub building: Building,
    /// Index of its grid in [`Snapshot::grids`].
    pub grid: Option<usize>,
    /// Indexes of its micro-grids in [`Snapshot::micro_grids`] (several for a split building).
    pub micro: Vec<usize>,
}

/// A building as the map asks for it, by area, village or address, without the town loaded: the
/// building, its village's code and where the active plans put it (by code). The store answers
/// these from its indexes; a [`Snapshot`]'s buildings give the same.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildingRecord {
    /// A stable key while the base data is not imported again: the store's row id (the position
    /// in a snapshot's buildings, plus one, for a snapshot). Tiles use it as the feature id.
    pub fid: u64,
    /// The planner's id.
    pub id: String,
    /// Its village's 12-digit code.
    pub village_code: String,
    /// A point inside the building.
    pub point: Point<f64>,
    /// The footprint, when known.
    pub footprint: Option<MultiPolygon<f64>>,
    /// Households living here.
    pub households: u64,
    /// Residents living here.
    pub residents: u64,
    /// What it is used for.
    pub kind: crate::model::BuildingKind,
    /// Address, if known.
    pub address: Option<String>,
    /// Villager group (村民小组).
    pub group: Option<String>,
    /// Staff, for firms, schools, hospitals.
    pub staff: Option<u64>,
    /// Workshops (车间), for factories.
    pub workshops: Option<u64>,
    /// The extra numeric field.
    pub custom: Option<f64>,
    /// Its grid's code under the active plan.
    pub grid_code: Option<String>,
    /// Its micro-grids' codes under the active plan (several for a split building).
    pub micro_codes: Vec<String>,
}

impl BuildingRecord {
    /// The building, in the village of index `village`.
    pub fn to_building(&self, village: usize) -> Building {
        Building {
            id: self.id.clone(),
            point: self.point,
            footprint: self.footprint.clone(),
            households: self.households,
            residents: self.residents,
            kind: self.kind,
            address: self.address.clone(),
            group: self.group.clone(),
            staff: self.staff,
            workshops: self.workshops,
            custom: self.custom,
            village,
        }
    }

    /// The box of its point and footprint.
    pub fn bbox(&self) -> geo::Rect<f64> {
        building_box(self.point, self.footprint.as_ref())
    }
}

/// The box of a building's point and footprint (what an area query of buildings tests).
pub fn building_box(point: Point<f64>, footprint: Option<&MultiPolygon<f64>>) -> geo::Rect<f64> {
    use geo::BoundingRect;
    let p = point;
    match footprint.and_then(|f| f.bounding_rect()) {
        Some(r) => geo::Rect::new(
            (r.min().x.min(p.x()), r.min().y.min(p.y())),
            (r.max().x.max(p.x()), r.max().y.max(p.y())),
        ),
        None => geo::Rect::new(p.0, p.0),
    }
}

impl Snapshot {
    /// Building `i` of this snapshot as a [`BuildingRecord`] (`fid` = `i + 1`).
    pub fn building_record(&self, i: usize) -> BuildingRecord {
        let b = &self.buildings[i];
        let bd = &b.building;
        BuildingRecord {
            fid: i as u64 + 1,
            id: bd.id.clone(),
            village_code: self
                .villages
                .get(bd.village)
                .map(|v| v.code.to_string())
                .unwrap_or_default(),
            point: bd.point,
            footprint: bd.footprint.clone(),
            households: bd.households,
            residents: bd.residents,
            kind: bd.kind,
            address: bd.address.clone(),
            group: bd.group.clone(),
            staff: bd.staff,
            workshops: bd.workshops,
            custom: bd.custom,
            grid_code: b
                .grid
                .and_then(|g| self.grids.get(g))
                .map(|g| g.code.to_string()),
            micro_codes: b
                .micro
                .iter()
                .filter_map(|&m| self.micro_grids.get(m))
                .map(|m| m.code.to_string())
                .collect(),
        }
    }
}

/// Converts traced rings (picodegrees) to a geo `MultiPolygon` in lon/lat.
pub fn rings_to_multipolygon(rs: &RingSet) -> MultiPolygon<f64> {
    let ring = |r: &Vec<crate::topology::Pt>| -> LineString<f64> {
        LineString::new(
            r.iter()
                .map(|p| Coord {
                    x: p.lon(),
                    y: p.lat(),
                })
                .collect(),
        )
    };
    MultiPolygon::new(
        rs.iter()
            .map(|p| {
                let mut it = p.iter();
                let outer = it
                    .next()
                    .map(ring)
                    .unwrap_or_else(|| LineString::new(vec![]));
                Polygon::new(outer, it.map(ring).collect())
            })
            .collect(),
    )
}

impl Snapshot {
    /// The snapshot of a fresh partition run: every village's plan as version `version`, nobody
    /// assigned to any grid yet.
    pub fn from_plan(ds: &Dataset, plan: &Plan, version: i64) -> Snapshot {
        let mut s = Snapshot {
            barriers: ds.barriers.clone(),
            revision: version,
            ..Snapshot::default()
        };
        let mut by_id: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, b) in ds.buildings.iter().enumerate() {
            by_id.insert(b.id.as_str(), i);
            s.buildings.push(BuildingView {
                building: b.clone(),
                grid: None,
                micro: Vec::new(),
            });
        }
        for (vi, (v, vp)) in ds.villages.iter().zip(&plan.villages).enumerate() {
            s.villages.push(VillageView {
                code: v.code.clone(),
                name: v.name.clone(),
                mode: v.mode,
                boundary: v.boundary.clone(),
                plan_version: Some(version),
            });
            let g0 = s.grids.len();
            let m0 = s.micro_grids.len();
            for g in &vp.grids {
                s.grids.push(GridView {
                    code: g.code.clone(),
                    village: vi,
                    geometry: rings_to_multipolygon(&g.rings),
                    label: Point::new(g.label[0], g.label[1]),
                    figures: g.figures.clone(),
                    people: Vec::new(),
                    color: Some(g.color),
                });
            }
            for m in &vp.micro_grids {
                s.micro_grids.push(MicroView {
                    code: m.code.clone(),
                    grid: g0 + m.grid,
                    geometry: rings_to_multipolygon(&m.rings),
                    label: Point::new(m.label[0], m.label[1]),
                    figures: m.figures.clone(),
                    kind: m.kind,
                    stack: m.stack.clone(),
                    color: Some(m.color),
                });
            }
            for a in &vp.assignment {
                if a.kind != "building" {
                    continue;
                }
                if let Some(&bi) = by_id.get(a.id.as_str()) {
                    s.buildings[bi].grid = a.grid.map(|g| g0 + g);
                    s.buildings[bi].micro = a.micro.iter().map(|m| m0 + m).collect();
                }
            }
        }
        s
    }
}
