//! The map service (地图服务): GeoJSON, vector tiles, TileJSON, the MapLibre style and pages, and
//! "which grid am I in?" over HTTP (axum). STUB: being written.
