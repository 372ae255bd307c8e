//! Writes, each one transaction: importing a town's data, saving plan versions, activating one,
//! naming the people responsible for grids. A failure at any point rolls the whole write back.

use super::map::BuildingKeys;
use super::read::{AssignmentRecord, GridRecord, MicroRecord, VillagePlanRecord};
use super::schema::{bulk_indexes, BULK_ROWS};
use super::sql::Val;
use super::versioning::{recode, recode_named, CodeRule, Member};
use super::{now, Backend, Base, PlanMeta, Result, Saved, Store, StoreError};
use crate::model::Dataset;
use crate::partition::{Plan, VillagePlan};
use crate::snapshot::{rings_to_multipolygon, Person};
use geo::{Geometry, MultiLineString, MultiPolygon, Point};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// Villages added or updated.
    pub villages: usize,
    /// Buildings written (the imported villages' buildings are replaced).
    pub buildings: usize,
    /// Barriers written (all barriers are replaced when the input has any).
    pub barriers: usize,
    /// Units written (the imported villages' units are replaced).
    pub units: usize,
    /// Villager groups written (all groups are replaced when the input has any).
    pub groups: usize,
}

impl VillagePlanRecord {
    /// One village's plan from a partition run; its codes are the partitioner's proposals.
    pub fn from_partition(vp: &VillagePlan) -> VillagePlanRecord {
        let grids: Vec<GridRecord> = vp
            .grids
            .iter()
            .map(|g| GridRecord {
                code: g.code.to_string(),
                geometry: rings_to_multipolygon(&g.rings),
                label: Point::new(g.label[0], g.label[1]),
                figures: g.figures.clone(),
                color: Some(g.color),
            })
            .collect();
        let micro: Vec<MicroRecord> = vp
            .micro_grids
            .iter()
            .map(|m| MicroRecord {
                code: m.code.to_string(),
                grid_code: grids[m.grid].code.clone(),
                geometry: rings_to_multipolygon(&m.rings),
                label: Point::new(m.label[0], m.label[1]),
                figures: m.figures.clone(),
                kind: m.kind,
                stack: m.stack.clone(),
                color: Some(m.color),
            })
            .collect();
        let assignment = vp
            .assignment
            .iter()
            .map(|a| AssignmentRecord {
                kind: a.kind.to_string(),
                id: a.id.clone(),
                grid: a.grid.map(|g| grids[g].code.clone()),
                micro: a.micro.iter().map(|&m| micro[m].code.clone()).collect(),
            })
            .collect();
        VillagePlanRecord {
            village: vp.code.to_string(),
            grids,
            micro_grids: micro,
            assignment,
        }
    }
}

/// 64-bit FNV-1a, a stable key for a geometry's bytes.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a grid (or micro-grid) holds, for matching codes across versions: its buildings/units and
/// a key of its outline (so an empty grid drawn the same keeps its code).
fn members(code: &str, geometry: &MultiPolygon<f64>, items: Option<&BTreeSet<String>>) -> Member {
    let mut it: Vec<String> = items.into_iter().flatten().cloned().collect();
    let wkb = super::geom::to_wkb(&Geometry::MultiPolygon(geometry.clone()));
    it.push(format!("#outline:{:016x}", fnv(&wkb)));
    Member {
        code: code.to_string(),
        items: it,
    }
}

/// Items of each grid and of each micro-grid of a plan record.
fn items_of(
    rec: &VillagePlanRecord,
) -> (
    HashMap<String, BTreeSet<String>>,
    HashMap<String, BTreeSet<String>>,
) {
    let mut g: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut m: HashMap<String, BTreeSet<String>> = HashMap::new();
    for a in &rec.assignment {
        let key = format!("{}:{}", a.kind, a.id);
        if let Some(code) = &a.grid {
            g.entry(code.clone()).or_default().insert(key.clone());
        }
        for (i, mc) in a.micro.iter().enumerate() {
            // Parts of a split building are told apart by their order.
            m.entry(mc.clone())
                .or_default()
                .insert(format!("{key}#{i}"));
        }
    }
    (g, m)
}

