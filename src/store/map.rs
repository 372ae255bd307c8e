//! What the map service reads (地图读取): the map without its buildings, what changed since the
//! map was last read, and buildings by area, village or address, from indexes, so the server
//! holds only what is small and hot.
//!
//! - [`Store::map_snapshot`]: villages, every village's active plan (grids and micro-grids with
//!   figures), the people of each grid, roads and rivers; no buildings.
//! - [`Store::map_changes`]: since a snapshot was read, nothing, the villages whose active plan
//!   changed (and every grid's people), or, after an import, the whole map again.
//! - [`Store::buildings_in`], [`Store::building_stream`]: buildings whose box meets an area (the
//!   spatial key of migration 3: a B-tree of cells of 1/256°, one key range per row of cells, then
//!   each found building's own box), or of a village, or all, with their grid and micro-grids
//!   under the active plans.
//! - [`Store::find_address`]: [`crate::address`]'s lookup over the indexed address cores and house
//!   numbers.
//!
//! Why a B-tree of cells rather than SQLite's R-tree for the GeoPackage: filled row by row, the
//! R-tree took 14 s for 900k buildings where the whole import takes about 5, while a B-tree index
//! built after a bulk load takes half a second. The GeoPackage R-tree extension (`rtree_<t>_<c>`)
//! would also need its triggers, which call SQL functions (`ST_IsEmpty`, …) no connection of ours
//! defines. One way for both backends keeps the two tested alike; PostGIS keeps its GiST indexes
//! for other tools.

use super::read::{GridRecord, MicroRecord, VillagePlanRecord};
use super::schema::{cell, cell_ranges};
use super::{Backend, Result, Store, StoreError};
use crate::address::{finish, key, normalize, Entry, Match, Query};
use crate::model::{
    Barrier, BarrierClass, BuildingKind, GridCode, MicroGridCode, Mode, VillageCode,
};
use crate::snapshot::{BuildingRecord, GridView, MicroView, Person, Snapshot, VillageView};
use futures_util::stream::BoxStream;
use futures_util::TryStreamExt;
use geo::{Geometry, Rect};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::HashMap;

/// What changed in the map since a snapshot was read.
#[derive(Debug)]
pub enum MapChanges {
    /// Nothing the map shows (the revision is the same).
    None,
    /// The base data was imported again: the whole map, read again.
    Reload(Snapshot),
    /// Plans activated or saved, people named: the new revision, the people of every active
    /// grid, and the villages whose active plan changed.
    Plans {
        /// The new revision.
        revision: i64,
        /// People per grid code.
        people: HashMap<String, Vec<Person>>,
        /// Villages whose active version changed, in snapshot order.
        villages: Vec<VillageChange>,
    },
}

/// A village whose active plan changed.
#[derive(Debug)]
pub struct VillageChange {
    /// Its index in the snapshot the changes were asked against.
    pub index: usize,
    /// Its new active version and that plan, or `None` when it has no active plan any more.
    pub plan: Option<(i64, VillagePlanRecord)>,
}

/// Which buildings a listing wants.
#[derive(Clone, Debug, Default)]
pub struct BuildingFilter {
    /// Only this village's (12-digit code).
    pub village: Option<String>,
    /// Only those whose box (point and footprint) meets this lon/lat box.
    pub bbox: Option<Rect<f64>>,
    /// Only those stored after this row (`fid` above it): where the page before ended.
    pub after: Option<u64>,
}

/// What an address lookup found in the store.
#[derive(Clone, Debug, Default)]
pub struct AddressFound {
    /// The best candidates with their scores, best first.
    pub candidates: Vec<(BuildingRecord, f64)>,
    /// Whether the first is surely the one.
    pub sure: bool,
}

/// How many rows the key backfill reads and writes at once.
const FILL_BATCH: i64 = 20_000;

/// A building's box, spatial key and address key, as the import and the backfill write them.
pub(crate) struct BuildingKeys {
    pub bbox: Rect<f64>,
    pub cell: i64,
    pub core: Option<String>,
    pub number: Option<i64>,
}

