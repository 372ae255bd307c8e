//! The map colouring (issue 19 §3): bordering grids never share a colour, across village borders
//! too, on generated towns and on the real fixtures; four colours (the fifth only where four are
//! not found, and then reported); a new version keeps the colours of the grids that keep their
//! codes; the same input gives the same colours; the store keeps them (migration 7) and the map
//! serves them. Borders are measured with the check's own geometry ([`wangge::check::colours`]),
//! not the engine's.

mod common;

use common::stores::{fresh_target, kinds};
use common::*;
use geo::MultiPolygon;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use wangge::check::colours::{shared_m, MIN_SHARED_M};
use wangge::check::plan::PlanToCheck;
use wangge::model::{Dataset, Weight};
use wangge::partition::colour::{colour, Graph, FIFTH, PALETTE};
use wangge::partition::{self, Band, Options, Plan};
use wangge::snapshot::rings_to_multipolygon;
use wangge::store::{Base, PlanMeta, Store};

/// An area of a plan: (code, village, colour, outline).
type Area = (String, String, Option<u8>, MultiPolygon<f64>);

/// Pairs of areas sharing a border (the check's measure), as (i, j, metres).
fn bordering(areas: &[Area]) -> Vec<(usize, usize, f64)> {
    use geo::{BoundingRect, Intersects};
    let pad = 2e-5;
    let boxes: Vec<geo::Rect<f64>> = areas
        .iter()
        .map(|a| {
            let r = a.3.bounding_rect().unwrap();
            geo::Rect::new(
                (r.min().x - pad, r.min().y - pad),
                (r.max().x + pad, r.max().y + pad),
            )
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..areas.len() {
        for j in i + 1..areas.len() {
            if !boxes[i].intersects(&boxes[j]) || areas[i].3 == areas[j].3 {
                continue;
            }
            let m = shared_m(&areas[i].3, &areas[j].3);
            if m > MIN_SHARED_M {
                out.push((i, j, m));
            }
        }
    }
    out
}

/// Asserts no two bordering areas share a colour, every area has one of four; returns the
/// number of bordering pairs and of those across a village border.
fn assert_proper(what: &str, areas: &[Area]) -> (usize, usize) {
    let pairs = bordering(areas);
    let mut across = 0;
    for &(i, j, m) in &pairs {
        let (a, b) = (&areas[i], &areas[j]);
        assert!(
            a.2.is_some() && b.2.is_some(),
            "{what}: {} or {} has no colour",
            a.0,
            b.0
        );
        assert_ne!(
            a.2, b.2,
            "{what}: {} and {} share {m:.1} m of border and colour {:?}",
            a.0, b.0, a.2
        );
        if a.1 != b.1 {
            across += 1;
        }
    }
    for a in areas {
        assert!(
            a.2.is_some_and(|c| c < FIFTH),
            "{what}: {} has colour {:?}",
            a.0,
            a.2
        );
    }
    (pairs.len(), across)
}

fn plan_grids(plan: &Plan) -> Vec<Area> {
    plan.villages
        .iter()
        .flat_map(|v| {
            v.grids.iter().map(|g| {
                (
                    g.code.to_string(),
                    v.code.to_string(),
                    Some(g.color),
                    rings_to_multipolygon(&g.rings),
                )
            })
        })
        .collect()
}

fn plan_micro(plan: &Plan) -> Vec<Area> {
    plan.villages
        .iter()
        .flat_map(|v| {
            v.micro_grids.iter().map(|m| {
                (
                    m.code.to_string(),
                    v.code.to_string(),
                    Some(m.color),
                    rings_to_multipolygon(&m.rings),
                )
            })
        })
        .collect()
}

fn synth_ds(dir: &Path, households: u64, seed: u64, odd_shapes: bool) -> Dataset {
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes,
    })
    .write_dir(dir)
    .unwrap();
    wangge::ingest::read_dir(dir, &Weight::Households).unwrap()
}

#[test]
fn synthetic_towns_neighbours_differ_across_village_borders() {
    for (households, seed, odd) in [(9000, 7, false), (12_000, 3, true)] {
        let dir = tmp();
        let ds = synth_ds(dir.path(), households, seed, odd);
        let plan = partition::partition(&ds, &Options::default(), &|| {});
        let what = format!("synth {households} seed {seed}");
        let (pairs, across) = assert_proper(&what, &plan_grids(&plan));
        assert!(pairs > 20, "{what}: only {pairs} bordering grids");
        assert!(
            across > 0,
            "{what}: no grids border across a village border"
        );
        let (mpairs, _) = assert_proper(&format!("{what} micro"), &plan_micro(&plan));
        assert!(mpairs > pairs, "{what}: {mpairs} bordering micro-grids");
        assert!(plan.colours.fifth_grids.is_empty() && plan.colours.fifth_micro_grids.is_empty());
        eprintln!(
            "{what}: {} grids, {pairs} bordering pairs ({across} across villages), {mpairs} micro pairs, 4 colours",
            plan_grids(&plan).len()
        );
    }
}

