//! One test suite, run against both backends: a GeoPackage file, and a real PostgreSQL + PostGIS
//! when `WANGGE_TEST_PG` names an admin URL (scripts/test starts a throwaway cluster and sets it,
//! and sets `WANGGE_REQUIRE_PG=1` so CI cannot skip it silently). Each test makes fresh databases.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use wangge::model::{Dataset, Weight};
use wangge::partition::{self, Band, Options, Plan};
use wangge::serve::State;
use wangge::snapshot::{Person, Role};
use wangge::store::{Backend, Base, MapChanges, PlanMeta, Store, StoreError};

use common::stores::{fresh_target, kinds, Kind};

async fn fresh(kind: Kind, dir: &Path) -> Store {
    Store::open(&fresh_target(kind, dir).await)
        .await
        .expect("open store")
}

/// A generated town, read as the partitioner reads it.
fn town(households: u64, seed: u64, dir: &Path) -> Dataset {
    let t = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes: false,
    });
    t.write_dir(dir).unwrap();
    wangge::ingest::read_dir(dir, &Weight::Households).unwrap()
}

fn plan(ds: &Dataset, band: (f64, f64)) -> Plan {
    let opts = Options {
        band: Band {
            min: band.0,
            max: band.1,
        },
        ..Options::default()
    };
    partition::partition(ds, &opts, &|| {})
}

fn meta(reason: &str) -> PlanMeta {
    PlanMeta {
        author: "test".into(),
        reason: reason.into(),
        params: "{}".into(),
    }
}

/// Everything a user could see of a store, to prove a failed write changed nothing.
async fn fingerprint(s: &Store) -> String {
    let snap = s.snapshot().await.unwrap();
    let ds = s.dataset().await.unwrap();
    let plans = s.plans(None).await.unwrap();
    format!(
        "rev {} plans {:?} villages {} buildings {} ids {:?} barriers {} grids {:?} people {:?}",
        s.revision().await.unwrap(),
        plans
            .iter()
            .map(|p| (&p.village, p.version, p.active))
            .collect::<Vec<_>>(),
        ds.villages.len(),
        ds.buildings.len(),
        ds.buildings
            .iter()
            .map(|b| (&b.id, b.households))
            .collect::<Vec<_>>(),
        ds.barriers.len(),
        snap.grids
            .iter()
            .map(|g| g.code.to_string())
            .collect::<Vec<_>>(),
        snap.grids.iter().map(|g| g.people.len()).sum::<usize>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_snapshot_and_dataset_round_trip() {
    let dir = common::tmp();
    let mut ds = town(3000, 11, &dir.path().join("in"));
    // Text that must survive each backend's batch encoding (JSON, array literals) as it is.
    for (b, text) in ds.buildings.iter_mut().zip([
        r#"和平路 1 号 "东楼", {2} \ 3"#,
        "NULL",
        "",
        " spaces , commas } ",
        r#"\"#,
    ]) {
        b.address = Some(text.to_string());
    }
    ds.buildings[5].address = None;
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        let n = s.import(&ds, &mut |_, _| {}).await.unwrap();
        assert_eq!(n.villages, ds.villages.len(), "{kind:?}");
        assert_eq!(n.buildings, ds.buildings.len(), "{kind:?}");
        let back = s.dataset().await.unwrap();
        assert_eq!(back.villages.len(), ds.villages.len(), "{kind:?}");
        let mut a: Vec<_> = ds
            .buildings
            .iter()
            .map(|b| {
                (
                    b.id.clone(),
                    b.households,
                    b.residents,
                    b.point,
                    b.address.clone(),
                )
            })
            .collect();
        let mut b: Vec<_> = back
            .buildings
            .iter()
            .map(|b| {
                (
                    b.id.clone(),
                    b.households,
                    b.residents,
                    b.point,
                    b.address.clone(),
                )
            })
            .collect();
        a.sort_by(|x, y| x.0.cmp(&y.0));
        b.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            a, b,
            "{kind:?}: buildings come back exactly (coordinates bit for bit)"
        );
        let fp = ds
            .buildings
            .iter()
            .filter(|b| b.footprint.is_some())
            .count();
        assert_eq!(
            back.buildings
                .iter()
                .filter(|b| b.footprint.is_some())
                .count(),
            fp,
            "{kind:?}: footprints"
        );
        for (v, w) in ds.villages.iter().zip(&back.villages) {
            assert_eq!(v.boundary, w.boundary, "{kind:?}: village {}", v.code);
        }
        // Importing again replaces, never duplicates.
        s.import(&ds, &mut |_, _| {}).await.unwrap();
        assert_eq!(
            s.dataset().await.unwrap().buildings.len(),
            ds.buildings.len()
        );
        let snap = s.snapshot().await.unwrap();
        assert!(snap.grids.is_empty(), "no plan yet");
        assert_eq!(snap.buildings.len(), ds.buildings.len());
    }
}

