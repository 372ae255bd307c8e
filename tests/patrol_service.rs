//! Patrols wired into the store, the command line and the map service: `wangge patrol import`
//! and `report` against a GeoPackage (and PostGIS when `WANGGE_TEST_PG` is set), and the HTTP
//! routes served in-process from a `StaticSource`.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use wangge::model::Weight;
use wangge::partition::{partition, Options};
use wangge::patrol::{PatrolPoint, Reason};
use wangge::serve::{serve_with, Config, StaticSource};
use wangge::snapshot::Snapshot;
use wangge::store::patrol::PatrolRow;
use wangge::store::Store;
use wangge::tiles::TileId;

use common::stores::{fresh_target, kinds};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn t(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap()
}

/// Points near `(lon, lat)` (a few metres apart), one every 90 s from 08:00 on 2024-05-01 +08:00.
fn walk(worker: &str, lon: f64, lat: f64, n: usize) -> Vec<(String, String, f64, f64)> {
    (0..n)
        .map(|i| {
            let time = t("2024-05-01T08:00:00+08:00") + chrono::TimeDelta::seconds(90 * i as i64);
            (
                worker.to_string(),
                time.to_rfc3339(),
                lon + 1e-5 * (i % 5) as f64,
                lat + 1e-5 * (i / 5) as f64,
            )
        })
        .collect()
}

// ---------------------------------------------------------------- store

#[test]
fn rows_round_trip_through_the_store() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        rt.block_on(async {
            let store = Store::open(&fresh_target(kind, dir.path()).await)
                .await
                .unwrap();
            let p = PatrolPoint::new(
                Arc::from("w7"),
                t("2024-05-01T09:00:00+08:00"),
                120.5,
                31.25,
                "gcj02".parse(),
                Some(250.0),
            );
            let reason = Reason::Inaccurate { accuracy_m: 250.0 };
            let q = PatrolPoint::new(
                Arc::from("w7"),
                t("2024-05-01T09:00:30+08:00"),
                120.5001,
                31.2501,
                Ok(wangge::crs::Crs::Wgs84),
                None,
            );
            let rows = vec![
                PatrolRow::from_point(&p, Some(&reason)),
                PatrolRow::from_point(&q, None),
            ];
            assert_eq!(
                rows[0].flag.as_deref(),
                Some("inaccurate: accuracy 250 m is too poor")
            );
            let ins = store.insert_patrol(&rows, &mut |_| {}).await.unwrap();
            assert_eq!((ins.inserted, ins.duplicates), (2, 0), "{kind:?}");
            let again = store.insert_patrol(&rows, &mut |_| {}).await.unwrap();
            assert_eq!((again.inserted, again.duplicates), (0, 2), "{kind:?}");
            let from = t("2024-05-01T00:00:00+08:00").timestamp_millis();
            let back = store.patrol_points(from, from + 86_400_000).await.unwrap();
            assert_eq!(back.len(), 2, "{kind:?}");
            assert_eq!(back[0].flag, rows[0].flag);
            let p2 = back[0].to_point();
            assert_eq!(p2.time, p.time, "{kind:?}: the zone of the time is kept");
            assert_eq!(p2.dedupe_key(), p.dedupe_key());
            assert_eq!(p2.crs, Ok(wangge::crs::Crs::Gcj02));
            assert_eq!(back[1].to_point(), q);
            // the next day is another window
            let next = store
                .patrol_points(from + 86_400_000, from + 2 * 86_400_000)
                .await
                .unwrap();
            assert!(next.is_empty());
            store.close().await;
        });
    }
}

/// A raw connection to a store's database, for what the API never does (corrupting a row,
/// writing the old schema's rows).
async fn raw(target: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = if target.contains("://") {
        target.to_string()
    } else {
        format!("sqlite://{target}")
    };
    sqlx::AnyPool::connect(&url).await.unwrap()
}

fn point(worker: &str, time: &str, lon: f64, lat: f64) -> PatrolPoint {
    PatrolPoint::new(
        Arc::from(worker),
        t(time),
        lon,
        lat,
        Ok(wangge::crs::Crs::Wgs84),
        Some(5.0),
    )
}

/// `n` points of `worker` every 5 minutes from `from`, 20 m apart eastwards.
fn stroll(worker: &str, from: &str, n: usize, lon: f64, lat: f64) -> Vec<PatrolPoint> {
    (0..n)
        .map(|k| {
            let time = t(from) + chrono::TimeDelta::minutes(5 * k as i64);
            point(worker, &time.to_rfc3339(), lon + 0.0002 * k as f64, lat)
        })
        .collect()
}

fn checked(points: Vec<PatrolPoint>) -> wangge::patrol::Checked {
    wangge::patrol::check(
        points,
        &wangge::patrol::CheckRules::new(t("2024-06-01T00:00:00+08:00")),
    )
}

