//! The planner's editor API over a real store, on both backends (a GeoPackage file, and PostGIS
//! when `WANGGE_TEST_PG` is set): opening a village (cells as TopoJSON, each border once), saving
//! a draft (201, then `plans`, `diff`, `activate`, `locate` agree), every bad body refused with a
//! 4xx and a message and the store unchanged (fingerprint), a stale base a 409, and a rebalance
//! that leaves every unlocked grid in band and the locked ones as they were.

mod common;

use common::stores::{fresh_target, kinds};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use wangge::model::Weight;
use wangge::partition::{partition, Options};
use wangge::serve::{router, Config, Service, StoreSource};
use wangge::store::{Base, PlanMeta, Store};

struct Http {
    base: String,
    client: reqwest::Client,
    /// The session of each user the tests write as (admins: their names are the authors).
    sessions: std::collections::HashMap<&'static str, String>,
}

impl Http {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(
                "cookie",
                format!("wangge_session={}", self.sessions["alice"]),
            )
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, body: Vec<u8>, user: Option<&str>) -> (u16, Value) {
        let mut rq = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(u) = user {
            rq = rq.header("cookie", format!("wangge_session={}", self.sessions[u]));
        }
        let r = rq.send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn post_json(&self, path: &str, body: &Value, user: Option<&str>) -> (u16, Value) {
        self.post(path, serde_json::to_vec(body).unwrap(), user)
            .await
    }
}

/// Everything a user could see of the store: plans, revision, active grids and every assignment.
async fn fingerprint(s: &Store) -> String {
    let plans = s.plans(None).await.unwrap();
    let mut out = format!("rev {} ", s.revision().await.unwrap());
    for p in &plans {
        let (_, rec) = s.load_plan(&p.village, p.version).await.unwrap();
        out += &format!(
            "{} v{} {} {} grids {:?} assignment {:?};",
            p.village,
            p.version,
            p.active,
            p.author,
            rec.grids.iter().map(|g| &g.code).collect::<Vec<_>>(),
            rec.assignment
                .iter()
                .map(|a| (&a.id, &a.grid))
                .collect::<Vec<_>>()
        );
    }
    out
}