/// A plan's assignment is read from the copy packed in its `plans` row; a plan saved before that
/// copy existed (empty column) reads the same from the `assignments` table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_reads_the_same_packed_or_from_its_assignment_rows() {
    let dir = common::tmp();
    let ds = town(3000, 12, &dir.path().join("in"));
    let p = plan(&ds, (300.0, 500.0));
    for kind in kinds() {
        let target = fresh_target(kind, dir.path()).await;
        let s = Store::open(&target).await.unwrap();
        s.save_run(&ds, &p, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let village = p.villages[0].code.to_string();
        let (_, packed) = s.active_plan(&village).await.unwrap().unwrap();
        assert!(!packed.assignment.is_empty(), "{kind:?}");
        assert!(
            packed.assignment.iter().any(|a| !a.micro.is_empty()),
            "{kind:?}: micro-grid codes come back"
        );
        s.close().await;
        common::stores::execute_sql(kind, &target, "UPDATE plans SET assignment_json = NULL").await;
        let s = Store::open(&target).await.unwrap();
        let (_, rows) = s.active_plan(&village).await.unwrap().unwrap();
        assert_eq!(rows.assignment, packed.assignment, "{kind:?}");
        assert_eq!(
            rows.assignment.len(),
            p.villages[0].assignment.len(),
            "{kind:?}: every building and unit"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_keep_codes_retire_codes_diff_and_roll_back() {
    let dir = common::tmp();
    let ds = town(4000, 12, &dir.path().join("in"));
    let p1 = plan(&ds, (300.0, 500.0));
    let p2 = plan(&ds, (200.0, 330.0));
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        let saved = s
            .save_run(&ds, &p1, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        assert!(saved
            .iter()
            .all(|x| x.version == 1 && x.kept == 0 && x.retired == 0));
        // The first plan keeps the partitioner's codes.
        let snap = s.snapshot().await.unwrap();
        let want: Vec<String> = p1
            .villages
            .iter()
            .flat_map(|v| v.grids.iter().map(|g| g.code.to_string()))
            .collect();
        let got: Vec<String> = snap.grids.iter().map(|g| g.code.to_string()).collect();
        assert_eq!(got, want, "{kind:?}");
        // The same plan saved again is the same grids: every code kept, none issued or retired.
        let again = s
            .save_run(
                &ds,
                &p1,
                &meta("same again"),
                &s.active_versions().await.unwrap(),
                &mut |_, _| {},
            )
            .await
            .unwrap();
        assert!(
            again
                .iter()
                .all(|x| x.version == 2 && x.issued == 0 && x.retired == 0),
            "{kind:?}: {again:?}"
        );
        let v0 = p1.villages[0].code.to_string();
        let d = s.diff(&v0, 1, 2).await.unwrap();
        assert!(
            d.added.is_empty()
                && d.removed.is_empty()
                && d.changed.is_empty()
                && d.moved.is_empty(),
            "{d:?}"
        );
        // A different plan (smaller grids): new codes are never ones issued before.
        let issued_before: BTreeSet<String> = want.iter().cloned().collect();
        let third = s
            .save_run(
                &ds,
                &p2,
                &meta("smaller grids"),
                &s.active_versions().await.unwrap(),
                &mut |_, _| {},
            )
            .await
            .unwrap();
        assert!(third.iter().all(|x| x.version == 3));
        let snap3 = s.snapshot().await.unwrap();
        let codes3: BTreeSet<String> = snap3.grids.iter().map(|g| g.code.to_string()).collect();
        assert!(
            codes3.len() > issued_before.len(),
            "smaller band, more grids"
        );
        let d = s.diff(&v0, 2, 3).await.unwrap();
        assert!(
            !d.added.is_empty() && !d.moved.is_empty(),
            "{kind:?}: {d:?}"
        );
        for c in &d.added {
            assert!(!issued_before.contains(c), "{kind:?}: code {c} reissued");
        }
        for m in &d.moved {
            assert_ne!(m.from, m.to);
        }
        // Roll back to version 1: its codes are live again and the map shows them.
        let before_rollback = s.map_snapshot().await.unwrap();
        s.activate(&v0, 1, Some(Some(3))).await.unwrap();
        // What changed is that one village's plan; applied to the map as it was, it gives the
        // map as it is, and nothing changed since.
        let full = State::new(s.map_snapshot().await.unwrap());
        let MapChanges::Plans {
            revision,
            people,
            villages,
        } = s.map_changes(&before_rollback).await.unwrap()
        else {
            panic!("{kind:?}: an activation is a change of plans")
        };
        assert_eq!(
            villages
                .iter()
                .map(|c| before_rollback.villages[c.index].code.to_string())
                .collect::<Vec<_>>(),
            vec![v0.clone()],
            "{kind:?}: only the rolled-back village changed"
        );
        let before = State::new(before_rollback.clone());
        let (incremental, dirty) = before.apply(revision, people, villages).unwrap();
        assert!(!dirty.is_empty());
        let key = |sn: &wangge::snapshot::Snapshot| {
            (
                sn.revision,
                sn.grids
                    .iter()
                    .map(|g| {
                        (
                            g.code.to_string(),
                            g.village,
                            g.geometry.clone(),
                            g.people.clone(),
                        )
                    })
                    .collect::<Vec<_>>(),
                sn.micro_grids
                    .iter()
                    .map(|m| (m.code.to_string(), m.grid, m.geometry.clone()))
                    .collect::<Vec<_>>(),
                sn.villages
                    .iter()
                    .map(|v| (v.code.to_string(), v.plan_version))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(
            key(&full.snapshot) == key(&incremental.snapshot),
            "{kind:?}: incremental map differs"
        );
        assert_ne!(
            key(&full.snapshot).1,
            key(&before.snapshot).1,
            "the rollback changed the map"
        );
        assert!(matches!(
            s.map_changes(&full.snapshot).await.unwrap(),
            MapChanges::None
        ));
        let plans = s.plans(Some(&v0)).await.unwrap();
        assert_eq!(
            plans
                .iter()
                .map(|p| (p.version, p.active))
                .collect::<Vec<_>>(),
            [(1, true), (2, false), (3, false)]
        );
        let back = s.snapshot().await.unwrap();
        let v0_codes: Vec<String> = back
            .grids
            .iter()
            .filter(|g| g.code.as_str().starts_with(&v0))
            .map(|g| g.code.to_string())
            .collect();
        let want_v0: Vec<String> = p1.villages[0]
            .grids
            .iter()
            .map(|g| g.code.to_string())
            .collect();
        assert_eq!(v0_codes, want_v0, "{kind:?}");
        // Every building is in exactly one grid of the snapshot, and micro-grids nest in it.
        for b in &back.buildings {
            let g = b.grid.expect("every building has a grid");
            for &m in &b.micro {
                assert_eq!(back.micro_grids[m].grid, g);
            }
        }
        // Unknown versions are errors that say what is missing.
        let e = s.activate(&v0, 9, None).await.unwrap_err();
        assert!(e.to_string().contains("plan version 9"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_gets_a_conflict_and_changes_nothing() {
    let dir = common::tmp();
    let ds = town(2000, 13, &dir.path().join("in"));
    let p = plan(&ds, (300.0, 500.0));
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        s.save_run(&ds, &p, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let base = s.active_versions().await.unwrap();
        // Writer A saves; writer B still holds the old base.
        s.save_run(&ds, &p, &meta("A"), &base, &mut |_, _| {})
            .await
            .unwrap();
        let before = fingerprint(&s).await;
        let e = s
            .save_run(&ds, &p, &meta("B"), &base, &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{kind:?}: {e}");
        assert!(e.to_string().contains("version 2 is active now"), "{e}");
        assert_eq!(fingerprint(&s).await, before, "{kind:?}: nothing written");
        // Two writers at once from the same base: exactly one wins.
        let base = s.active_versions().await.unwrap();
        let recs: Vec<_> = p
            .villages
            .iter()
            .map(wangge::store::VillagePlanRecord::from_partition)
            .collect();
        let (s1, s2) = (s.clone(), s.clone());
        let (r1, b1, m1) = (recs.clone(), base.clone(), meta("racer 1"));
        let (r2, b2, m2) = (recs.clone(), base.clone(), meta("racer 2"));
        let t1 = tokio::spawn(async move { s1.save_plans(&r1, &m1, &b1).await });
        let t2 = tokio::spawn(async move { s2.save_plans(&r2, &m2, &b2).await });
        let (a, b) = (t1.await.unwrap(), t2.await.unwrap());
        assert!(
            a.is_ok() != b.is_ok(),
            "{kind:?}: one must win: {a:?} / {b:?}"
        );
        let loser = a.err().or(b.err()).unwrap();
        assert!(
            matches!(loser, StoreError::Conflict { .. }),
            "{kind:?}: {loser}"
        );
        // Versions: 1 first, 2 by A, B refused, 3 by the racer that won.
        let plans = s.plans(None).await.unwrap();
        assert_eq!(
            plans.iter().filter(|p| p.version == 3 && p.active).count(),
            p.villages.len()
        );
        assert!(
            plans.iter().all(|p| p.version <= 3),
            "{kind:?}: the loser wrote nothing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_import_names_the_feature_and_rolls_back() {
    let dir = common::tmp();
    let ds = town(8000, 14, &dir.path().join("in"));
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        // Only the first village first; then a dataset whose other village reuses one of its ids.
        assert!(ds.villages.len() >= 2, "the test town has several villages");
        let v0 = ds.buildings[0].village;
        let mut first = ds.clone();
        first.villages = vec![ds.villages[v0].clone()];
        first.buildings.retain(|b| b.village == v0);
        for b in &mut first.buildings {
            b.village = 0;
        }
        s.import(&first, &mut |_, _| {}).await.unwrap();
        let before = fingerprint(&s).await;
        let mut bad = ds.clone();
        bad.villages.remove(v0);
        bad.buildings.retain(|b| b.village != v0);
        for b in &mut bad.buildings {
            if b.village > v0 {
                b.village -= 1;
            }
        }
        assert!(!bad.buildings.is_empty());
        let i = bad.buildings.len() / 2;
        bad.buildings[i].id = first.buildings[0].id.clone();
        let e = s.import(&bad, &mut |_, _| {}).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&format!("feature #{i}")), "{kind:?}: {msg}");
        assert!(
            msg.contains("field `id`") && msg.contains(&first.buildings[0].id),
            "{msg}"
        );
        assert_eq!(fingerprint(&s).await, before, "{kind:?}: store unchanged");
        // Two villages with one code: refused (not the second written over the first).
        let mut dup = ds.clone();
        dup.villages[1].code = dup.villages[0].code.clone();
        let e = s
            .import(&dup, &mut |_, _| {})
            .await
            .unwrap_err()
            .to_string();
        for w in [
            "villages.geojson",
            "feature #1",
            "field `code`",
            "feature #0",
        ] {
            assert!(e.contains(w), "{kind:?}: {e:?} should say {w:?}");
        }
        assert_eq!(fingerprint(&s).await, before, "{kind:?}: store unchanged");
        // A plan for a village the store does not hold is refused whole.
        let p = plan(&ds, (300.0, 500.0));
        let recs: Vec<_> = p
            .villages
            .iter()
            .map(wangge::store::VillagePlanRecord::from_partition)
            .collect();
        let e = s
            .save_plans(&recs, &meta("x"), &Base::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not in the store"), "{e}");
        assert_eq!(fingerprint(&s).await, before, "{kind:?}: store unchanged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_belong_to_live_grids() {
    let dir = common::tmp();
    let ds = town(2000, 15, &dir.path().join("in"));
    let p1 = plan(&ds, (300.0, 500.0));
    let p2 = plan(&ds, (150.0, 250.0));
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        s.save_run(&ds, &p1, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let code = p1.villages[0].grids[0].code.to_string();
        let people = vec![
            Person {
                role: Role::GridLeader,
                name: "王建国".into(),
                phone: Some("13800000001".into()),
            },
            Person {
                role: Role::GridWorker,
                name: "李梅".into(),
                phone: None,
            },
        ];
        s.set_people(&code, &people).await.unwrap();
        let snap = s.snapshot().await.unwrap();
        let g = snap.grids.iter().find(|g| g.code.as_str() == code).unwrap();
        assert_eq!(g.people.len(), 2);
        assert!(g.people.contains(&people[0]) && g.people.contains(&people[1]));
        let e = s.set_people("999999999999001", &people).await.unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        // After a re-plan that retires codes, a retired code takes no people.
        s.save_run(
            &ds,
            &p2,
            &meta("smaller"),
            &s.active_versions().await.unwrap(),
            &mut |_, _| {},
        )
        .await
        .unwrap();
        let live: BTreeSet<String> = s
            .snapshot()
            .await
            .unwrap()
            .grids
            .iter()
            .map(|g| g.code.to_string())
            .collect();
        let d = s.diff(p1.villages[0].code.as_str(), 1, 2).await.unwrap();
        if let Some(retired) = d.removed.first() {
            assert!(!live.contains(retired));
            let e = s.set_people(retired, &people).await.unwrap_err();
            assert!(e.to_string().contains("retired"), "{kind:?}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_read_back_and_gdal_reads_the_geopackage() {
    let dir = common::tmp();
    let ds = town(3000, 16, &dir.path().join("in"));
    let p = plan(&ds, (300.0, 500.0));
    let grids: usize = p.villages.iter().map(|v| v.grids.len()).sum();
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        s.save_run(&ds, &p, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let out = dir.path().join(format!("export-{kind:?}"));
        let e = wangge::store::export::export_dir(&s, &out, None, None)
            .await
            .unwrap();
        assert_eq!(e.grids, grids);
        let g = common::read_json(&out.join("grids.geojson"));
        assert_eq!(g["features"].as_array().unwrap().len(), grids);
        // The exported input files partition again to the same plan.
        let back = wangge::ingest::read_dir(&out, &Weight::Households).unwrap();
        assert_eq!(back.buildings.len(), ds.buildings.len());
        let p_again = plan(&back, (300.0, 500.0));
        // the same plan: every grid and micro-grid with its code, outline and figures, and the
        // same assignment (a count of grids would pass a different plan)
        let opts = Options {
            band: Band {
                min: 300.0,
                max: 500.0,
            },
            ..Options::default()
        };
        assert!(
            wangge::output::grids_geojson(&p_again, &opts)
                == wangge::output::grids_geojson(&p, &opts),
            "{kind:?}: the grids differ"
        );
        assert!(
            wangge::output::micro_geojson(&p_again) == wangge::output::micro_geojson(&p),
            "{kind:?}: the micro-grids differ"
        );
        assert_eq!(
            wangge::output::assignment_csv(&p_again),
            wangge::output::assignment_csv(&p),
            "{kind:?}"
        );
        // A standalone GeoPackage that GDAL reads, with the right types and SRS.
        let gpkg = dir.path().join(format!("export-{kind:?}.gpkg"));
        wangge::store::export::export_gpkg(&s, &gpkg, None, None)
            .await
            .unwrap();
        ogrinfo_checks(&gpkg, grids, ds.buildings.len());
        if s.backend() == Backend::Gpkg {
            ogrinfo_checks(Path::new(s.target()), grids, ds.buildings.len());
        }
    }
}

/// `export --village`: only that village's data and plan (read alone from the store), into a
/// folder and into a GeoPackage; an unknown village is an error, not an empty export.
#[tokio::test]
async fn a_village_exports_alone() {
    let dir = common::tmp();
    let ds = town(6000, 16, &dir.path().join("in"));
    assert_eq!(ds.villages.len(), 2, "a town of two villages");
    let p = plan(&ds, (300.0, 500.0));
    let v = ds.villages[1].code.to_string();
    let own = |d: &Dataset| {
        d.buildings
            .iter()
            .filter(|b| d.villages[b.village].code.as_str() == v)
            .count()
    };
    let grids = p
        .villages
        .iter()
        .find(|x| x.code.as_str() == v)
        .unwrap()
        .grids
        .len();
    for kind in kinds() {
        let s = fresh(kind, dir.path()).await;
        s.save_run(&ds, &p, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let out = dir.path().join(format!("village-{kind:?}"));
        let e = wangge::store::export::export_dir(&s, &out, Some(&v), None)
            .await
            .unwrap();
        assert_eq!(
            (e.plans, e.grids, e.buildings),
            (1, grids, own(&ds)),
            "{kind:?}"
        );
        let back = wangge::ingest::read_dir(&out, &Weight::Households).unwrap();
        assert_eq!(back.villages.len(), 1);
        assert_eq!(back.villages[0].code.as_str(), v);
        assert_eq!(back.buildings.len(), own(&ds));
        let gpkg = dir.path().join(format!("village-{kind:?}.gpkg"));
        wangge::store::export::export_gpkg(&s, &gpkg, Some(&v), None)
            .await
            .unwrap();
        let g = Store::open(gpkg.to_str().unwrap()).await.unwrap();
        let gds = g.dataset().await.unwrap();
        assert_eq!(gds.villages.len(), 1);
        assert_eq!(gds.buildings.len(), own(&ds), "{kind:?}");
        let (_, gp) = g.active_plan(&v).await.unwrap().unwrap();
        assert_eq!(gp.grids.len(), grids);
        let e = wangge::store::export::export_dir(
            &s,
            &dir.path().join("none"),
            Some("999999999999"),
            None,
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("village 999999999999 not found"),
            "{e}"
        );
        assert!(!dir.path().join("none").exists());
    }
}

/// GDAL's own reader must list every layer with its geometry type, EPSG:4326, and the counts.
fn ogrinfo_checks(gpkg: &Path, grids: usize, buildings: usize) {
    let run = |args: &[&str]| {
        let o = Command::new("ogrinfo")
            .args(args)
            .output()
            .expect("ogrinfo (gdal-bin) is installed by scripts/test");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "ogrinfo {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    let p = gpkg.to_str().unwrap();
    let list = run(&["-ro", "-q", p]);
    for (layer, ty) in [
        ("villages", "Multi Polygon"),
        ("active_grids", "Multi Polygon"),
        ("active_micro_grids", "Multi Polygon"),
        ("grids", "Multi Polygon"),
        ("buildings", "Point"),
        ("barriers", "Multi Line String"),
        ("patrol_tracks", "Multi Line String"),
        ("villager_groups", "Multi Polygon"),
        ("units", "Multi Polygon"),
    ] {
        assert!(
            list.lines()
                .any(|l| l.contains(&format!(": {layer} ({ty})"))),
            "{p}: layer {layer} ({ty}) not listed:\n{list}"
        );
    }
    for t in ["plans", "codes", "grid_people", "assignments"] {
        assert!(
            list.lines().any(|l| l.contains(&format!(": {t} (None)"))),
            "{t}:\n{list}"
        );
    }
    let info = run(&["-ro", "-so", p, "active_grids"]);
    assert!(info.contains(&format!("Feature Count: {grids}")), "{info}");
    assert!(
        info.contains("ID[\"EPSG\",4326]") || info.contains("AUTHORITY[\"EPSG\",\"4326\"]"),
        "{info}"
    );
    let info = run(&["-ro", "-so", p, "buildings"]);
    assert!(
        info.contains(&format!("Feature Count: {buildings}")),
        "{info}"
    );
    // GDAL reads every geometry blob: the full dump of grids has one MULTIPOLYGON per feature.
    let dump = run(&["-ro", "-q", p, "active_grids"]);
    assert_eq!(
        dump.matches("MULTIPOLYGON (((").count(),
        grids,
        "geometries GDAL could decode"
    );
}

#[test]
fn a_killed_import_leaves_the_store_as_it_was() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = common::tmp();
    let small = dir.path().join("small");
    let big = dir.path().join("big");
    let ds_small = town(1500, 21, &small);
    // A bigger town (other village codes): its import runs long enough to be killed mid-way.
    let t = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 120_000,
        seed: 22,
        odd_shapes: false,
    });
    t.write_dir(&big).unwrap();
    for kind in kinds() {
        let target = rt.block_on(fresh_target(kind, dir.path()));
        let before = rt.block_on(async {
            let s = Store::open(&target).await.unwrap();
            s.import(&ds_small, &mut |_, _| {}).await.unwrap();
            let f = fingerprint(&s).await;
            s.close().await;
            f
        });
        let mut child = Command::new(common::bin())
            .args(["import", big.to_str().unwrap(), "--db", &target])
            .env("WANGGE_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until rows are being written inside the transaction, then kill -9.
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
            assert!(n > 0, "{kind:?}: import ended before writing any rows");
            if line.contains("imported") && line.contains("buildings") {
                break;
            }
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{kind:?}: the import finished before it was killed"
        );
        let after = rt.block_on(async {
            let s = Store::open(&target).await.unwrap();
            fingerprint(&s).await
        });
        assert_eq!(after, before, "{kind:?}: a killed import changed the store");
        // A bulk import drops the building indexes and builds them again inside the
        // transaction: killed or finished, they are all there.
        let want: &[&str] = match kind {
            Kind::Postgis => &[
                "building_footprints_geom",
                "buildings_addr_core",
                "buildings_addr_number",
                "buildings_cell",
                "buildings_geom",
                "buildings_village",
            ],
            Kind::Gpkg => &[
                "buildings_addr_core",
                "buildings_addr_number",
                "buildings_cell",
                "buildings_village",
            ],
        };
        assert_eq!(
            building_indexes(&rt, kind, &target),
            want,
            "{kind:?}: after a killed import"
        );
        let (ok, _, err) = common::wangge(&["import", big.to_str().unwrap(), "--db", &target]);
        assert!(ok, "import: {err}");
        assert_eq!(
            building_indexes(&rt, kind, &target),
            want,
            "{kind:?}: after a bulk import"
        );
    }
}

/// PostGIS: every feature table's geometry column is `geometry(<type>, 4326)` with a GiST index,
/// so QGIS, GDAL or a tile server read the tables directly.
#[test]
fn postgis_tables_are_typed_4326_geometry_with_gist_indexes() {
    use sqlx::Connection;
    let Some(kind) = kinds().into_iter().find(|k| matches!(k, Kind::Postgis)) else {
        return;
    };
    let dir = common::tmp();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let target = fresh_target(kind, dir.path()).await;
        Store::open(&target).await.unwrap();
        let mut c = sqlx::PgConnection::connect(&target).await.unwrap();
        let cols: Vec<(String, i32, String)> = sqlx::query_as(
            "SELECT f_table_name::text, srid, type::text FROM geometry_columns \
             WHERE f_table_schema = current_schema() ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let want = [
            ("barriers", "MULTILINESTRING"),
            ("building_footprints", "MULTIPOLYGON"),
            ("buildings", "POINT"),
            ("grids", "MULTIPOLYGON"),
            ("micro_grids", "MULTIPOLYGON"),
            ("patrol_tracks", "MULTILINESTRING"),
            ("units", "MULTIPOLYGON"),
            ("villager_groups", "MULTIPOLYGON"),
            ("villages", "MULTIPOLYGON"),
        ];
        for (table, ty) in want {
            let found = cols.iter().find(|c| c.0 == table);
            assert_eq!(
                found.map(|c| (c.1, c.2.as_str())),
                Some((4326, ty)),
                "{table}: {cols:?}"
            );
            let gist: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_indexes WHERE tablename = $1 \
                 AND indexdef LIKE '%USING gist (geom)%'",
            )
            .bind(table)
            .fetch_one(&mut c)
            .await
            .unwrap();
            assert_eq!(gist, 1, "{table}: one GiST index on geom");
        }
    });
}

/// Without `--db`, a command uses `wangge.gpkg` in the working directory, created on first use
/// (no set-up), and GDAL reads it.
#[test]
fn the_default_store_is_wangge_gpkg_in_the_working_directory() {
    let dir = common::tmp();
    let d = dir.path();
    let input = d.join("in");
    town(2000, 17, &input);
    let work = d.join("work");
    std::fs::create_dir(&work).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wangge"))
            .args(args)
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    // an import without --db creates the store here
    run(&["import", input.to_str().unwrap()]);
    let gpkg = work.join("wangge.gpkg");
    assert!(gpkg.exists(), "no wangge.gpkg in the working directory");
    run(&[
        "partition",
        input.to_str().unwrap(),
        "--db",
        gpkg.to_str().unwrap(),
        "--quiet",
    ]);
    // and a listing without --db reads the plans from it
    let v: serde_json::Value = serde_json::from_slice(&run(&["plans", "--json"])).unwrap();
    assert!(
        !v.as_array().unwrap().is_empty(),
        "the plans are in the default store"
    );
    let o = Command::new("ogrinfo")
        .args(["-ro", "-q"])
        .arg(&gpkg)
        .output()
        .expect("ogrinfo");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("active_grids"));
}

/// The non-unique indexes on the buildings tables of a store, by name.
fn building_indexes(rt: &tokio::runtime::Runtime, kind: Kind, target: &str) -> Vec<String> {
    use sqlx::Connection;
    rt.block_on(async {
        match kind {
            Kind::Postgis => {
                let mut c = sqlx::PgConnection::connect(target).await.unwrap();
                sqlx::query_scalar(
                    "SELECT indexname::text FROM pg_indexes WHERE tablename IN \
                     ('buildings', 'building_footprints') AND indexdef NOT LIKE '%UNIQUE%' \
                     AND indexname NOT LIKE '%pkey' ORDER BY 1",
                )
                .fetch_all(&mut c)
                .await
                .unwrap()
            }
            Kind::Gpkg => {
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{target}"))
                    .await
                    .unwrap();
                sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                     AND tbl_name IN ('buildings', 'building_footprints') ORDER BY 1",
                )
                .fetch_all(&mut c)
                .await
                .unwrap()
            }
        }
    })
}

/// The command line a script uses: partition into a store, list, export, import elsewhere, people.
#[test]
fn the_store_commands_work_end_to_end() {
    let dir = common::tmp();
    let d = dir.path();
    let input = d.join("in");
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 3000,
        seed: 31,
        odd_shapes: false,
    })
    .write_dir(&input)
    .unwrap();
    let a = d.join("a.gpkg");
    let (a_s, b_s) = (a.to_str().unwrap(), d.join("b.gpkg"));
    let run = |args: &[&str]| {
        let (ok, out, err) = common::wangge(args);
        assert!(ok, "wangge {args:?} failed:\n{err}");
        out
    };
    let out = run(&["partition", input.to_str().unwrap(), "--db", a_s, "--quiet"]);
    assert!(out.is_empty(), "quiet: {out}");
    let plans: serde_json::Value =
        serde_json::from_str(&run(&["plans", "--db", a_s, "--json"])).unwrap();
    let plans = plans.as_array().unwrap();
    assert!(
        !plans.is_empty()
            && plans
                .iter()
                .all(|p| p["version"] == 1 && p["active"] == true)
    );
    let village = plans[0]["village"].as_str().unwrap().to_string();
    // Re-running saves version 2 with the same codes; diff says nothing changed.
    run(&["partition", input.to_str().unwrap(), "--db", a_s, "--quiet"]);
    let diff: serde_json::Value = serde_json::from_str(&run(&[
        "diff",
        "--db",
        a_s,
        "--village",
        &village,
        "1",
        "2",
    ]))
    .unwrap();
    assert_eq!(diff["added"].as_array().unwrap().len(), 0, "{diff}");
    assert!(!diff["unchanged"].as_array().unwrap().is_empty());
    // Activate with a stale expectation: a clear conflict, exit non-zero.
    let (ok, _, err) = common::wangge(&[
        "activate",
        "--db",
        a_s,
        "--village",
        &village,
        "--version",
        "1",
        "--expect",
        "1",
    ]);
    assert!(
        !ok && err.contains("conflict") && err.contains(&village),
        "{err}"
    );
    run(&[
        "activate",
        "--db",
        a_s,
        "--village",
        &village,
        "--version",
        "1",
        "--expect",
        "2",
    ]);
    // People from a CSV; a bad role names the file, line and field.
    let grid = format!("{village}001");
    let csv = d.join("people.csv");
    std::fs::write(
        &csv,
        format!("grid_code,role,name,phone\n{grid},grid_leader,张伟,13900000000\n"),
    )
    .unwrap();
    run(&["people", csv.to_str().unwrap(), "--db", a_s]);
    std::fs::write(
        &csv,
        format!("grid_code,role,name,phone\n{grid},boss,张伟,1\n"),
    )
    .unwrap();
    let (ok, _, err) = common::wangge(&["people", csv.to_str().unwrap(), "--db", a_s]);
    assert!(
        !ok && err.contains("line 2") && err.contains("field `role`"),
        "{err}"
    );
    // Export to a GeoPackage, import that into a new store.
    let x = d.join("x.gpkg");
    run(&["export", "--db", a_s, "--out", x.to_str().unwrap()]);
    let out = run(&["import", x.to_str().unwrap(), "--db", b_s.to_str().unwrap()]);
    assert!(out.contains("imported"), "{out}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (src, dst, exported) = rt.block_on(async {
        let src = Store::open(a_s).await.unwrap().dataset().await.unwrap();
        let dst = Store::open(b_s.to_str().unwrap())
            .await
            .unwrap()
            .dataset()
            .await
            .unwrap();
        let snap = Store::open(x.to_str().unwrap())
            .await
            .unwrap()
            .snapshot()
            .await
            .unwrap();
        (src, dst, snap)
    });
    assert_eq!(src.buildings.len(), dst.buildings.len());
    assert_eq!(src.villages.len(), dst.villages.len());
    let g = exported
        .grids
        .iter()
        .find(|g| g.code.as_str() == grid)
        .expect("grid exported");
    assert_eq!(g.people.len(), 1, "people travel with the export");
    // A store path in a folder that does not exist: a clear error.
    let (ok, _, err) = common::wangge(&["plans", "--db", "/no/such/dir/x.gpkg"]);
    assert!(!ok && err.contains("/no/such/dir/x.gpkg"), "{err}");
}

/// A small tmpfs, mounted for one test and unmounted when dropped (also when the test fails).
/// Mounting needs root, as CI runs; elsewhere the test says it was skipped, and fails instead when
/// `WANGGE_REQUIRE_FULL_DISK` is set (scripts/test sets it).
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(size: &str, owner: Option<&str>) -> Option<SmallDisk> {
        let dir = tempfile::Builder::new()
            .prefix("wangge-full-")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        // PostgreSQL (running as `postgres`) must reach and own its tablespace folder.
        Command::new("chmod").arg("755").arg(&dir).status().unwrap();
        let mut opts = format!("size={size},mode=0755");
        if let Some(user) = owner {
            let uid = Command::new("id").args(["-u", user]).output().unwrap();
            opts.push_str(&format!(
                ",uid={}",
                String::from_utf8_lossy(&uid.stdout).trim()
            ));
        }
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            assert!(
                std::env::var("WANGGE_REQUIRE_FULL_DISK").is_err(),
                "WANGGE_REQUIRE_FULL_DISK is set but a tmpfs could not be mounted (needs root)"
            );
            eprintln!("NOTE: cannot mount a tmpfs (not root?): full-disk test skipped");
            return None;
        }
        Some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A disk that fills up in the middle of an import: the import fails with the database's own
/// "disk full" error naming the store, and the store is exactly as it was. The GeoPackage lives on
/// a 3 MB tmpfs; in PostGIS the buildings tables are moved to a tablespace on a 2 MB tmpfs.
#[test]
fn a_full_disk_leaves_the_store_as_it_was() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = common::tmp();
    let small = dir.path().join("small");
    let big = dir.path().join("big");
    let ds_small = town(1500, 31, &small);
    let t = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 60_000,
        seed: 32,
        odd_shapes: false,
    });
    t.write_dir(&big).unwrap();
    for kind in kinds() {
        let (disk, target, tablespace) = match kind {
            Kind::Gpkg => {
                let Some(disk) = SmallDisk::mount("3m", None) else {
                    return;
                };
                let target = disk.dir.join("town.gpkg").to_str().unwrap().to_string();
                (disk, target, None)
            }
            Kind::Postgis => {
                let Some(disk) = SmallDisk::mount("2m", Some("postgres")) else {
                    return;
                };
                let target = rt.block_on(fresh_target(kind, dir.path()));
                let name = disk
                    .dir
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('-', "_");
                let admin = std::env::var("WANGGE_TEST_PG").unwrap();
                rt.block_on(common::stores::execute_sql(
                    kind,
                    &admin,
                    &format!("CREATE TABLESPACE {name} LOCATION '{}'", disk.dir.display()),
                ));
                (disk, target, Some((admin, name)))
            }
        };
        let before = rt.block_on(async {
            let s = Store::open(&target).await.unwrap();
            if let Some((_, ts)) = &tablespace {
                s.close().await;
                for t in ["buildings", "building_footprints"] {
                    common::stores::execute_sql(
                        kind,
                        &target,
                        &format!("ALTER TABLE {t} SET TABLESPACE {ts}"),
                    )
                    .await;
                }
            }
            let s = Store::open(&target).await.unwrap();
            s.import(&ds_small, &mut |_, _| {}).await.unwrap();
            let f = fingerprint(&s).await;
            s.close().await;
            f
        });
        let (ok, _, err) = common::wangge(&["import", big.to_str().unwrap(), "--db", &target]);
        assert!(!ok, "{kind:?}: an import bigger than the disk succeeded");
        let full = match kind {
            Kind::Gpkg => "database or disk is full",
            Kind::Postgis => "No space left on device",
        };
        assert!(err.contains(full), "{kind:?}: {err}");
        let shown = match kind {
            Kind::Gpkg => target.clone(),
            Kind::Postgis => target.rsplit_once('/').unwrap().1.to_string(),
        };
        assert!(
            err.contains(&shown),
            "{kind:?}: the error names the store: {err}"
        );
        let after = rt.block_on(async {
            let s = Store::open(&target).await.unwrap();
            let f = fingerprint(&s).await;
            s.close().await;
            f
        });
        assert_eq!(after, before, "{kind:?}: a failed import changed the store");
        if let Some((admin, ts)) = tablespace {
            let db = target.rsplit_once('/').unwrap().1;
            rt.block_on(async {
                common::stores::execute_sql(kind, &admin, &format!("DROP DATABASE {db}")).await;
                common::stores::execute_sql(kind, &admin, &format!("DROP TABLESPACE {ts}")).await;
            });
        }
        drop(disk);
    }
}

/// Every building the store returns for a box, a village or an address is the one a scan of the
/// town (and the in-memory address index) finds, with its grid under the active plan.
async fn check_building_queries(s: &Store, ds: &Dataset, what: &str) {
    use geo::{BoundingRect, Intersects, Rect};
    use wangge::store::BuildingFilter;
    let full = s.snapshot().await.unwrap();
    let all = s.buildings(&BuildingFilter::default()).await.unwrap();
    assert_eq!(all.len(), ds.buildings.len(), "{what}");
    for (r, b) in all.iter().zip(&full.buildings) {
        assert_eq!(r.id, b.building.id, "{what}: row order");
        assert_eq!(
            r.grid_code.as_deref(),
            b.grid.map(|g| full.grids[g].code.as_str()),
            "{what}: building {} grid",
            r.id
        );
        assert_eq!(r.footprint, b.building.footprint, "{what}: {}", r.id);
    }
    assert!(all.iter().any(|b| b.grid_code.is_some()));
    assert!(all.windows(2).all(|w| w[0].fid < w[1].fid));
    // boxes of every size, some on a footprint's far corner (away from the building's point)
    let ext = ds
        .villages
        .iter()
        .filter_map(|v| v.boundary.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        })
        .unwrap();
    let mut seed = 7u64;
    let mut r = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut boxes: Vec<Rect<f64>> = (0..40)
        .map(|i| {
            let w = ext.width() * [0.002, 0.02, 0.1, 0.5][i % 4];
            let h = ext.height() * [0.002, 0.02, 0.1, 0.5][(i / 4) % 4];
            let x = ext.min().x - w / 2.0 + r() * ext.width();
            let y = ext.min().y - h / 2.0 + r() * ext.height();
            Rect::new((x, y), (x + w, y + h))
        })
        .collect();
    boxes.push(ext);
    let with_fp: Vec<&wangge::snapshot::BuildingRecord> =
        all.iter().filter(|b| b.footprint.is_some()).collect();
    assert!(!with_fp.is_empty(), "{what}: the town has footprints");
    for b in with_fp.iter().take(5) {
        let c = b.footprint.as_ref().unwrap().bounding_rect().unwrap().max();
        boxes.push(Rect::new(c, c));
    }
    let mut seen = 0;
    for bx in boxes {
        let want: Vec<u64> = all
            .iter()
            .filter(|b| bx.intersects(&b.bbox()))
            .map(|b| b.fid)
            .collect();
        let got: Vec<u64> = s
            .buildings_in(bx)
            .await
            .unwrap()
            .iter()
            .map(|b| b.fid)
            .collect();
        assert_eq!(got, want, "{what}: buildings in {bx:?}");
        seen += got.len();
    }
    assert!(seen > 0, "{what}: the boxes found nothing at all");
    // by village
    let v = ds.villages[ds.villages.len() / 2].code.to_string();
    let want: Vec<u64> = all
        .iter()
        .filter(|b| b.village_code == v)
        .map(|b| b.fid)
        .collect();
    let fids = |after: Option<u64>| {
        let filter = BuildingFilter {
            village: Some(v.clone()),
            after,
            ..BuildingFilter::default()
        };
        async move {
            let got: Vec<u64> = s
                .buildings(&filter)
                .await
                .unwrap()
                .iter()
                .map(|b| b.fid)
                .collect();
            got
        }
    };
    let got = fids(None).await;
    assert!(!want.is_empty());
    assert_eq!(got, want, "{what}: buildings of village {v}");
    // and those after the middle one: the rest, in the same order
    let mid = want[want.len() / 2];
    let rest = fids(Some(mid)).await;
    assert_eq!(rest, want[want.len() / 2 + 1..], "{what}: after {mid}");
    // by address: what the in-memory index finds, in the same order, with the same scores
    let index =
        wangge::address::AddressIndex::new(ds.buildings.iter().enumerate().filter_map(|(i, b)| {
            Some((
                i,
                b.address.as_deref()?,
                ds.villages[b.village].name.as_str(),
            ))
        }));
    let mut queries: Vec<String> = Vec::new();
    for b in ds.buildings.iter().step_by(97) {
        let Some(a) = b.address.as_deref() else {
            continue;
        };
        let full_width: String = a
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                c => c,
            })
            .collect();
        queries.push(a.to_string());
        queries.push(format!("浙江省杭州市{full_width}"));
        queries.push(a.replace('栋', "号楼"));
        if let Some(i) = a.rfind('号') {
            queries.push(a[..i + '号'.len_utf8()].to_string());
        }
        // the road alone, and the road with a typo
        let village = &ds.villages[b.village].name;
        let core = a.strip_prefix(village.as_str()).unwrap_or(a);
        if let Some(i) = core.find(|c: char| c.is_ascii_digit()) {
            queries.push(core[..i].to_string());
            let mut cs: Vec<char> = core.chars().collect();
            cs[0] = '建';
            queries.push(cs.into_iter().collect());
        }
    }
    queries.push("火星大道999号".into());
    let mut found = 0;
    for q in &queries {
        let want = index.lookup(q);
        let got = s.find_address(q).await.unwrap();
        assert_eq!(
            got.candidates
                .iter()
                .map(|(b, score)| (b.id.clone(), *score))
                .collect::<Vec<_>>(),
            want.candidates
                .iter()
                .map(|c| (ds.buildings[c.building].id.clone(), c.score))
                .collect::<Vec<_>>(),
            "{what}: address {q}"
        );
        assert_eq!(got.sure, want.sure, "{what}: address {q}");
        found += usize::from(got.sure);
    }
    assert!(found > 5, "{what}: only {found} sure finds");
}