#[test]
fn resent_and_out_of_order_batches_merge_into_one_row_per_worker_day() {
    use wangge::patrol::HeatMap;
    use wangge::serve::routes::patrol::heat_of_counts;
    use wangge::store::patrol::accepted_points;
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        rt.block_on(async {
            let store = Store::open(&fresh_target(kind, dir.path()).await)
                .await
                .unwrap();
            let (lon, lat) = (120.5, 31.25);
            // The afternoon arrives first.
            let afternoon = stroll("w1", "2024-05-01T14:00:00+08:00", 7, lon, lat);
            let ins = store
                .insert_checked(&checked(afternoon.clone()))
                .await
                .unwrap();
            assert_eq!((ins.inserted, ins.duplicates), (7, 0), "{kind:?}");
            // Then the morning, three afternoon points again (one written in UTC), a point just
            // before midnight and one just after (the next row day).
            let mut batch = stroll("w1", "2024-05-01T08:00:00+08:00", 7, lon, lat);
            batch.extend(afternoon[..2].iter().cloned());
            let mut utc = afternoon[2].clone();
            utc.time = utc
                .time
                .with_timezone(&chrono::FixedOffset::east_opt(0).unwrap());
            assert_eq!(utc.time.to_rfc3339(), "2024-05-01T06:10:00+00:00");
            batch.push(utc);
            batch.push(point("w1", "2024-05-01T23:59:59+08:00", lon, lat));
            batch.push(point("w1", "2024-05-02T00:00:00+08:00", lon, lat));
            // w2 shares some of w1's cells; one of its points is doubtful and kept flagged.
            batch.extend(stroll("w2", "2024-05-01T09:00:00+08:00", 4, lon, lat));
            let mut poor = point("w2", "2024-05-01T09:30:00+08:00", lon, lat);
            poor.accuracy_m = Some(500.0);
            batch.push(poor);
            let c = checked(batch.clone());
            assert_eq!(c.flagged.len(), 1);
            let ins = store.insert_checked(&c).await.unwrap();
            assert_eq!((ins.inserted, ins.duplicates), (7 + 2 + 5, 3), "{kind:?}");
            // Sent again: nothing new.
            let again = store.insert_checked(&checked(batch)).await.unwrap();
            assert_eq!(
                (again.inserted, again.duplicates),
                (0, 7 + 3 + 2 + 5),
                "{kind:?}"
            );
            assert_eq!(store.patrol_track_count().await.unwrap(), 3, "{kind:?}");
            let day = t("2024-05-01T00:00:00+08:00").timestamp_millis();
            let tracks = store
                .patrol_tracks(day, day + 86_400_000, None)
                .await
                .unwrap();
            let w1 = tracks.iter().find(|t| &*t.worker == "w1").unwrap();
            let times: Vec<String> = w1.accepted().map(|p| p.time.to_rfc3339()).collect();
            assert_eq!(times.len(), 15, "{kind:?}");
            assert_eq!(times[0], "2024-05-01T08:00:00+08:00");
            assert_eq!(times[7], "2024-05-01T14:00:00+08:00");
            assert_eq!(times[14], "2024-05-01T23:59:59+08:00");
            assert!(times.windows(2).all(|w| w[0] < w[1]), "by time: {times:?}");
            // The afternoon's point kept as first stored (+08:00), not as re-sent in UTC.
            assert_eq!(times[9], "2024-05-01T14:10:00+08:00");
            let rows = store.patrol_points(day, day + 86_400_000).await.unwrap();
            assert_eq!(rows.len(), 15 + 5);
            let flagged: Vec<&PatrolRow> = rows.iter().filter(|r| r.is_flagged()).collect();
            assert_eq!(flagged.len(), 1);
            assert!(flagged[0]
                .flag
                .as_deref()
                .unwrap()
                .starts_with("inaccurate: "));
            assert_eq!(accepted_points(&tracks).len(), 15 + 4);
            // Heat from the stored cell counts is the heat of the stored points, for windows that
            // hold whole rows and windows that cut them, at every tile resolution.
            let windows = [
                (day, day + 86_400_000),
                (day, day + 2 * 86_400_000),
                (
                    t("2024-05-01T09:00:00+08:00").timestamp_millis(),
                    t("2024-05-01T14:12:00+08:00").timestamp_millis(),
                ),
            ];
            for (from, to) in windows {
                let pts = accepted_points(&store.patrol_tracks(from, to, None).await.unwrap());
                for r in [10u8, 9, 7, 5] {
                    let res = h3o::Resolution::try_from(r).unwrap();
                    let counts = store.patrol_cells(from, to, None, res).await.unwrap();
                    let got = heat_of_counts(&counts, res).cells();
                    let want = HeatMap::new(&pts, res).cells();
                    assert_eq!(got, want, "{kind:?} {from}..{to} res {r}");
                    assert_eq!(got.iter().map(|c| c.points).sum::<u64>(), pts.len() as u64);
                    if r == 5 {
                        assert_eq!((got.len(), got[0].workers), (1, 2), "exact at any level");
                    }
                }
            }
            // A box away from the points meets no row.
            let far = store
                .patrol_cells(
                    day,
                    day + 86_400_000,
                    Some([100.0, 20.0, 100.1, 20.1]),
                    h3o::Resolution::Ten,
                )
                .await
                .unwrap();
            assert!(far.is_empty());
            assert!(store
                .patrol_cells(day, day + 1, None, h3o::Resolution::Eleven)
                .await
                .is_err());
            store.close().await;
        });
    }
}

#[test]
fn boxes_find_the_worker_days_they_meet() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        rt.block_on(async {
            let store = Store::open(&fresh_target(kind, dir.path()).await)
                .await
                .unwrap();
            let mut pts = stroll("w1", "2024-05-01T08:00:00+08:00", 4, 120.5, 31.25);
            pts.extend(stroll("w2", "2024-05-01T08:00:00+08:00", 4, 121.5, 31.25));
            store.insert_checked(&checked(pts)).await.unwrap();
            let day = t("2024-05-01T00:00:00+08:00").timestamp_millis();
            let (from, to) = (day, day + 86_400_000);
            let around =
                |lon: f64, lat: f64| Some([lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01]);
            let who = |tracks: Vec<wangge::store::patrol::Track>| -> Vec<String> {
                tracks.iter().map(|t| t.worker.to_string()).collect()
            };
            assert_eq!(
                who(store
                    .patrol_tracks(from, to, around(120.5, 31.25))
                    .await
                    .unwrap()),
                ["w1"]
            );
            assert_eq!(
                who(store
                    .patrol_tracks(from, to, around(121.5, 31.25))
                    .await
                    .unwrap()),
                ["w2"]
            );
            assert!(store
                .patrol_tracks(from, to, around(122.0, 31.0))
                .await
                .unwrap()
                .is_empty());
            // w1 walks on to (122.0, 31.0) the same day: the row grows, the index follows.
            store
                .insert_checked(&checked(stroll(
                    "w1",
                    "2024-05-01T10:00:00+08:00",
                    2,
                    122.0,
                    31.0,
                )))
                .await
                .unwrap();
            assert_eq!(
                who(store
                    .patrol_tracks(from, to, around(122.0, 31.0))
                    .await
                    .unwrap()),
                ["w1"]
            );
            for res in [
                h3o::Resolution::Ten,
                h3o::Resolution::Seven,
                h3o::Resolution::Five,
            ] {
                let c = store
                    .patrol_cells(from, to, around(122.0, 31.0), res)
                    .await
                    .unwrap();
                assert!(c.iter().all(|t| &*t.worker == "w1"), "{kind:?} {res}");
                let n: u32 = c.iter().flat_map(|t| t.cells.iter().map(|x| x.1)).sum();
                // Whole rows (all of w1's points) at res 10; the day's heat keeps the cells near
                // the box at 7 and coarser.
                assert!(n >= 2, "{kind:?} {res}: {n}");
            }
            // The next day meets nothing; a window of the morning only misses the 10:00 points.
            assert!(store
                .patrol_tracks(to, to + 86_400_000, around(122.0, 31.0))
                .await
                .unwrap()
                .is_empty());
            let morning = t("2024-05-01T09:00:00+08:00").timestamp_millis();
            let early = store
                .patrol_tracks(from, morning, around(122.0, 31.0))
                .await
                .unwrap();
            assert!(early
                .iter()
                .all(|t| t.points.fixes.iter().all(|f| f.ms < morning)));
            store.close().await;
        });
    }
}