/// A partitioned town in a fresh store of each backend, served on a free port.
async fn servers(dir: &std::path::Path) -> Vec<(Store, Http, Arc<Service>)> {
    let input = dir.join("in");
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 6000,
        seed: 23,
        odd_shapes: false,
    })
    .write_dir(&input)
    .unwrap();
    let ds = wangge::ingest::read_dir(&input, &Weight::Households).unwrap();
    let plan = partition(&ds, &Options::default(), &|| {});
    let mut out = Vec::new();
    for kind in kinds() {
        let store = Store::open(&fresh_target(kind, dir).await).await.unwrap();
        let meta = PlanMeta {
            author: "partition".into(),
            reason: "first plan".into(),
            params: r#"{"band":[300,500]}"#.into(),
        };
        store
            .save_run(&ds, &plan, &meta, &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let svc = Arc::new(
            Service::load(Arc::new(StoreSource::new(store.clone())), Config::default())
                .await
                .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut sessions = std::collections::HashMap::new();
        for u in ["alice", "bob"] {
            let id = common::auth::session(&store, u, wangge::accounts::Role::Admin).await;
            sessions.insert(u, id);
        }
        let http = Http {
            base: format!("http://{}", listener.local_addr().unwrap()),
            client: reqwest::Client::new(),
            sessions,
        };
        tokio::spawn(std::future::IntoFuture::into_future(axum::serve(
            listener,
            router(svc.clone()),
        )));
        out.push((store, http, svc));
    }
    out
}

/// The village with the most grids.
async fn busiest(http: &Http) -> String {
    let (st, v) = http.get("/api/planner/villages").await;
    assert_eq!(st, 200, "{v}");
    v["villages"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|v| v["grids"].as_u64())
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string()
}

fn assignment_of(view: &Value) -> BTreeMap<String, String> {
    view["buildings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap().to_string(),
                b["grid"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Per face: its grid, its items and its neighbours (through shared arcs).
struct Faces {
    grid: Vec<Option<String>>,
    items: Vec<Vec<String>>,
    nbrs: Vec<BTreeSet<usize>>,
}

fn faces(view: &Value) -> Faces {
    let geoms = view["topology"]["objects"]["cells"]["geometries"]
        .as_array()
        .unwrap();
    let n = geoms.len();
    let mut sides: HashMap<i64, Vec<usize>> = HashMap::new();
    let mut f = Faces {
        grid: vec![None; n],
        items: vec![Vec::new(); n],
        nbrs: vec![BTreeSet::new(); n],
    };
    for g in geoms {
        let id = g["id"].as_u64().unwrap() as usize;
        f.grid[id] = g["properties"]["grid"].as_str().map(str::to_string);
        f.items[id] = g["properties"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        for ring in g["arcs"].as_array().unwrap() {
            for r in ring.as_array().unwrap() {
                let r = r.as_i64().unwrap();
                let a = if r < 0 { !r } else { r };
                sides.entry(a).or_default().push(id);
            }
        }
    }
    for (a, fs) in &sides {
        assert!(fs.len() <= 2, "arc {a} is used by {} faces", fs.len());
        if let [x, y] = fs[..] {
            f.nbrs[x].insert(y);
            f.nbrs[y].insert(x);
        }
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_api_opens_saves_refuses_and_rebalances() {
    let dir = common::tmp();
    for (store, http, _svc) in servers(dir.path()).await {
        let kind = store.backend();
        let v = busiest(&http).await;
        let (st, view) = http.get(&format!("/api/villages/{v}/edit")).await;
        assert_eq!(st, 200, "{kind:?}: {view}");
        assert_eq!(view["plan"]["version"], 1);

        // The topology: each border once, each arc used once in each direction at most.
        let topo = &view["topology"];
        assert_eq!(topo["type"], "Topology");
        let mut used: BTreeSet<i64> = BTreeSet::new();
        for g in topo["objects"]["cells"]["geometries"].as_array().unwrap() {
            for ring in g["arcs"].as_array().unwrap() {
                for r in ring.as_array().unwrap() {
                    assert!(
                        used.insert(r.as_i64().unwrap()),
                        "{kind:?}: arc {r} twice in one direction"
                    );
                }
            }
        }
        let fc = faces(&view);
        // Every building is in exactly one cell, whose grid is the building's grid.
        let a0 = assignment_of(&view);
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (f, items) in fc.items.iter().enumerate() {
            for id in items {
                *seen.entry(id.as_str()).or_default() += 1;
                assert_eq!(
                    fc.grid[f].as_deref(),
                    Some(a0[id].as_str()),
                    "{kind:?} {id}"
                );
            }
        }
        assert_eq!(seen.len(), a0.len(), "{kind:?}");
        assert!(seen.values().all(|&n| n == 1), "{kind:?}");

        let before = fingerprint(&store).await;
        let plans = format!("/api/villages/{v}/plans");
        let body = |a: &BTreeMap<String, String>, base: Value| json!({"base": base, "assignment": a, "reason": "测试", "activate": false});
        // Bad bodies: all refused with a message, nothing saved.
        let other_village = view["grids"][0]["code"]
            .as_str()
            .unwrap()
            .replace(&v, "999999999999");
        let first = a0.keys().next().unwrap().clone();
        let mut unknown = a0.clone();
        unknown.insert("no-such-building".into(), a0[&first].clone());
        let mut missing = a0.clone();
        missing.remove(&first);
        let mut foreign = a0.clone();
        foreign.insert(first.clone(), other_village.clone());
        // (what, body, user, status wanted, what the message names)
        type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);
        let cases: Vec<Case> = vec![
            (
                "not JSON",
                b"{not json".to_vec(),
                Some("alice"),
                400,
                "JSON",
            ),
            (
                "too big",
                vec![b' '; wangge::serve::routes::edit::MAX_BODY_BYTES + 10],
                Some("alice"),
                413,
                "",
            ),
            (
                "unknown building",
                serde_json::to_vec(&body(&unknown, json!(1))).unwrap(),
                Some("alice"),
                422,
                "no-such-building",
            ),
            (
                "missing building",
                serde_json::to_vec(&body(&missing, json!(1))).unwrap(),
                Some("alice"),
                422,
                &first,
            ),
            (
                "code of another village",
                serde_json::to_vec(&body(&foreign, json!(1))).unwrap(),
                Some("alice"),
                422,
                &other_village,
            ),
            (
                "stale base",
                serde_json::to_vec(&body(&a0, json!(7))).unwrap(),
                Some("alice"),
                409,
                "conflict",
            ),
            (
                "anonymous",
                serde_json::to_vec(&body(&a0, json!(1))).unwrap(),
                None,
                401,
                "log in",
            ),
        ];
        for (what, b, user, want, says) in cases {
            let (st, r) = http.post(&plans, b, user).await;
            assert_eq!(st, want, "{kind:?} {what}: {r}");
            let msg = r["error"].as_str().unwrap_or_default();
            assert!(
                !msg.is_empty() && msg.contains(says),
                "{kind:?} {what}: {r}"
            );
        }
        // A grid in pieces: one building of the grid with most buildings, moved to a grid that
        // does not touch it; the answer names that grid.
        let (gi, far) = {
            let g = fc.grid.clone();
            let mut pick = None;
            'outer: for (f, items) in fc.items.iter().enumerate() {
                let Some(own) = &g[f] else { continue };
                if items.is_empty() {
                    continue;
                }
                let touching: BTreeSet<&String> =
                    fc.nbrs[f].iter().filter_map(|&o| g[o].as_ref()).collect();
                for other in a0.values() {
                    if other != own && !touching.contains(other) {
                        pick = Some((f, other.clone()));
                        break 'outer;
                    }
                }
            }
            pick.expect("a building away from some grid")
        };
        let mut split = a0.clone();
        for id in &fc.items[gi] {
            split.insert(id.clone(), far.clone());
        }
        let (st, r) = http
            .post_json(&plans, &body(&split, json!(1)), Some("alice"))
            .await;
        assert_eq!(st, 422, "{kind:?}: {r}");
        assert!(
            r["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["kind"] == "not_contiguous" && p["ids"][0] == json!(far)),
            "{kind:?}: {r}"
        );
        assert_eq!(fingerprint(&store).await, before, "{kind:?}: nothing saved");

        // A border building into the neighbouring grid: saved by alice with her reason.
        let mut saved = None;
        for (f, items) in fc.items.iter().enumerate() {
            let Some(own) = &fc.grid[f] else { continue };
            if items.is_empty() {
                continue;
            }
            let Some(to) = fc.nbrs[f]
                .iter()
                .filter_map(|&o| fc.grid[o].clone())
                .find(|g| g != own)
            else {
                continue;
            };
            let mut a = a0.clone();
            for id in items {
                a.insert(id.clone(), to.clone());
            }
            let req =
                json!({"base": 1, "assignment": a, "reason": "边界楼栋调整", "activate": false});
            let (st, r) = http.post_json(&plans, &req, Some("alice")).await;
            if st == 201 {
                saved = Some((items[0].clone(), to, r));
                break;
            }
            assert_eq!(st, 422, "{kind:?}: {r}");
            assert!(
                r["problems"][0]["kind"] == "not_contiguous",
                "{kind:?}: {r}"
            );
        }
        let (moved_id, to, r) = saved.expect("some border building can move");
        assert_eq!(r["saved"]["version"], 2, "{kind:?}: {r}");
        assert!(r["codes"].as_array().unwrap().contains(&json!(to)), "{r}");
        let (_, list) = http.get(&plans).await;
        let v2 = &list["plans"][1];
        assert_eq!(
            (&v2["version"], &v2["author"], &v2["reason"], &v2["active"]),
            (
                &json!(2),
                &json!("alice"),
                &json!("边界楼栋调整"),
                &json!(false)
            ),
            "{kind:?}: {list}"
        );
        let (st, d) = http
            .get(&format!("/api/villages/{v}/diff?from=1&to=2"))
            .await;
        assert_eq!(st, 200, "{d}");
        assert!(
            d["moved"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == json!(moved_id) && m["to"] == json!(to)),
            "{kind:?}: {d}"
        );
        // Activation: a stale expectation is a conflict; the right one activates, and "which
        // grid am I in?" at that building answers its new grid.
        let act = format!("/api/villages/{v}/activate");
        let (st, r) = http
            .post_json(&act, &json!({"version": 2, "expect": 5}), Some("alice"))
            .await;
        assert_eq!(st, 409, "{kind:?}: {r}");
        let (st, r) = http
            .post_json(&act, &json!({"version": 2, "expect": 1}), Some("alice"))
            .await;
        assert_eq!(st, 200, "{kind:?}: {r}");
        let pos = view["buildings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == json!(moved_id))
            .unwrap()["position"]
            .clone();
        let (st, loc) = http
            .get(&format!("/api/locate?lon={}&lat={}", pos[0], pos[1]))
            .await;
        assert_eq!(st, 200, "{loc}");
        assert_eq!(loc["grid"]["code"], json!(to), "{kind:?}: {loc}");

        // Rebalance: push one grid far over the band, lock another; the proposal puts every
        // unlocked grid in band, leaves the locked one as it was, and saves as a whole plan.
        let (_, view2) = http.get(&format!("/api/villages/{v}/edit")).await;
        let a2 = assignment_of(&view2);
        let fc2 = faces(&view2);
        let grids: Vec<String> = view2["grids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["code"].as_str().unwrap().to_string())
            .collect();
        // Grid 0 swallows a neighbouring grid whole (a merge: still in one piece, far over the
        // band); a third grid is locked.
        let neighbour = (0..fc2.grid.len())
            .filter(|&f| fc2.grid[f].as_deref() == Some(&grids[0]))
            .flat_map(|f| fc2.nbrs[f].iter().filter_map(|&o| fc2.grid[o].clone()))
            .find(|g| g != &grids[0])
            .expect("grid 0 has a neighbour");
        let locked = grids
            .iter()
            .rev()
            .find(|g| **g != grids[0] && **g != neighbour)
            .unwrap()
            .clone();
        let over: BTreeMap<String, String> = a2
            .iter()
            .map(|(id, g)| {
                let g = if *g == neighbour {
                    grids[0].clone()
                } else {
                    g.clone()
                };
                (id.clone(), g)
            })
            .collect();
        let t0 = std::time::Instant::now();
        let (st, p) = http
            .post_json(
                &format!("/api/villages/{v}/rebalance"),
                &json!({"assignment": over, "locked": [locked]}),
                Some("bob"),
            )
            .await;
        eprintln!(
            "{kind:?}: rebalance of {} buildings took {:?}",
            a2.len(),
            t0.elapsed()
        );
        assert_eq!(st, 200, "{kind:?}: {p}");
        let prop: BTreeMap<String, String> =
            serde_json::from_value(p["assignment"].clone()).unwrap();
        for (id, g) in &a2 {
            if g == &locked {
                assert_eq!(&prop[id], g, "{kind:?}: locked grid lost {id}");
            }
            if prop[id] == locked {
                assert_eq!(g, &locked, "{kind:?}: locked grid gained {id}");
            }
        }
        // Grids the proposal emptied (joined to a neighbour so the band can be reached) hold
        // nothing; grids it split off are new:K; every other unlocked grid is in band.
        let merged: Vec<&Value> = p["merged"].as_array().unwrap().iter().collect();
        for a in p["added"].as_array().unwrap() {
            assert!(a.as_str().unwrap().starts_with("new:"), "{kind:?}: {a}");
        }
        let mut in_band = 0;
        for g in p["grids"].as_array().unwrap() {
            let w = g["weight"].as_f64().unwrap();
            if merged.contains(&&g["code"]) {
                assert_eq!(w, 0.0, "{kind:?}: emptied grid {g} still holds weight");
                continue;
            }
            if g["code"] == json!(locked) {
                continue;
            }
            assert!((300.0..=500.0).contains(&w), "{kind:?}: {g} out of band");
            in_band += 1;
        }
        let total: f64 = p["grids"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["code"] != json!(locked))
            .map(|g| g["weight"].as_f64().unwrap())
            .sum();
        assert!(
            total <= in_band as f64 * 500.0 && total >= in_band as f64 * 300.0,
            "{kind:?}: {in_band} grids for {total}"
        );
        let (st, r) = http
            .post_json(
                &plans,
                &json!({"base": 2, "assignment": prop, "reason": "一键均衡"}),
                Some("bob"),
            )
            .await;
        assert_eq!(st, 201, "{kind:?}: the proposal saves whole: {r}");
    }
}
