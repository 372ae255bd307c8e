//! The planner's editor over the store: a village as the editor opens it ([`Store::edit_view`]), a
//! draft saved as a new plan version ([`Store::save_draft`], through
//! [`Store::import_assignment_on`], so a draft is traced from the cells as an edited
//! `assignment.csv` is), and a rebalance proposal ([`Store::rebalance_draft`], nothing saved).
//!
//! A draft is checked whole before anything is written: every building of the village given a
//! grid of the village, nothing else, and no grid in pieces ([`EditError::Problems`] lists every
//! fault); a draft based on a version that is no longer active is a [`StoreError::Conflict`].

use super::read::{GridRecord, PlanInfo};
use super::reassign::Reassigned;
use super::{Base, PlanMeta, Store, StoreError};
use crate::edit::rebalance::rebalance;
use crate::edit::{Draft, EditVillage, Problem, TopoJson};
use crate::model::{BuildingKind, Dataset, GridCode, Mode, Weight};
use crate::partition::assign_csv::{ItemKind, Row};
use crate::partition::Options;
use geo::{InteriorPoint, MultiPolygon};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why a draft was not saved (or not rebalanced).
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The store refused or failed (a conflict, an unknown village, a database error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The draft itself is wrong: every fault found.
    #[error("{}", .0.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "))]
    Problems(Vec<Problem>),
}

/// A village as the editor opens it.
#[derive(Serialize)]
pub struct EditView {
    /// Village code, name and mode.
    pub village: VillageHead,
    /// The active plan version, if any.
    pub plan: Option<PlanInfo>,
    /// The band grids are held to, in `weight`.
    pub band: [f64; 2],
    /// The micro-grid band.
    pub micro_band: [f64; 2],
    /// What the band counts.
    pub weight: String,
    /// Residents a grid aims at.
    pub target_residents: f64,
    /// The active plan's grids with their figures.
    pub grids: Vec<GridHead>,
    /// Every building and unit of the village.
    pub buildings: Vec<Item>,
    /// The village's cells (TopoJSON), each with its grid and its buildings.
    pub topology: TopoJson,
}

/// A village's code, name and mode.
#[derive(Serialize)]
pub struct VillageHead {
    /// 12-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// `urban`, `rural`, …
    pub mode: Mode,
}

/// A grid of the plan being edited.
#[derive(Serialize)]
pub struct GridHead {
    /// Code.
    pub code: String,
    /// Households.
    pub households: f64,
    /// Residents.
    pub residents: f64,
    /// The band weight.
    pub weight: f64,
    /// Buildings.
    pub buildings: usize,
    /// Compactness (Polsby–Popper).
    pub polsby_popper: f64,
    /// Map colour in the active plan (an index into
    /// [`PALETTE`](crate::partition::colour::PALETTE)); a save colours the plan again.
    pub color: Option<u8>,
}

/// A building (or unit) as the editor sees it.
#[derive(Serialize)]
pub struct Item {
    /// Its id.
    pub id: String,
    /// `residential`, `school`, …, or `unit`.
    pub kind: String,
    /// Households.
    pub households: f64,
    /// Residents.
    pub residents: f64,
    /// The band weight.
    pub weight: f64,
    /// Villager group.
    pub group: Option<String>,
    /// Grid code in the active plan.
    pub grid: Option<String>,
    /// Micro-grid codes in the active plan.
    pub micro: Vec<String>,
    /// Longitude, latitude of a point inside it.
    pub position: [f64; 2],
    /// Its cell (the `id` of a cell of the topology).
    pub cell: u32,
}

/// A rebalance proposal.
#[derive(Serialize)]
pub struct RebalanceView {
    /// Each building's (unit's) proposed grid.
    pub assignment: BTreeMap<String, String>,
    /// Buildings and units whose grid changed.
    pub moved: Vec<String>,
    /// Grids split off so the unlocked grids can hold their weight in the band (new:K names).
    pub added: Vec<String>,
    /// Grids emptied into a neighbour because the unlocked grids were too many for the band.
    pub merged: Vec<String>,
    /// Each grid's figures under the proposal.
    pub grids: Vec<GridHead>,
}

/// A draft as the page sends it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// The active version the draft was made from (`null`: the village had no plan).
    pub base: Option<i64>,
    /// Building (unit) id → grid code, or `new:K`.
    pub assignment: BTreeMap<String, String>,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Make the new version the active one.
    #[serde(default)]
    pub activate: bool,
}