#[test]
fn a_failed_insert_leaves_the_store_as_it_was() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        rt.block_on(async {
            let target = fresh_target(kind, dir.path()).await;
            let store = Store::open(&target).await.unwrap();
            let mut first = stroll("w1", "2024-05-01T08:00:00+08:00", 5, 120.5, 31.25);
            first.extend(stroll("w2", "2024-05-01T08:00:00+08:00", 5, 120.6, 31.25));
            store.insert_checked(&checked(first)).await.unwrap();
            // w2's stored row is damaged; a batch for both workers must fail as a whole.
            let pool = raw(&target).await;
            sqlx::query("UPDATE patrol_tracks SET fixes = $1 WHERE worker = 'w2'")
                .bind(vec![1u8, 0, 7])
                .execute(&pool)
                .await
                .unwrap();
            let mut second = stroll("w1", "2024-05-01T09:00:00+08:00", 5, 120.5, 31.25);
            second.extend(stroll("w2", "2024-05-01T09:00:00+08:00", 5, 120.6, 31.25));
            let e = store.insert_checked(&checked(second)).await.unwrap_err();
            assert!(e.to_string().contains("worker w2"), "{kind:?}: {e}");
            let w1: i64 =
                sqlx::query_scalar("SELECT points FROM patrol_tracks WHERE worker = 'w1'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(
                w1, 5,
                "{kind:?}: w1's row was written though the batch failed"
            );
            // A row the store cannot keep is refused, naming it, before anything is written.
            let mut rows = vec![PatrolRow::from_point(
                &point("w3", "2024-05-01T08:00:00+08:00", 120.5, 31.25),
                None,
            )];
            rows.push(rows[0].clone());
            rows[1].crs = "mars".into();
            let e = store.insert_patrol(&rows, &mut |_| {}).await.unwrap_err();
            assert!(
                e.to_string().contains("patrol row 1") && e.to_string().contains("`crs`"),
                "{e}"
            );
            assert_eq!(store.patrol_track_count().await.unwrap(), 2);
            pool.close().await;
            store.close().await;
        });
    }
}

#[test]
fn migration_2_moves_patrol_points_into_tracks() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        let target = rt.block_on(fresh_target(kind, dir.path()));
        rt.block_on(async {
            // A store of schema 1 with points in the old one-row-per-point table.
            Store::open_at(&target, 1).await.unwrap().close().await;
            let pool = raw(&target).await;
            type Old<'a> = (
                &'a str,
                &'a str,
                f64,
                f64,
                &'a str,
                Option<f64>,
                Option<&'a str>,
            );
            let old: [Old; 4] = [
                (
                    "w1",
                    "2024-05-01T08:00:00+08:00",
                    120.5,
                    31.25,
                    "wgs84",
                    Some(5.0),
                    None,
                ),
                (
                    "w1",
                    "2024-05-01T08:00:10+08:00",
                    120.5001,
                    31.2501,
                    "gcj02",
                    None,
                    None,
                ),
                (
                    "w1",
                    "2024-05-01T08:00:20+08:00",
                    120.6,
                    31.25,
                    "wgs84",
                    Some(500.0),
                    Some("inaccurate: accuracy 500 m is too poor"),
                ),
                (
                    "w2",
                    "2024-05-02T09:00:00+08:00",
                    120.5,
                    31.25,
                    "bd09",
                    Some(3.5),
                    None,
                ),
            ];
            for (w, time, lon, lat, crs, acc, flag) in old {
                // Optional values as literals: the Any driver's typed NULLs are not what every
                // backend wants for a bind.
                let acc = acc.map_or("NULL".to_string(), |a| a.to_string());
                let flag = flag.map_or("NULL".to_string(), |f| format!("'{f}'"));
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO patrol_points (worker, time, epoch_ms, lon, lat, lon_e7, lat_e7, \
                     crs, accuracy_m, flag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {acc}, {flag})"
                )))
                .bind(w)
                .bind(time)
                .bind(t(time).timestamp_millis())
                .bind(lon)
                .bind(lat)
                .bind((lon * 1e7).round() as i64)
                .bind((lat * 1e7).round() as i64)
                .bind(crs)
                .execute(&pool)
                .await
                .unwrap();
            }
            pool.close().await;
            // Opening runs migration 2.
            let store = Store::open(&target).await.unwrap();
            let rows = store.patrol_points(i64::MIN, i64::MAX).await.unwrap();
            let got: Vec<Old> = rows
                .iter()
                .map(|r| {
                    (
                        r.worker.as_str(),
                        r.time.as_str(),
                        r.lon,
                        r.lat,
                        r.crs.as_str(),
                        r.accuracy_m,
                        r.flag.as_deref(),
                    )
                })
                .collect();
            assert_eq!(got, old.to_vec(), "{kind:?}");
            assert_eq!(store.patrol_track_count().await.unwrap(), 2);
            let pool = raw(&target).await;
            assert!(
                sqlx::query("SELECT count(*) FROM patrol_points")
                    .fetch_one(&pool)
                    .await
                    .is_err(),
                "{kind:?}: patrol_points is still there"
            );
            let v: i64 = sqlx::query_scalar("SELECT max(version) FROM wangge_migrations")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert!(v >= 2);
            pool.close().await;
            store.close().await;
        });
        if matches!(kind, common::stores::Kind::Gpkg) {
            // GDAL reads the tracks: the layer, its type and SRS, two features, their lines.
            let run = |args: &[&str]| {
                let o = Command::new("ogrinfo")
                    .args(args)
                    .output()
                    .expect("ogrinfo");
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                String::from_utf8_lossy(&o.stdout).into_owned()
            };
            let list = run(&["-ro", "-q", &target]);
            assert!(
                list.contains(": patrol_tracks (Multi Line String)"),
                "{list}"
            );
            assert!(!list.contains("patrol_points"), "{list}");
            assert!(
                !list.contains("patrol_tracks_box"),
                "the index is not a layer: {list}"
            );
            let info = run(&["-ro", "-so", &target, "patrol_tracks"]);
            assert!(info.contains("Feature Count: 2"), "{info}");
            assert!(
                info.contains("ID[\"EPSG\",4326]") || info.contains("AUTHORITY[\"EPSG\",\"4326\"]"),
                "{info}"
            );
            let dump = run(&["-ro", "-q", &target, "patrol_tracks"]);
            // w1's two accepted points make one line; w2's lone point a line of two equal points.
            assert!(dump.contains("MULTILINESTRING ((120.5 31.25,"), "{dump}");
            assert_eq!(dump.matches("MULTILINESTRING").count(), 2, "{dump}");
        }
    }
}