impl Store {
    /// Imports a town's villages, buildings and barriers in one transaction. Villages are added or
    /// updated by code; each imported village's buildings replace those stored for it; barriers
    /// replace all stored barriers when the input has any. `progress(table, rows)` is called as
    /// rows are written.
    pub async fn import(
        &self,
        ds: &Dataset,
        progress: &mut (dyn FnMut(&str, usize) + Send),
    ) -> Result<Imported> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let out = self.import_in(&mut tx, ds, progress).await?;
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(out)
    }

    pub(crate) async fn import_in(
        &self,
        tx: &mut AnyConnection,
        ds: &Dataset,
        progress: &mut (dyn FnMut(&str, usize) + Send),
    ) -> Result<Imported> {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, v) in ds.villages.iter().enumerate() {
            if let Some(j) = first.insert(v.code.as_str(), i) {
                return Err(StoreError::Invalid {
                    what: format!(
                        "villages.geojson: feature #{i} (code {}): field `code`",
                        v.code
                    ),
                    why: format!("is also the code of feature #{j}: a village code is unique"),
                });
            }
        }
        let codes: BTreeSet<&str> = first.into_keys().collect();
        let elsewhere = self
            .ids_elsewhere(
                tx,
                "buildings",
                ds.buildings.iter().map(|b| b.id.as_str()),
                &codes,
            )
            .await?;
        for (i, b) in ds.buildings.iter().enumerate() {
            if let Some(v) = elsewhere.get(&b.id) {
                return Err(StoreError::Invalid {
                    what: format!("buildings.geojson: feature #{i} (id {}): field `id`", b.id),
                    why: format!("is already used by a building of village {v} in the store"),
                });
            }
        }
        let elsewhere = self
            .ids_elsewhere(tx, "units", ds.units.iter().map(|u| u.id.as_str()), &codes)
            .await?;
        for (i, u) in ds.units.iter().enumerate() {
            if let Some(v) = elsewhere.get(&u.id) {
                return Err(StoreError::Invalid {
                    what: format!("units.geojson: feature #{i} (id {}): field `id`", u.id),
                    why: format!("is already used by a unit of village {v} in the store"),
                });
            }
        }
        for v in &ds.villages {
            let town = &v.code.as_str()[..9];
            sqlx::query(
                "INSERT INTO towns (code, name) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING",
            )
            .bind(town.to_string())
            .bind(town.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            let sql = format!(
                "INSERT INTO villages (geom, code, town_code, name, mode) VALUES ({}, $2, $3, $4, $5) \
                 ON CONFLICT (code) DO UPDATE SET geom = excluded.geom, name = excluded.name, \
                 mode = excluded.mode",
                self.geom_param(1)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(self.encode_geom(&Geometry::MultiPolygon(v.boundary.clone())))
                .bind(v.code.to_string())
                .bind(town.to_string())
                .bind(v.name.clone())
                .bind(v.mode.as_str().to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            for sql in [
                "DELETE FROM building_footprints WHERE building_id IN \
                 (SELECT id FROM buildings WHERE village_code = $1)",
                "DELETE FROM buildings WHERE village_code = $1",
                "DELETE FROM units WHERE village_code = $1",
            ] {
                sqlx::query(sql)
                    .bind(v.code.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.db(e))?;
            }
        }
        // A bulk load (more new buildings than stored ones) drops the building indexes (spatial,
        // village, address keys) and builds them again after the rows are in: one sorted index
        // build is several times cheaper than growing the indexes row by row. Both are inside the
        // transaction, so a failure or a killed process leaves the indexes as they were.
        let bulk = ds.buildings.len() >= BULK_ROWS
            && ds.buildings.len() as i64 >= self.count_rows(tx, "buildings").await?;
        if bulk {
            for (name, _) in bulk_indexes(self.backend) {
                sqlx::query(AssertSqlSafe(format!("DROP INDEX {name}")))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.db(e))?;
            }
        }
        let village_code = |i: usize| ds.villages[i].code.to_string();
        // Each building's box, spatial key and address key (what the map service finds it by),
        // on every core.
        let keys: Vec<BuildingKeys> = {
            use rayon::prelude::*;
            ds.buildings
                .par_iter()
                .map(|b| {
                    BuildingKeys::new(
                        b.point,
                        b.footprint.as_ref(),
                        b.address.as_deref(),
                        ds.villages.get(b.village).map_or("", |v| v.name.as_str()),
                    )
                })
                .collect()
        };
        let span = keys.iter().map(BuildingKeys::span_nd).max().unwrap_or(0);
        let buildings = self
            .insert_many(
                tx,
                "buildings",
                &[
                    "geom",
                    "id",
                    "village_code",
                    "households",
                    "residents",
                    "kind",
                    "address",
                    "grp",
                    "staff",
                    "workshops",
                    "custom",
                    "cell",
                    "addr_core",
                    "addr_number",
                ],
                None,
                &mut ds.buildings.iter().zip(&keys).map(|(b, k)| {
                    vec![
                        Val::Geom(Geometry::Point(b.point)),
                        Val::Text(b.id.clone()),
                        Val::Text(village_code(b.village)),
                        Val::Int(b.households as i64),
                        Val::Int(b.residents as i64),
                        Val::Text(b.kind.as_str().to_string()),
                        Val::OptText(b.address.clone()),
                        Val::OptText(b.group.clone()),
                        Val::OptInt(b.staff.map(|s| s as i64)),
                        Val::OptInt(b.workshops.map(|s| s as i64)),
                        Val::OptReal(b.custom),
                        Val::Int(k.cell),
                        Val::OptText(k.core.clone()),
                        Val::OptInt(k.number),
                    ]
                }),
                &mut |n| progress("buildings", n),
            )
            .await?;
        self.insert_many(
            tx,
            "building_footprints",
            &["geom", "building_id"],
            None,
            &mut ds.buildings.iter().filter_map(|b| {
                let fp = b.footprint.as_ref()?;
                Some(vec![
                    Val::Geom(Geometry::MultiPolygon(fp.clone())),
                    Val::Text(b.id.clone()),
                ])
            }),
            &mut |n| progress("building_footprints", n),
        )
        .await?;
        if bulk {
            for (_, create) in bulk_indexes(self.backend) {
                sqlx::query(AssertSqlSafe(create))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.db(e))?;
            }
            if self.backend == Backend::Postgis {
                // fresh statistics, so the first queries after a bulk load use the new indexes
                sqlx::query("ANALYZE buildings, building_footprints")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.db(e))?;
            }
        }
        self.raise_building_span(tx, span).await?;
        let units = self
            .insert_many(
                tx,
                "units",
                &[
                    "geom",
                    "id",
                    "village_code",
                    "households",
                    "residents",
                    "custom",
                ],
                None,
                &mut ds.units.iter().map(|u| {
                    vec![
                        Val::Geom(Geometry::MultiPolygon(u.area.clone())),
                        Val::Text(u.id.clone()),
                        Val::Text(village_code(u.village)),
                        Val::Real(u.households),
                        Val::Real(u.residents),
                        Val::OptReal(u.custom),
                    ]
                }),
                &mut |n| progress("units", n),
            )
            .await?;
        // Villager groups are matched to faces by where they lie, not by village (a group may
        // reach over a village line): like barriers, an input with groups replaces them all.
        let mut groups = 0;
        if !ds.groups.is_empty() {
            sqlx::query("DELETE FROM villager_groups")
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            groups = self
                .insert_many(
                    tx,
                    "villager_groups",
                    &["geom", "name"],
                    None,
                    &mut ds.groups.iter().map(|g| {
                        vec![
                            Val::Geom(Geometry::MultiPolygon(g.area.clone())),
                            Val::Text(g.id.clone()),
                        ]
                    }),
                    &mut |n| progress("villager_groups", n),
                )
                .await?;
        }
        let mut barriers = 0;
        if !ds.barriers.is_empty() {
            sqlx::query("DELETE FROM barriers")
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            barriers = self
                .insert_many(
                    tx,
                    "barriers",
                    &["geom", "class", "name"],
                    None,
                    &mut ds.barriers.iter().map(|b| {
                        vec![
                            Val::Geom(Geometry::MultiLineString(MultiLineString::new(
                                b.lines.clone(),
                            ))),
                            Val::Text(b.class.as_str().to_string()),
                            Val::OptText(b.name.clone()),
                        ]
                    }),
                    &mut |n| progress("barriers", n),
                )
                .await?;
        }
        if self.backend == Backend::Gpkg {
            self.update_gpkg_extents(tx).await?;
        }
        sqlx::query("UPDATE store_state SET value = value + 1 WHERE key = 'data_revision'")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        Ok(Imported {
            units,
            groups,
            villages: ds.villages.len(),
            buildings,
            barriers,
        })
    }

    /// Of `ids` about to be imported into `table` (`buildings` or `units`), those already stored
    /// for a village not in `importing`, with that village: ids must stay unique across the store.
    /// One JSON parameter, looked up through the unique index on `id`.
    async fn ids_elsewhere(
        &self,
        tx: &mut AnyConnection,
        table: &str,
        ids: impl Iterator<Item = &str>,
        importing: &BTreeSet<&str>,
    ) -> Result<HashMap<String, String>> {
        let any_stored = sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {table} LIMIT 1")))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
            .is_some();
        if !any_stored {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = ids.collect();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, village_code FROM {table} WHERE id IN ({})",
            self.json_text_list(1)
        )))
        .bind(serde_json::to_string(&ids).expect("strings serialise"))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let mut elsewhere = HashMap::new();
        for r in rows {
            let v: String = r.try_get(1).map_err(|e| self.db(e))?;
            if !importing.contains(v.as_str()) {
                elsewhere.insert(r.try_get(0).map_err(|e| self.db(e))?, v);
            }
        }
        Ok(elsewhere)
    }

    /// The number of rows in `table`.
    async fn count_rows(&self, tx: &mut AnyConnection, table: &str) -> Result<i64> {
        sqlx::query(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.db(e))
    }

    /// Imports the dataset and saves the run's plans, all in one transaction: what
    /// `wangge partition --db` does.
    pub async fn save_run(
        &self,
        ds: &Dataset,
        plan: &Plan,
        meta: &PlanMeta,
        base: &Base,
        progress: &mut (dyn FnMut(&str, usize) + Send),
    ) -> Result<Vec<Saved>> {
        let recs: Vec<VillagePlanRecord> = plan
            .villages
            .iter()
            .map(VillagePlanRecord::from_partition)
            .collect();
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        self.import_in(&mut tx, ds, progress).await?;
        let mut saved = Vec::new();
        for r in &recs {
            saved.push(
                self.save_in(&mut tx, r, meta, base, true, CodeRule::Matched, progress)
                    .await?,
            );
        }
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(saved)
    }

    /// Saves plans as new versions (one per village) and activates them, in one transaction.
    /// Codes follow [`super::versioning`]: grids that are the same as before keep their codes.
    pub async fn save_plans(
        &self,
        plans: &[VillagePlanRecord],
        meta: &PlanMeta,
        base: &Base,
    ) -> Result<Vec<Saved>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let mut saved = Vec::new();
        for r in plans {
            saved.push(
                self.save_in(
                    &mut tx,
                    r,
                    meta,
                    base,
                    true,
                    CodeRule::Matched,
                    &mut |_, _| {},
                )
                .await?,
            );
        }
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(saved)
    }

    /// Locks the village against other writers and checks it is where the writer started from.
    /// Returns the active version.
    async fn lock_village(
        &self,
        tx: &mut AnyConnection,
        village: &str,
        base: &Base,
    ) -> Result<Option<i64>> {
        let lock = match self.backend {
            Backend::Gpkg => "SELECT code FROM villages WHERE code = $1",
            Backend::Postgis => "SELECT code FROM villages WHERE code = $1 FOR UPDATE",
        };
        let found = sqlx::query(lock)
            .bind(village.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        if found.is_none() {
            return Err(StoreError::Invalid {
                what: format!("plan of village {village}"),
                why: "the village is not in the store: import its boundary and buildings first"
                    .into(),
            });
        }
        let active = self.active_version_in(tx, village).await?;
        if let Some(expected) = base.0.get(village) {
            if *expected != active {
                let show =
                    |v: Option<i64>| v.map_or("none".to_string(), |v| format!("version {v}"));
                return Err(StoreError::Conflict {
                    village: village.to_string(),
                    base: show(*expected),
                    found: show(active),
                });
            }
        }
        Ok(active)
    }

    pub(crate) async fn active_version_in(
        &self,
        tx: &mut AnyConnection,
        village: &str,
    ) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT version FROM plans WHERE village_code = $1 AND active = 1")
            .bind(village.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        r.map(|r| r.try_get::<i64, _>(0))
            .transpose()
            .map_err(|e| self.db(e))
    }

    /// Saves one village's plan as a new version inside `tx`. With `activate` it becomes the
    /// active version (codes of the replaced one that it does not carry are retired); without, it
    /// is saved beside the active one, and its new codes are only reserved (issued, never handed
    /// out again, started when the version is activated).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn save_in(
        &self,
        tx: &mut AnyConnection,
        rec: &VillagePlanRecord,
        meta: &PlanMeta,
        base: &Base,
        activate: bool,
        rule: CodeRule,
        progress: &mut (dyn FnMut(&str, usize) + Send),
    ) -> Result<Saved> {
        let village = rec.village.as_str();
        let active = self.lock_village(tx, village, base).await?;
        let old = match active {
            Some(v) => Some(self.load_plan_in(tx, village, v).await?.1),
            None => None,
        };
        // Every code ever issued in this village; grid codes reserved by a version never activated.
        let rows =
            sqlx::query("SELECT code, level, started, ended FROM codes WHERE village_code = $1")
                .bind(village.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        let mut issued_grid = BTreeSet::new();
        let mut reserved_grid = BTreeSet::new();
        let mut issued_micro = BTreeSet::new();
        for r in rows {
            let code: String = r.try_get(0).map_err(|e| self.db(e))?;
            let level: String = r.try_get(1).map_err(|e| self.db(e))?;
            let started: Option<String> = r.try_get(2).map_err(|e| self.db(e))?;
            let ended: Option<String> = r.try_get(3).map_err(|e| self.db(e))?;
            if level == "grid" {
                if started.is_none() && ended.is_none() {
                    reserved_grid.insert(code.clone());
                }
                issued_grid.insert(code);
            } else {
                issued_micro.insert(code);
            }
        }
        // Grid codes: the same grid keeps its code.
        let (new_items, new_micro_items) = items_of(rec);
        let new_members: Vec<Member> = rec
            .grids
            .iter()
            .map(|g| members(&g.code, &g.geometry, new_items.get(&g.code)))
            .collect();
        let (old_members, old_micro_items) = match &old {
            Some(o) => {
                let (oi, omi) = items_of(o);
                let m = o
                    .grids
                    .iter()
                    .map(|g| members(&g.code, &g.geometry, oi.get(&g.code)))
                    .collect();
                (m, omi)
            }
            None => (Vec::new(), HashMap::new()),
        };
        let codes = match rule {
            CodeRule::Matched => recode(village, &new_members, &old_members, &issued_grid),
            CodeRule::Named => {
                let mut reusable = reserved_grid;
                reusable.extend(old_members.iter().map(|m| m.code.clone()));
                recode_named(village, &new_members, &reusable, &issued_grid)
            }
        }
        .map_err(|e| StoreError::Invalid {
            what: format!("plan of village {village}"),
            why: e.to_string(),
        })?;
        let grid_code: HashMap<&str, String> = rec
            .grids
            .iter()
            .zip(&codes)
            .map(|(g, c)| (g.code.as_str(), c.clone()))
            .collect();
        // Micro-grid codes, grid by grid.
        let mut micro_code: HashMap<&str, String> = HashMap::new();
        for g in &rec.grids {
            let gc = &grid_code[g.code.as_str()];
            let new_m: Vec<Member> = rec
                .micro_grids
                .iter()
                .filter(|m| m.grid_code == g.code)
                .map(|m| {
                    let proposed = format!("{gc}{}", &m.code[m.code.len().saturating_sub(3)..]);
                    members(&proposed, &m.geometry, new_micro_items.get(&m.code))
                })
                .collect();
            let old_m: Vec<Member> = old
                .iter()
                .flat_map(|o| o.micro_grids.iter())
                .filter(|m| &m.grid_code == gc)
                .map(|m| members(&m.code, &m.geometry, old_micro_items.get(&m.code)))
                .collect();
            let issued: BTreeSet<String> = issued_micro
                .iter()
                .filter(|c| c.starts_with(gc.as_str()))
                .cloned()
                .collect();
            let mc = recode(gc, &new_m, &old_m, &issued).map_err(|e| StoreError::Invalid {
                what: format!("plan of village {village}"),
                why: e.to_string(),
            })?;
            for (m, c) in rec
                .micro_grids
                .iter()
                .filter(|m| m.grid_code == g.code)
                .zip(mc)
            {
                micro_code.insert(m.code.as_str(), c);
            }
        }
        let colours = self
            .colours_in(tx, rec, &grid_code, &micro_code, old.as_ref())
            .await?;
        let version: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM plans WHERE village_code = $1")
                .bind(village.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.db(e))?
                .try_get(0)
                .map_err(|e| self.db(e))?;
        if activate {
            sqlx::query("UPDATE plans SET active = 0 WHERE village_code = $1 AND active = 1")
                .bind(village.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        let plan_fid: i64 = sqlx::query(
            "INSERT INTO plans (village_code, version, created_at, author, reason, params, active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING fid",
        )
        .bind(village.to_string())
        .bind(version)
        .bind(now())
        .bind(meta.author.clone())
        .bind(meta.reason.clone())
        .bind(meta.params.clone())
        .bind(i64::from(activate))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.conflict_or_db(e, village))?
        .try_get(0)
        .map_err(|e| self.db(e))?;
        let fig = |f: &crate::partition::Figures| {
            vec![
                Val::Real(f.weight),
                Val::Real(f.households),
                Val::Real(f.residents),
                Val::Real(f.area_m2),
                Val::Real(f.perimeter_m),
                Val::Real(f.polsby_popper),
                Val::Int(f.buildings as i64),
                Val::Int(f.units as i64),
            ]
        };
        const FIG: [&str; 8] = [
            "weight",
            "households",
            "residents",
            "area_m2",
            "perimeter_m",
            "polsby_popper",
            "buildings",
            "units",
        ];
        let mut cols = vec!["geom", "plan_fid", "code", "village_code"];
        cols.extend(FIG);
        cols.extend(["label_lon", "label_lat", "color"]);
        self.insert_many(
            tx,
            "grids",
            &cols,
            None,
            &mut rec.grids.iter().map(|g| {
                let mut v = vec![
                    Val::Geom(Geometry::MultiPolygon(g.geometry.clone())),
                    Val::Int(plan_fid),
                    Val::Text(grid_code[g.code.as_str()].clone()),
                    Val::Text(village.to_string()),
                ];
                v.extend(fig(&g.figures));
                v.extend([
                    Val::Real(g.label.x()),
                    Val::Real(g.label.y()),
                    Val::OptInt(colours.grid.get(&g.code).map(|&c| i64::from(c))),
                ]);
                v
            }),
            &mut |n| progress("grids", n),
        )
        .await?;
        let mut cols = vec!["geom", "plan_fid", "code", "grid_code", "kind"];
        cols.extend(FIG);
        cols.extend([
            "label_lon",
            "label_lat",
            "stack_building",
            "stack_part",
            "stack_of",
            "stack_units",
            "color",
        ]);
        self.insert_many(
            tx,
            "micro_grids",
            &cols,
            None,
            &mut rec.micro_grids.iter().map(|m| {
                let mut v = vec![
                    Val::Geom(Geometry::MultiPolygon(m.geometry.clone())),
                    Val::Int(plan_fid),
                    Val::Text(micro_code[m.code.as_str()].clone()),
                    Val::Text(grid_code[m.grid_code.as_str()].clone()),
                    Val::Text(m.kind.as_str().to_string()),
                ];
                v.extend(fig(&m.figures));
                v.extend([
                    Val::Real(m.label.x()),
                    Val::Real(m.label.y()),
                    Val::OptText(m.stack.as_ref().map(|s| s.building.clone())),
                    Val::OptInt(m.stack.as_ref().map(|s| s.part as i64)),
                    Val::OptInt(m.stack.as_ref().map(|s| s.of as i64)),
                    Val::OptText(m.stack.as_ref().map(|s| s.units.clone())),
                    Val::OptInt(colours.micro.get(&m.code).map(|&c| i64::from(c))),
                ]);
                v
            }),
            &mut |n| progress("micro_grids", n),
        )
        .await?;
        self.insert_many(
            tx,
            "assignments",
            &["plan_fid", "kind", "item_id", "grid_code", "micro_codes"],
            None,
            &mut rec.assignment.iter().map(|a| {
                vec![
                    Val::Int(plan_fid),
                    Val::Text(a.kind.clone()),
                    Val::Text(a.id.clone()),
                    Val::OptText(a.grid.as_ref().map(|g| grid_code[g.as_str()].clone())),
                    Val::Text(
                        a.micro
                            .iter()
                            .map(|m| micro_code[m.as_str()].as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                ]
            }),
            &mut |n| progress("assignments", n),
        )
        .await?;
        // The same rows packed in the plan's own row (schema migration 4): one row to read back.
        let packed: Vec<(&str, &str, Option<&str>, String)> = rec
            .assignment
            .iter()
            .map(|a| {
                (
                    a.kind.as_str(),
                    a.id.as_str(),
                    a.grid.as_ref().map(|g| grid_code[g.as_str()].as_str()),
                    a.micro
                        .iter()
                        .map(|m| micro_code[m.as_str()].as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })
            .collect();
        sqlx::query("UPDATE plans SET assignment_json = $1 WHERE fid = $2")
            .bind(serde_json::to_string(&packed).expect("strings serialise"))
            .bind(plan_fid)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        let new_codes: Vec<(String, &str)> = codes
            .iter()
            .map(|c| (c.clone(), "grid"))
            .chain(micro_code.values().map(|c| (c.clone(), "micro")))
            .collect();
        let old_codes: Vec<String> = old
            .iter()
            .flat_map(|o| {
                o.grids
                    .iter()
                    .map(|g| g.code.clone())
                    .chain(o.micro_grids.iter().map(|m| m.code.clone()))
            })
            .collect();
        let kept = codes
            .iter()
            .filter(|c| issued_grid.contains(c.as_str()))
            .count();
        let retired = if activate {
            self.switch_codes(tx, village, &old_codes, &new_codes)
                .await?
        } else {
            self.reserve_codes(tx, village, &new_codes).await?;
            0
        };
        Ok(Saved {
            village: village.to_string(),
            version,
            kept,
            issued: codes.len() - kept,
            retired,
            fifth_colour: colours.fifth,
        })
    }

    /// Ends the codes of the plan being replaced that the new one does not carry, and starts (or
    /// restarts, when an earlier version comes back) the new plan's codes. Returns how many grid
    /// codes were retired.
    async fn switch_codes(
        &self,
        tx: &mut AnyConnection,
        village: &str,
        old: &[String],
        new: &[(String, &str)],
    ) -> Result<usize> {
        let today = now();
        let new_set: HashSet<&str> = new.iter().map(|(c, _)| c.as_str()).collect();
        let mut retired = 0;
        for c in old.iter().filter(|c| !new_set.contains(c.as_str())) {
            sqlx::query("UPDATE codes SET ended = $1 WHERE code = $2")
                .bind(today.clone())
                .bind(c.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            retired += usize::from(c.len() == 15);
        }
        let mut sorted: Vec<&(String, &str)> = new.iter().collect();
        sorted.sort();
        self.insert_many(
            tx,
            "codes",
            &["code", "level", "village_code", "started"],
            Some(
                "ON CONFLICT (code) DO UPDATE SET ended = NULL, \
                 started = COALESCE(codes.started, excluded.started)",
            ),
            &mut sorted.into_iter().map(|(c, level)| {
                vec![
                    Val::Text(c.clone()),
                    Val::Text(level.to_string()),
                    Val::Text(village.to_string()),
                    Val::Text(today.clone()),
                ]
            }),
            &mut |_| {},
        )
        .await?;
        Ok(retired)
    }

    /// Registers the codes of a version saved without activating it, so that they are never handed
    /// out to another grid: issued, not yet started (`started` empty). Codes already known are
    /// left as they are.
    async fn reserve_codes(
        &self,
        tx: &mut AnyConnection,
        village: &str,
        new: &[(String, &str)],
    ) -> Result<()> {
        let sql = "INSERT INTO codes (code, level, village_code, started, ended) \
                   VALUES ($1, $2, $3, NULL, NULL) ON CONFLICT (code) DO NOTHING";
        let mut sorted: Vec<&(String, &str)> = new.iter().collect();
        sorted.sort();
        for (c, level) in sorted {
            sqlx::query(sql)
                .bind(c.clone())
                .bind(level.to_string())
                .bind(village.to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// Makes an earlier (or later) version of a village's plan the active one. `base` is the active
    /// version the caller saw; if another writer changed it meanwhile the call fails with a conflict.
    pub async fn activate(
        &self,
        village: &str,
        version: i64,
        base: Option<Option<i64>>,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        let mut b = Base::default();
        if let Some(v) = base {
            b.0.insert(village.to_string(), v);
        }
        let active = self.lock_village(&mut tx, village, &b).await?;
        let target = self.load_plan_in(&mut tx, village, version).await?.1;
        let old_codes: Vec<String> = match active {
            Some(v) => {
                let o = self.load_plan_in(&mut tx, village, v).await?.1;
                o.grids
                    .iter()
                    .map(|g| g.code.clone())
                    .chain(o.micro_grids.iter().map(|m| m.code.clone()))
                    .collect()
            }
            None => Vec::new(),
        };
        let new_codes: Vec<(String, &str)> = target
            .grids
            .iter()
            .map(|g| (g.code.clone(), "grid"))
            .chain(target.micro_grids.iter().map(|m| (m.code.clone(), "micro")))
            .collect();
        sqlx::query("UPDATE plans SET active = 0 WHERE village_code = $1 AND active = 1")
            .bind(village.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        sqlx::query("UPDATE plans SET active = 1 WHERE village_code = $1 AND version = $2")
            .bind(village.to_string())
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        self.switch_codes(&mut tx, village, &old_codes, &new_codes)
            .await?;
        self.recolour_in(&mut tx, village, version, &target).await?;
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Mends the colours of version `version` of `village`, now active, where they clash with its
    /// neighbours' active plans: its colours were chosen among the plans active when it was
    /// saved, and the neighbours may have changed since. A colour that clashes with nothing stays.
    async fn recolour_in(
        &self,
        tx: &mut AnyConnection,
        village: &str,
        version: i64,
        rec: &VillagePlanRecord,
    ) -> Result<()> {
        let grid_code: HashMap<&str, String> = rec
            .grids
            .iter()
            .map(|g| (g.code.as_str(), g.code.clone()))
            .collect();
        let micro_code: HashMap<&str, String> = rec
            .micro_grids
            .iter()
            .map(|m| (m.code.as_str(), m.code.clone()))
            .collect();
        let colours = self
            .colours_in(tx, rec, &grid_code, &micro_code, Some(rec))
            .await?;
        let changed =
            |table: &'static str, items: Vec<(&str, Option<u8>)>, new: &HashMap<String, u8>| {
                items
                    .into_iter()
                    .filter_map(|(code, old)| {
                        let c = *new.get(code)?;
                        (old != Some(c)).then(|| (table, code.to_string(), c))
                    })
                    .collect::<Vec<_>>()
            };
        let mut updates = changed(
            "grids",
            rec.grids
                .iter()
                .map(|g| (g.code.as_str(), g.color))
                .collect(),
            &colours.grid,
        );
        updates.extend(changed(
            "micro_grids",
            rec.micro_grids
                .iter()
                .map(|m| (m.code.as_str(), m.color))
                .collect(),
            &colours.micro,
        ));
        for (table, code, colour) in updates {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET color = $1 WHERE code = $2 AND plan_fid = \
                 (SELECT fid FROM plans WHERE village_code = $3 AND version = $4)"
            )))
            .bind(i64::from(colour))
            .bind(code)
            .bind(village.to_string())
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    /// Replaces the people responsible for grid `code` (an active code).
    pub async fn set_people(&self, code: &str, people: &[Person]) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        self.set_people_in(&mut tx, code, people).await?;
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Replaces the people of many grids at once (e.g. from a CSV), in one transaction.
    pub async fn set_people_many(&self, by_grid: &BTreeMap<String, Vec<Person>>) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = self.begin_write(&mut conn).await?;
        for (code, people) in by_grid {
            self.set_people_in(&mut tx, code, people).await?;
        }
        self.bump_revision(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    async fn set_people_in(
        &self,
        tx: &mut AnyConnection,
        code: &str,
        people: &[Person],
    ) -> Result<()> {
        let live =
            sqlx::query("SELECT started, ended FROM codes WHERE code = $1 AND level = 'grid'")
                .bind(code.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        match live {
            None => return Err(StoreError::NotFound(format!("grid {code}"))),
            Some(r) => {
                let started: Option<String> = r.try_get(0).map_err(|e| self.db(e))?;
                if started.is_none() {
                    return Err(StoreError::Invalid {
                        what: format!("grid {code}"),
                        why:
                            "is only in a plan version that was never activated; activate it first"
                                .into(),
                    });
                }
                let ended: Option<String> = r.try_get(1).map_err(|e| self.db(e))?;
                if let Some(e) = ended {
                    return Err(StoreError::Invalid {
                        what: format!("grid {code}"),
                        why: format!("was retired on {e}; assign people to an active grid"),
                    });
                }
            }
        }
        sqlx::query("DELETE FROM grid_people WHERE grid_code = $1")
            .bind(code.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        for p in people {
            sqlx::query(
                "INSERT INTO grid_people (grid_code, role, name, phone) VALUES ($1, $2, $3, $4)",
            )
            .bind(code.to_string())
            .bind(p.role.as_str().to_string())
            .bind(p.name.clone())
            .bind(p.phone.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        Ok(())
    }

    pub(crate) async fn bump_revision(&self, tx: &mut AnyConnection) -> Result<()> {
        sqlx::query("UPDATE store_state SET value = value + 1 WHERE key = 'revision'")
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// A unique violation on plan versions means another writer saved the same village first.
    fn conflict_or_db(&self, e: sqlx::Error, village: &str) -> StoreError {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return StoreError::Conflict {
                    village: village.to_string(),
                    base: "the version read before saving".into(),
                    found: "a newer version saved by another writer".into(),
                };
            }
        }
        self.db(e)
    }

    /// Keeps `gpkg_contents` extents and change times current, so QGIS zooms to the data.
    async fn update_gpkg_extents(&self, tx: &mut AnyConnection) -> Result<()> {
        let rows = sqlx::query("SELECT geom FROM villages")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        let mut ext: Option<[f64; 4]> = None;
        for r in rows {
            let g = self.row_geom(&r, "geom")?;
            if let Some(b) = geo::BoundingRect::bounding_rect(&g) {
                let e = ext.get_or_insert([b.min().x, b.min().y, b.max().x, b.max().y]);
                e[0] = e[0].min(b.min().x);
                e[1] = e[1].min(b.min().y);
                e[2] = e[2].max(b.max().x);
                e[3] = e[3].max(b.max().y);
            }
        }
        if let Some([a, b, c, d]) = ext {
            sqlx::query(
                "UPDATE gpkg_contents SET min_x = $1, min_y = $2, max_x = $3, max_y = $4, \
                 last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE data_type = 'features'",
            )
            .bind(a)
            .bind(b)
            .bind(c)
            .bind(d)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        Ok(())
    }
}