/// What a save answers: the new version and its codes.
#[derive(Serialize)]
pub struct SavedDraft {
    /// The saved version and how its codes went.
    #[serde(flatten)]
    pub saved: Reassigned,
    /// The codes of the new version's grids.
    pub codes: Vec<String>,
    /// The code each `new:K` grid was given (after the versioning rule).
    pub new_codes: BTreeMap<String, String>,
}

/// Each building's (unit's) grid and micro-grid codes in a plan, by id.
type Placed = HashMap<String, (String, Vec<String>)>;

/// One village's data, its active plan, and the options that plan was made with.
struct Opened {
    ds: Dataset,
    vi: usize,
    plan: Option<(PlanInfo, Vec<GridRecord>, Placed)>,
    opts: Options,
}

impl Opened {
    fn in_use(&self) -> BTreeSet<String> {
        self.plan
            .iter()
            .flat_map(|(_, gs, _)| gs.iter().map(|g| g.code.clone()))
            .collect()
    }
}

fn figures(ev: &EditVillage, grid: &[Option<u32>], codes: &[impl ToString]) -> Vec<GridHead> {
    let mut out: Vec<GridHead> = codes
        .iter()
        .map(|c| GridHead {
            code: c.to_string(),
            households: 0.0,
            residents: 0.0,
            weight: 0.0,
            buildings: 0,
            polsby_popper: 0.0,
            color: None,
        })
        .collect();
    for (f, g) in grid.iter().enumerate() {
        let Some(g) = g else { continue };
        let h = &mut out[*g as usize];
        h.households += ev.cells.households[f];
        h.residents += ev.cells.residents[f];
        h.weight += ev.cells.weight[f];
        h.buildings += ev.cells.buildings[f].len();
    }
    out
}

impl Store {
    async fn open_village(&self, village: &str) -> Result<Opened, StoreError> {
        let only: BTreeSet<String> = [village.to_string()].into();
        let ds = self.dataset_of(&only).await?;
        let vi = ds
            .villages
            .iter()
            .position(|v| v.code.as_str() == village)
            .ok_or_else(|| StoreError::NotFound(format!("village {village}")))?;
        let plan = self.active_plan(village).await?.map(|(info, rec)| {
            let items = rec
                .assignment
                .into_iter()
                .map(|a| (a.id, (a.grid.unwrap_or_default(), a.micro)))
                .collect();
            (info, rec.grids, items)
        });
        let opts = plan
            .as_ref()
            .map(|(info, _, _)| Options::from_params(&info.params))
            .unwrap_or_default();
        Ok(Opened { ds, vi, plan, opts })
    }