// ---------------------------------------------------------------- command line

/// Summary numbers of `patrol import`: read, stored, flagged, duplicates, in file, already, rejected.
fn summary(stdout: &str) -> Vec<usize> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("read "))
        .unwrap_or_else(|| panic!("no summary line in {stdout}"));
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn cli_import_is_idempotent_all_or_nothing_and_reports() {
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let town = dir.path().join("town");
    let (ok, _, err) = common::wangge(&[
        "fixture",
        "synth",
        "--households",
        "3000",
        "--seed",
        "3",
        "--out",
        town.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let snap = {
        let ds = wangge::ingest::read_dir(&town, &Weight::Households).unwrap();
        let plan = partition(&ds, &Options::default(), &|| {});
        Snapshot::from_plan(&ds, &plan, 1)
    };
    assert!(snap.grids.len() >= 2);
    let label = snap.grids[0].label;
    let mut csv = String::from("worker,time,lon,lat,crs,accuracy\n");
    for (w, time, lon, lat) in walk("w1", label.x(), label.y(), 20) {
        csv.push_str(&format!("{w},{time},{lon},{lat},wgs84,5\n"));
    }
    csv.push_str("w1,2024-05-01T08:20:00+08:00,0,0,wgs84,5\n");
    csv.push_str(&format!(
        "w1,2024-05-01T08:21:00+08:00,{},{},mars,5\n",
        label.x(),
        label.y()
    ));
    let first_point = csv.lines().nth(1).unwrap().to_string();
    csv.push_str(&first_point);
    csv.push('\n');
    let good = dir.path().join("points.csv");
    std::fs::write(&good, &csv).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "worker,time,lon,lat,crs,accuracy\n{first_point}\nw2,yesterday,120.1,31.2,,\nw2,2024-05-01T08:00:00+08:00,east,31.2,,\n"
        ),
    )
    .unwrap();

    for kind in kinds() {
        let target = rt.block_on(fresh_target(kind, dir.path()));
        let (ok, out, err) = common::wangge(&[
            "partition",
            town.to_str().unwrap(),
            "--db",
            &target,
            "--quiet",
        ]);
        assert!(ok, "{kind:?}: partition: {out}{err}");
        let count = || {
            rt.block_on(async {
                let s = Store::open(&target).await.unwrap();
                let n = s.patrol_points(i64::MIN, i64::MAX).await.unwrap().len();
                s.close().await;
                n
            })
        };

        // a file with unreadable records: every error listed, nothing stored
        let (ok, out, err) =
            common::wangge(&["patrol", "import", bad.to_str().unwrap(), "--db", &target]);
        assert!(!ok, "{kind:?}: a bad file must fail: {out}");
        assert!(err.contains("line 3") && err.contains("`time`"), "{err}");
        assert!(err.contains("line 4") && err.contains("`lon`"), "{err}");
        assert!(err.contains("nothing stored"), "{err}");
        assert_eq!(count(), 0, "{kind:?}: a bad file stored points");

        // first import: 20 stored, 1 duplicate in the file, 2 rejected with reasons
        let (ok, out, err) =
            common::wangge(&["patrol", "import", good.to_str().unwrap(), "--db", &target]);
        assert!(ok, "{kind:?}: {out}{err}");
        assert_eq!(summary(&out), vec![23, 20, 0, 1, 1, 0, 2, 0], "{out}");
        assert!(err.contains("no GPS fix"), "{err}");
        assert!(err.contains("unknown crs `mars`"), "{err}");
        // second import of the same file: everything already stored
        let (ok, out, _) =
            common::wangge(&["patrol", "import", good.to_str().unwrap(), "--db", &target]);
        assert!(ok);
        assert_eq!(summary(&out), vec![23, 0, 0, 21, 1, 20, 2, 0], "{out}");
        assert_eq!(count(), 20);

        // the report of the day: grid 0 patrolled once, the others not at all and ranked first
        let (ok, out, err) =
            common::wangge(&["patrol", "report", "--day", "2024-05-01", "--db", &target]);
        assert!(ok, "{kind:?}: {err}");
        assert!(!out.contains("-0.0"), "negative zero in the report: {out}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let grids = doc["grids"].as_array().unwrap();
        assert_eq!(grids.len(), snap.grids.len());
        let g0 = grids
            .iter()
            .find(|g| g["code"] == snap.grids[0].code.as_str())
            .unwrap();
        assert_eq!(g0["points"], 20, "{g0}");
        assert_eq!(g0["patrols"], 1, "{g0}");
        let missed = doc["towns"][0]["missed"].as_array().unwrap();
        assert_eq!(
            missed.len(),
            snap.grids.len(),
            "every grid missed something"
        );
        assert_eq!(missed[0]["rank"], 1);
        assert_eq!(missed[0]["missed"], "patrol");
        assert_eq!(missed[0]["patrols"], 0);
        let last = missed.last().unwrap();
        assert_eq!(
            last["grid"],
            snap.grids[0].code.as_str(),
            "patrolled once: ranked last"
        );
        assert_eq!(last["missed"], "second_patrol");
        let (ok, csv_out, _) = common::wangge(&[
            "patrol",
            "report",
            "--day",
            "2024-05-01",
            "--db",
            &target,
            "--format",
            "csv",
        ]);
        assert!(ok);
        assert!(csv_out.starts_with("town,day,rank,grid"), "{csv_out}");
        assert_eq!(csv_out.lines().count(), 1 + snap.grids.len());
        // a bad day is an error naming it
        let (ok, _, err) = common::wangge(&["patrol", "report", "--day", "May 1", "--db", &target]);
        assert!(!ok && err.contains("May 1"), "{err}");

        // w1 registered as grid 0's worker (by name): figures per worker
        let people = dir.path().join("people.csv");
        std::fs::write(
            &people,
            format!(
                "grid_code,role,name,phone\n{},grid_worker,w1,\n{},grid_worker,李四,13800000009\n",
                snap.grids[0].code, snap.grids[1].code
            ),
        )
        .unwrap();
        let (ok, out, err) = common::wangge(&["people", people.to_str().unwrap(), "--db", &target]);
        assert!(ok, "{out}{err}");
        let report = |args: &[&str]| -> Value {
            let mut a = vec!["patrol", "report", "--db", &target];
            a.extend_from_slice(args);
            let (ok, out, err) = common::wangge(&a);
            assert!(ok, "{kind:?} {args:?}: {err}");
            serde_json::from_str(&out).unwrap()
        };
        let doc = report(&["--day", "2024-05-01"]);
        let workers = doc["workers"].as_array().unwrap();
        assert_eq!(workers.len(), 2, "{workers:?}");
        let w1 = workers.iter().find(|w| w["worker"] == "w1").unwrap();
        assert_eq!(w1["status"], "registered");
        assert_eq!(w1["grids"][0], snap.grids[0].code.as_str());
        assert_eq!(
            (w1["points"].as_u64(), w1["patrols"].as_u64()),
            (Some(20), Some(1))
        );
        assert_eq!(w1["points_in_grids"], 20, "{w1}");
        let li = workers.iter().find(|w| w["worker"] == "李四").unwrap();
        assert_eq!(
            (li["points"].as_u64(), li["phone"].as_str()),
            (Some(0), Some("13800000009"))
        );
        // a week (Monday 2024-04-29 to Sunday 2024-05-05), a month, a run of days
        for (args, first, days) in [
            (vec!["--week", "2024-05-01"], "2024-04-29", 7),
            (vec!["--week", "2024-W18"], "2024-04-29", 7),
            (vec!["--month", "2024-05"], "2024-05-01", 31),
            (
                vec!["--from", "2024-04-30", "--to", "2024-05-01"],
                "2024-04-30",
                2,
            ),
        ] {
            let doc = report(&args);
            assert_eq!(
                (doc["from"].as_str(), doc["days"].as_u64()),
                (Some(first), Some(days)),
                "{args:?}"
            );
            assert!(doc.get("day").is_none());
            let g0 = doc["grids"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["code"] == snap.grids[0].code.as_str())
                .unwrap();
            assert_eq!(
                (g0["points"].as_u64(), g0["patrols"].as_u64()),
                (Some(20), Some(1)),
                "{args:?}"
            );
            // one daily report per day (one town)
            let towns = doc["towns"].as_array().unwrap();
            assert_eq!(towns.len() as u64, days, "{args:?}");
            assert_eq!(towns[0]["day"], first);
            let w1 = doc["workers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["worker"] == "w1")
                .unwrap();
            assert_eq!(w1["days"].as_array().unwrap().len(), 1);
        }
        let (ok, csv_week, _) = common::wangge(&[
            "patrol",
            "report",
            "--week",
            "2024-05-01",
            "--db",
            &target,
            "--format",
            "csv",
        ]);
        assert!(ok);
        assert_eq!(csv_week.lines().count(), 1 + 7 * snap.grids.len());
        assert!(
            csv_week.lines().nth(1).unwrap().contains(",2024-04-29,"),
            "{csv_week}"
        );
        // exactly one period
        for bad in [
            vec!["--day", "2024-05-01", "--week", "2024-05-01"],
            vec!["--from", "2024-05-01"],
            vec![],
            vec!["--month", "2024-13"],
            vec!["--from", "2024-05-02", "--to", "2024-05-01"],
        ] {
            let mut a = vec!["patrol", "report", "--db", &target];
            a.extend_from_slice(&bad);
            let (ok, _, err) = common::wangge(&a);
            assert!(!ok, "{bad:?} must fail");
            assert!(!err.is_empty(), "{bad:?}: no message");
        }
    }
}

// ---------------------------------------------------------------- HTTP

fn town() -> &'static Snapshot {
    static TOWN: OnceLock<Snapshot> = OnceLock::new();
    TOWN.get_or_init(|| common::partitioned_town(3000, 5))
}

struct Server {
    base: String,
    client: reqwest::Client,
}

async fn start() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let source = Arc::new(StaticSource::new(town().clone()));
    let accounts = common::auth::accounts_store().await;
    let client = common::auth::admin_client(&accounts).await;
    let config = Config {
        accounts: Some(accounts),
        ..Config::default()
    };
    tokio::spawn(serve_with(listener, source, config));
    Server { base, client }
}

