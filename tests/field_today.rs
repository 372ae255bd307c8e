//! My grid today (`GET /api/field/today`) over HTTP, on both backends (a GeoPackage file, and
//! PostGIS when `WANGGE_TEST_PG` is set): a worker of three grids posts patrol points on a day
//! (two patrols 5 hours apart in the first grid, one in the second, none in the third) and on an
//! earlier day of the month; the answer names each grid's state (twice / once / none) with the
//! patrols' first and last point times as posted, its figures equal `GET /api/patrol/coverage`
//! of the day and of the month, my own patrols are counted, the buildings I stood at are passed,
//! and the buildings far from every point are listed as not passed this month. A leader gets the
//! grid's passing, a planner is refused, a bad day is a 400 naming `day`.

mod common;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use common::auth::{add_user, bearer_client, cookie_client, session, session_of};
use common::stores::{fresh_target, kinds};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use wangge::accounts::{login, Name, Role};
use wangge::model::Weight;
use wangge::partition::{partition, Options};
use wangge::serve::{serve_with, Config, StoreSource};
use wangge::snapshot::{Person, Role as PersonRole};
use wangge::store::{Base, PlanMeta, Store};

const WORKER_PHONE: &str = "13900000077";
const DAY: &str = "2026-11-10";
const EARLIER: &str = "2026-11-03";

/// A building: id, grid code, lon, lat.
type B = (String, String, f64, f64);

struct Town {
    base: String,
    store: Store,
    grids: Vec<String>,
    buildings: Vec<B>,
    worker: reqwest::Client,
}

async fn serve(store: &Store) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_with(
        listener,
        Arc::new(StoreSource::new(store.clone())),
        Config::default(),
    ));
    base
}

async fn get(c: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn town(kind: common::stores::Kind, dir: &std::path::Path) -> Town {
    let input = dir.join(format!("in{}", rand::random::<u64>()));
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 1500,
        seed: 21,
        odd_shapes: false,
    })
    .write_dir(&input)
    .unwrap();
    let ds = wangge::ingest::read_dir(&input, &Weight::Households).unwrap();
    let plan = partition(&ds, &Options::default(), &|| {});
    let store = Store::open(&fresh_target(kind, dir).await).await.unwrap();
    let meta = PlanMeta {
        author: "test".into(),
        reason: "v1".into(),
        params: "{}".into(),
    };
    store
        .save_run(&ds, &plan, &meta, &Base::default(), &mut |_, _| {})
        .await
        .unwrap();
    let village = ds.villages[0].code.as_str().to_string();
    let anon = reqwest::Client::new();
    let first = serve(&store).await;
    let (_, gj) = get(&anon, format!("{first}/api/grids?village={village}")).await;
    let grids: Vec<String> = gj["features"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(grids.len(), 3, "the village has three grids");
    let me = Person {
        role: PersonRole::GridWorker,
        name: "王网格员".into(),
        phone: Some(WORKER_PHONE.into()),
    };
    for g in &grids {
        store
            .set_people(g, std::slice::from_ref(&me))
            .await
            .unwrap();
    }
    add_user(&store, "leader7", Role::Leader, &[], &[&village]).await;
    add_user(&store, "planner7", Role::Planner, &[], &[&village]).await;
    let base = serve(&store).await;
    let (_, bs) = get(&anon, format!("{base}/api/buildings")).await;
    let buildings: Vec<B> = bs["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| {
            let p = &b["properties"];
            let (x, y) = point_of(&b["geometry"])?;
            Some((
                p["id"].as_str()?.to_string(),
                p["grid_code"].as_str()?.to_string(),
                x,
                y,
            ))
        })
        .filter(|b| grids.contains(&b.1))
        .collect();
    let token = login::issue_token(
        &store,
        &Name::new("phone7").unwrap(),
        Role::Worker,
        Some(WORKER_PHONE),
        30,
        "test",
        "test",
    )
    .await
    .unwrap();
    Town {
        base,
        store,
        grids,
        buildings,
        worker: bearer_client(token.as_str()),
    }
}

/// A building's point: its Point, or the mean of its footprint's outer ring.
fn point_of(g: &Value) -> Option<(f64, f64)> {
    let c = &g["coordinates"];
    if g["type"] == "Point" {
        return Some((c[0].as_f64()?, c[1].as_f64()?));
    }
    let ring = if g["type"] == "Polygon" {
        &c[0]
    } else {
        &c[0][0]
    };
    let r = ring.as_array()?;
    let r = &r[..r.len().saturating_sub(1).max(1)];
    let n = r.len() as f64;
    let sx: f64 = r.iter().filter_map(|p| p[0].as_f64()).sum();
    let sy: f64 = r.iter().filter_map(|p| p[1].as_f64()).sum();
    Some((sx / n, sy / n))
}

fn at(day: &str, hh: u32, mm: u32) -> DateTime<FixedOffset> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(hh, mm, 0)
        .unwrap()
        .and_local_timezone(FixedOffset::east_opt(8 * 3600).unwrap())
        .unwrap()
}

