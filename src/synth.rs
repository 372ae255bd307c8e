//! Placeholder until the generator lands.
#![allow(missing_docs)]
pub struct SynthConfig {
    pub households: u64,
    pub seed: u64,
    pub odd_shapes: bool,
}
pub struct SynthTown {
    pub villages: geojson::FeatureCollection,
    pub buildings: geojson::FeatureCollection,
}
impl SynthTown {
    pub fn write_dir(&self, _d: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }
}
pub fn synth_town(_c: &SynthConfig) -> SynthTown {
    unimplemented!()
}