impl Server {
    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
    async fn json(&self, path: &str) -> (u16, Value) {
        let (s, text) = self.get(path).await;
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
        (s, v)
    }
    async fn post(&self, body: String) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/api/patrol/points", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            s,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

const DAY: &str = "from=2024-05-01T00:00:00%2B08:00&to=2024-05-02T00:00:00%2B08:00";

fn batch() -> Vec<Value> {
    let label = town().grids[0].label;
    let mut v: Vec<Value> = walk("w1", label.x(), label.y(), 10)
        .into_iter()
        .map(|(w, time, lon, lat)| {
            serde_json::json!({"worker": w, "time": time, "lon": lon, "lat": lat, "accuracy": 5})
        })
        .collect();
    v.push(serde_json::json!({"worker": "w1", "time": "2024-05-01T09:00:00+08:00", "lon": 0, "lat": 0}));
    v.push(v[0].clone());
    v
}

/// Tile (z, x, y) holding a lon/lat (Web Mercator, XYZ).
fn tile_of(lon: f64, lat: f64, z: u8) -> TileId {
    let n = (1u64 << z) as f64;
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y =
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    TileId::new(z as u32, x, y).unwrap()
}

#[tokio::test]
async fn http_patrol_routes() {
    let s = start().await;
    let snap = town();

    // a batch: 10 stored, the (0, 0) point rejected by index, one duplicate in the batch
    let (st, v) = s.post(Value::Array(batch()).to_string()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["stored"], 10, "{v}");
    assert_eq!(v["duplicates"], 1, "{v}");
    assert_eq!(v["rejected"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["rejected"][0]["index"], 10, "{v}");
    assert_eq!(v["rejected"][0]["code"], "null_island", "{v}");
    // sent again: nothing new
    let (st, v) = s.post(Value::Array(batch()).to_string()).await;
    assert_eq!(st, 200);
    assert_eq!(v["stored"], 0, "{v}");
    assert_eq!(v["duplicates"], 11, "{v}");
    assert_eq!(v["already_stored"], 10, "{v}");

    // malformed: 400 naming the record and field, nothing stored
    let mut bad = batch();
    bad[2]["time"] = Value::Null;
    bad[3] = serde_json::json!({"worker": "w9", "time": "2024-05-01T10:00:00+08:00", "lat": 31.0});
    for b in bad.iter_mut().take(2) {
        b["worker"] = "w-new".into();
    }
    let (st, v) = s.post(Value::Array(bad).to_string()).await;
    assert_eq!(st, 400, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("record 2") && msg.contains("`time`"), "{msg}");
    assert!(msg.contains("record 3") && msg.contains("`lon`"), "{msg}");
    let (st, v) = s.post("[{\"worker\": \"w\",".into()).await;
    assert_eq!(st, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not JSON"));
    let (st, v) = s.json(&format!("/api/patrol/points?{DAY}")).await;
    assert_eq!(st, 200);
    let feats = v["features"].as_array().unwrap();
    assert_eq!(feats.len(), 10, "a rejected batch stored something");
    assert!(feats.iter().all(|f| f["properties"]["worker"] == "w1"));

    // a GeoJSON FeatureCollection is a batch too
    let label = snap.grids[1].label;
    let fc = serde_json::json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [label.x(), label.y()]},
        "properties": {"worker": "w2", "time": "2024-05-01T15:00:00+08:00"}
    }]});
    let (st, v) = s.post(fc.to_string()).await;
    assert_eq!((st, &v["stored"]), (200, &Value::from(1)), "{v}");

    // heat: counts per cell by hand
    let mut by_hand: BTreeMap<String, u64> = BTreeMap::new();
    for f in feats.iter() {
        let c = &f["geometry"]["coordinates"];
        let ll = h3o::LatLng::new(c[1].as_f64().unwrap(), c[0].as_f64().unwrap()).unwrap();
        *by_hand
            .entry(ll.to_cell(h3o::Resolution::Ten).to_string())
            .or_default() += 1;
    }
    let ll = h3o::LatLng::new(label.y(), label.x()).unwrap();
    *by_hand
        .entry(ll.to_cell(h3o::Resolution::Ten).to_string())
        .or_default() += 1;
    let (st, v) = s.json(&format!("/api/heat?{DAY}&res=10")).await;
    assert_eq!(st, 200, "{v}");
    let got: BTreeMap<String, u64> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["properties"]["h3"].as_str().unwrap().to_string(),
                f["properties"]["points"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, by_hand);
    // default resolution is 10 as well; village= keeps that village's points
    let (_, v2) = s.json(&format!("/api/heat?{DAY}")).await;
    assert_eq!(v2["features"].as_array().unwrap().len(), got.len());
    let vcode = snap.villages[snap.grids[0].village].code.as_str();
    let (st, v3) = s.json(&format!("/api/heat?{DAY}&village={vcode}")).await;
    assert_eq!(st, 200);
    let n: u64 = v3["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["points"].as_u64().unwrap())
        .sum();
    let same_village = snap.grids[1].village == snap.grids[0].village;
    assert_eq!(n, if same_village { 11 } else { 10 });
    for (q, needle) in [
        ("res=16", "res=16"),
        ("res=-1", "res=-1"),
        ("res=ten", "res=ten"),
        ("from=yesterday", "from=yesterday"),
        (
            "from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z",
            "31 days",
        ),
        ("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "after"),
    ] {
        let (st, v) = s.json(&format!("/api/heat?{q}")).await;
        assert_eq!(st, 400, "{q}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{q}: {v}");
    }
    let (st, _) = s
        .json(&format!("/api/heat?{DAY}&village=000000000000"))
        .await;
    assert_eq!(st, 404);

    // heat tile: decodes with GDAL, one layer `heat`, the counts of its cells
    let grid0 = snap.grids[0].label;
    let id = tile_of(grid0.x(), grid0.y(), 15);
    let r = s
        .client
        .get(format!(
            "{}/tiles/heat/{}/{}/{}.mvt?{DAY}",
            s.base, id.z, id.x, id.y
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    let bytes = r.bytes().await.unwrap();
    let tdir = tempfile::tempdir().unwrap();
    let path = tdir.path().join("heat.mvt");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new("ogrinfo")
        .args(["-ro", "-al", "-oo"])
        .arg(format!("X={}", id.x))
        .arg("-oo")
        .arg(format!("Y={}", id.y))
        .arg("-oo")
        .arg(format!("Z={}", id.z))
        .args(["-oo", "CLIP=NO"])
        .arg(&path)
        .output()
        .expect("run ogrinfo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Layer name: heat"), "{text}");
    assert!(text.contains("POLYGON"), "{text}");
    let points_sum: u64 = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("points (Integer"))
        .filter_map(|l| l.rsplit('=').next()?.trim().parse::<u64>().ok())
        .sum();
    assert!(
        points_sum >= 10,
        "the 10 points of grid 0 are on its tile: {text}"
    );
    // empty elsewhere, bad address 400
    let (st, _) = s.get(&format!("/tiles/heat/15/0/0.mvt?{DAY}")).await;
    assert_eq!(st, 204);
    let (st, _) = s.get("/tiles/heat/15/99999999/0.mvt").await;
    assert_eq!(st, 400);
    let (st, tj) = s.json("/tiles/heat.json").await;
    assert_eq!(st, 200);
    assert!(tj["tiles"][0]
        .as_str()
        .unwrap()
        .contains("/tiles/heat/{z}/{x}/{y}.mvt"));

    // coverage and report of the day
    let (st, v) = s.json("/api/patrol/coverage?day=2024-05-01").await;
    assert_eq!(st, 200, "{v}");
    let grids = v["grids"].as_array().unwrap();
    assert_eq!(grids.len(), snap.grids.len());
    let g0 = grids
        .iter()
        .find(|g| g["code"] == snap.grids[0].code.as_str())
        .unwrap();
    assert_eq!(g0["points"], 10, "{g0}");
    assert_eq!(g0["patrols"], 1, "{g0}");
    let (st, v) = s
        .json(&format!(
            "/api/patrol/coverage?day=2024-05-01&village={vcode}"
        ))
        .await;
    assert_eq!(st, 200);
    let n_village = snap
        .grids
        .iter()
        .filter(|g| g.village == snap.grids[0].village)
        .count();
    assert_eq!(v["grids"].as_array().unwrap().len(), n_village);
    let (st, v) = s.json("/api/patrol/report?day=2024-05-01").await;
    assert_eq!(st, 200);
    let missed = v["towns"][0]["missed"].as_array().unwrap();
    assert_eq!(missed[0]["missed"], "patrol", "{v}");
    let (st, csv) = s.get("/api/patrol/report?day=2024-05-01&format=csv").await;
    assert_eq!(st, 200);
    assert!(csv.starts_with("town,day,rank"), "{csv}");
    let (st, v) = s.json("/api/patrol/report?day=2024-13-01").await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = s.json("/api/patrol/report?day=2024-05-01&format=xml").await;
    assert_eq!(st, 400, "{v}");
}

#[tokio::test]
async fn http_body_over_the_limit_is_413() {
    let s = start().await;
    let body = format!(
        "[{}]",
        " ".repeat(wangge::serve::routes::patrol::MAX_BODY_BYTES + 10)
    );
    let (st, _) = s.post(body).await;
    assert_eq!(st, 413);
}

/// A server whose town has grid 0's worker registered as `w1` (by name).
async fn start_registered() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut snap = town().clone();
    snap.grids[0].people = vec![wangge::snapshot::Person {
        role: wangge::snapshot::Role::GridWorker,
        name: "w1".into(),
        phone: None,
    }];
    let source = Arc::new(StaticSource::new(snap));
    let accounts = common::auth::accounts_store().await;
    let client = common::auth::admin_client(&accounts).await;
    let config = Config {
        accounts: Some(accounts),
        ..Config::default()
    };
    tokio::spawn(serve_with(listener, source, config));
    Server { base, client }
}