/// A walk from building to building of `bs`, one point every `step` from `start`: its points and
/// (first, last) time.
fn walk(
    bs: &[&B],
    start: DateTime<FixedOffset>,
    step: TimeDelta,
) -> (Vec<Value>, (String, String)) {
    let pts: Vec<Value> = bs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"worker": WORKER_PHONE, "time": (start + step * i as i32).to_rfc3339(),
                   "lon": b.2, "lat": b.3, "crs": "wgs84", "accuracy": 5})
        })
        .collect();
    let end = start + step * (bs.len() as i32 - 1);
    (pts, (start.to_rfc3339(), end.to_rfc3339()))
}

fn same_instant(a: &Value, b: &str) -> bool {
    let p = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    a.as_str().is_some_and(|a| p(a) == p(b))
}

fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = 111_195.0;
    let dx = (a.0 - b.0) * k * a.1.to_radians().cos();
    ((a.1 - b.1) * k).hypot(dx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_grid_today_matches_the_points_posted() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let of =
            |g: usize| -> Vec<&B> { t.buildings.iter().filter(|b| b.1 == t.grids[g]).collect() };
        let (g0, g1) = (of(0), of(1));
        assert!(g0.len() >= 16 && g1.len() >= 6, "{} {}", g0.len(), g1.len());
        // grid 0: 09:00–09:18 (10 buildings, 2 min apart) and 14:00–14:12; grid 1: 10:00–10:15;
        // an earlier day of the month: 6 other buildings of grid 0.
        let two = TimeDelta::minutes(2);
        let three = TimeDelta::minutes(3);
        let (p1, t1) = walk(&g0[..10], at(DAY, 9, 0), two);
        let (p2, t2) = walk(&g0[..5], at(DAY, 14, 0), three);
        let (p3, t3) = walk(&g1[..6], at(DAY, 10, 0), three);
        let (p4, _) = walk(&g0[10..16], at(EARLIER, 9, 0), three);
        let walked: Vec<&B> = g0[..16].iter().chain(&g1[..6]).copied().collect();
        let all: Vec<Value> = [p1, p2, p3, p4].concat();
        let r = t
            .worker
            .post(format!("{}/api/patrol/points", t.base))
            .json(&all)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());

        let (st, v) = get(&t.worker, format!("{}/api/field/today?day={DAY}", t.base)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["day"], DAY);
        assert_eq!(v["month"], "2026-11");
        let grid = |g: usize| -> &Value {
            v["grids"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["code"] == t.grids[g].as_str())
                .unwrap_or_else(|| panic!("grid {} missing: {v}", t.grids[g]))
        };
        // states and the patrols' times as posted
        assert_eq!(grid(0)["state"], "twice", "{}", grid(0));
        assert_eq!(grid(0)["state_zh"], "已巡两次");
        assert_eq!(grid(1)["state"], "once", "{}", grid(1));
        assert_eq!(grid(1)["state_zh"], "已巡一次");
        assert_eq!(grid(2)["state"], "none");
        assert!(grid(2)["patrols"].as_array().unwrap().is_empty());
        let ps = grid(0)["patrols"].as_array().unwrap();
        assert_eq!(ps.len(), 2, "{ps:?}");
        for (p, (s, e), n) in [(&ps[0], &t1, 10), (&ps[1], &t2, 5)] {
            assert!(
                same_instant(&p["start"], s) && same_instant(&p["end"], e),
                "{p} vs {s} {e}"
            );
            assert_eq!(p["points"], n);
            assert_eq!(p["mine"], true);
            assert!(p["start"].as_str().unwrap().ends_with("+08:00"), "{p}");
        }
        let p = &grid(1)["patrols"][0];
        assert!(
            same_instant(&p["start"], &t3.0) && same_instant(&p["end"], &t3.1),
            "{p}"
        );

        // the grid figures are the coverage route's, of the day and of the month
        let admin = cookie_client(
            &session(
                &t.store,
                &format!("root{}", rand::random::<u32>()),
                Role::Admin,
            )
            .await,
        );
        let (_, day_cov) = get(&admin, format!("{}/api/patrol/coverage?day={DAY}", t.base)).await;
        let (_, month_cov) = get(
            &admin,
            format!("{}/api/patrol/coverage?month=2026-11", t.base),
        )
        .await;
        let cov = |doc: &Value, code: &str| -> Value {
            doc["grids"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["code"] == code)
                .unwrap()
                .clone()
        };
        for (g, code) in t.grids.iter().enumerate() {
            assert_eq!(
                grid(g)["today"],
                cov(&day_cov, code),
                "day figures of {code}"
            );
            assert_eq!(
                grid(g)["month"],
                cov(&month_cov, code),
                "month figures of {code}"
            );
        }
        assert_eq!(grid(0)["today"]["points"], 15);
        assert_eq!(grid(0)["month"]["points"], 21);
        assert_eq!(grid(0)["today"]["days_twice"], 1);

        // my own figures: 3 patrols today (twice), 4 this month; every building I stood at passed
        let me_d = &v["me_today"];
        let me_m = &v["me_month"];
        assert_eq!(me_d["phone"], WORKER_PHONE, "{v}");
        assert_eq!(me_d["patrols"], 3, "{me_d}");
        assert_eq!(me_d["days_twice"], 1);
        assert_eq!(me_m["patrols"], 4, "{me_m}");
        let of_me = |doc: &Value| -> Value {
            doc["workers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["phone"] == WORKER_PHONE)
                .unwrap()
                .clone()
        };
        assert_eq!(
            *me_d,
            of_me(&day_cov),
            "my day figures are the coverage route's"
        );
        assert_eq!(
            *me_m,
            of_me(&month_cov),
            "my month figures are the coverage route's"
        );
        assert_eq!(
            me_m["buildings"].as_u64().unwrap() as usize,
            t.buildings.len(),
            "my grids' buildings"
        );
        assert_eq!(v["passed_by"], "me");

        // unpassed this month: none I stood at, every one 100 m from all my points
        let unpassed: BTreeSet<&str> = v["unpassed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        let n_unpassed = v["buildings_unpassed"].as_u64().unwrap();
        assert_eq!(
            n_unpassed + me_m["buildings_passed"].as_u64().unwrap(),
            me_m["buildings"].as_u64().unwrap()
        );
        assert_eq!(
            v["targets_unpassed"].as_u64().unwrap() + me_m["targets_passed"].as_u64().unwrap(),
            me_m["targets"].as_u64().unwrap()
        );
        assert_eq!(unpassed.len() as u64, n_unpassed.min(200));
        for b in &walked {
            assert!(!unpassed.contains(b.0.as_str()), "{} was walked past", b.0);
        }
        let far: Vec<&B> = t
            .buildings
            .iter()
            .filter(|b| {
                walked
                    .iter()
                    .all(|w| metres((b.2, b.3), (w.2, w.3)) > 100.0)
            })
            .collect();
        assert!(!far.is_empty());
        // (the list holds at most 200: every far one is counted, the far ones listed are
        // checked below, nearest first)
        let distinct: BTreeSet<&str> = walked.iter().map(|b| b.0.as_str()).collect();
        assert!(
            far.len() as u64 <= n_unpassed
                && n_unpassed <= (t.buildings.len() - distinct.len()) as u64,
            "{} far ≤ {n_unpassed} unpassed ≤ {} not stood at",
            far.len(),
            t.buildings.len() - distinct.len()
        );
        let ids: BTreeSet<&str> = t.buildings.iter().map(|b| b.0.as_str()).collect();
        assert!(
            unpassed.iter().all(|u| ids.contains(u)),
            "only my grids' buildings"
        );

        // nearest first from a position (targets first), with distances
        let here = (g0[20].2, g0[20].3);
        let (_, near) = get(
            &t.worker,
            format!(
                "{}/api/field/today?day={DAY}&lon={}&lat={}",
                t.base, here.0, here.1
            ),
        )
        .await;
        let list = near["unpassed"].as_array().unwrap();
        let listed: BTreeSet<&str> = list.iter().map(|u| u["id"].as_str().unwrap()).collect();
        let reach = list
            .iter()
            .filter(|u| u["target"] == false)
            .filter_map(|u| u["distance_m"].as_f64())
            .fold(0.0, f64::max);
        let mut checked = 0;
        for b in far
            .iter()
            .filter(|b| metres((b.2, b.3), here) < reach - 5.0)
        {
            assert!(
                listed.contains(b.0.as_str()),
                "{} is far from every point and {:.0} m away (list reaches {reach:.0} m)",
                b.0,
                metres((b.2, b.3), here)
            );
            checked += 1;
        }
        assert!(
            checked > 20,
            "{checked} far buildings within the list's reach"
        );
        let keys: Vec<(bool, f64)> = list
            .iter()
            .map(|u| {
                (
                    !u["target"].as_bool().unwrap(),
                    u["distance_m"].as_f64().unwrap(),
                )
            })
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "targets first, then nearest: {keys:?}"
        );

        // others: a leader sees the grid's passing, a planner is refused, a bad day names `day`
        let leader = cookie_client(&session_of(&t.store, "leader7").await);
        let (st, lv) = get(&leader, format!("{}/api/field/today?day={DAY}", t.base)).await;
        assert_eq!(st, StatusCode::OK, "{lv}");
        assert_eq!(lv["passed_by"], "grid");
        assert!(
            lv["grids"].as_array().unwrap().is_empty(),
            "the leader has no grid of their own"
        );
        let planner = cookie_client(&session_of(&t.store, "planner7").await);
        let (st, _) = get(&planner, format!("{}/api/field/today", t.base)).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = get(
            &reqwest::Client::new(),
            format!("{}/api/field/today", t.base),
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, e) = get(
            &t.worker,
            format!("{}/api/field/today?day=10/11/2026", t.base),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(e.to_string().contains("day"), "{e}");
        t.store.close().await;
    }
}
