//! The schema, the same tables on both backends, and its migrations.
//!
//! One DDL template is rendered for each backend: `{pk}`, `{int}`, `{real}` become SQLite or
//! PostgreSQL types, and `{geom:TYPE}` becomes a GeoPackage geometry column (`geom MULTIPOLYGON`,
//! registered in `gpkg_geometry_columns`) or a PostGIS one (`geometry(MultiPolygon, 4326)` with a
//! GiST index). Migrations are numbered and applied once each, in a transaction, recorded in
//! `wangge_migrations`.

use super::Backend;

/// A table and how it is registered in a GeoPackage.
pub(crate) struct TableDef {
    /// Table name.
    pub name: &'static str,
    /// Geometry type (`MULTIPOLYGON`, `POINT`, …) if it is a feature table.
    pub geometry: Option<&'static str>,
    /// What it holds (gpkg_contents.description).
    pub description: &'static str,
    /// The migration that creates it (and registers it in a GeoPackage).
    pub since: i64,
}

/// Every table and view a planner may open, in the order QGIS lists them.
pub(crate) const LAYERS: &[TableDef] = &[
    TableDef {
        name: "villages",
        geometry: Some("MULTIPOLYGON"),
        description: "Villages and communities (村/社区) with their 12-digit codes",
        since: 1,
    },
    TableDef {
        name: "active_grids",
        geometry: Some("MULTIPOLYGON"),
        description: "Grids (网格) of every village's active plan",
        since: 1,
    },
    TableDef {
        name: "active_micro_grids",
        geometry: Some("MULTIPOLYGON"),
        description: "Micro-grids (微网格) of every village's active plan",
        since: 1,
    },
    TableDef {
        name: "grids",
        geometry: Some("MULTIPOLYGON"),
        description: "Grids of every plan version",
        since: 1,
    },
    TableDef {
        name: "micro_grids",
        geometry: Some("MULTIPOLYGON"),
        description: "Micro-grids of every plan version",
        since: 1,
    },
    TableDef {
        name: "buildings",
        geometry: Some("POINT"),
        description: "Buildings (楼幢) with households and residents",
        since: 1,
    },
    TableDef {
        name: "building_footprints",
        geometry: Some("MULTIPOLYGON"),
        description: "Building footprints, where known",
        since: 1,
    },
    TableDef {
        name: "barriers",
        geometry: Some("MULTILINESTRING"),
        description: "Roads, rivers and railways",
        since: 1,
    },
    TableDef {
        name: "patrol_tracks",
        geometry: Some("MULTILINESTRING"),
        description: "Grid workers' patrol tracks (巡查轨迹): one row per worker and day",
        since: 2,
    },
    TableDef {
        name: "patrol_days",
        geometry: None,
        description: "Each day's patrol heat: points per worker and H3 cell (resolution 7)",
        since: 2,
    },
    TableDef {
        name: "villager_groups",
        geometry: Some("MULTIPOLYGON"),
        description: "Villager groups (村民小组), named as in buildings' grp",
        since: 5,
    },
    TableDef {
        name: "units",
        geometry: Some("MULTIPOLYGON"),
        description: "Ready-made units (census blocks, parcels) with their figures",
        since: 5,
    },
    TableDef {
        name: "towns",
        geometry: None,
        description: "Towns and subdistricts (镇/街道)",
        since: 1,
    },
    TableDef {
        name: "plans",
        geometry: None,
        description: "Plan versions: who, when, why, which is active",
        since: 1,
    },
    TableDef {
        name: "assignments",
        geometry: None,
        description: "Building or unit → grid → micro-grids, per plan",
        since: 1,
    },
    TableDef {
        name: "codes",
        geometry: None,
        description:
            "Every grid and micro-grid code ever issued, with the dates it started and ended",
        since: 1,
    },
    // -- events (issue 15) --
    TableDef {
        name: "events",
        geometry: Some("POINT"),
        description: "Events (网格事件): reports in grids and where they are in their flow",
        since: 8,
    },
    TableDef {
        name: "event_history",
        geometry: None,
        description: "Every transition of every event: who, when, from and to, note",
        since: 8,
    },
    // -- end events --
    TableDef {
        name: "grid_people",
        geometry: None,
        description: "Grid leaders (网格长) and grid workers (网格员)",
        since: 1,
    },
];