    /// Village `village` as the editor opens it: its active plan, grids, buildings and cells.
    pub async fn edit_view(&self, village: &str) -> Result<EditView, StoreError> {
        let o = self.open_village(village).await?;
        let ev = EditVillage::new(&o.ds, o.vi, &o.opts.weight);
        let (codes, outlines, items) = match &o.plan {
            Some((_, gs, items)) => (
                gs.iter()
                    .map(|g| GridCode::parse(&g.code))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| StoreError::Invalid {
                        what: format!("active plan of village {village}"),
                        why: e.to_string(),
                    })?,
                gs.iter().map(|g| &g.geometry).collect::<Vec<_>>(),
                Some(items),
            ),
            None => (Vec::new(), Vec::new(), None),
        };
        let index: HashMap<&str, u32> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        let item_grid = |id: &str| {
            let (g, _) = items?.get(id)?;
            index.get(g.as_str()).copied()
        };
        let previous: Vec<(u32, &MultiPolygon<f64>)> = outlines
            .iter()
            .enumerate()
            .map(|(i, m)| (i as u32, *m))
            .collect();
        let grid = ev.face_grids(&o.ds, &item_grid, &previous, &ev.interior_points());
        let ds = &o.ds;
        let placed = |id: &str| items.and_then(|m| m.get(id)).cloned();
        let mut buildings: Vec<Item> = ev
            .buildings
            .iter()
            .map(|&b| {
                let b = &ds.buildings[b as usize];
                let (grid, micro) = placed(&b.id).unzip();
                Item {
                    id: b.id.clone(),
                    kind: kind_name(b.kind).to_string(),
                    households: b.households as f64,
                    residents: b.residents as f64,
                    weight: weight_of(
                        &o.opts.weight,
                        b.households as f64,
                        b.residents as f64,
                        b.custom,
                    ),
                    group: b.group.clone(),
                    grid: grid.filter(|g| !g.is_empty()),
                    micro: micro.unwrap_or_default(),
                    position: [b.point.x(), b.point.y()],
                    cell: ev.face_of[&b.id],
                }
            })
            .collect();
        for &u in &ev.units {
            let u = &ds.units[u as usize];
            let (grid, micro) = placed(&u.id).unzip();
            let p = u
                .area
                .interior_point()
                .map_or([0.0, 0.0], |p| [p.x(), p.y()]);
            buildings.push(Item {
                id: u.id.clone(),
                kind: "unit".into(),
                households: u.households,
                residents: u.residents,
                weight: weight_of(&o.opts.weight, u.households, u.residents, u.custom),
                group: None,
                grid: grid.filter(|g| !g.is_empty()),
                micro: micro.unwrap_or_default(),
                position: p,
                cell: ev.face_of[&u.id],
            });
        }
        let v = &ds.villages[o.vi];
        let mut grids = figures(&ev, &grid, &codes);
        if let Some((_, gs, _)) = &o.plan {
            for (h, g) in grids.iter_mut().zip(gs) {
                h.polsby_popper = g.figures.polsby_popper;
                h.color = g.color;
            }
        }
        Ok(EditView {
            village: VillageHead {
                code: v.code.to_string(),
                name: v.name.clone(),
                mode: v.mode,
            },
            plan: o.plan.as_ref().map(|(i, _, _)| i.clone()),
            band: [o.opts.band.min, o.opts.band.max],
            micro_band: [o.opts.micro.min, o.opts.micro.max],
            weight: o.opts.weight.name().to_string(),
            target_residents: o.opts.target_residents,
            grids,
            topology: ev.topojson(ds, &grid, &codes),
            buildings,
        })
    }

    /// Reads a draft of `village` and traces its face grids; every fault of the draft is listed.
    fn checked_draft(
        o: &Opened,
        ev: &EditVillage,
        assignment: &BTreeMap<String, String>,
    ) -> Result<(Draft, Vec<Option<u32>>), EditError> {
        let draft = Draft::read(&o.ds, ev, assignment, &o.in_use()).map_err(EditError::Problems)?;
        let codes: HashMap<&str, u32> = draft
            .codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        let previous: Vec<(u32, &MultiPolygon<f64>)> = o
            .plan
            .iter()
            .flat_map(|(_, gs, _)| gs.iter())
            .filter_map(|g| codes.get(g.code.as_str()).map(|&i| (i, &g.geometry)))
            .collect();
        let item_grid = |id: &str| draft.grid_of.get(id).copied();
        let grid = ev.face_grids(&o.ds, &item_grid, &previous, &ev.interior_points());
        Ok((draft, grid))
    }

    /// Saves a draft of `village` by `author` as a new plan version (activated if asked), all or
    /// nothing: a draft whose `base` is not the active version is a conflict; a draft with faults
    /// (unknown or missing buildings, codes of another village, grids in pieces) lists them all.
    pub async fn save_draft(
        &self,
        village: &str,
        req: &DraftRequest,
        author: &str,
    ) -> Result<SavedDraft, EditError> {
        let o = self.open_village(village).await?;
        let active = o.plan.as_ref().map(|(i, _, _)| i.version);
        if active != req.base {
            let show = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
            return Err(StoreError::Conflict {
                village: village.to_string(),
                base: show(req.base),
                found: show(active),
            }
            .into());
        }
        let ev = EditVillage::new(&o.ds, o.vi, &o.opts.weight);
        let (draft, grid) = Self::checked_draft(&o, &ev, &req.assignment)?;
        let pieces = ev.pieces(&o.ds, &grid, &draft.codes);
        if !pieces.is_empty() {
            return Err(EditError::Problems(
                pieces
                    .into_iter()
                    .map(|p| Problem {
                        kind: "not_contiguous",
                        message: format!(
                            "grid {} would be in {} pieces; outside its largest piece: {}",
                            p.grid,
                            p.pieces,
                            crate::edit::shown(&p.stray)
                        ),
                        ids: vec![p.grid],
                    })
                    .collect(),
            ));
        }
        let units: BTreeSet<&str> = ev
            .units
            .iter()
            .map(|&u| o.ds.units[u as usize].id.as_str())
            .collect();
        let rows: Vec<Row> = draft
            .grid_of
            .iter()
            .enumerate()
            .map(|(i, (id, g))| Row {
                line: i as u64 + 2,
                kind: if units.contains(id.as_str()) {
                    ItemKind::Unit
                } else {
                    ItemKind::Building
                },
                id: id.clone(),
                village: Some(village.to_string()),
                plan_version: req.base,
                grid: draft.codes[*g as usize].clone(),
            })
            .collect();
        let meta = PlanMeta {
            author: author.to_string(),
            reason: req.reason.clone(),
            params: String::new(),
        };
        let base = Base([(village.to_string(), active)].into());
        let saved = self
            .import_assignment_on("planner draft", &rows, &meta, req.activate, Some(base))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("village {village}")))?;
        let (_, rec) = self.load_plan(village, saved.saved.version).await?;
        let grid_of_item: HashMap<&str, &str> = rec
            .assignment
            .iter()
            .filter_map(|a| Some((a.id.as_str(), a.grid.as_deref()?)))
            .collect();
        let new_codes = draft
            .new_codes
            .iter()
            .filter_map(|(k, c)| {
                let gi = draft.codes.iter().position(|x| x == c)? as u32;
                let id = draft.grid_of.iter().find(|(_, g)| **g == gi)?.0;
                Some((k.clone(), grid_of_item.get(id.as_str())?.to_string()))
            })
            .collect();
        Ok(SavedDraft {
            codes: rec.grids.iter().map(|g| g.code.clone()).collect(),
            saved,
            new_codes,
        })
    }

    /// A rebalance proposal for a draft of `village`: the grids in `locked` unchanged, the others
    /// brought into the band where the data allows. Nothing is saved.
    pub async fn rebalance_draft(
        &self,
        village: &str,
        assignment: &BTreeMap<String, String>,
        locked: &[String],
    ) -> Result<RebalanceView, EditError> {
        let o = self.open_village(village).await?;
        let ev = EditVillage::new(&o.ds, o.vi, &o.opts.weight);
        let (draft, grid) = Self::checked_draft(&o, &ev, assignment)?;
        let unknown: Vec<String> = locked
            .iter()
            .filter(|c| !draft.codes.iter().any(|d| d.as_str() == c.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(EditError::Problems(vec![Problem {
                kind: "unknown_grid",
                message: format!(
                    "locked grids not in the draft: {}",
                    crate::edit::shown(&unknown)
                ),
                ids: unknown,
            }]));
        }
        let lock: Vec<bool> = draft
            .codes
            .iter()
            .map(|c| locked.iter().any(|l| l == c.as_str()))
            .collect();
        let p = rebalance(
            &ev,
            &grid,
            draft.codes.len(),
            &lock,
            &ev.cells.weight,
            o.opts.band,
        );
        // Grids the proposal split off get the next free new:K names.
        let next_new = assignment
            .values()
            .filter_map(|c| c.strip_prefix("new:")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let mut codes: Vec<String> = draft.codes.iter().map(|c| c.to_string()).collect();
        codes.extend(
            (1..=p.grids - draft.codes.len()).map(|k| format!("new:{}", next_new + k as u64)),
        );
        let mut out = BTreeMap::new();
        let mut moved = Vec::new();
        for f in 0..ev.faces() {
            let Some(g) = p.grid[f] else { continue };
            let code = codes[g as usize].clone();
            for id in ev.ids_in(&o.ds, f) {
                let was = &assignment[id];
                let was_code = draft
                    .new_codes
                    .get(was)
                    .map_or(was.as_str(), |c| c.as_str());
                if was_code != code {
                    moved.push(id.to_string());
                }
                // A new grid keeps its new:K name, so the page's draft stays in its own words.
                let name = draft
                    .new_codes
                    .iter()
                    .find(|(_, c)| c.as_str() == code)
                    .map_or(code.clone(), |(k, _)| k.clone());
                out.insert(id.to_string(), name);
            }
        }
        moved.sort();
        Ok(RebalanceView {
            assignment: out,
            moved,
            added: codes[draft.codes.len()..].to_vec(),
            merged: p
                .merged
                .iter()
                .map(|&g| codes[g as usize].clone())
                .collect(),
            grids: figures(&ev, &p.grid, &codes),
        })
    }
}

/// What one building or unit counts towards the band (as the cells count it).
fn weight_of(w: &Weight, households: f64, residents: f64, custom: Option<f64>) -> f64 {
    match w {
        Weight::Households => households,
        Weight::Residents => residents,
        Weight::Field(_) => custom.unwrap_or(0.0),
    }
}

fn kind_name(k: BuildingKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