#[test]
fn written_plans_carry_colours_and_the_check_finds_a_clash() {
    let dir = tmp();
    synth_ds(dir.path(), 6000, 5, false);
    let out = dir.path().join("out");
    partition_ok(dir.path(), &out, &[]);
    let grids = read_json(&out.join("grids.geojson"));
    let micro = read_json(&out.join("micro_grids.geojson"));
    for fc in [&grids, &micro] {
        for f in fc["features"].as_array().unwrap() {
            let c = f["properties"]["color"].as_u64().expect("color property");
            assert!(c < PALETTE.len() as u64);
        }
    }
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["colours"]["fifth_grids"], serde_json::json!([]));
    // the check: none on the plan as written
    let ds = wangge::ingest::read_dir(dir.path(), &Weight::Households).unwrap();
    let mut plan = PlanToCheck::read_dir(&out).unwrap();
    let clash = |p: &PlanToCheck| {
        wangge::check::check(p, &ds, &wangge::check::Rules::default())
            .into_iter()
            .filter(|f| matches!(f, wangge::check::Finding::SameColourNeighbours { .. }))
            .collect::<Vec<_>>()
    };
    assert!(clash(&plan).is_empty(), "{:?}", clash(&plan));
    // two bordering grids given one colour: found, naming both
    let areas: Vec<Area> = plan
        .grids
        .iter()
        .map(|g| {
            (
                g.code.clone(),
                g.village.clone(),
                g.color,
                g.geometry.clone(),
            )
        })
        .collect();
    let (i, j, _) = bordering(&areas)[0];
    plan.grids[j].color = plan.grids[i].color;
    let found = clash(&plan);
    let (ci, cj) = (&plan.grids[i].code, &plan.grids[j].code);
    assert!(
        found
            .iter()
            .any(|f| f.to_string().contains(ci.as_str()) && f.to_string().contains(cj.as_str())),
        "{found:?}"
    );
    // every clash found is one of grid j's (the only one changed)
    assert!(
        found.iter().all(|f| f.to_string().contains(cj.as_str())),
        "{found:?}"
    );
}

#[test]
fn real_fixtures_neighbours_differ() {
    let ds = wangge::ingest::read_dir(Path::new("fixtures/shanghai"), &Weight::Households).unwrap();
    let plan = partition::partition(&ds, &Options::default(), &|| {});
    let (pairs, across) = assert_proper("shanghai", &plan_grids(&plan));
    assert_proper("shanghai micro", &plan_micro(&plan));
    eprintln!("shanghai: {pairs} bordering grid pairs, {across} across villages");
    assert!(
        pairs > 0 && across > 0,
        "shanghai: {pairs} pairs, {across} across villages"
    );

    let ds =
        wangge::ingest::read_dir(Path::new("fixtures/providence"), &Weight::Residents).unwrap();
    let opts = Options {
        band: Band {
            min: 11300.0,
            max: 12500.0,
        },
        micro: Band {
            min: 1000.0,
            max: 1600.0,
        },
        weight: Weight::Residents,
        ..Options::default()
    };
    let plan = partition::partition(&ds, &opts, &|| {});
    let (pairs, _) = assert_proper("providence", &plan_grids(&plan));
    // one village (the city), 10,000 census blocks: a real, ragged tessellation
    eprintln!("providence: {pairs} bordering grid pairs");
    assert!(pairs > 20, "providence: {pairs} bordering grid pairs");
    assert_proper("providence micro", &plan_micro(&plan));
}

#[test]
fn same_input_same_colours() {
    let dir = tmp();
    let ds = synth_ds(dir.path(), 8000, 11, false);
    let colours = |seed: u64| {
        let plan = partition::partition(
            &ds,
            &Options {
                seed,
                ..Options::default()
            },
            &|| {},
        );
        plan_grids(&plan)
            .into_iter()
            .chain(plan_micro(&plan))
            .map(|a| (a.0, a.2))
            .collect::<Vec<_>>()
    };
    assert_eq!(colours(4), colours(4));
}