const V1: &str = r#"
CREATE TABLE towns (fid {pk}, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE villages (fid {pk}, {geom:MULTIPOLYGON}, code TEXT NOT NULL UNIQUE, town_code TEXT NOT NULL,
  name TEXT NOT NULL, mode TEXT NOT NULL);
CREATE TABLE buildings (fid {pk}, {geom:POINT}, id TEXT NOT NULL UNIQUE, village_code TEXT NOT NULL,
  households {int} NOT NULL, residents {int} NOT NULL, kind TEXT NOT NULL, address TEXT, grp TEXT,
  staff {int}, workshops {int}, custom {real});
CREATE INDEX buildings_village ON buildings (village_code);
CREATE TABLE building_footprints (fid {pk}, {geom:MULTIPOLYGON}, building_id TEXT NOT NULL UNIQUE);
CREATE TABLE barriers (fid {pk}, {geom:MULTILINESTRING}, class TEXT NOT NULL, name TEXT);
CREATE TABLE plans (fid {pk}, village_code TEXT NOT NULL, version {int} NOT NULL, created_at TEXT NOT NULL,
  author TEXT NOT NULL, reason TEXT NOT NULL, params TEXT NOT NULL, active {int} NOT NULL DEFAULT 0,
  UNIQUE (village_code, version));
CREATE TABLE grids (fid {pk}, {geom:MULTIPOLYGON}, plan_fid {int} NOT NULL, code TEXT NOT NULL,
  village_code TEXT NOT NULL, weight {real}, households {real}, residents {real}, area_m2 {real},
  perimeter_m {real}, polsby_popper {real}, buildings {int}, units {int}, label_lon {real},
  label_lat {real}, UNIQUE (plan_fid, code));
CREATE TABLE micro_grids (fid {pk}, {geom:MULTIPOLYGON}, plan_fid {int} NOT NULL, code TEXT NOT NULL,
  grid_code TEXT NOT NULL, kind TEXT NOT NULL, weight {real}, households {real}, residents {real},
  area_m2 {real}, perimeter_m {real}, polsby_popper {real}, buildings {int}, units {int},
  label_lon {real}, label_lat {real}, stack_building TEXT, stack_part {int}, stack_of {int},
  stack_units TEXT, UNIQUE (plan_fid, code));
CREATE TABLE assignments (fid {pk}, plan_fid {int} NOT NULL, kind TEXT NOT NULL, item_id TEXT NOT NULL,
  grid_code TEXT, micro_codes TEXT NOT NULL, UNIQUE (plan_fid, kind, item_id));
CREATE TABLE codes (fid {pk}, code TEXT NOT NULL UNIQUE, level TEXT NOT NULL, village_code TEXT NOT NULL,
  started TEXT, ended TEXT);
CREATE TABLE grid_people (fid {pk}, grid_code TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL,
  phone TEXT, UNIQUE (grid_code, role, name));
CREATE TABLE patrol_points (fid {pk}, {geom:POINT}, worker TEXT NOT NULL, time TEXT NOT NULL,
  epoch_ms {int} NOT NULL, lon {real} NOT NULL, lat {real} NOT NULL, lon_e7 {int} NOT NULL,
  lat_e7 {int} NOT NULL, crs TEXT NOT NULL, accuracy_m {real}, flag TEXT,
  UNIQUE (worker, epoch_ms, lon_e7, lat_e7));
CREATE INDEX patrol_points_time ON patrol_points (epoch_ms);
CREATE TABLE store_state (key TEXT PRIMARY KEY, value {int} NOT NULL);
INSERT INTO store_state (key, value) VALUES ('revision', 0);
INSERT INTO store_state (key, value) VALUES ('data_revision', 0);
CREATE VIEW active_grids AS SELECT g.fid AS fid, g.geom AS geom, g.code AS code,
  g.village_code AS village_code, p.version AS plan_version, g.weight AS weight,
  g.households AS households, g.residents AS residents, g.area_m2 AS area_m2,
  g.polsby_popper AS polsby_popper, g.buildings AS buildings
  FROM grids g JOIN plans p ON p.fid = g.plan_fid WHERE p.active = 1;
CREATE VIEW active_micro_grids AS SELECT m.fid AS fid, m.geom AS geom, m.code AS code,
  m.grid_code AS grid_code, p.village_code AS village_code, p.version AS plan_version, m.kind AS kind,
  m.households AS households, m.residents AS residents, m.stack_units AS stack_units
  FROM micro_grids m JOIN plans p ON p.fid = m.plan_fid WHERE p.active = 1;
"#;

/// Patrol points as one row per worker and day (see `store::patrol`): the points a compact blob,
/// the track a MultiLineString for QGIS, cell counts for heat maps. The rows of `patrol_points` are
/// moved over and the table dropped by `Store::move_patrol_points`, in the same transaction.
const V2: &str = r#"
CREATE TABLE patrol_tracks (fid {pk}, worker TEXT NOT NULL, day TEXT NOT NULL, t_min {int} NOT NULL,
  t_max {int} NOT NULL, min_lon {real} NOT NULL, min_lat {real} NOT NULL, max_lon {real} NOT NULL,
  max_lat {real} NOT NULL, points {int} NOT NULL, flagged {int} NOT NULL, cells_coarse {blob} NOT NULL,
  cells {blob} NOT NULL, fixes {blob} NOT NULL, {geom:MULTILINESTRING}, UNIQUE (worker, day));
CREATE INDEX patrol_tracks_day ON patrol_tracks (day, max_lon, min_lon, max_lat, min_lat, t_max, t_min);
CREATE TABLE patrol_days (fid {pk}, day TEXT NOT NULL UNIQUE, workers {int} NOT NULL, points {int} NOT NULL,
  heat {blob} NOT NULL);
"#;

/// Migration 3: what the map service asks the store for, by area or by key, instead of holding
/// every building in memory (see `store::map`): a spatial key on a fixed lon/lat grid ([`cell`]:
/// the cell of the building's box, its point and footprint), its address's normalised core and
/// first house number ([`crate::address::key`]), and the largest building box (nanodegrees), by
/// which an area query reaches back for buildings whose key cell lies just outside it. Filled for
/// the buildings already stored, then indexed ([`V3_INDEXES`]).
const V3: &str = r#"
ALTER TABLE buildings ADD COLUMN cell {int};
ALTER TABLE buildings ADD COLUMN addr_core TEXT;
ALTER TABLE buildings ADD COLUMN addr_number {int};
INSERT INTO store_state (key, value) VALUES ('building_span_nd', 0);
"#;

/// The indexes of migration 3 (name, template; `{c}` is the byte-order collation PostgreSQL needs
/// for prefix ranges, nothing in SQLite, whose default collation is byte order already).
const V3_INDEXES: &[(&str, &str)] = &[
    (
        "buildings_cell",
        "CREATE INDEX buildings_cell ON buildings (cell)",
    ),
    (
        "buildings_addr_core",
        "CREATE INDEX buildings_addr_core ON buildings (addr_core{c})",
    ),
    (
        "buildings_addr_number",
        "CREATE INDEX buildings_addr_number ON buildings (addr_number)",
    ),
];

/// Cells of the spatial key per degree: cells of 1/256° (about 380 × 430 m in south China),
/// exact in binary.
pub(crate) const CELLS_PER_DEGREE: f64 = 256.0;

/// Columns of cells around the globe.
const CELL_COLUMNS: i64 = 360 * 256;

/// The spatial key of a building: the cell of its box's south-west corner, counted row by row
/// from the south pole, so that a row of cells is one range of keys.
pub(crate) fn cell(lon: f64, lat: f64) -> i64 {
    let (row, col) = cell_rc(lon, lat);
    row * CELL_COLUMNS + col
}

fn cell_rc(lon: f64, lat: f64) -> (i64, i64) {
    let row = ((lat.clamp(-90.0, 90.0) + 90.0) * CELLS_PER_DEGREE).floor() as i64;
    let col = ((lon.clamp(-180.0, 180.0) + 180.0) * CELLS_PER_DEGREE).floor() as i64;
    (row, col.min(CELL_COLUMNS - 1))
}

/// The ranges of keys holding every building whose box meets `[x0, x1] × [y0, y1]`, when no
/// building box is wider or taller than `span` degrees: one range per row of cells, reaching
/// `span` back to the west and south (a box's key is its south-west corner's cell).
pub(crate) fn cell_ranges(x0: f64, y0: f64, x1: f64, y1: f64, span: f64) -> Vec<(i64, i64)> {
    let (r0, c0) = cell_rc(x0 - span, y0 - span);
    let (r1, c1) = cell_rc(x1, y1);
    (r0..=r1)
        .map(|r| (r * CELL_COLUMNS + c0, r * CELL_COLUMNS + c1))
        .collect()
}

/// A migration: its DDL, and whether buildings already stored get migration 3's columns filled
/// before `after` (its indexes) runs.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub stmts: Vec<String>,
    pub fill_building_keys: bool,
    pub after: Vec<String>,
}

