//! Reading what a print needs from a store: the map (without buildings), the buildings in the
//! box, the town's name and the day each active plan was saved.

use super::sheet::{Extras, Sheet};
use super::{Resolved, Result, Target};
use crate::snapshot::Snapshot;
use crate::store::Store;
use std::collections::BTreeSet;

/// The town's name and the plans' dates for `r` (villages in the box only).
pub async fn extras(store: &Store, snap: &Snapshot, r: &Resolved) -> Result<Extras> {
    let town_name = store.town_name(&r.town).await?;
    let wanted: BTreeSet<&str> = r
        .villages
        .iter()
        .map(|&i| snap.villages[i].code.as_str())
        .collect();
    let mut plan_dates = std::collections::BTreeMap::new();
    for p in store.plans(None).await? {
        if p.active && wanted.contains(p.village.as_str()) {
            plan_dates.insert(p.village.clone(), p.created_at.chars().take(10).collect());
        }
    }
    Ok(Extras {
        town_name,
        plan_dates,
    })
}

/// Everything `target` needs, from `store`.
pub async fn from_store(store: &Store, target: &Target) -> Result<Sheet> {
    let snap = store.map_snapshot().await?;
    let r = target.resolve(&snap)?;
    let buildings = store.buildings_in(r.bbox).await?;
    let extras = extras(store, &snap, &r).await?;
    Ok(Sheet::new(&snap, &r, buildings, extras))
}
