//! Reads: plan versions and their contents, diffs, the map's snapshot, and the town's data back.

use super::{versioning, Backend, Base, PlanDiff, Result, Store, StoreError};
use crate::model::{Building, Dataset, Group, Unit, Village};
use crate::partition::{Figures, MicroKind, Stack};
use crate::snapshot::{BuildingRecord, BuildingView, Person, Role, Snapshot};
use geo::{Geometry, MultiPolygon, Point};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A plan version: who made it, when, why, and whether it is the active one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlanInfo {
    /// Village code.
    pub village: String,
    /// Version number, from 1.
    pub version: i64,
    /// When it was saved (RFC 3339, UTC).
    pub created_at: String,
    /// Who saved it.
    pub author: String,
    /// Why.
    pub reason: String,
    /// The options it was made with (JSON text).
    pub params: String,
    /// Whether it is the village's active plan.
    pub active: bool,
}

/// A grid as stored.
#[derive(Clone, Debug)]
pub struct GridRecord {
    /// 15-digit code.
    pub code: String,
    /// Outline.
    pub geometry: MultiPolygon<f64>,
    /// Label point inside.
    pub label: Point<f64>,
    /// Figures.
    pub figures: Figures,
    /// Map colour (an index into the palette), if one was given.
    pub color: Option<u8>,
}

/// A micro-grid as stored.
#[derive(Clone, Debug)]
pub struct MicroRecord {
    /// 18-digit code.
    pub code: String,
    /// Its grid's code.
    pub grid_code: String,
    /// Outline.
    pub geometry: MultiPolygon<f64>,
    /// Label point inside.
    pub label: Point<f64>,
    /// Figures.
    pub figures: Figures,
    /// What it is.
    pub kind: MicroKind,
    /// For parts of a split building or firm.
    pub stack: Option<Stack>,
    /// Map colour (an index into the palette), if one was given.
    pub color: Option<u8>,
}

/// Where a building or unit is in a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentRecord {
    /// `building` or `unit`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its grid's code.
    pub grid: Option<String>,
    /// Its micro-grids' codes.
    pub micro: Vec<String>,
}

/// One village's plan, as stored or about to be saved.
#[derive(Clone, Debug)]
pub struct VillagePlanRecord {
    /// Village code.
    pub village: String,
    /// Grids.
    pub grids: Vec<GridRecord>,
    /// Micro-grids.
    pub micro_grids: Vec<MicroRecord>,
    /// Buildings and units.
    pub assignment: Vec<AssignmentRecord>,
}

/// A plan version with its contents.
pub type PlanData = (PlanInfo, VillagePlanRecord);

const FIGS: &str = "weight, households, residents, area_m2, perimeter_m, polsby_popper, buildings, units, label_lon, label_lat";

impl Store {
    fn figures(&self, r: &AnyRow) -> Result<(Figures, Point<f64>)> {
        let f = |c: &str| r.try_get::<f64, _>(c).map_err(|e| self.db(e));
        let i = |c: &str| r.try_get::<i64, _>(c).map_err(|e| self.db(e));
        Ok((
            Figures {
                weight: f("weight")?,
                households: f("households")?,
                residents: f("residents")?,
                area_m2: f("area_m2")?,
                perimeter_m: f("perimeter_m")?,
                polsby_popper: f("polsby_popper")?,
                buildings: i("buildings")? as usize,
                units: i("units")? as usize,
            },
            Point::new(f("label_lon")?, f("label_lat")?),
        ))
    }

    /// The row's `color` (NULL for plans saved before migration 7).
    pub(crate) fn color(&self, r: &AnyRow) -> Result<Option<u8>> {
        let c: Option<i64> = r.try_get("color").map_err(|e| self.db(e))?;
        Ok(c.map(|c| c.clamp(0, 255) as u8))
    }

    pub(crate) fn multipolygon(&self, r: &AnyRow, what: &str) -> Result<MultiPolygon<f64>> {
        match self.row_geom(r, "g")? {
            Geometry::MultiPolygon(m) => Ok(m),
            Geometry::Polygon(p) => Ok(MultiPolygon::new(vec![p])),
            other => Err(StoreError::Invalid {
                what: what.to_string(),
                why: format!("geometry is not a polygon: {other:?}"),
            }),
        }
    }

