//! Storage (存储): GeoPackage (embedded default) and PostGIS, one model, versioned plans.
//! STUB: being written.