/// The migrations, in order: (version, name, DDL template).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "plans, grids, people, patrols", V1),
    (2, "patrol tracks: one row per worker and day", V2),
    (3, "building boxes, spatial and address keys", V3),
    (4, "each plan's assignment packed in one row", V4),
    (5, "villager groups and units", V5),
    (6, "accounts: users, tokens, sessions, audit log", V6),
    (7, "grid and micro-grid colours", V7),
    // -- events (issue 15) --
    (8, "events, their history and photos", V8),
    // -- end events --
    // -- field (issue 18): household visits
    (9, "household visits and tags", V9_FIELD),
    // -- end field
    // -- screen (issue 16) --
    (
        10,
        "screen sessions: a screen token opened once as a cookie",
        V10,
    ),
    // -- end screen --
    (
        11,
        "event settings: categories and time limits; events by last change",
        V11,
    ),
];

/// A plan version never changes once saved, so its whole assignment is also kept packed in its
/// `plans` row (a JSON array `[[kind, item_id, grid_code, micro_codes], …]` in `assignments`
/// order): reading a village's plan is then one row, not thousands. The `assignments` table
/// stays the one to query; plans saved before this migration are read from it.
const V4: &str = "ALTER TABLE plans ADD COLUMN assignment_json TEXT";

/// Villager-group polygons (村民小组) and ready-made units (census blocks, parcels): the rest of the
/// partition input, so that a plan made again from the store (an edited assignment, an export
/// partitioned again) cuts the village into the same cells as the run that made it.
const V5: &str = r#"
CREATE TABLE villager_groups (fid {pk}, {geom:MULTIPOLYGON}, name TEXT NOT NULL);
CREATE TABLE units (fid {pk}, {geom:MULTIPOLYGON}, id TEXT NOT NULL UNIQUE, village_code TEXT NOT NULL,
  households {real} NOT NULL, residents {real} NOT NULL, custom {real});