#[tokio::test]
async fn http_periods_workers_and_documented_parameters() {
    let s = start_registered().await;
    let snap = town();
    let g0 = snap.grids[0].code.as_str();
    let vcode = snap.villages[snap.grids[0].village].code.as_str();
    // w1 patrols grid 0 on the 1st and the 2nd of May (10 points over 13.5 minutes each).
    let label = snap.grids[0].label;
    let mut v: Vec<Value> = Vec::new();
    for day in ["2024-05-01", "2024-05-02"] {
        for (k, (w, _, lon, lat)) in walk("w1", label.x(), label.y(), 10).into_iter().enumerate() {
            let time =
                t(&format!("{day}T08:00:00+08:00")) + chrono::TimeDelta::seconds(90 * k as i64);
            v.push(
                serde_json::json!({"worker": w, "time": time.to_rfc3339(), "lon": lon, "lat": lat}),
            );
        }
    }
    let (st, r) = s.post(Value::Array(v.clone()).to_string()).await;
    assert_eq!((st, &r["stored"]), (200, &Value::from(20)), "{r}");
    // the same batch re-sent after a timeout: stored once
    let (_, r) = s.post(Value::Array(v).to_string()).await;
    assert_eq!(
        (&r["stored"], &r["already_stored"]),
        (&Value::from(0), &Value::from(20))
    );

    let grid0 = |doc: &Value| -> Value {
        doc["grids"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["code"] == g0)
            .cloned()
            .unwrap()
    };
    // a week: Monday 2024-04-29 to Sunday 2024-05-05
    let (st, doc) = s.json("/api/patrol/coverage?week=2024-05-01").await;
    assert_eq!(st, 200, "{doc}");
    assert_eq!(
        (doc["period"].as_str(), doc["days"].as_u64()),
        (Some("2024-04-29/2024-05-05"), Some(7))
    );
    let g = grid0(&doc);
    assert_eq!(
        (g["points"].as_u64(), g["patrols"].as_u64()),
        (Some(20), Some(2)),
        "{g}"
    );
    assert_eq!(g["days"].as_array().unwrap().len(), 2);
    let w1 = doc["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["worker"] == "w1")
        .unwrap();
    assert_eq!(w1["status"], "registered");
    assert_eq!(
        (w1["points"].as_u64(), w1["patrols"].as_u64()),
        (Some(20), Some(2))
    );
    assert_eq!(w1["grids"][0], g0);
    // He alone walked: his shares of grid 0 are the grid's.
    for k in [
        "road_share",
        "target_share",
        "building_share",
        "cell_share",
        "cells_visited",
    ] {
        assert_eq!(w1[k], g[k], "{k}");
    }
    // a month, a run of days, a day
    let (_, doc) = s.json("/api/patrol/coverage?month=2024-05").await;
    assert_eq!(
        (doc["days"].as_u64(), doc["to"].as_str()),
        (Some(31), Some("2024-05-31"))
    );
    assert_eq!(grid0(&doc)["patrols"], 2);
    let (_, doc) = s
        .json("/api/patrol/coverage?from=2024-05-02&to=2024-05-03")
        .await;
    assert_eq!(doc["days"], 2);
    assert_eq!(grid0(&doc)["points"], 10);
    let (_, doc) = s.json("/api/patrol/coverage?day=2024-05-02").await;
    assert_eq!(
        (doc["day"].as_str(), grid0(&doc)["patrols"].as_u64()),
        (Some("2024-05-02"), Some(1))
    );
    // the report of a week: one daily report per day, each ranking that day
    let (_, doc) = s.json("/api/patrol/report?week=2024-05-01").await;
    let towns = doc["towns"].as_array().unwrap();
    assert_eq!(towns.len(), 7, "{doc}");
    let days: Vec<&str> = towns.iter().map(|t| t["day"].as_str().unwrap()).collect();
    assert_eq!(days[0], "2024-04-29");
    assert_eq!(days[6], "2024-05-05");
    for t in towns {
        let missed = t["missed"].as_array().unwrap();
        let m0 = missed.iter().find(|m| m["grid"] == g0).unwrap();
        let on = t["day"] == "2024-05-01" || t["day"] == "2024-05-02";
        assert_eq!(
            m0["missed"],
            if on { "second_patrol" } else { "patrol" },
            "{t}"
        );
    }
    let (_, csv) = s.get("/api/patrol/report?week=2024-05-01&format=csv").await;
    assert_eq!(csv.lines().count(), 1 + 7 * snap.grids.len());
    // heat of a named day is the heat of its instants
    let (_, a) = s.json(&format!("/api/heat?{DAY}")).await;
    let (_, b) = s.json("/api/heat?day=2024-05-01").await;
    assert_eq!(a, b);
    assert!(!a["features"].as_array().unwrap().is_empty());
    let (_, wk) = s.json("/api/heat?week=2024-05-01&res=9").await;
    let n: u64 = wk["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["points"].as_u64().unwrap())
        .sum();
    assert_eq!(n, 20);
    // bad periods are 400s naming what is wrong
    for (q, needle) in [
        (
            "/api/patrol/coverage?day=2024-05-01&week=2024-05-01",
            "one of",
        ),
        ("/api/patrol/coverage?from=2024-05-01", "to"),
        (
            "/api/patrol/coverage?from=2024-05-01&to=2024-07-01",
            "31 days",
        ),
        ("/api/patrol/coverage?week=2024-W60", "2024-W60"),
        ("/api/patrol/report?month=2024-13", "2024-13"),
        (
            "/api/heat?day=2024-05-01&from=2024-05-01T00:00:00Z",
            "from/to",
        ),
        ("/api/patrol/coverage?day=2024-05-01&zone=mars", "mars"),
    ] {
        let (st, v) = s.json(q).await;
        assert_eq!(st, 400, "{q}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{q}: {v}");
    }

    // Every query parameter the OpenAPI documents for these routes is accepted by the router,
    // and every one accepted here is documented.
    let id = tile_of(label.x(), label.y(), 14);
    let tile = format!("/tiles/heat/{}/{}/{}.mvt", id.z, id.x, id.y);
    let requests: Vec<(&str, String)> = vec![
        (
            "/api/patrol/coverage",
            "day=2024-05-01&zone=%2B08:00".into(),
        ),
        ("/api/patrol/coverage", "week=2024-05-01".into()),
        (
            "/api/patrol/coverage",
            format!("month=2024-05&village={vcode}"),
        ),
        (
            "/api/patrol/coverage",
            "from=2024-05-01&to=2024-05-02".into(),
        ),
        (
            "/api/patrol/report",
            "day=2024-05-01&zone=%2B08:00&format=csv".into(),
        ),
        ("/api/patrol/report", "week=2024-W18".into()),
        ("/api/patrol/report", "month=2024-05".into()),
        ("/api/patrol/report", "from=2024-05-01&to=2024-05-02".into()),
        ("/api/heat", format!("{DAY}&res=8&village={vcode}")),
        ("/api/heat", "day=2024-05-01&zone=%2B08:00".into()),
        ("/api/heat", "week=2024-05-01".into()),
        ("/api/heat", "month=2024-05".into()),
        ("/api/patrol/points", DAY.into()),
        ("/api/patrol/points", "day=2024-05-01&zone=%2B08:00".into()),
        ("/api/patrol/points", "week=2024-05-01".into()),
        ("/api/patrol/points", "month=2024-05".into()),
        (
            "/tiles/heat/{z}/{x}/{y}.mvt",
            format!("{DAY}&zone=%2B08:00"),
        ),
        ("/tiles/heat/{z}/{x}/{y}.mvt", "day=2024-05-01".into()),
        ("/tiles/heat/{z}/{x}/{y}.mvt", "week=2024-05-01".into()),
        ("/tiles/heat/{z}/{x}/{y}.mvt", "month=2024-05".into()),
    ];
    let doc: Value = serde_json::from_str(wangge::serve::routes::openapi::OPENAPI).unwrap();
    let mut used: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (route, q) in &requests {
        let path = if route.starts_with("/tiles/heat/") {
            tile.as_str()
        } else {
            route
        };
        let (st, body) = s.get(&format!("{path}?{q}")).await;
        assert!(st == 200 || st == 204, "{path}?{q}: {st} {body}");
        for kv in q.split('&') {
            used.entry(route)
                .or_default()
                .insert(kv.split('=').next().unwrap().to_string());
        }
    }
    for (route, names) in used {
        let documented: std::collections::BTreeSet<String> = doc["paths"][route]["get"]
            ["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{route} has no documented parameters"))
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            documented, names,
            "{route}: documented vs accepted query parameters"
        );
    }
}