impl BuildingKeys {
    /// The keys of a building with this point, footprint and address in village `village_name`.
    pub fn new(
        point: geo::Point<f64>,
        footprint: Option<&geo::MultiPolygon<f64>>,
        address: Option<&str>,
        village_name: &str,
    ) -> BuildingKeys {
        let bbox = crate::snapshot::building_box(point, footprint);
        let k = address.and_then(|a| key(a, village_name));
        BuildingKeys {
            cell: cell(bbox.min().x, bbox.min().y),
            bbox,
            number: k
                .as_ref()
                .and_then(|k| k.number)
                .map(|n| n.min(i64::MAX as u64) as i64),
            core: k.map(|k| k.core),
        }
    }

    /// The larger side of the box, in nanodegrees, rounded up.
    pub fn span_nd(&self) -> i64 {
        (self.bbox.width().max(self.bbox.height()) * 1e9).ceil() as i64 + 1
    }
}

impl Store {
    /// What the map shows, without buildings: villages, active plans, people, barriers.
    pub async fn map_snapshot(&self) -> Result<Snapshot> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let s = self.map_snapshot_in(&mut tx).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(s)
    }

    /// [`Store::map_snapshot`] inside a transaction.
    pub(crate) async fn map_snapshot_in(&self, tx: &mut AnyConnection) -> Result<Snapshot> {
        let state = self.state_in(tx).await?;
        let villages = self.villages_in(tx).await?;
        let barriers = self.barriers_in(tx).await?;
        let active = self.active_in(tx).await?;
        let mut people = self.people_in(tx).await?;
        let mut snap = Snapshot {
            barriers,
            revision: state.0,
            data_revision: state.1,
            ..Snapshot::default()
        };
        for (vi, v) in villages.into_iter().enumerate() {
            let version = active.get(v.code.as_str()).copied();
            let plan = match version {
                Some(ver) => Some(self.load_plan_in(tx, v.code.as_str(), ver).await?.1),
                None => None,
            };
            snap.villages.push(VillageView {
                plan_version: version,
                ..v
            });
            if let Some(p) = plan {
                let (grids, micro) = plan_views(p, vi, &mut people)?;
                let g0 = snap.grids.len();
                snap.grids.extend(grids);
                snap.micro_grids.extend(micro.into_iter().map(|mut m| {
                    m.grid += g0;
                    m
                }));
            }
        }
        Ok(snap)
    }

    /// What changed since `seen` was read (see [`MapChanges`]); consistent (one transaction).
    pub async fn map_changes(&self, seen: &Snapshot) -> Result<MapChanges> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let (revision, data_revision) = self.state_in(&mut tx).await?;
        let out = if revision == seen.revision {
            MapChanges::None
        } else if data_revision != seen.data_revision {
            MapChanges::Reload(self.map_snapshot_in(&mut tx).await?)
        } else {
            let active = self.active_in(&mut tx).await?;
            let mut villages = Vec::new();
            for (i, v) in seen.villages.iter().enumerate() {
                let now = active.get(v.code.as_str()).copied();
                if now == v.plan_version {
                    continue;
                }
                let plan = match now {
                    Some(ver) => Some((
                        ver,
                        self.load_plan_in(&mut tx, v.code.as_str(), ver).await?.1,
                    )),
                    None => None,
                };
                villages.push(VillageChange { index: i, plan });
            }
            MapChanges::Plans {
                revision,
                people: self.people_in(&mut tx).await?,
                villages,
            }
        };
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(out)
    }

    /// (revision, data revision).
    async fn state_in(&self, tx: &mut AnyConnection) -> Result<(i64, i64)> {
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
        Ok((
            state.get("revision").copied().unwrap_or(0),
            state.get("data_revision").copied().unwrap_or(0),
        ))
    }

    /// The active version of every village that has one.
    async fn active_in(&self, tx: &mut AnyConnection) -> Result<HashMap<String, i64>> {
        let mut active = HashMap::new();
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
        Ok(active)
    }

    /// Villages in code order (no plan version set).
    pub(crate) async fn villages_in(&self, tx: &mut AnyConnection) -> Result<Vec<VillageView>> {
        let sql = format!(
            "SELECT code, name, mode, {} AS g FROM villages ORDER BY code",
            self.geom_out("geom")
        );
        let mut out = Vec::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
        {
            let code: String = r.try_get("code").map_err(|e| self.db(e))?;
            let mode: String = r.try_get("mode").map_err(|e| self.db(e))?;
            out.push(VillageView {
                boundary: self.multipolygon(&r, &format!("village {code}"))?,
                code: VillageCode::parse(&code).map_err(|e| StoreError::Invalid {
                    what: format!("village {code}: field `code`"),
                    why: e.to_string(),
                })?,
                name: r.try_get("name").map_err(|e| self.db(e))?,
                mode: Mode::parse(&mode).unwrap_or_default(),
                plan_version: None,
            });
        }
        Ok(out)
    }

    /// Roads, rivers and railways, in stored order.
    pub(crate) async fn barriers_in(&self, tx: &mut AnyConnection) -> Result<Vec<Barrier>> {
        let sql = format!(
            "SELECT class, name, {} AS g FROM barriers ORDER BY fid",
            self.geom_out("geom")
        );
        let mut out = Vec::new();
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.db(e))?
        {
            let class: String = r.try_get("class").map_err(|e| self.db(e))?;
            let lines = match self.row_geom(&r, "g")? {
                Geometry::MultiLineString(m) => m.0,
                Geometry::LineString(l) => vec![l],
                _ => Vec::new(),
            };
            out.push(Barrier {
                class: BarrierClass::parse(&class).unwrap_or(BarrierClass::MinorRoad),
                name: r.try_get("name").map_err(|e| self.db(e))?,
                lines,
            });
        }
        Ok(out)
    }

    /// The SELECT of buildings with their grid and micro-grids under the active plans, `from`
    /// naming the buildings `b`, filtered by `filter`, in row order.
    pub(crate) fn building_sql(&self, from: &str, filter: &str) -> String {
        // Each building's assignment is looked up by its key: PostgreSQL, left to choose, may
        // hash-join the whole assignments table (millions of rows) for a tile of a few thousand
        // buildings; LATERAL makes it one index lookup per building, as SQLite does anyway.
        let assignment = match self.backend {
            Backend::Gpkg => {
                "LEFT JOIN plans pl ON pl.village_code = b.village_code AND pl.active = 1 \
                 LEFT JOIN assignments a ON a.plan_fid = pl.fid AND a.kind = 'building' \
                 AND a.item_id = b.id"
            }
            Backend::Postgis => {
                "LEFT JOIN LATERAL (SELECT a.grid_code, a.micro_codes FROM plans pl \
                 JOIN assignments a ON a.plan_fid = pl.fid AND a.kind = 'building' \
                 AND a.item_id = b.id WHERE pl.village_code = b.village_code AND pl.active = 1 \
                 LIMIT 1) a ON true"
            }
        };
        format!(
            "SELECT b.fid AS fid, b.id AS id, b.village_code AS village_code, \
             b.households AS households, b.residents AS residents, b.kind AS kind, \
             b.address AS address, b.grp AS grp, b.staff AS staff, b.workshops AS workshops, \
             b.custom AS custom, a.grid_code AS grid_code, a.micro_codes AS micro_codes, \
             {p} AS p, {g} AS g FROM {from} \
             LEFT JOIN building_footprints f ON f.building_id = b.id \
             {assignment} WHERE {filter} ORDER BY b.fid",
            p = self.geom_out("b.geom"),
            g = self.geom_out("f.geom"),
        )
    }

    /// The FROM clause of buildings whose key lies in the ranges of JSON parameter `$1`.
    fn cells_from(&self) -> &'static str {
        match self.backend {
            Backend::Gpkg => {
                "json_each($1) r JOIN buildings b \
                 ON b.cell BETWEEN (r.value ->> 0) AND (r.value ->> 1)"
            }
            Backend::Postgis => {
                // OFFSET 0 keeps the subquery apart: one index range scan per row of cells
                "jsonb_array_elements($1::jsonb) r(v) CROSS JOIN LATERAL \
                 (SELECT * FROM buildings c WHERE c.cell BETWEEN (r.v ->> 0)::bigint \
                 AND (r.v ->> 1)::bigint OFFSET 0) b"
            }
        }
    }

    /// The SQL and JSON key ranges of the buildings of `filter` (`$1` ranges or village, then
    /// box corners and village).
    async fn filter_sql(
        &self,
        conn: &mut AnyConnection,
        filter: &BuildingFilter,
    ) -> Result<(String, Option<String>)> {
        match filter.bbox {
            Some(b) => {
                let span = self.building_span_in(conn).await?;
                let ranges = cell_ranges(b.min().x, b.min().y, b.max().x, b.max().y, span);
                let json = serde_json::to_string(&ranges).expect("ranges serialise");
                Ok((
                    self.building_sql(
                        self.cells_from(),
                        "($2 = '' OR b.village_code = $2) AND b.fid > $3",
                    ),
                    Some(json),
                ))
            }
            None => Ok((
                self.building_sql(
                    "buildings b",
                    "($1 = '' OR b.village_code = $1) AND b.fid > $2",
                ),
                None,
            )),
        }
    }

    /// The largest side of a building box, in degrees (what an area query reaches back by).
    async fn building_span_in(&self, conn: &mut AnyConnection) -> Result<f64> {
        let nd: Option<i64> =
            sqlx::query("SELECT value FROM store_state WHERE key = 'building_span_nd'")
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| self.db(e))?
                .map(|r| r.try_get(0))
                .transpose()
                .map_err(|e| self.db(e))?;
        Ok(nd.unwrap_or(0) as f64 / 1e9)
    }

    /// Buildings whose box (point and footprint) meets `bbox`, in row order, with their grid and
    /// micro-grids under the active plans.
    pub async fn buildings_in(&self, bbox: Rect<f64>) -> Result<Vec<BuildingRecord>> {
        self.buildings(&BuildingFilter {
            bbox: Some(bbox),
            ..BuildingFilter::default()
        })
        .await
    }

    /// The buildings of `filter`, all at once (see [`Store::building_stream`] for many).
    pub async fn buildings(&self, filter: &BuildingFilter) -> Result<Vec<BuildingRecord>> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        let (sql, ranges) = self.filter_sql(&mut conn, filter).await?;
        let rows = self
            .bind_filter(sqlx::query(AssertSqlSafe(sql)), filter, ranges)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let b = self.building_record(r)?;
            if meets(&b, filter) {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn bind_filter<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        filter: &BuildingFilter,
        ranges: Option<String>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        let village = filter.village.clone().unwrap_or_default();
        let after = filter.after.map_or(-1, |a| a as i64);
        match ranges {
            Some(json) => q.bind(json).bind(village).bind(after),
            None => q.bind(village).bind(after),
        }
    }

    /// The buildings of `filter` as a stream, read as they are sent (a whole town never sits in
    /// memory). Ends early when the stream is dropped; an error ends it.
    pub fn building_stream(
        &self,
        filter: BuildingFilter,
    ) -> BoxStream<'static, Result<BuildingRecord>> {
        let store = self.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<BuildingRecord>>(256);
        tokio::spawn(async move {
            let run = async {
                let mut conn = store.pool.acquire().await.map_err(|e| store.db(e))?;
                let (sql, ranges) = store.filter_sql(&mut conn, &filter).await?;
                let q = store.bind_filter(sqlx::query(AssertSqlSafe(sql)), &filter, ranges);
                let mut rows = q.fetch(&mut *conn);
                while let Some(r) = rows.try_next().await.map_err(|e| store.db(e))? {
                    let b = store.building_record(&r);
                    if b.as_ref().is_ok_and(|b| !meets(b, &filter)) {
                        continue;
                    }
                    if tx.send(b).await.is_err() {
                        break; // nobody listens any more
                    }
                }
                Ok::<(), StoreError>(())
            };
            if let Err(e) = run.await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|x| (x, rx))
        }))
    }

    /// How many buildings are stored.
    pub async fn building_count(&self) -> Result<u64> {
        sqlx::query("SELECT count(*) FROM buildings")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get::<i64, _>(0))
            .map(|n| n as u64)
            .map_err(|e| self.db(e))
    }

    /// Decodes a row of [`Store::building_sql`].
    pub(crate) fn building_record(&self, r: &AnyRow) -> Result<BuildingRecord> {
        let id: String = r.try_get("id").map_err(|e| self.db(e))?;
        let kind: String = r.try_get("kind").map_err(|e| self.db(e))?;
        let point = match self.row_geom(r, "p")? {
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
            Some(_) => Some(self.multipolygon(r, &format!("building {id} footprint"))?),
            None => None,
        };
        let count = |c: &str| {
            r.try_get::<Option<i64>, _>(c)
                .map(|v| v.map(|v| v as u64))
                .map_err(|e| self.db(e))
        };
        let micro: Option<String> = r.try_get("micro_codes").map_err(|e| self.db(e))?;
        Ok(BuildingRecord {
            fid: r.try_get::<i64, _>("fid").map_err(|e| self.db(e))? as u64,
            village_code: r.try_get("village_code").map_err(|e| self.db(e))?,
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
            grid_code: r.try_get("grid_code").map_err(|e| self.db(e))?,
            micro_codes: micro
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            id,
        })
    }

    /// Looks a loosely written address up ([`crate::address`]'s rules over the indexed address
    /// cores and first house numbers): exact matches of the query's ends, else the loose
    /// candidates sharing its first house number (or, without one, starting with a road it ends
    /// with).
    pub async fn find_address(&self, query: &str) -> Result<AddressFound> {
        let q = Query::new(query);
        if q.is_empty() {
            return Ok(AddressFound::default());
        }
        let mut conn = self.pool.acquire().await.map_err(|e| self.db(e))?;
        // the byte-order comparisons the PostgreSQL index is built for
        let c = match self.backend {
            Backend::Gpkg => "",
            Backend::Postgis => " COLLATE \"C\"",
        };
        let entries_from = |from: &str, cond: String| {
            format!(
                "SELECT b.fid AS fid, b.addr_core AS core, v.name AS vname FROM {from} \
                 JOIN villages v ON v.code = b.village_code WHERE {cond} ORDER BY b.fid"
            )
        };
        let entries_sql = |cond: String| entries_from("buildings b", cond);
        let mut names: HashMap<String, String> = HashMap::new();
        let mut entries = |rows: Vec<AnyRow>| -> Result<Vec<(usize, String, String)>> {
            rows.iter()
                .map(|r| {
                    let fid: i64 = r.try_get("fid").map_err(|e| self.db(e))?;
                    let core: String = r.try_get("core").map_err(|e| self.db(e))?;
                    let vname: String = r.try_get("vname").map_err(|e| self.db(e))?;
                    let norm = names
                        .entry(vname)
                        .or_insert_with_key(|n| normalize(n))
                        .clone();
                    Ok((fid as usize, core, norm))
                })
                .collect()
        };
        let mut found = Match::default();
        let cores = q.exact_cores();
        if !cores.is_empty() {
            // one index lookup per end of the query
            let from = match self.backend {
                Backend::Gpkg => "json_each($1) k JOIN buildings b ON b.addr_core = k.value",
                // OFFSET 0: one index lookup per end, never a scan of every building hashed
                Backend::Postgis => {
                    "jsonb_array_elements_text($1::jsonb) k(core) CROSS JOIN LATERAL \
                     (SELECT * FROM buildings c \
                     WHERE (c.addr_core COLLATE \"C\") = (k.core COLLATE \"C\") OFFSET 0) b"
                }
            };
            let rows = sqlx::query(AssertSqlSafe(entries_from(from, "true".into())))
                .bind(serde_json::to_string(&cores).expect("strings serialise"))
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| self.db(e))?;
            let es = entries(rows)?;
            let exact = q.exact(as_entries(&es));
            if !exact.is_empty() {
                found = finish(exact);
            }
        }
        if found.candidates.is_empty() {
            let pool = match q.number() {
                Some(n) => {
                    let rows =
                        sqlx::query(AssertSqlSafe(entries_sql("b.addr_number = $1".to_string())))
                            .bind(n.min(i64::MAX as u64) as i64)
                            .fetch_all(&mut *conn)
                            .await
                            .map_err(|e| self.db(e))?;
                    entries(rows)?
                }
                None => {
                    let mut all = Vec::new();
                    for p in q.road_prefixes() {
                        let cond =
                            format!("(b.addr_core{c}) >= ($1{c}) AND (b.addr_core{c}) < ($2{c})");
                        let rows = sqlx::query(AssertSqlSafe(entries_sql(cond)))
                            .bind(p.to_string())
                            .bind(format!("{p}\u{10FFFF}"))
                            .fetch_all(&mut *conn)
                            .await
                            .map_err(|e| self.db(e))?;
                        all.extend(entries(rows)?);
                    }
                    all.sort_by_key(|e| e.0);
                    all.dedup_by_key(|e| e.0);
                    all
                }
            };
            found = finish(q.loose(as_entries(&pool)));
        }
        if found.candidates.is_empty() {
            return Ok(AddressFound::default());
        }
        let fids: Vec<i64> = found.candidates.iter().map(|c| c.building as i64).collect();
        let cond = match self.backend {
            Backend::Gpkg => "b.fid IN (SELECT value FROM json_each($1))",
            Backend::Postgis => "b.fid IN (SELECT (jsonb_array_elements_text($1::jsonb))::bigint)",
        };
        let rows = sqlx::query(AssertSqlSafe(self.building_sql("buildings b", cond)))
            .bind(serde_json::to_string(&fids).expect("numbers serialise"))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.db(e))?;
        let mut by_fid: HashMap<u64, BuildingRecord> = HashMap::new();
        for r in &rows {
            let b = self.building_record(r)?;
            by_fid.insert(b.fid, b);
        }
        Ok(AddressFound {
            candidates: found
                .candidates
                .iter()
                .filter_map(|c| Some((by_fid.remove(&(c.building as u64))?, c.score)))
                .collect(),
            sure: found.sure,
        })
    }

    /// Fills migration 3's columns for the buildings already stored (boxes, spatial and address
    /// keys, the largest box), batch by batch.
    pub(crate) async fn fill_building_keys(&self, tx: &mut AnyConnection) -> Result<()> {
        let read = format!(
            "SELECT b.fid AS fid, b.address AS address, v.name AS vname, {p} AS p, {g} AS g \
             FROM buildings b LEFT JOIN villages v ON v.code = b.village_code \
             LEFT JOIN building_footprints f ON f.building_id = b.id \
             WHERE b.fid > $1 ORDER BY b.fid LIMIT {FILL_BATCH}",
            p = self.geom_out("b.geom"),
            g = self.geom_out("f.geom"),
        );
        let write = match self.backend {
            Backend::Gpkg => {
                "UPDATE buildings SET cell = j.value ->> 1, addr_core = j.value ->> 2, \
                 addr_number = j.value ->> 3 \
                 FROM json_each($1) j WHERE buildings.fid = j.value ->> 0"
            }
            Backend::Postgis => {
                "UPDATE buildings b SET cell = (r.v ->> 1)::bigint, addr_core = r.v ->> 2, \
                 addr_number = (r.v ->> 3)::bigint \
                 FROM jsonb_array_elements($1::jsonb) r(v) WHERE b.fid = (r.v ->> 0)::bigint"
            }
        };
        let (mut last, mut span) = (0i64, 0i64);
        loop {
            let rows = sqlx::query(AssertSqlSafe(read.clone()))
                .bind(last)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            let Some(r) = rows.last() else { break };
            last = r.try_get("fid").map_err(|e| self.db(e))?;
            let mut batch: Vec<serde_json::Value> = Vec::with_capacity(rows.len());
            for r in &rows {
                let fid: i64 = r.try_get("fid").map_err(|e| self.db(e))?;
                let point = match self.row_geom(r, "p")? {
                    Geometry::Point(p) => p,
                    _ => continue,
                };
                let fp: Option<Vec<u8>> = r.try_get("g").map_err(|e| self.db(e))?;
                let footprint = match fp {
                    Some(_) => Some(self.multipolygon(r, &format!("building row {fid}"))?),
                    None => None,
                };
                let address: Option<String> = r.try_get("address").map_err(|e| self.db(e))?;
                let vname: Option<String> = r.try_get("vname").map_err(|e| self.db(e))?;
                let k = BuildingKeys::new(
                    point,
                    footprint.as_ref(),
                    address.as_deref(),
                    vname.as_deref().unwrap_or(""),
                );
                span = span.max(k.span_nd());
                batch.push(serde_json::json!([fid, k.cell, k.core, k.number]));
            }
            sqlx::query(write)
                .bind(serde_json::Value::Array(batch).to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        self.raise_building_span(tx, span).await
    }

    /// Raises the largest building box on record to `span_nd` (never lowers it: a stale larger
    /// value only makes area queries look a little further).
    pub(crate) async fn raise_building_span(
        &self,
        tx: &mut AnyConnection,
        span_nd: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE store_state SET value = $1 WHERE key = 'building_span_nd' AND value < $1",
        )
        .bind(span_nd)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }
}