CREATE INDEX units_village ON units (village_code);
"#;

/// Accounts (see [`crate::accounts`]): users (argon2id password hashes), bearer tokens and
/// sessions (SHA-256 hashes of their secrets only, with expiry), and the audit log, which the
/// store only ever appends to (triggers refuse UPDATE and DELETE, see `after_v6`).
const V6: &str = r#"
CREATE TABLE users (fid {pk}, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, towns TEXT NOT NULL,
  villages TEXT NOT NULL, phone TEXT, password_hash TEXT NOT NULL, disabled {int} NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE tokens (fid {pk}, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, phone TEXT,
  token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT);
CREATE TABLE sessions (fid {pk}, id_hash TEXT NOT NULL UNIQUE, user_name TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE INDEX sessions_user ON sessions (user_name);
CREATE TABLE audit_log (fid {pk}, at TEXT NOT NULL, who TEXT NOT NULL, address TEXT NOT NULL,
  kind TEXT NOT NULL, objects TEXT NOT NULL, result TEXT NOT NULL);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_who ON audit_log (who, at);
CREATE INDEX audit_log_address ON audit_log (address, at)
"#;

/// Triggers that keep the audit log append-only (bodies hold `;`, so not in the template).
fn after_v6(backend: Backend) -> Vec<String> {
    match backend {
        Backend::Gpkg => ["UPDATE", "DELETE"]
            .iter()
            .map(|op| {
                format!(
                    "CREATE TRIGGER audit_log_no_{} BEFORE {op} ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
                    op.to_lowercase()
                )
            })
            .collect(),
        Backend::Postgis => vec![
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
                .into(),
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
                .into(),
        ],
    }
}

/// Migration 7: each grid's and micro-grid's map colour, an index into
/// [`PALETTE`](crate::partition::colour::PALETTE) that no neighbour shares (NULL for plans saved
/// before it; the map then colours them by code). The active-plan views show it too.
const V7: &str = r#"
ALTER TABLE grids ADD COLUMN color {int};
ALTER TABLE micro_grids ADD COLUMN color {int};
DROP VIEW active_grids;
CREATE VIEW active_grids AS SELECT g.fid AS fid, g.geom AS geom, g.code AS code,
  g.village_code AS village_code, p.version AS plan_version, g.weight AS weight,
  g.households AS households, g.residents AS residents, g.area_m2 AS area_m2,
  g.polsby_popper AS polsby_popper, g.buildings AS buildings, g.color AS color
  FROM grids g JOIN plans p ON p.fid = g.plan_fid WHERE p.active = 1;
DROP VIEW active_micro_grids;
CREATE VIEW active_micro_grids AS SELECT m.fid AS fid, m.geom AS geom, m.code AS code,
  m.grid_code AS grid_code, p.village_code AS village_code, p.version AS plan_version, m.kind AS kind,
  m.households AS households, m.residents AS residents, m.stack_units AS stack_units, m.color AS color
  FROM micro_grids m JOIN plans p ON p.fid = m.plan_fid WHERE p.active = 1;
"#;

// -- events (issue 15) --
/// Migration 8: events (网格事件, see [`crate::events`]) with their place, state and version (for
/// optimistic concurrency), every transition (who, when, note), photos (bytes kept here), and
/// the last sequence number issued per town and day (numbers are never reused).
const V8: &str = r#"
CREATE TABLE events (fid {pk}, {geom:POINT}, number TEXT NOT NULL UNIQUE, client_id TEXT,
  reporter TEXT NOT NULL, source TEXT NOT NULL, category TEXT NOT NULL, title TEXT NOT NULL,
  description TEXT NOT NULL, priority TEXT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL,
  lon {real} NOT NULL, lat {real} NOT NULL, address TEXT, village_code TEXT, grid_code TEXT,
  micro_code TEXT, ambiguous {int} NOT NULL, near_grids TEXT NOT NULL, border_m {real},
  assignee TEXT, reported_at TEXT NOT NULL, updated_at TEXT NOT NULL, due_at TEXT, step_limit_s {int},
  closed_at TEXT, reopened {int} NOT NULL, rating {int}, version {int} NOT NULL,
  UNIQUE (reporter, client_id));
CREATE INDEX events_reported ON events (reported_at);
CREATE INDEX events_grid ON events (grid_code, reported_at);
CREATE INDEX events_village ON events (village_code, reported_at);
CREATE INDEX events_state ON events (state, due_at);
CREATE TABLE event_history (fid {pk}, event_fid {int} NOT NULL REFERENCES events (fid), at TEXT NOT NULL,
  who TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, level TEXT NOT NULL,
  assignee TEXT, note TEXT NOT NULL, reason TEXT, version {int} NOT NULL);
CREATE INDEX event_history_event ON event_history (event_fid, fid);
CREATE TABLE event_photos (fid {pk}, event_fid {int} NOT NULL REFERENCES events (fid),
  history_fid {int} REFERENCES event_history (fid), kind TEXT NOT NULL, bytes {int} NOT NULL,
  data {blob} NOT NULL, added_at TEXT NOT NULL);
CREATE INDEX event_photos_event ON event_photos (event_fid);
CREATE TABLE event_numbers (prefix TEXT PRIMARY KEY, last {int} NOT NULL)
"#;
// -- end events --
// -- screen (issue 16) --
/// Migration 10: sessions of wall screens (see [`crate::store::screen`]). A screen token opened
/// once as `/screen?token=…` becomes a cookie session that lives as long as its token and ends
/// when the token is revoked (the token is joined on every request); only the id's SHA-256 hash
/// is kept, as for users' sessions.
const V10: &str = r#"
CREATE TABLE screen_sessions (fid {pk}, id_hash TEXT NOT NULL UNIQUE, token_name TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE INDEX screen_sessions_token ON screen_sessions (token_name)
"#;
// -- end screen --
/// Migration 11: a deployment's event settings (see [`crate::events::settings`]): its category
/// tree and time limits as JSON, one row each, with who set them and when; and an index on when
/// events last changed, which the big screen polls.
const V11: &str = r#"
CREATE TABLE event_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, set_by TEXT NOT NULL,
  set_at TEXT NOT NULL);
CREATE INDEX events_updated ON events (updated_at)
"#;
// -- field (issue 18)
/// Migration 9: household visits (入户走访) and leaders' tags on households (see [`crate::field`]).
/// A household is `building/door`; nothing about its residents is stored. A visit's `client_id`
/// is the terminal's idempotency key: the same worker re-sending it stores nothing new.
const V9_FIELD: &str = r#"
CREATE TABLE visits (fid {pk}, client_id TEXT NOT NULL, worker TEXT NOT NULL, household TEXT NOT NULL,
  grid_code TEXT NOT NULL, visited_at TEXT NOT NULL, epoch_ms {int} NOT NULL, lon {real}, lat {real},
  found TEXT NOT NULL, done TEXT NOT NULL, received_at TEXT NOT NULL, UNIQUE (worker, client_id));
CREATE INDEX visits_grid ON visits (grid_code, epoch_ms);
CREATE INDEX visits_household ON visits (household, epoch_ms);
CREATE TABLE household_tags (fid {pk}, household TEXT NOT NULL UNIQUE, grid_code TEXT NOT NULL,
  tag TEXT NOT NULL, set_by TEXT NOT NULL, set_at TEXT NOT NULL);
CREATE INDEX household_tags_grid ON household_tags (grid_code)
"#;
// -- end field

/// GeoPackage's own tables (OGC 12-128r18 §1.1.2, §1.1.3, §2.1.5) and its SRS rows.
const GPKG_CORE: &str = r#"
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
  description TEXT);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined',
  'undefined cartesian coordinate reference system');
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined',
  'undefined geographic coordinate reference system');
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326,
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
  'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
  identifier TEXT UNIQUE, description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"#;