/// A store as it was before migration 3: its columns, indexes and state gone.
async fn undo_migration_3(kind: Kind, target: &str) {
    use sqlx::{Connection, Executor};
    let stmts = [
        "DROP INDEX buildings_cell",
        "DROP INDEX buildings_addr_core",
        "DROP INDEX buildings_addr_number",
        "ALTER TABLE buildings DROP COLUMN cell",
        "ALTER TABLE buildings DROP COLUMN addr_core",
        "ALTER TABLE buildings DROP COLUMN addr_number",
        "DELETE FROM store_state WHERE key = 'building_span_nd'",
        "DELETE FROM wangge_migrations WHERE version = 3",
    ];
    match kind {
        Kind::Gpkg => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{target}"))
                .await
                .unwrap();
            for s in stmts {
                c.execute(s).await.unwrap();
            }
        }
        Kind::Postgis => {
            let mut c = sqlx::PgConnection::connect(target).await.unwrap();
            for s in stmts {
                c.execute(s).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn buildings_by_area_village_and_address_come_from_the_store() {
    let dir = common::tmp();
    let ds = town(3000, 41, &dir.path().join("in"));
    let p = plan(&ds, (300.0, 500.0));
    for kind in kinds() {
        let target = fresh_target(kind, dir.path()).await;
        let s = Store::open(&target).await.unwrap();
        s.save_run(&ds, &p, &meta("first"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        check_building_queries(&s, &ds, &format!("{kind:?}")).await;
        // imported again (a bulk load: indexes dropped and built again): new rows, still right
        s.import(&ds, &mut |_, _| {}).await.unwrap();
        check_building_queries(&s, &ds, &format!("{kind:?}, imported again")).await;
        s.close().await;
        // a store from before migration 3 gets its keys filled when opened
        undo_migration_3(kind, &target).await;
        let s = Store::open(&target).await.unwrap();
        check_building_queries(&s, &ds, &format!("{kind:?}, migrated")).await;
        s.close().await;
    }
}
