//! Patrol coverage (巡查覆盖): grid workers' GPS points → patrols, coverage figures and H3 heatmaps.
//! STUB: being written.