#[test]
fn the_fifth_colour_only_where_four_cannot_be_and_reported() {
    // K5 (five areas each bordering the other four cannot be drawn in the plane, but the graph
    // function must still answer): one vertex takes the fifth colour and is reported.
    let mut g = Graph::new(5);
    for a in 0..5 {
        for b in a + 1..5 {
            g.add_edge(a, b);
        }
    }
    let c = colour(&g, &[None; 5], &[false; 5], 0);
    assert_eq!(c.fifth.len(), 1);
    assert!(g.edges().all(|(a, b)| c.colors[a] != c.colors[b]));
    // a new area bordering four pinned neighbours (another village's grids) of four colours
    let mut g = Graph::new(5);
    for i in 0..4 {
        g.add_edge(4, i);
    }
    let prev = [Some(0), Some(1), Some(2), Some(3), None];
    let c = colour(&g, &prev, &[true, true, true, true, false], 0);
    assert_eq!((c.colors[4], c.fifth.clone()), (FIFTH, vec![4]));
}

fn meta(reason: &str) -> PlanMeta {
    PlanMeta {
        author: "test".into(),
        reason: reason.into(),
        params: "{}".into(),
    }
}

async fn store_grids(s: &Store) -> Vec<Area> {
    let snap = s.snapshot().await.unwrap();
    snap.grids
        .iter()
        .map(|g| {
            (
                g.code.to_string(),
                snap.villages[g.village].code.to_string(),
                g.color,
                g.geometry.clone(),
            )
        })
        .collect()
}