    /// The plan versions of one village (or of all), oldest first.
    pub async fn plans(&self, village: Option<&str>) -> Result<Vec<PlanInfo>> {
        let rows = sqlx::query(
            "SELECT village_code, version, created_at, author, reason, params, active FROM plans \
             WHERE $1 = '' OR village_code = $1 ORDER BY village_code, version",
        )
        .bind(village.unwrap_or("").to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter().map(|r| self.plan_info(r)).collect()
    }

    fn plan_info(&self, r: &AnyRow) -> Result<PlanInfo> {
        let s = |c: &str| r.try_get::<String, _>(c).map_err(|e| self.db(e));
        Ok(PlanInfo {
            village: s("village_code")?,
            version: r.try_get("version").map_err(|e| self.db(e))?,
            created_at: s("created_at")?,
            author: s("author")?,
            reason: s("reason")?,
            params: s("params")?,
            active: r.try_get::<i64, _>("active").map_err(|e| self.db(e))? == 1,
        })
    }

    /// The active version of every village that has a plan: what a writer starts from.
    pub async fn active_versions(&self) -> Result<Base> {
        let rows = sqlx::query("SELECT village_code, version FROM plans WHERE active = 1")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let mut b = BTreeMap::new();
        for r in rows {
            b.insert(
                r.try_get::<String, _>(0).map_err(|e| self.db(e))?,
                Some(r.try_get::<i64, _>(1).map_err(|e| self.db(e))?),
            );
        }
        Ok(Base(b))
    }

    /// One plan version with its grids, micro-grids and assignment.
    pub async fn load_plan(&self, village: &str, version: i64) -> Result<PlanData> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        self.load_plan_in(&mut conn, village, version).await
    }

