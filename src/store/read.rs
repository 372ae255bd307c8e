//! Reads: plan versions and their contents, diffs, the map's snapshot, and the town's data back.

use super::write::parse_micro_kind;
use super::{versioning, Backend, Base, PlanDiff, Result, Store, StoreError};
use crate::model::{
    Barrier, BarrierClass, Building, BuildingKind, Dataset, GridCode, Group, MicroGridCode, Mode,
    Unit, Village, VillageCode,
};
use crate::partition::{Figures, MicroKind, Stack};
use crate::snapshot::{BuildingView, GridView, MicroView, Person, Role, Snapshot, VillageView};
use geo::{Geometry, MultiPolygon, Point};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, HashMap};

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

    fn multipolygon(&self, r: &AnyRow, what: &str) -> Result<MultiPolygon<f64>> {
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
            "SELECT code, {g} AS g, {FIGS} FROM grids WHERE plan_fid = $1 ORDER BY code",
            g = self.geom_out("geom")
        );
        let mut grids = Vec::new();
        for r in self.plan_rows(conn, sql, fid).await? {
            let code: String = r.try_get("code").map_err(|e| self.db(e))?;
            let (figures, label) = self.figures(&r)?;
            grids.push(GridRecord {
                geometry: self.multipolygon(&r, &format!("grid {code}"))?,
                code,
                label,
                figures,
            });
        }
        let sql = format!(
            "SELECT code, grid_code, kind, stack_building, stack_part, stack_of, stack_units, \
             {g} AS g, {FIGS} FROM micro_grids WHERE plan_fid = $1 ORDER BY code",
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
                geometry: self.multipolygon(&r, &format!("micro-grid {code}"))?,
                grid_code: r.try_get("grid_code").map_err(|e| self.db(e))?,
                kind: parse_micro_kind(&kind).ok_or_else(|| StoreError::Invalid {
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
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let (villages, buildings, barriers) = self.base_layers(&mut conn).await?;
        let (units, groups) = self.units_and_groups(&mut conn, &villages).await?;
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
        villages: &[Village],
    ) -> Result<(Vec<Unit>, Vec<Group>)> {
        let vidx: HashMap<&str, usize> = villages
            .iter()
            .enumerate()
            .map(|(i, v)| (v.code.as_str(), i))
            .collect();
        let sql = format!(
            "SELECT id, village_code, households, residents, custom, {} AS g FROM units ORDER BY fid",
            self.geom_out("geom")
        );
        let mut units = Vec::new();
        for r in sqlx::query(AssertSqlSafe(sql))
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

    async fn base_layers(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<(Vec<Village>, Vec<Building>, Vec<Barrier>)> {
        let sql = format!(
            "SELECT code, name, mode, {} AS g FROM villages ORDER BY code",
            self.geom_out("geom")
        );
        let mut villages = Vec::new();
        let mut vidx: HashMap<String, usize> = HashMap::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
        {
            let code: String = r.try_get("code").map_err(|e| self.db(e))?;
            let mode: String = r.try_get("mode").map_err(|e| self.db(e))?;
            vidx.insert(code.clone(), villages.len());
            villages.push(Village {
                boundary: self.multipolygon(&r, &format!("village {code}"))?,
                code: VillageCode::parse(&code).map_err(|e| StoreError::Invalid {
                    what: format!("village {code}: field `code`"),
                    why: e.to_string(),
                })?,
                name: r.try_get("name").map_err(|e| self.db(e))?,
                mode: Mode::parse(&mode).unwrap_or_default(),
            });
        }
        let sql = format!(
            "SELECT b.id, b.village_code, b.households, b.residents, b.kind, b.address, b.grp, \
             b.staff, b.workshops, b.custom, {} AS p, {} AS g FROM buildings b \
             LEFT JOIN building_footprints f ON f.building_id = b.id ORDER BY b.fid",
            self.geom_out("b.geom"),
            self.geom_out("f.geom")
        );
        let mut buildings = Vec::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
        {
            let id: String = r.try_get("id").map_err(|e| self.db(e))?;
            let v: String = r.try_get("village_code").map_err(|e| self.db(e))?;
            let kind: String = r.try_get("kind").map_err(|e| self.db(e))?;
            let point = match self.row_geom(&r, "p")? {
                Geometry::Point(p) => p,
                _ => {
                    return Err(StoreError::Invalid {
                        what: format!("building {id}"),
                        why: "geometry is not a point".into(),
                    })
                }
            };
            let fp: Option<Vec<u8>> = r.try_get("g").map_err(|e| self.db(e))?;
            let footprint = match fp {
                Some(_) => Some(self.multipolygon(&r, &format!("building {id} footprint"))?),
                None => None,
            };
            let count = |c: &str| {
                r.try_get::<Option<i64>, _>(c)
                    .map(|v| v.map(|v| v as u64))
                    .map_err(|e| self.db(e))
            };
            buildings.push(Building {
                village: *vidx.get(&v).ok_or_else(|| StoreError::Invalid {
                    what: format!("building {id}: field `village_code`"),
                    why: format!("village {v} is not in the store"),
                })?,
                point,
                footprint,
                households: count("households")?.unwrap_or(0),
                residents: count("residents")?.unwrap_or(0),
                kind: BuildingKind::parse(&kind).unwrap_or(BuildingKind::Residential),
                address: r.try_get("address").map_err(|e| self.db(e))?,
                group: r.try_get("grp").map_err(|e| self.db(e))?,
                staff: count("staff")?,
                workshops: count("workshops")?,
                custom: r.try_get("custom").map_err(|e| self.db(e))?,
                id,
            });
        }
        let sql = format!(
            "SELECT class, name, {} AS g FROM barriers ORDER BY fid",
            self.geom_out("geom")
        );
        let mut barriers = Vec::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?
        {
            let class: String = r.try_get("class").map_err(|e| self.db(e))?;
            let lines = match self.row_geom(&r, "g")? {
                Geometry::MultiLineString(m) => m.0,
                Geometry::LineString(l) => vec![l],
                _ => Vec::new(),
            };
            barriers.push(Barrier {
                class: BarrierClass::parse(&class).unwrap_or(BarrierClass::MinorRoad),
                name: r.try_get("name").map_err(|e| self.db(e))?,
                lines,
            });
        }
        Ok((villages, buildings, barriers))
    }

    /// The people responsible for each grid, by grid code.
    pub async fn people(&self) -> Result<HashMap<String, Vec<Person>>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        self.people_in(&mut conn).await
    }

    async fn people_in(&self, conn: &mut AnyConnection) -> Result<HashMap<String, Vec<Person>>> {
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

    /// What the map shows: every village's active plan, the people of each grid, buildings and
    /// barriers. Read in one transaction, so it is consistent.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        self.snapshot_after(None).await
    }

    /// The snapshot now, reusing what has not changed since `prev`: the villages, buildings and
    /// barriers unless they were imported again, and each village's plan unless its active version
    /// changed. Activating one village's plan then reads that one plan, not the whole town.
    pub async fn snapshot_after(&self, prev: Option<&Snapshot>) -> Result<Snapshot> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let mut state: HashMap<String, i64> = HashMap::new();
        for r in sqlx::query("SELECT key, value FROM store_state")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
        {
            state.insert(
                r.try_get(0).map_err(|e| self.db(e))?,
                r.try_get(1).map_err(|e| self.db(e))?,
            );
        }
        let revision = state.get("revision").copied().unwrap_or(0);
        let data_revision = state.get("data_revision").copied().unwrap_or(0);
        let prev = prev.filter(|p| p.data_revision == data_revision && data_revision > 0);
        let (villages, buildings, barriers) = match prev {
            Some(p) => (
                p.villages
                    .iter()
                    .map(|v| Village {
                        code: v.code.clone(),
                        name: v.name.clone(),
                        mode: v.mode,
                        boundary: v.boundary.clone(),
                    })
                    .collect(),
                p.buildings.iter().map(|b| b.building.clone()).collect(),
                p.barriers.clone(),
            ),
            None => self.base_layers(&mut tx).await?,
        };
        let mut snap = Snapshot {
            barriers,
            revision,
            data_revision,
            ..Snapshot::default()
        };
        let mut people = self.people_in(&mut tx).await?;
        let mut active: HashMap<String, i64> = HashMap::new();
        for r in sqlx::query("SELECT village_code, version FROM plans WHERE active = 1")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
        {
            active.insert(
                r.try_get(0).map_err(|e| self.db(e))?,
                r.try_get(1).map_err(|e| self.db(e))?,
            );
        }
        // The previous snapshot's plans, per village code, as records to reuse.
        let mut reuse: HashMap<&str, (i64, VillagePlanRecord)> = HashMap::new();
        if let Some(p) = prev {
            for v in &p.villages {
                if let Some(ver) = v.plan_version {
                    reuse.insert(
                        v.code.as_str(),
                        (
                            ver,
                            VillagePlanRecord {
                                village: v.code.to_string(),
                                grids: Vec::new(),
                                micro_grids: Vec::new(),
                                assignment: Vec::new(),
                            },
                        ),
                    );
                }
            }
            for g in &p.grids {
                if let Some((_, r)) = reuse.get_mut(p.villages[g.village].code.as_str()) {
                    r.grids.push(GridRecord {
                        code: g.code.to_string(),
                        geometry: g.geometry.clone(),
                        label: g.label,
                        figures: g.figures.clone(),
                    });
                }
            }
            for m in &p.micro_grids {
                let g = &p.grids[m.grid];
                if let Some((_, r)) = reuse.get_mut(p.villages[g.village].code.as_str()) {
                    r.micro_grids.push(MicroRecord {
                        code: m.code.to_string(),
                        grid_code: g.code.to_string(),
                        geometry: m.geometry.clone(),
                        label: m.label,
                        figures: m.figures.clone(),
                        kind: m.kind,
                        stack: m.stack.clone(),
                    });
                }
            }
            for b in &p.buildings {
                let Some(gi) = b.grid else { continue };
                let g = &p.grids[gi];
                if let Some((_, r)) = reuse.get_mut(p.villages[g.village].code.as_str()) {
                    r.assignment.push(AssignmentRecord {
                        kind: "building".into(),
                        id: b.building.id.clone(),
                        grid: Some(g.code.to_string()),
                        micro: b
                            .micro
                            .iter()
                            .map(|&m| p.micro_grids[m].code.to_string())
                            .collect(),
                    });
                }
            }
        }
        let mut grid_idx: HashMap<String, usize> = HashMap::new();
        let mut micro_idx: HashMap<String, usize> = HashMap::new();
        let mut assigned: HashMap<String, (Option<String>, Vec<String>)> = HashMap::new();
        for (vi, v) in villages.into_iter().enumerate() {
            let version = active.get(v.code.as_str()).copied();
            snap.villages.push(VillageView {
                code: v.code.clone(),
                name: v.name,
                mode: v.mode,
                boundary: v.boundary,
                plan_version: version,
            });
            let Some(version) = version else { continue };
            let p = match reuse.remove(v.code.as_str()) {
                Some((ver, rec)) if ver == version => rec,
                _ => {
                    self.load_plan_in(&mut tx, v.code.as_str(), version)
                        .await?
                        .1
                }
            };
            for g in p.grids {
                grid_idx.insert(g.code.clone(), snap.grids.len());
                snap.grids.push(GridView {
                    people: people.remove(&g.code).unwrap_or_default(),
                    code: grid_code(&g.code)?,
                    village: vi,
                    geometry: g.geometry,
                    label: g.label,
                    figures: g.figures,
                });
            }
            for m in p.micro_grids {
                micro_idx.insert(m.code.clone(), snap.micro_grids.len());
                let grid = *grid_idx
                    .get(&m.grid_code)
                    .ok_or_else(|| StoreError::Invalid {
                        what: format!("micro-grid {}: field `grid_code`", m.code),
                        why: format!("grid {} is not in the plan", m.grid_code),
                    })?;
                snap.micro_grids.push(MicroView {
                    code: micro_code(&m.code)?,
                    grid,
                    geometry: m.geometry,
                    label: m.label,
                    figures: m.figures,
                    kind: m.kind,
                    stack: m.stack,
                });
            }
            for a in p.assignment.into_iter().filter(|a| a.kind == "building") {
                assigned.insert(a.id, (a.grid, a.micro));
            }
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        snap.buildings = buildings
            .into_iter()
            .map(|b| {
                let (grid, micro) = assigned.remove(&b.id).unwrap_or_default();
                BuildingView {
                    grid: grid.and_then(|g| grid_idx.get(&g).copied()),
                    micro: micro
                        .iter()
                        .filter_map(|m| micro_idx.get(m).copied())
                        .collect(),
                    building: b,
                }
            })
            .collect();
        Ok(snap)
    }
}

fn grid_code(s: &str) -> Result<GridCode> {
    GridCode::parse(s).map_err(|e| StoreError::Invalid {
        what: format!("grid {s}: field `code`"),
        why: e.to_string(),
    })
}

fn micro_code(s: &str) -> Result<MicroGridCode> {
    MicroGridCode::parse(s).map_err(|e| StoreError::Invalid {
        what: format!("micro-grid {s}: field `code`"),
        why: e.to_string(),
    })
}