/// Renders a DDL template for a backend, one statement per item.
pub(crate) fn render(backend: Backend, template: &str) -> Vec<String> {
    let (pk, int, real, blob) = match backend {
        Backend::Gpkg => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "INTEGER",
            "REAL",
            "BLOB",
        ),
        Backend::Postgis => (
            "BIGSERIAL PRIMARY KEY",
            "BIGINT",
            "DOUBLE PRECISION",
            "BYTEA",
        ),
    };
    let mut s = template
        .replace("{pk}", pk)
        .replace("{int}", int)
        .replace("{real}", real)
        .replace("{blob}", blob);
    while let Some(i) = s.find("{geom:") {
        let j = i + s[i..].find('}').expect("closed {geom:TYPE}");
        let ty = &s[i + 6..j];
        let col = match backend {
            Backend::Gpkg => format!("geom {ty}"),
            Backend::Postgis => format!("geom geometry({}, 4326)", pg_type(ty)),
        };
        s.replace_range(i..=j, &col);
    }
    s.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn pg_type(gpkg: &str) -> &'static str {
    match gpkg {
        "POINT" => "Point",
        "MULTIPOLYGON" => "MultiPolygon",
        "MULTILINESTRING" => "MultiLineString",
        "LINESTRING" => "LineString",
        other => panic!("no PostGIS type for {other}"),
    }
}

