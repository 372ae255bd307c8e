//! Patrol coverage (巡查覆盖): grid workers' GPS points → patrols, coverage figures and H3 heatmaps.
//!
//! One module a step, pure library code (no HTTP, no database):
//!
//! - [`point`]: a [`PatrolPoint`] and its de-duplication key;
//! - [`read`]: CSV, GeoJSON and GPX readers, errors naming file, record and field;
//! - [`mod@check`]: duplicates kept once, impossible points rejected, doubtful ones flagged, all with
//!   a reason;
//! - [`patrols`]: runs of points → patrols, "twice a day" (一日双巡);
//! - [`cells`]: exact H3 cells of walks, fast;
//! - [`coverage`]: per grid and per grid worker, the share of roads, key targets, buildings and
//!   H3 cells covered, over a window fed day by day;
//! - [`roster`]: the registered grid workers and how a terminal's worker id matches one;
//! - [`period`]: a day, a week, a month or a run of days;
//! - [`mod@heat`]: point density per H3 cell, coarser levels, GeoJSON; [`heat_tile`]: heat as tiles;
//! - [`report`]: the daily report per town of grids that missed a patrol;
//! - [`tracks`]: a seeded generator of patrol tracks for tests and benchmarks.
//!
//! The flow: read → [`check()`] → keep [`Checked::accepted`] (and store the flagged points with
//! their reasons) → a [`CoverageRun`] over a [`Period`]'s window, fed one day at a time, with a
//! [`Roster`] for the figures per worker → [`report::daily_report`] of each day; [`HeatMap`] for
//! the map.

pub mod cells;
pub mod check;
pub mod coverage;
pub mod heat;
pub mod heat_tile;
pub mod patrols;
pub mod period;
pub mod point;
pub mod read;
pub mod report;
pub mod roster;
pub mod tracks;

pub use check::{check, CheckRules, Checked, Issue, Reason};
pub use coverage::{
    BuildingPass, Coverage, CoverageIndex, CoverageRules, CoverageRun, GridCoverage, GridDay,
    GridShape, Window, WorkerCoverage, WorkerDay,
};
pub use heat::{heat, heat_cell, to_geojson as heat_geojson, HeatCell, HeatMap};
pub use patrols::{DayPatrols, Patrol, PatrolRules};
pub use period::{coverage_by_day, default_zone, parse_zone, Period, ZoneError};
pub use point::{DedupeKey, PatrolPoint};
pub use read::{
    read_batch, read_csv, read_geojson, read_gpx, read_path, Read, ReadError, ReadOptions,
};
pub use roster::{Roster, Status};