    /// The active plan of a village, if it has one.
    pub async fn active_plan(&self, village: &str) -> Result<Option<PlanData>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        match self.active_version_in(&mut conn, village).await? {
            Some(v) => Ok(Some(self.load_plan_in(&mut conn, village, v).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn load_plan_in(
        &self,
        conn: &mut AnyConnection,
        village: &str,
        version: i64,
    ) -> Result<PlanData> {
        let info = sqlx::query(
            "SELECT fid, village_code, version, created_at, author, reason, params, active, \
             assignment_json FROM plans WHERE village_code = $1 AND version = $2",
        )
        .bind(village.to_string())
        .bind(version)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.db(e))?
        .ok_or_else(|| {
            StoreError::NotFound(format!("plan version {version} of village {village}"))
        })?;
        let fid: i64 = info.try_get("fid").map_err(|e| self.db(e))?;
        let packed: Option<String> = info.try_get("assignment_json").map_err(|e| self.db(e))?;
        let info = self.plan_info(&info)?;
        let sql = format!(
            "SELECT code, color, {g} AS g, {FIGS} FROM grids WHERE plan_fid = $1 ORDER BY code",
            g = self.geom_out("geom")
        );
        let mut grids = Vec::new();
        for r in self.plan_rows(conn, sql, fid).await? {
            let code: String = r.try_get("code").map_err(|e| self.db(e))?;
            let (figures, label) = self.figures(&r)?;
            grids.push(GridRecord {
                geometry: self.multipolygon(&r, &format!("grid {code}"))?,
                color: self.color(&r)?,
                code,
                label,
                figures,
            });
        }
        let sql = format!(
            "SELECT code, grid_code, kind, stack_building, stack_part, stack_of, stack_units, \
             color, {g} AS g, {FIGS} FROM micro_grids WHERE plan_fid = $1 ORDER BY code",
            g = self.geom_out("geom")
        );
        let mut micro = Vec::new();
        for r in self.plan_rows(conn, sql, fid).await? {
            let code: String = r.try_get("code").map_err(|e| self.db(e))?;
            let kind: String = r.try_get("kind").map_err(|e| self.db(e))?;
            let (figures, label) = self.figures(&r)?;
            let sb: Option<String> = r.try_get("stack_building").map_err(|e| self.db(e))?;
            let stack = match sb {
                Some(building) => Some(Stack {
                    building,
                    part: r.try_get::<i64, _>("stack_part").map_err(|e| self.db(e))? as u32,
                    of: r.try_get::<i64, _>("stack_of").map_err(|e| self.db(e))? as u32,
                    units: r.try_get("stack_units").map_err(|e| self.db(e))?,
                }),
                None => None,
            };
            micro.push(MicroRecord {
                color: self.color(&r)?,
                geometry: self.multipolygon(&r, &format!("micro-grid {code}"))?,
                grid_code: r.try_get("grid_code").map_err(|e| self.db(e))?,
                kind: kind.parse::<MicroKind>().map_err(|_| StoreError::Invalid {
                    what: format!("micro-grid {code}: field `kind`"),
                    why: format!("unknown kind {kind:?}"),
                })?,
                code,
                label,
                figures,
                stack,
            });
        }
        // The assignment (thousands of rows) comes back as ONE value: packed when the plan was
        // saved (migration 4), else a JSON array the database builds from `assignments`, which is
        // several times cheaper than a row each through the driver.
        let json = match packed {
            Some(j) => Some(j),
            None => self.assignment_json(conn, fid).await?,
        };
        let items: Vec<(String, String, Option<String>, String)> = match json {
            Some(j) => serde_json::from_str(&j).map_err(|e| StoreError::Invalid {
                what: format!("assignment of plan version {version} of village {village}"),
                why: e.to_string(),
            })?,
            None => Vec::new(),
        };
        let assignment = items
            .into_iter()
            .map(|(kind, id, grid, m)| AssignmentRecord {
                kind,
                id,
                grid,
                micro: m.split_whitespace().map(str::to_string).collect(),
            })
            .collect();
        Ok((
            info,
            VillagePlanRecord {
                village: village.to_string(),
                grids,
                micro_grids: micro,
                assignment,
            },
        ))
    }

    /// A plan's assignment as one JSON array built by the database from `assignments` (plans saved
    /// before the packed copy existed).
    async fn assignment_json(&self, conn: &mut AnyConnection, fid: i64) -> Result<Option<String>> {
        let sql = match self.backend {
            Backend::Gpkg => {
                "SELECT json_group_array(json_array(kind, item_id, grid_code, micro_codes) \
                 ORDER BY fid) AS j FROM assignments WHERE plan_fid = $1"
            }
            Backend::Postgis => {
                "SELECT json_agg(json_build_array(kind, item_id, grid_code, micro_codes) \
                 ORDER BY fid)::text AS j FROM assignments WHERE plan_fid = $1"
            }
        };
        let rows = self.plan_rows(conn, sql.to_string(), fid).await?;
        match rows.first() {
            Some(r) => r.try_get("j").map_err(|e| self.db(e)),
            None => Ok(None),
        }
    }

    /// The rows `sql` (with `$1` = the plan's fid) selects.
    async fn plan_rows(
        &self,
        conn: &mut AnyConnection,
        sql: String,
        fid: i64,
    ) -> Result<Vec<AnyRow>> {
        sqlx::query(AssertSqlSafe(sql))
            .bind(fid)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))
    }

    /// What changed from version `a` to version `b` of a village's plan.
    pub async fn diff(&self, village: &str, a: i64, b: i64) -> Result<PlanDiff> {
        let pa = self.load_plan(village, a).await?.1;
        let pb = self.load_plan(village, b).await?.1;
        let shape = |p: &VillagePlanRecord| {
            let mut s = versioning::PlanShape::default();
            let mut members: HashMap<&str, Vec<String>> = HashMap::new();
            for x in &p.assignment {
                if let Some(g) = &x.grid {
                    members
                        .entry(g.as_str())
                        .or_default()
                        .push(format!("{}:{}", x.kind, x.id));
                }
                s.items
                    .insert((x.kind.clone(), x.id.clone()), x.grid.clone());
            }
            for g in &p.grids {
                let mut m = members.remove(g.code.as_str()).unwrap_or_default();
                m.sort();
                let wkb = super::geom::to_wkb(&Geometry::MultiPolygon(g.geometry.clone()));
                s.grids.insert(g.code.clone(), (wkb, m));
            }
            s
        };
        Ok(versioning::diff(village, a, &shape(&pa), b, &shape(&pb)))
    }