/// Statements that bring a fresh database to the newest schema, per migration.
pub(crate) fn migrations(backend: Backend) -> Vec<Migration> {
    MIGRATIONS
        .iter()
        .map(|(v, name, ddl)| {
            let mut stmts = render(backend, ddl);
            let mut after = Vec::new();
            if *v == 1 {
                stmts.extend(after_v1(backend));
            }
            if *v == 2 {
                stmts.extend(after_v2(backend));
            }
            if *v == 6 {
                stmts.extend(after_v6(backend));
            }
            stmts.extend(register(backend, *v));
            if *v == 3 {
                after = v3_indexes(backend).into_iter().map(|(_, s)| s).collect();
            }
            Migration {
                version: *v,
                name,
                stmts,
                fill_building_keys: *v == 3,
                after,
            }
        })
        .collect()
}

fn v3_indexes(backend: Backend) -> Vec<(&'static str, String)> {
    let c = match backend {
        Backend::Gpkg => "",
        Backend::Postgis => " COLLATE \"C\"",
    };
    V3_INDEXES
        .iter()
        .map(|(n, t)| (*n, t.replace("{c}", c)))
        .collect()
}

/// Indexes a bulk building import drops and builds again (name, `CREATE` statement): one sorted
/// index build is several times cheaper than growing the index row by row. The same indexes the
/// migrations create: on PostGIS the spatial and village indexes too, on both the keys of
/// migration 3.
pub(crate) fn bulk_indexes(backend: Backend) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = match backend {
        Backend::Gpkg => vec![(
            "buildings_village",
            "CREATE INDEX buildings_village ON buildings (village_code)".to_string(),
        )],
        Backend::Postgis => BULK_INDEXES
            .iter()
            .map(|(n, c)| (*n, c.to_string()))
            .collect(),
    };
    out.extend(v3_indexes(backend));
    out
}