/// Whether a building the key cells found really meets the filter's box (its point and footprint).
fn meets(b: &BuildingRecord, filter: &BuildingFilter) -> bool {
    use geo::Intersects;
    filter.bbox.is_none_or(|r| r.intersects(&b.bbox()))
}

/// Entries to score from (row key, core, normalised village name) rows.
fn as_entries(v: &[(usize, String, String)]) -> Vec<Entry<'_>> {
    v.iter()
        .map(|(b, core, village)| Entry {
            building: *b,
            core,
            village,
        })
        .collect()
}

/// A village's plan as map views: grids with their people (taken from `people`), micro-grids
/// whose `grid` indexes the grids returned.
pub fn plan_views(
    p: VillagePlanRecord,
    village: usize,
    people: &mut HashMap<String, Vec<Person>>,
) -> Result<(Vec<GridView>, Vec<MicroView>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut grids = Vec::with_capacity(p.grids.len());
    for g in p.grids {
        let GridRecord {
            code,
            geometry,
            label,
            figures,
            color,
        } = g;
        index.insert(code.clone(), grids.len());
        grids.push(GridView {
            people: people.remove(&code).unwrap_or_default(),
            code: GridCode::parse(&code).map_err(|e| StoreError::Invalid {
                what: format!("grid {code}: field `code`"),
                why: e.to_string(),
            })?,
            village,
            geometry,
            label,
            figures,
            color,
        });
    }
    let mut micro = Vec::with_capacity(p.micro_grids.len());
    for m in p.micro_grids {
        let MicroRecord {
            code,
            grid_code,
            geometry,
            label,
            figures,
            kind,
            stack,
            color,
        } = m;
        let grid = *index.get(&grid_code).ok_or_else(|| StoreError::Invalid {
            what: format!("micro-grid {code}: field `grid_code`"),
            why: format!("grid {grid_code} is not in the plan"),
        })?;
        micro.push(MicroView {
            code: MicroGridCode::parse(&code).map_err(|e| StoreError::Invalid {
                what: format!("micro-grid {code}: field `code`"),
                why: e.to_string(),
            })?,
            grid,
            geometry,
            label,
            figures,
            kind,
            stack,
            color,
        });
    }
    Ok((grids, micro))
}
