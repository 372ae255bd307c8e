//! Patrol coverage (巡查覆盖): grid workers' GPS points → patrols, coverage figures and H3 heatmaps.
//!
//! One module a step, pure library code (no HTTP, no database):
//!
//! - [`point`]: a [`PatrolPoint`] and its de-duplication key;
//! - [`read`]: CSV, GeoJSON and GPX readers, errors naming file, record and field;
//! - [`check`]: duplicates kept once, impossible points rejected, doubtful ones flagged, all with
//!   a reason;
//! - [`patrols`]: runs of points → patrols, "twice a day" (一日双巡);
//! - [`coverage`]: per grid, the share of roads, key targets, buildings and H3 cells covered;
//! - [`heat`]: point density per H3 cell, coarser levels, GeoJSON;
//! - [`report`]: the daily report per town of grids that missed a patrol;
//! - [`tracks`]: a seeded generator of patrol tracks for tests and benchmarks.
//!
//! The flow: read → [`check`] → keep [`Checked::accepted`] (and store the flagged and rejected
//! points with their reasons) → [`CoverageIndex::coverage`] over a [`Window`] (a day, a week, a
//! month) → [`report::daily_report`]; [`HeatMap`] for the map. Figures *per worker* are the same
//! rules applied to one worker's points: [`patrols::worker_days`] for their patrols, and
//! [`CoverageIndex::coverage`] called with only their points for the shares of their grid.

pub mod check;
pub mod coverage;
pub mod heat;
pub mod patrols;
pub mod point;
pub mod read;
pub mod report;
pub mod tracks;

pub use check::{check, CheckRules, Checked, Issue, Reason};
pub use coverage::{CoverageIndex, CoverageRules, GridCoverage, GridDay, Window};
pub use heat::{heat, to_geojson as heat_geojson, HeatCell, HeatMap};
pub use patrols::{DayPatrols, Patrol, PatrolRules};
pub use point::{DedupeKey, PatrolPoint};
pub use read::{read_csv, read_geojson, read_gpx, Read, ReadError, ReadOptions};