/// PostGIS indexes a bulk building import drops and builds again besides migration 3's (see
/// [`bulk_indexes`]): the same indexes `register` (GiST, migration 1) and `V1` create.
const BULK_INDEXES: &[(&str, &str)] = &[
    (
        "buildings_geom",
        "CREATE INDEX buildings_geom ON buildings USING GIST (geom)",
    ),
    (
        "buildings_village",
        "CREATE INDEX buildings_village ON buildings (village_code)",
    ),
    (
        "building_footprints_geom",
        "CREATE INDEX building_footprints_geom ON building_footprints USING GIST (geom)",
    ),
];

/// Below this many buildings an import keeps its indexes (see [`bulk_indexes`]).
pub(crate) const BULK_ROWS: usize = 10_000;

/// PostGIS indexes of the first migration.
fn after_v1(backend: Backend) -> Vec<String> {
    match backend {
        Backend::Gpkg => Vec::new(),
        Backend::Postgis => vec![
            "CREATE INDEX grids_plan ON grids (plan_fid)".into(),
            "CREATE INDEX micro_grids_plan ON micro_grids (plan_fid)".into(),
        ],
    }
}

/// The (lon, lat, time) index of patrol tracks: an R*Tree in a GeoPackage (kept by the store's
/// own writes, no triggers: no SQL functions to register; 32-bit bounds rounded outwards, the
/// exact test follows on the table), a GiST box index in PostGIS.
fn after_v2(backend: Backend) -> Vec<String> {
    vec![match backend {
        Backend::Gpkg => {
            "CREATE VIRTUAL TABLE patrol_tracks_box USING rtree(id, min_lon, max_lon, \
                          min_lat, max_lat, t_min, t_max)"
                .into()
        }
        Backend::Postgis => "CREATE INDEX patrol_tracks_box ON patrol_tracks USING GIST \
                             (box(point(min_lon, min_lat), point(max_lon, max_lat)))"
            .into(),
    }]
}

