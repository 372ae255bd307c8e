//! Household visits (入户走访) over HTTP, on both backends (a GeoPackage file, and PostGIS when
//! `WANGGE_TEST_PG` is set): a worker logs visits to households of their grid (a re-sent
//! `client_id` is stored once); bad input is a 4xx naming the field; the due list leaves visited
//! households out and lists the nearest first; a leader tags households, a worker may not; the
//! month's shares per grid and per worker match a hand count; a weekly-tagged household last
//! visited 8 days ago is overdue, a half-monthly one visited 3 days ago is not; reads are audited.

mod common;

use chrono::{FixedOffset, TimeDelta, Utc};
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

const WORKER_PHONE: &str = "13900000009";

struct Town {
    base: String,
    store: Store,
    /// The worker's grid and one that is not theirs.
    grid: String,
    other: String,
    households: u64,
    /// Households of the worker's grid, `building/door`, with their building's point.
    doors: Vec<(String, f64, f64)>,
    other_door: String,
    worker: reqwest::Client,
    leader: reqwest::Client,
    admin: reqwest::Client,
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
    // The people are set before the server starts: its first snapshot has them.
    let grids: Value = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve_with(
            listener,
            Arc::new(StoreSource::new(store.clone())),
            Config::default(),
        ));
        anon.get(format!("{b}/api/grids?village={village}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let f = grids["features"].as_array().unwrap();
    let grid = f[0]["properties"]["code"].as_str().unwrap().to_string();
    let other = f[1]["properties"]["code"].as_str().unwrap().to_string();
    let households = f[0]["properties"]["households"].as_f64().unwrap().round() as u64;
    let worker_person = Person {
        role: PersonRole::GridWorker,
        name: "李网格员".into(),
        phone: Some(WORKER_PHONE.into()),
    };
    store.set_people(&grid, &[worker_person]).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_with(
        listener,
        Arc::new(StoreSource::new(store.clone())),
        Config::default(),
    ));
    let bs: Value = anon
        .get(format!("{base}/api/buildings?village={village}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut doors = Vec::new();
    let mut other_door = String::new();
    for b in bs["features"].as_array().unwrap() {
        let p = &b["properties"];
        let n = p["households"].as_u64().unwrap();
        let c = &b["geometry"]["coordinates"];
        let id = p["id"].as_str().unwrap();
        if p["grid_code"] == grid.as_str() {
            for d in 1..=n {
                doors.push((
                    format!("{id}/{d}"),
                    c[0].as_f64().unwrap(),
                    c[1].as_f64().unwrap(),
                ));
            }
        } else if p["grid_code"] == other.as_str() && n > 0 {
            other_door = format!("{id}/1");
        }
    }
    assert_eq!(
        doors.len() as u64,
        households,
        "the grid's households are its buildings' doors"
    );
    add_user(&store, "leader9", Role::Leader, &[], &[&village]).await;
    let worker = login::issue_token(
        &store,
        &Name::new("phone9").unwrap(),
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
        grid,
        other,
        households,
        doors,
        other_door,
        worker: bearer_client(worker.as_str()),
        leader: cookie_client(&session_of(&store, "leader9").await),
        admin: cookie_client(&session(&store, "root9", Role::Admin).await),
        store,
    }
}

impl Town {
    async fn post(&self, c: &reqwest::Client, path: &str, body: Value) -> (StatusCode, Value) {
        let r = c
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, c: &reqwest::Client, path: &str) -> (StatusCode, Value) {
        let r = c.get(format!("{}{path}", self.base)).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
    fn visit(&self, id: &str, household: &str, ago: TimeDelta) -> Value {
        let at = (Utc::now() - ago).with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
        json!({"client_id": id, "household": household, "grid": self.grid, "visited_at": at.to_rfc3339(),
               "found": "一切正常", "done": "宣传防诈骗"})
    }
}

fn month_of(ago: TimeDelta) -> String {
    let z = FixedOffset::east_opt(8 * 3600).unwrap();
    (Utc::now() - ago)
        .with_timezone(&z)
        .format("%Y-%m")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_due_tags_figures_and_audit() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let h = |i: usize| t.doors[i].0.clone();

        // Visits: three households now, one again from another terminal id, one re-sent.
        let batch = json!([
            t.visit("a1", &h(0), TimeDelta::zero()),
            t.visit("a2", &h(1), TimeDelta::minutes(5)),
            t.visit("a3", &h(0), TimeDelta::minutes(1))
        ]);
        let (st, v) = t.post(&t.worker, "/api/visits", batch).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["stored"], 3);
        let (st, v) = t
            .post(
                &t.worker,
                "/api/visits",
                t.visit("a2", &h(1), TimeDelta::minutes(5)),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["visits"][0]["duplicate"], true);

        // Bad input names the field; nothing of a bad batch is stored.
        let bad = [
            (
                json!([t.visit("b1", &h(2), TimeDelta::zero()), {"client_id": "b2", "household": "nodoor", "grid": t.grid}]),
                "household",
            ),
            (
                json!({"client_id": "b3", "household": format!("{}9999", h(2)), "grid": t.grid}),
                "household",
            ),
            (
                json!({"client_id": "", "household": h(2), "grid": t.grid}),
                "client_id",
            ),
            (t.visit("b4", &h(2), -TimeDelta::hours(2)), "visited_at"),
            (json!({"client_id": "b5", "household": h(2)}), "grid"),
        ];
        for (body, field) in bad {
            let (st, v) = t.post(&t.worker, "/api/visits", body.clone()).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{body} → {v}");
            assert!(
                v["error"].as_str().unwrap().contains(field),
                "{v} should name {field}"
            );
        }
        let (st, v) = t
            .post(
                &t.worker,
                "/api/visits",
                json!({"client_id": "c1", "household": t.other_door, "grid": t.other}),
            )
            .await;
        assert_eq!(
            st,
            StatusCode::FORBIDDEN,
            "a worker visits only their grids: {v}"
        );

        // Due: the visited households are not due; nearest first from where the worker stands.
        let (x, y) = (t.doors[5].1, t.doors[5].2);
        let (st, due) = t
            .get(&t.worker, &format!("/api/visits/due?lon={x}&lat={y}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{due}");
        assert_eq!(due["households"], t.households);
        assert_eq!(due["due"].as_u64().unwrap(), t.households - 2);
        let list = due["list"].as_array().unwrap();
        assert!(!list
            .iter()
            .any(|d| d["household"] == h(0) || d["household"] == h(1)));
        let dist: Vec<f64> = list
            .iter()
            .map(|d| d["distance_m"].as_f64().unwrap())
            .collect();
        assert!(dist.windows(2).all(|w| w[0] <= w[1]), "nearest first");
        assert_eq!(dist[0], 0.0);

        // Tags: leaders tag, workers may not; 帮扶 visited 8 days ago is overdue, 关注 3 days ago not.
        let (weekly, half) = (h(3), h(4));
        let (st, v) = t
            .post(
                &t.worker,
                "/api/households/tags",
                json!({"household": weekly, "grid": t.grid, "tag": "help"}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        for (hh, tag) in [(&weekly, "帮扶"), (&half, "关注")] {
            let (st, v) = t
                .post(
                    &t.leader,
                    "/api/households/tags",
                    json!({"household": hh, "grid": t.grid, "tag": tag}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{v}");
        }
        let (st, v) = t
            .post(
                &t.leader,
                "/api/households/tags",
                json!({"household": weekly, "grid": t.grid, "tag": "vip"}),
            )
            .await;
        assert!(
            st == StatusCode::BAD_REQUEST && v["error"].as_str().unwrap().contains("tag"),
            "{v}"
        );
        let old = TimeDelta::days(8);
        let recent = TimeDelta::days(3);
        let (st, v) = t
            .post(
                &t.worker,
                "/api/visits",
                json!([t.visit("o1", &weekly, old), t.visit("o2", &half, recent)]),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");

        // The hand count of this month's households visited.
        let this = month_of(TimeDelta::zero());
        let mut hand: BTreeSet<String> = [h(0), h(1)].into();
        if month_of(old) == this {
            hand.insert(weekly.clone());
        }
        if month_of(recent) == this {
            hand.insert(half.clone());
        }
        let share = ((hand.len() as f64 / t.households as f64) * 10_000.0).round() / 10_000.0;
        let (st, fig) = t.get(&t.leader, "/api/visits/figures").await;
        assert_eq!(st, StatusCode::OK, "{fig}");
        let g = fig["grids"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["grid"] == t.grid.as_str())
            .unwrap();
        assert_eq!(g["visited"].as_u64().unwrap() as usize, hand.len(), "{g}");
        assert_eq!(g["share"].as_f64().unwrap(), share);
        let w = fig["workers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["worker"] == WORKER_PHONE)
            .unwrap();
        assert_eq!(w["visited"].as_u64().unwrap() as usize, hand.len(), "{w}");
        assert_eq!(w["households"], t.households);
        let overdue: Vec<&str> = fig["overdue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["household"].as_str().unwrap())
            .collect();
        assert_eq!(overdue, [weekly.as_str()], "{fig}");
        let (st, _) = t.get(&t.worker, "/api/visits/figures").await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = t.get(&reqwest::Client::new(), "/api/visits/figures").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);

        // Every read of residents' visits is in the audit log.
        let (_, audit) = t.get(&t.admin, "/api/audit?limit=100000").await;
        let kinds: Vec<(String, String)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["who"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            kinds.contains(&("GET /api/visits/figures".into(), "leader9".into())),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("GET /api/visits/due".into(), "phone9".into())),
            "{kinds:?}"
        );
        assert!(kinds.contains(&("POST /api/households/tags".into(), "leader9".into())));
        t.store.close().await;
    }
}