    /// A number that changes whenever anything the map shows changes.
    pub async fn revision(&self) -> Result<i64> {
        sqlx::query("SELECT value FROM store_state WHERE key = 'revision'")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.db(e))
    }

    /// The town's data as stored (villages, buildings with footprints, barriers).
    pub async fn dataset(&self) -> Result<Dataset> {
        self.dataset_where(None).await
    }

    /// The town's data restricted to the villages coded `villages` (those of them in the store):
    /// their boundaries, buildings and units, and every barrier. What editing a few villages
    /// reads, instead of the whole town.
    pub async fn dataset_of(&self, villages: &BTreeSet<String>) -> Result<Dataset> {
        self.dataset_where(Some(villages)).await
    }

    async fn dataset_where(&self, only: Option<&BTreeSet<String>>) -> Result<Dataset> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let villages: Vec<Village> = self
            .villages_in(&mut tx)
            .await?
            .into_iter()
            .filter(|v| only.is_none_or(|o| o.contains(v.code.as_str())))
            .map(|v| Village {
                code: v.code,
                name: v.name,
                mode: v.mode,
                boundary: v.boundary,
            })
            .collect();
        let vidx: HashMap<String, usize> = villages
            .iter()
            .enumerate()
            .map(|(i, v)| (v.code.to_string(), i))
            .collect();
        let buildings = self
            .buildings_of(&mut tx, only)
            .await?
            .iter()
            .map(|b| {
                Ok(b.to_building(*vidx.get(&b.village_code).ok_or_else(|| {
                    StoreError::Invalid {
                        what: format!("building {}: field `village_code`", b.id),
                        why: format!("village {} is not in the store", b.village_code),
                    }
                })?))
            })
            .collect::<Result<Vec<Building>>>()?;
        let barriers = self.barriers_in(&mut tx).await?;
        let (units, groups) = self.units_and_groups(&mut tx, &vidx, only).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(Dataset {
            villages,
            buildings,
            units,
            groups,
            barriers,
        })
    }

    /// The stored units (their village an index into `villages`) and villager groups.
    async fn units_and_groups(
        &self,
        conn: &mut AnyConnection,
        vidx: &HashMap<String, usize>,
        only: Option<&BTreeSet<String>>,
    ) -> Result<(Vec<Unit>, Vec<Group>)> {
        let sql = format!(
            "SELECT id, village_code, households, residents, custom, {} AS g FROM units \
             WHERE {} ORDER BY fid",
            self.geom_out("geom"),
            self.village_filter("village_code", only)
        );
        let mut units = Vec::new();
        for r in Self::bind_villages(sqlx::query(AssertSqlSafe(sql)), only)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
        {
            let id: String = r.try_get("id").map_err(|e| self.db(e))?;
            let v: String = r.try_get("village_code").map_err(|e| self.db(e))?;
            units.push(Unit {
                area: self.multipolygon(&r, &format!("unit {id}"))?,
                village: *vidx.get(v.as_str()).ok_or_else(|| StoreError::Invalid {
                    what: format!("unit {id}: field `village_code`"),
                    why: format!("village {v} is not in the store"),
                })?,
                households: r.try_get("households").map_err(|e| self.db(e))?,
                residents: r.try_get("residents").map_err(|e| self.db(e))?,
                custom: r.try_get("custom").map_err(|e| self.db(e))?,
                id,
            });
        }
        let sql = format!(
            "SELECT name, {} AS g FROM villager_groups ORDER BY fid",
            self.geom_out("geom")
        );
        let mut groups = Vec::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
        {
            let id: String = r.try_get("name").map_err(|e| self.db(e))?;
            groups.push(Group {
                area: self.multipolygon(&r, &format!("villager group {id}"))?,
                id,
            });
        }
        Ok((units, groups))
    }

    /// The buildings of the villages coded `only` (all if `None`) with their grid and micro-grids
    /// under the active plans, in row order.
    async fn buildings_of(
        &self,
        conn: &mut AnyConnection,
        only: Option<&BTreeSet<String>>,
    ) -> Result<Vec<BuildingRecord>> {
        let sql = self.building_sql("buildings b", &self.village_filter("b.village_code", only));
        Self::bind_villages(sqlx::query(AssertSqlSafe(sql)), only)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
            .iter()
            .map(|r| self.building_record(r))
            .collect()
    }

    /// The condition that `col` is one of the village codes `only` binds as `$1` (see
    /// [`Store::bind_villages`]), or `true` for every village.
    fn village_filter(&self, col: &str, only: Option<&BTreeSet<String>>) -> String {
        match only {
            None => "true".to_string(),
            Some(_) => format!("{col} IN ({})", self.json_text_list(1)),
        }
    }

    /// Binds the village codes of [`Store::village_filter`] (nothing for every village).
    fn bind_villages<'q>(
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        only: Option<&BTreeSet<String>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        match only {
            None => q,
            Some(o) => q.bind(serde_json::to_string(o).expect("strings serialise")),
        }
    }

    /// The people responsible for each grid, by grid code.
    pub async fn people(&self) -> Result<HashMap<String, Vec<Person>>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        self.people_in(&mut conn).await
    }

    pub(crate) async fn people_in(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<HashMap<String, Vec<Person>>> {
        let mut people: HashMap<String, Vec<Person>> = HashMap::new();
        for r in sqlx::query(
            "SELECT grid_code, role, name, phone FROM grid_people ORDER BY grid_code, role, name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| self.db(e))?
        {
            let role: String = r.try_get("role").map_err(|e| self.db(e))?;
            people
                .entry(r.try_get("grid_code").map_err(|e| self.db(e))?)
                .or_default()
                .push(Person {
                    role: Role::parse(&role).unwrap_or(Role::GridWorker),
                    name: r.try_get("name").map_err(|e| self.db(e))?,
                    phone: r.try_get("phone").map_err(|e| self.db(e))?,
                });
        }
        Ok(people)
    }

    /// What the map shows with every building in it: every village's active plan, the people of
    /// each grid, buildings (with their grid and micro-grids) and barriers, read in one
    /// transaction. For the command line; the map service reads the map without its buildings
    /// ([`Store::map_snapshot`]) and asks for buildings by area or key.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let mut snap = self.map_snapshot_in(&mut tx).await?;
        let records = self.buildings_of(&mut tx, None).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        let vidx: HashMap<&str, usize> = snap
            .villages
            .iter()
            .enumerate()
            .map(|(i, v)| (v.code.as_str(), i))
            .collect();
        let gidx: HashMap<&str, usize> = snap
            .grids
            .iter()
            .enumerate()
            .map(|(i, g)| (g.code.as_str(), i))
            .collect();
        let midx: HashMap<&str, usize> = snap
            .micro_grids
            .iter()
            .enumerate()
            .map(|(i, m)| (m.code.as_str(), i))
            .collect();
        let mut buildings = Vec::with_capacity(records.len());
        for b in &records {
            let village =
                *vidx
                    .get(b.village_code.as_str())
                    .ok_or_else(|| StoreError::Invalid {
                        what: format!("building {}: field `village_code`", b.id),
                        why: format!("village {} is not in the store", b.village_code),
                    })?;
            buildings.push(BuildingView {
                grid: b.grid_code.as_deref().and_then(|g| gidx.get(g).copied()),
                micro: b
                    .micro_codes
                    .iter()
                    .filter_map(|m| midx.get(m.as_str()).copied())
                    .collect(),
                building: b.to_building(village),
            });
        }
        snap.buildings = buildings;
        Ok(snap)
    }
}