/// Heat tiles are kept per window and tile until patrol points are stored by any writer of the
/// store (an import beside the running server included); a kept tile keeps its ETag (304).
#[tokio::test(flavor = "multi_thread")]
async fn heat_tiles_are_kept_until_points_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    for kind in kinds() {
        let target = fresh_target(kind, dir.path()).await;
        let writer = Store::open(&target).await.unwrap();
        let (lon, lat) = (120.5, 31.25);
        let first = stroll("w1", "2024-05-01T08:00:00+08:00", 7, lon, lat);
        writer.insert_checked(&checked(first)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Store::open(&target).await.unwrap();
        let client = common::auth::admin_client(&server).await;
        let source = Arc::new(wangge::serve::StoreSource::new(server));
        tokio::spawn(serve_with(listener, source, Config::default()));
        let id = tile_of(lon, lat, 12);
        let url = format!("{base}/tiles/heat/{}/{}/{}.mvt?{DAY}", id.z, id.x, id.y);
        let get = |etag: Option<String>| {
            let mut rq = client.get(&url);
            if let Some(e) = etag {
                rq = rq.header("if-none-match", e);
            }
            async move {
                let r = rq.send().await.unwrap();
                let st = r.status().as_u16();
                let etag = r.headers()["etag"].to_str().unwrap().to_string();
                (st, etag, r.bytes().await.unwrap())
            }
        };
        let (st, e1, b1) = get(None).await;
        assert_eq!(st, 200, "{kind:?}");
        let (st, e2, b2) = get(None).await;
        assert_eq!(
            (st, &e2, &b2),
            (200, &e1, &b1),
            "{kind:?}: the same tile again"
        );
        assert_eq!(get(Some(e1.clone())).await.0, 304, "{kind:?}");
        // Another writer stores a second worker's points on the tile: the next request has them.
        let more = stroll("w2", "2024-05-01T09:00:00+08:00", 5, lon, lat);
        let ins = writer.insert_checked(&checked(more.clone())).await.unwrap();
        assert_eq!(ins.inserted, 5);
        let (st, e3, b3) = get(Some(e1.clone())).await;
        assert_eq!(st, 200, "{kind:?}: changed, not 304");
        assert_ne!(e3, e1);
        assert_ne!(b3, b1);
        // Sent again, nothing is stored and the tile stands.
        let again = writer.insert_checked(&checked(more)).await.unwrap();
        assert_eq!(again.inserted, 0);
        assert_eq!(get(Some(e3)).await.0, 304, "{kind:?}");
    }
}
