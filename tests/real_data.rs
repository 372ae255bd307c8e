//! The real-data fixtures: Shanghai OSM (buildings, roads, rivers) and Providence census blocks
//! compared with the city's real 15-ward plan.

mod common;
use common::*;
use geo::{Area, MultiPolygon};
use std::path::Path;

#[test]
fn shanghai_plan_obeys_every_rule() {
    let out = tmp();
    let o = out.path().join("plan");
    let rules = Rules {
        band: (300.0, 500.0),
        weight: "households",
    };
    partition_checked(Path::new("fixtures/shanghai"), &o, &[], &rules);
}

/// Polsby–Popper of a lon/lat multipolygon in a local equirectangular frame.
fn pp(mp: &MultiPolygon<f64>, lat0: f64) -> f64 {
    let k = lat0.to_radians().cos();
    let scale = |c: geo::Coord<f64>| geo::Coord { x: c.x * k, y: c.y };
    let mp: MultiPolygon<f64> = geo::MapCoords::map_coords(mp, scale);
    let a = mp.unsigned_area();
    let p: f64 =
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| {
                r.0.windows(2)
                    .map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y))
                    .sum::<f64>()
            })
            .sum();
    4.0 * std::f64::consts::PI * a / (p * p)
}

#[test]
fn providence_matches_the_real_wards() {
    let out = tmp();
    let o = out.path().join("plan");
    let args = [
        "--weight",
        "residents",
        "--band",
        "11300..12500",
        "--micro",
        "1000..1600",
    ];
    let rules = Rules {
        band: (11300.0, 12500.0),
        weight: "residents",
    };
    partition_checked(Path::new("fixtures/providence"), &o, &args, &rules);

    let grids = read_json(&o.join("grids.geojson"));
    let wards = read_json(Path::new("fixtures/providence/wards.geojson"));
    let feats = grids["features"].as_array().unwrap();
    assert_eq!(feats.len(), 15, "15 grids like the 15 wards");
    let ours: Vec<f64> = feats
        .iter()
        .map(|f| f["properties"]["weight"].as_f64().unwrap())
        .collect();
    let ours_pp: Vec<f64> = feats
        .iter()
        .map(|f| pp(&geometry(&f["geometry"]), 41.82))
        .collect();
    let ward_pp: Vec<f64> = wards["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| pp(&geometry(&f["geometry"]), 41.82))
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let spread = |v: &[f64]| {
        v.iter().copied().fold(0.0, f64::max) - v.iter().copied().fold(f64::INFINITY, f64::min)
    };
    println!(
        "providence: ours {:.0}..{:.0} (spread {:.0}), PP mean {:.3}; wards 11370..12452 (spread 1082), PP mean {:.3}",
        ours.iter().copied().fold(f64::INFINITY, f64::min),
        ours.iter().copied().fold(0.0, f64::max),
        spread(&ours),
        mean(&ours_pp),
        mean(&ward_pp)
    );
    // at least as balanced as the city's own plan, and within a tenth of its compactness
    assert!(spread(&ours) <= 1082.0, "spread {}", spread(&ours));
    assert!(
        mean(&ours_pp) >= 0.9 * mean(&ward_pp),
        "PP {} vs wards {}",
        mean(&ours_pp),
        mean(&ward_pp)
    );
}
