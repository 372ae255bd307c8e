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
        assert_eq!(summary(&out), vec![23, 20, 0, 1, 1, 0, 2], "{out}");
        assert!(err.contains("no GPS fix"), "{err}");
        assert!(err.contains("unknown crs `mars`"), "{err}");
        // second import of the same file: everything already stored
        let (ok, out, _) =
            common::wangge(&["patrol", "import", good.to_str().unwrap(), "--db", &target]);
        assert!(ok);
        assert_eq!(summary(&out), vec![23, 0, 0, 21, 1, 20, 2], "{out}");
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
    tokio::spawn(serve_with(listener, source, Config::default()));
    Server {
        base,
        client: reqwest::Client::new(),
    }
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