/// The layers migration `version` creates: registered in a GeoPackage (`gpkg_contents`, and
/// `gpkg_geometry_columns` for feature tables), or given a GiST index in PostGIS.
fn register(backend: Backend, version: i64) -> Vec<String> {
    let mut out = Vec::new();
    for t in LAYERS.iter().filter(|t| t.since == version) {
        match backend {
            Backend::Gpkg => {
                let kind = if t.geometry.is_some() {
                    "features"
                } else {
                    "attributes"
                };
                let srs = if t.geometry.is_some() { "4326" } else { "NULL" };
                out.push(format!(
                    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) \
                     VALUES ('{}', '{kind}', '{}', '{}', {srs})",
                    t.name,
                    t.name,
                    t.description.replace('\'', "''")
                ));
                if let Some(g) = t.geometry {
                    out.push(format!(
                        "INSERT INTO gpkg_geometry_columns VALUES ('{}', 'geom', '{g}', 4326, 0, 0)",
                        t.name
                    ));
                }
            }
            Backend::Postgis => {
                if t.geometry.is_some() && !t.name.starts_with("active_") {
                    out.push(format!(
                        "CREATE INDEX {0}_geom ON {0} USING GIST (geom)",
                        t.name
                    ));
                }
            }
        }
    }
    out
}

/// GeoPackage core tables, created before any migration.
pub(crate) fn gpkg_core() -> Vec<String> {
    render(Backend::Gpkg, GPKG_CORE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_columns_render_per_backend() {
        let g = render(
            Backend::Gpkg,
            "CREATE TABLE t (fid {pk}, {geom:POINT}, n {int})",
        );
        assert_eq!(
            g,
            ["CREATE TABLE t (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT, n INTEGER)"]
        );
        let p = render(
            Backend::Postgis,
            "CREATE TABLE t (fid {pk}, {geom:POINT}, n {int})",
        );
        assert_eq!(
            p,
            ["CREATE TABLE t (fid BIGSERIAL PRIMARY KEY, geom geometry(Point, 4326), n BIGINT)"]
        );
    }

    #[test]
    fn every_feature_layer_is_registered() {
        let stmts: Vec<String> = migrations(Backend::Gpkg)
            .into_iter()
            .flat_map(|m| m.stmts)
            .collect();
        for t in LAYERS.iter().filter(|t| t.geometry.is_some()) {
            assert!(
                stmts
                    .iter()
                    .any(|s| s.starts_with("INSERT INTO gpkg_geometry_columns")
                        && s.contains(&format!("'{}'", t.name))),
                "{} not registered",
                t.name
            );
        }
    }

    #[test]
    fn bulk_indexes_are_the_ones_the_migrations_create() {
        for backend in [Backend::Gpkg, Backend::Postgis] {
            let stmts: Vec<String> = migrations(backend)
                .into_iter()
                .flat_map(|m| m.stmts.into_iter().chain(m.after))
                .collect();
            for (name, create) in bulk_indexes(backend) {
                assert!(create.contains(name), "{create} does not create {name}");
                assert!(
                    stmts.iter().any(|s| s.trim() == create),
                    "{backend:?}: no migration runs {create:?}"
                );
            }
        }
    }

    #[test]
    fn cell_ranges_hold_every_box_that_meets_the_area() {
        // a box whose south-west corner lies west and south of the area, within the span
        let (x0, y0, x1, y1) = (121.001, 31.201, 121.02, 31.22);
        let span = 0.01;
        let ranges = cell_ranges(x0, y0, x1, y1, span);
        let inside = |k: i64| ranges.iter().any(|&(a, b)| a <= k && k <= b);
        for (bx, by) in [
            (x0 - 0.0099, y0 - 0.0099),
            (x1, y1),
            (x0, y1),
            (121.01, 31.21),
        ] {
            assert!(inside(cell(bx, by)), "{bx},{by}");
        }
        assert!(!inside(cell(x1 + 0.01, y0)));
        assert!(!inside(cell(x0, y1 + 0.01)));
        // one range per row of cells
        assert_eq!(
            ranges.len() as i64,
            ((y1 * 256.0).floor() - ((y0 - span) * 256.0).floor()) as i64 + 1
        );
    }
}