/// A version that merges two bordering grids keeps every other grid's colour unless a neighbour
/// forces a change; colours stay proper town-wide, and the store keeps them (migration 7).
#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_keeps_colours_of_grids_that_keep_their_codes() {
    for kind in kinds() {
        let dir = tmp();
        let ds = synth_ds(dir.path(), 9000, 7, false);
        let plan = partition::partition(&ds, &Options::default(), &|| {});
        let engine: HashMap<String, u8> = plan_grids(&plan)
            .into_iter()
            .map(|a| (a.0, a.2.unwrap()))
            .collect();
        let s = Store::open(&fresh_target(kind, dir.path()).await)
            .await
            .unwrap();
        s.save_run(&ds, &plan, &meta("v1"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let v1 = store_grids(&s).await;
        // a fresh store keeps the engine's colours, and they are proper town-wide
        for a in &v1 {
            assert_eq!(a.2, Some(engine[&a.0]), "{kind:?}: grid {}", a.0);
        }
        assert_proper(&format!("{kind:?} v1"), &v1);
        // merge two bordering grids of one village
        let pairs = bordering(&v1);
        let &(i, j, _) = pairs.iter().find(|&&(i, j, _)| v1[i].1 == v1[j].1).unwrap();
        let (keep, gone, village) = (v1[i].0.clone(), v1[j].0.clone(), v1[i].1.clone());
        let (info, rec) = s.active_plan(&village).await.unwrap().unwrap();
        let assignment: BTreeMap<String, String> = rec
            .assignment
            .iter()
            .filter_map(|a| {
                let g = a.grid.clone()?;
                Some((a.id.clone(), if g == gone { keep.clone() } else { g }))
            })
            .collect();
        let req = wangge::store::edit::DraftRequest {
            base: Some(info.version),
            assignment,
            reason: "merge".into(),
            activate: true,
        };
        s.save_draft(&village, &req, "test").await.unwrap();
        let v2 = store_grids(&s).await;
        assert_eq!(v2.len() + 1, v1.len(), "{kind:?}: one grid fewer");
        assert_proper(&format!("{kind:?} v2"), &v2);
        let before: HashMap<&str, Option<u8>> = v1.iter().map(|a| (a.0.as_str(), a.2)).collect();
        let neighbours = bordering(&v2);
        let mut changed = Vec::new();
        for (k, a) in v2.iter().enumerate() {
            let Some(&old) = before.get(a.0.as_str()) else {
                continue;
            };
            if old != a.2 {
                // forced: a neighbour now has its old colour
                let forced = neighbours
                    .iter()
                    .any(|&(x, y, _)| (x == k && v2[y].2 == old) || (y == k && v2[x].2 == old));
                assert!(forced, "{kind:?}: grid {} changed colour unforced", a.0);
                changed.push(a.0.clone());
            }
        }
        assert!(changed.len() <= 1, "{kind:?}: {changed:?} changed colour");
        eprintln!(
            "{kind:?}: merged {gone} into {keep}; {} of {} grids kept their colour",
            v2.len() - changed.len(),
            v2.len()
        );
        // the colour is a column of the grid tables and of the active views, on this backend
        let target = s.target().to_string();
        s.close().await;
        let col = common::stores::execute_sql;
        col(kind, &target, "SELECT color FROM active_grids").await;
        col(kind, &target, "SELECT color FROM active_micro_grids").await;
        col(kind, &target, "UPDATE grids SET color = color").await;
    }
}

/// A version saved when its neighbours were different can clash with today's neighbours: when it
/// is activated again (a rollback), its clashing grids are recoloured, the others keep theirs.
#[tokio::test(flavor = "multi_thread")]
async fn activating_an_older_version_mends_colours_that_clash_with_todays_neighbours() {
    for kind in kinds() {
        let dir = tmp();
        let ds = synth_ds(dir.path(), 9000, 11, false);
        let plan = partition::partition(&ds, &Options::default(), &|| {});
        let target = fresh_target(kind, dir.path()).await;
        let s = Store::open(&target).await.unwrap();
        s.save_run(&ds, &plan, &meta("v1"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let v1 = store_grids(&s).await;
        // a grid of village A bordering a grid of another village
        let &(i, j, _) = bordering(&v1)
            .iter()
            .find(|&&(i, j, _)| v1[i].1 != v1[j].1)
            .expect("two villages share a border");
        let (a, village, other_colour) = (v1[i].0.clone(), v1[i].1.clone(), v1[j].2.unwrap());
        // village A saves version 2 (the same assignment), so version 1 is no longer active
        let (info, rec) = s.active_plan(&village).await.unwrap().unwrap();
        let assignment: BTreeMap<String, String> = rec
            .assignment
            .iter()
            .filter_map(|x| Some((x.id.clone(), x.grid.clone()?)))
            .collect();
        let req = wangge::store::edit::DraftRequest {
            base: Some(info.version),
            assignment,
            reason: "v2".into(),
            activate: true,
        };
        s.save_draft(&village, &req, "test").await.unwrap();
        s.close().await;
        // version 1's grid takes its neighbour's colour, as if it had been saved beside another plan
        let target_sql = s.target().to_string();
        common::stores::execute_sql(
            kind,
            &target_sql,
            &format!(
                "UPDATE grids SET color = {other_colour} WHERE code = '{a}' AND plan_fid = \
                 (SELECT fid FROM plans WHERE village_code = '{village}' AND version = 1)"
            ),
        )
        .await;
        let s = Store::open(&target).await.unwrap();
        s.activate(&village, 1, None).await.unwrap();
        let now = store_grids(&s).await;
        assert_proper(&format!("{kind:?} after activating version 1"), &now);
        let before: HashMap<&str, Option<u8>> = v1.iter().map(|x| (x.0.as_str(), x.2)).collect();
        let changed: Vec<&str> = now
            .iter()
            .filter(|x| x.0 != a && before.get(x.0.as_str()) != Some(&x.2))
            .map(|x| x.0.as_str())
            .collect();
        assert!(
            changed.is_empty(),
            "{kind:?}: grids {changed:?} changed colour unforced"
        );
        s.close().await;
    }
}

/// `/api/grids`, `/api/micro_grids` and the grid tiles carry the colour.
#[tokio::test(flavor = "multi_thread")]
async fn the_map_serves_colours() {
    use wangge::serve::{serve_with, Config, StaticSource};
    let snap = common::partitioned_town(5000, 7);
    let want: HashMap<String, u8> = snap
        .grids
        .iter()
        .map(|g| (g.code.to_string(), g.color.unwrap()))
        .collect();
    let snap_label = (snap.grids[0].label.x(), snap.grids[0].label.y());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let source = std::sync::Arc::new(StaticSource::new(snap));
    tokio::spawn(serve_with(listener, source, Config::default()));
    let client = reqwest::Client::new();
    let get = |p: &str| client.get(format!("{base}{p}")).send();
    let grids: serde_json::Value = get("/api/grids").await.unwrap().json().await.unwrap();
    let feats = grids["features"].as_array().unwrap();
    assert_eq!(feats.len(), want.len());
    for f in feats {
        let code = f["properties"]["code"].as_str().unwrap();
        assert_eq!(
            f["properties"]["color"].as_u64(),
            Some(want[code] as u64),
            "{code}"
        );
    }
    let micro: serde_json::Value = get("/api/micro_grids").await.unwrap().json().await.unwrap();
    assert!(micro["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["properties"]["color"].as_u64().is_some_and(|c| c < 4)));
    let tj: serde_json::Value = get("/tiles/grids.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        tj.to_string().contains("\"color\""),
        "TileJSON advertises color: {tj}"
    );
    // a tile of the whole town: its grid features carry the key `color` (MVT keys are plain text)
    let (lon, lat) = (snap_label.0, snap_label.1);
    let z = 12u32;
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let lr = lat.to_radians();
    let y = ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    let r = get(&format!("/tiles/grids/{z}/{x}/{y}.mvt")).await.unwrap();
    assert_eq!(r.status(), 200);
    let gz = r
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let bytes = r.bytes().await.unwrap().to_vec();
    let bytes = if gz {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes
    };
    assert!(
        bytes.windows(5).any(|w| w == b"color"),
        "grid tile has no color key"
    );
}
