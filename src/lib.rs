//! # wangge (网格)
//!
//! A geospatial engine for grid-based local governance (网格化服务管理): it partitions each village or
//! community of a town into grids (网格, 300–500 households) and micro-grids (微网格, 50–80 households)
//! that are contiguous, compact, balanced, follow roads, rivers and villager-group lines, and tile the
//! village with no gap and no overlap.
//!
//! The pipeline, one module a step:
//!
//! - [`ingest`]: reads and validates the planner's layers (GeoJSON, Shapefile, GeoPackage, KML, in
//!   any CRS of [`crs::source`]) into the [`model`];
//! - [`topology`]: the planar topology of shared borders that grids (and map tiles) are cut from;
//! - [`partition`]: cells → grids → micro-grids, codes and quality figures;
//! - [`edit`]: the planner's editor: a village's cells under a draft, grids in pieces, rebalance;
//! - [`output`]: writes a plan as GeoJSON, CSV and a JSON report, atomically;
//! - [`synth`]: a seeded generator of realistic towns for tests and benchmarks;
//! - [`snapshot`]: what the map shows, the active plans of a town;
//! - [`tiles`]: vector tiles of a snapshot's layers, simplified on shared borders;
//! - [`patrol`]: grid workers' GPS tracks → patrols, coverage and heatmaps;
//! - [`crs`]: WGS84 / GCJ-02 / BD-09 conversions, CGCS2000 Gauss–Krüger and other input CRSs;
//! - [`address`]: loosely written addresses matched to buildings;
//! - [`screen`]: what the command room's big screen shows (today's patrol figures of an area);
//! - [`check`]: an independent check of any plan against the input (`wangge check`).
//! - [`events`]: events (网格事件) in grids, their flow, deadlines and figures;
//!
//! The engine (everything above) knows nothing of HTTP or databases. On top of it, and never the
//! other way round:
//!
//! - [`store`]: plans kept as versions in a GeoPackage file (default) or PostGIS;
//! - [`geom_codec`]: WKB and GeoPackage geometry blobs (the store's, and a town's own GeoPackage);
//! - [`serve`]: the HTTP map service and its pages;
//! - [`print`](mod@print): the printed grid-division map and notice boards (PDF, SVG, PNG);
//! - [`accounts`]: roles, users, tokens, sessions and the rule of every route (with the store's
//!   audit log).
#![warn(missing_docs)]

pub mod accounts;
pub mod address;
pub mod check;
pub mod crs;
pub mod edit;
pub mod events;
pub mod field;
pub mod geom_codec;
pub mod ingest;
pub mod model;
pub mod ops;
pub mod output;
pub mod partition;
pub mod patrol;
pub mod print;
pub mod scratch;
pub mod screen;
pub mod serve;
pub mod snapshot;
pub mod spatial;
pub mod store;
pub mod synth;
pub mod tiles;
pub mod topology;
