//! Accounts, roles and the audit trail over HTTP, on both backends (a GeoPackage file, and
//! PostGIS when `WANGGE_TEST_PG` is set): every documented route × every role and anonymous,
//! built from `/api/openapi.json`, answers as its `x-wangge-roles` says; wrong passwords are
//! throttled; cookie writes from another origin are refused; a revoked token and a disabled user
//! are refused at once; a worker cannot post for another; every write is in the audit log.

mod common;

use common::auth::{add_user, bearer_client, cookie_client, session, session_of, PASSWORD};
use common::stores::{fresh_target, kinds, Kind};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use wangge::accounts::login;
use wangge::accounts::{Name, Role};
use wangge::model::Weight;
use wangge::partition::{partition, Options};
use wangge::serve::{serve_with, Config, StoreSource};
use wangge::store::{Base, PlanMeta, Store};

/// The phone of the worker whose token the tests use.
const WORKER_PHONE: &str = "13900000001";

struct Town {
    base: String,
    store: Store,
    village: String,
    grid: String,
    micro: String,
    anon: reqwest::Client,
    /// A client per role, in [`Role::ALL`] order.
    clients: Vec<(Role, reqwest::Client)>,
}

/// A partitioned town in a fresh store of `kind`, served on a free port, with a user or token
/// of every role (the planner and leader are given the town of the first village).
async fn town(kind: Kind, dir: &std::path::Path, private: bool) -> Town {
    let input = dir.join(format!("in{}", rand_suffix()));
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 2500,
        seed: 13,
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        private,
        ..Config::default()
    };
    tokio::spawn(serve_with(
        listener,
        Arc::new(StoreSource::new(store.clone())),
        config,
    ));
    let village = ds.villages[0].code.as_str().to_string();
    let town_code = village[..9].to_string();
    let admin = session(&store, "root", Role::Admin).await;
    add_user(&store, "planner1", Role::Planner, &[&town_code], &[]).await;
    add_user(&store, "leader1", Role::Leader, &[], &[&village]).await;
    let planner = session_of(&store, "planner1").await;
    let leader = session_of(&store, "leader1").await;
    let worker = token(&store, "phone1", Role::Worker, Some(WORKER_PHONE)).await;
    let screen = token(&store, "wall1", Role::Screen, None).await;
    let clients = vec![
        (Role::Admin, cookie_client(&admin)),
        (Role::Planner, cookie_client(&planner)),
        (Role::Leader, cookie_client(&leader)),
        (Role::Worker, bearer_client(&worker)),
        (Role::Screen, bearer_client(&screen)),
    ];
    let admin_c = &clients[0].1;
    let first = |path: &'static str| {
        let url = format!("{base}{path}");
        let c = admin_c.clone();
        async move {
            let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
            v["features"][0]["properties"]["code"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let grid = first("/api/grids").await;
    let micro = first("/api/micro_grids").await;
    Town {
        base,
        store,
        village,
        grid,
        micro,
        anon: reqwest::Client::new(),
        clients,
    }
}

fn rand_suffix() -> u64 {
    rand::random::<u64>()
}

async fn token(store: &Store, name: &str, role: Role, phone: Option<&str>) -> String {
    login::issue_token(
        store,
        &Name::new(name).unwrap(),
        role,
        phone,
        30,
        "test",
        "test",
    )
    .await
    .unwrap()
    .as_str()
    .to_string()
}

impl Town {
    fn client(&self, role: Role) -> &reqwest::Client {
        &self.clients.iter().find(|(r, _)| *r == role).unwrap().1
    }
    /// A documented path with its parameters filled in.
    fn concrete(&self, p: &str) -> String {
        let code = if p.contains("micro") {
            &self.micro
        } else if p.starts_with("/api/villages/") {
            &self.village
        } else {
            &self.grid
        };
        let s = p
            .replace("{code}", code)
            .replace("{layer}", "grids")
            .replace("{z}", "0")
            .replace("{x}", "0")
            .replace("{y}", "0")
            .replace("{fontstack}", "dejavu-sans")
            .replace("{range}", "0-255");
        match s.as_str() {
            "/api/locate" => "/api/locate?lon=120.5&lat=31.2".into(),
            _ if s.ends_with("/diff") => format!("{s}?from=1&to=1"),
            _ => s.replace(' ', "%20"),
        }
    }
    async fn call(
        &self,
        c: &reqwest::Client,
        m: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rq = c.request(m, format!("{}{path}", self.base));
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq.send().await.unwrap();
        let st = r.status().as_u16();
        // an event stream (the big screen's) never ends: its status is the answer
        let sse = r
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if sse {
            return (st, Value::Null);
        }
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn audit(&self) -> Vec<Value> {
        let (st, v) = self
            .call(
                self.client(Role::Admin),
                Method::GET,
                "/api/audit?limit=100000",
                None,
            )
            .await;
        assert_eq!(st, 200, "{v}");
        v["entries"].as_array().unwrap().clone()
    }
}

/// (method, path, roles: `anyone`, `public` or a list) of every documented operation.
async fn operations(t: &Town) -> Vec<(Method, String, Value)> {
    let (st, doc) = t
        .call(&t.anon, Method::GET, "/api/openapi.json", None)
        .await;
    assert_eq!(st, 200);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (m, op) in item.as_object().unwrap() {
            let roles = op["x-wangge-roles"].clone();
            assert!(
                roles.is_string() || roles.is_array(),
                "{m} {path} has no x-wangge-roles: every route needs its rule"
            );
            ops.push((m.to_uppercase().parse().unwrap(), path.clone(), roles));
        }
    }
    // logging out ends the caller's session: last
    ops.sort_by_key(|(m, p, _)| (*m == Method::DELETE && p == "/api/session", p.clone()));
    ops
}

fn allowed(roles: &Value, role: Option<Role>, private: bool) -> bool {
    match (roles.as_str(), role) {
        (Some("anyone"), _) => true,
        (Some("public"), r) => r.is_some() || !private,
        (_, None) => false,
        (_, Some(r)) => roles
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str() == Some(r.as_str())),
    }
}

/// Every route × every role (and anonymous): the status its rule says. An allowed call may still
/// be a 4xx for its empty body, never a 401 or 403; a refused one is exactly 401 (no credentials)
/// or 403 (another role), with a JSON message.
async fn matrix(t: &Town, private: bool) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (m, p, roles) in operations(t).await {
        let path = t.concrete(&p);
        let body = (m == Method::POST).then(|| json!({}));
        let mut callers: Vec<(Option<Role>, &reqwest::Client)> = vec![(None, &t.anon)];
        callers.extend(t.clients.iter().map(|(r, c)| (Some(*r), c)));
        for (role, c) in callers {
            let (st, v) = t.call(c, m.clone(), &path, body.clone()).await;
            let who = role.map_or("anonymous", |r| r.as_str());
            let ok = allowed(&roles, role, private);
            // `GET /api/session` says 401 to nobody by design
            let nobody = p == "/api/session" && role.is_none() && st == 401;
            let good = if ok {
                (st != 401 || nobody) && st != 403 && st < 500
            } else {
                let want = if role.is_none() { 401 } else { 403 };
                st == want && v["error"].is_string()
            };
            if !good {
                failures.push(format!("{m} {path} as {who}: {st} {v} (rule {roles})"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_role_as_its_rule_says() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path(), false).await;
        let n = matrix(&t, false).await;
        eprintln!("{kind:?}: {n} route × role calls as documented");
        assert!(n >= 6 * 30, "{n}");
        // anonymous: the notice board's people only (the leader), no worker
        let (st, g) = t.call(&t.anon, Method::GET, "/api/grids", None).await;
        assert_eq!(st, 200);
        for f in g["features"].as_array().unwrap() {
            for p in f["properties"]["people"].as_array().unwrap() {
                assert_eq!(p["role"], "grid_leader", "{p}");
            }
        }
        let t = town(kind, dir.path(), true).await;
        let n = matrix(&t, true).await;
        eprintln!("{kind:?}: private server: {n} calls as documented");
        let (st, _) = t.call(&t.anon, Method::GET, "/", None).await;
        assert_eq!(st, 200, "the page itself stays open on a private server");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_throttled_per_name_and_per_address() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path(), false).await;
        let login = |name: &str, pw: &str| {
            let body = json!({"name": name, "password": pw});
            async {
                t.call(&t.anon, Method::POST, "/api/session", Some(body))
                    .await
            }
        };
        // the right password works, and says who
        let (st, v) = login("planner1", PASSWORD).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["role"], "planner");
        for i in 0..5 {
            let (st, v) = login("planner1", "wrong horse").await;
            assert_eq!(st, 401, "attempt {i}: {v}");
        }
        let r = t
            .anon
            .post(format!("{}/api/session", t.base))
            .json(&json!({"name": "planner1", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: i64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        let audit = t.audit().await;
        let logins: Vec<&Value> = audit
            .iter()
            .filter(|e| e["kind"] == "login" && e["who"] == "planner1")
            .collect();
        let count = |r: &str| logins.iter().filter(|e| e["result"] == r).count();
        assert_eq!(count("refused"), 5, "{logins:?}");
        assert_eq!(count("throttled"), 1);
        assert!(count("ok") >= 2, "the tests' login and this one");
        assert!(
            logins
                .iter()
                .filter(|e| e["result"] != "ok")
                .all(|e| e["address"] == "127.0.0.1"),
            "{logins:?}"
        );
        // from this address, every name is now throttled too
        let (st, _) = login("leader1", PASSWORD).await;
        assert_eq!(st, 429);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_writes_from_another_origin_are_refused() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path(), false).await;
        let url = format!("{}/api/villages/{}/activate", t.base, t.village);
        let send = |c: &reqwest::Client, origin: &str| {
            c.post(&url)
                .header("origin", origin)
                .json(&json!({"version": 1, "expect": 1}))
                .send()
        };
        let planner = t.client(Role::Planner);
        let r = send(planner, "http://evil.example").await.unwrap();
        assert_eq!(r.status(), 403);
        let v: Value = r.json().await.unwrap();
        assert!(v["error"].as_str().unwrap().contains("CSRF"), "{v}");
        let r = send(planner, &t.base).await.unwrap();
        assert_eq!(r.status(), 200, "same origin: {}", r.text().await.unwrap());
        let refused = t
            .audit()
            .await
            .into_iter()
            .filter(|e| e["who"] == "planner1" && e["kind"] == "POST /api/villages/{code}/activate")
            .map(|e| e["result"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        assert_eq!(refused, ["403 refused", "200 ok"], "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_and_disabled_users_are_refused_at_once() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path(), false).await;
        let worker = t.client(Role::Worker);
        let (st, _) = t
            .call(worker, Method::GET, "/api/patrol/coverage", None)
            .await;
        assert_eq!(st, 200);
        t.store
            .token_revoke(
                "phone1",
                login::entry("test", "test", "token revoke", "phone1", "ok"),
            )
            .await
            .unwrap();
        let (st, v) = t
            .call(worker, Method::GET, "/api/patrol/coverage", None)
            .await;
        assert_eq!(st, 401, "{v}");
        assert!(v["error"].as_str().unwrap().contains("revoked"), "{v}");
        // even on a public route a dead token is an error, not a silent anonymous
        let (st, _) = t.call(worker, Method::GET, "/api/grids", None).await;
        assert_eq!(st, 401);

        let leader = t.client(Role::Leader);
        let (st, v) = t.call(leader, Method::GET, "/api/session", None).await;
        assert_eq!((st, v["name"].as_str()), (200, Some("leader1")));
        t.store
            .user_disable(
                "leader1",
                login::entry("test", "test", "user disable", "leader1", "ok"),
            )
            .await
            .unwrap();
        let (st, _) = t.call(leader, Method::GET, "/api/session", None).await;
        assert_eq!(st, 401);
        let (st, _) = t
            .call(leader, Method::GET, "/api/planner/villages", None)
            .await;
        assert_eq!(st, 401);
        let (st, _) = t
            .call(
                &t.anon,
                Method::POST,
                "/api/session",
                Some(json!({"name": "leader1", "password": PASSWORD})),
            )
            .await;
        assert_eq!(st, 401, "a disabled user cannot log in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_posts_only_as_themselves_and_every_write_is_audited() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path(), false).await;
        let now = chrono::Utc::now().fixed_offset();
        let point = |w: &str, k: i64| {
            json!({"worker": w, "time": (now - chrono::TimeDelta::minutes(30 - k)).to_rfc3339(),
                   "lon": 120.5 + 0.0001 * k as f64, "lat": 31.2, "accuracy": 5})
        };
        let worker = t.client(Role::Worker);
        let mixed = json!([
            point(WORKER_PHONE, 0),
            point(WORKER_PHONE, 1),
            point("13900000002", 2)
        ]);
        let (st, v) = t
            .call(worker, Method::POST, "/api/patrol/points", Some(mixed))
            .await;
        assert_eq!(st, 403, "{v}");
        let msg = v["error"].as_str().unwrap();
        assert!(
            msg.contains("record #2") && msg.contains("13900000002"),
            "{msg}"
        );
        let (_, pts) = t
            .call(
                t.client(Role::Admin),
                Method::GET,
                "/api/patrol/points",
                None,
            )
            .await;
        assert_eq!(
            pts["features"].as_array().unwrap().len(),
            0,
            "nothing stored"
        );
        let own = json!([point(WORKER_PHONE, 0), point(WORKER_PHONE, 1)]);
        let (st, v) = t
            .call(worker, Method::POST, "/api/patrol/points", Some(own))
            .await;
        assert_eq!(st, 200, "{v}");
        // the leader cannot post at all; a planner cannot change another town's village
        let (st, _) = t
            .call(
                t.client(Role::Leader),
                Method::POST,
                "/api/patrol/points",
                Some(json!([])),
            )
            .await;
        assert_eq!(st, 403);
        let other = format!("{}999", &t.village[..9]);
        let (st, v) = t
            .call(
                t.client(Role::Planner),
                Method::POST,
                &format!("/api/villages/{other}/activate"),
                Some(json!({"version": 1, "expect": 1})),
            )
            .await;
        assert_ne!(st, 403, "inside the planner's town: {v}");
        let (st, v) = t
            .call(
                t.client(Role::Planner),
                Method::POST,
                "/api/villages/999999999999/activate",
                Some(json!({"version": 1, "expect": 1})),
            )
            .await;
        assert_eq!(st, 403, "outside the planner's town: {v}");
        // logging out ends the session
        let (st, _) = t
            .call(
                t.client(Role::Planner),
                Method::DELETE,
                "/api/session",
                None,
            )
            .await;
        assert_eq!(st, 204);
        let (st, _) = t
            .call(t.client(Role::Planner), Method::GET, "/api/session", None)
            .await;
        assert_eq!(st, 401);

        let audit = t.audit().await;
        let has = |who: &str, kind: &str, result: &str, objects: &str| {
            audit.iter().any(|e| {
                e["who"] == who
                    && e["kind"] == kind
                    && e["result"].as_str().unwrap().contains(result)
                    && e["objects"].as_str().unwrap().contains(objects)
                    && !e["at"].as_str().unwrap().is_empty()
                    && !e["address"].as_str().unwrap().is_empty()
            })
        };
        let post = "POST /api/patrol/points";
        assert!(has("phone1", post, "403 refused", ""), "{audit:#?}");
        assert!(has("phone1", post, "200 ok", WORKER_PHONE), "{audit:#?}");
        assert!(has("leader1", post, "403 refused", ""));
        let act = "POST /api/villages/{code}/activate";
        assert!(has("planner1", act, "403 refused", "village 999999999999"));
        assert!(has("planner1", "logout", "ok", "session"));
        assert!(has("planner1", "login", "ok", "session"));
        assert!(has("test", "user add", "ok", "user planner1 role planner"));
        assert!(has("test", "token add", "ok", "token phone1 role worker"));
        // the audit log is the admin's alone, and append-only in the store itself
        let (st, _) = t
            .call(t.client(Role::Leader), Method::GET, "/api/audit", None)
            .await;
        assert_eq!(st, 403);
        let refused = match kind {
            Kind::Gpkg => {
                use sqlx::{Connection, Executor};
                let target = t.store.target().to_string();
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{target}"))
                    .await
                    .unwrap();
                c.execute("DELETE FROM audit_log").await.is_err()
            }
            Kind::Postgis => {
                use sqlx::{Connection, Executor};
                let mut c = sqlx::PgConnection::connect(t.store.target()).await.unwrap();
                c.execute("UPDATE audit_log SET result = 'ok'")
                    .await
                    .is_err()
            }
        };
        assert!(refused, "{kind:?}: the audit log must refuse changes");
        assert_eq!(t.audit().await.len(), audit.len(), "reads are not audited");
    }
}

/// Workers' tracks are personal information: a leader or planner reads the points lying in
/// their towns and villages, a worker their own, an admin all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_read_only_the_tracks_in_their_area() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path(), false).await;
        let (_, grids) = t
            .call(t.client(Role::Admin), Method::GET, "/api/grids", None)
            .await;
        // a point in the leader's village, and one 1° east of it: in no village of theirs
        let mine = grids["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["village_code"] == t.village.as_str())
            .map(|f| f["properties"]["label"].clone())
            .unwrap();
        let other = json!([mine[0].as_f64().unwrap() + 1.0, mine[1]]);
        let now = chrono::Utc::now().fixed_offset();
        let at = |w: &str, l: &Value, k: i64| {
            json!({"worker": w, "time": (now - chrono::TimeDelta::minutes(30 - k)).to_rfc3339(),
                   "lon": l[0], "lat": l[1], "accuracy": 5})
        };
        let batch = json!([
            at(WORKER_PHONE, &mine, 0),
            at(WORKER_PHONE, &other, 1),
            at("13900000002", &mine, 2),
            at("13900000002", &other, 3),
        ]);
        let (st, v) = t
            .call(
                t.client(Role::Admin),
                Method::POST,
                "/api/patrol/points",
                Some(batch),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        // the window of the points, not "today" (China time): at 00:00–00:30 in China the
        // points are yesterday's there
        let utc = |d: chrono::TimeDelta| {
            (now + d)
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let window = format!(
            "from={}&to={}",
            utc(-chrono::TimeDelta::hours(1)),
            utc(chrono::TimeDelta::minutes(1))
        );
        let points = format!("/api/patrol/points?{window}");
        let read = |role: Role| {
            let (t, points) = (&t, &points);
            async move {
                let (st, v) = t.call(t.client(role), Method::GET, points, None).await;
                assert_eq!(st, 200, "{role}: {v}");
                let mut got: Vec<(String, f64)> = v["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        (
                            f["properties"]["worker"].as_str().unwrap().to_string(),
                            (f["geometry"]["coordinates"][0].as_f64().unwrap() * 1e6).round(),
                        )
                    })
                    .collect();
                got.sort_by(|a, b| a.partial_cmp(b).unwrap());
                got
            }
        };
        let lon = |l: &Value| (l[0].as_f64().unwrap() * 1e6).round();
        let mut in_area = vec![
            (WORKER_PHONE.to_string(), lon(&mine)),
            ("13900000002".to_string(), lon(&mine)),
        ];
        in_area.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            read(Role::Leader).await,
            in_area,
            "{kind:?}: the leader's village"
        );
        assert_eq!(
            read(Role::Admin).await.len(),
            4,
            "{kind:?}: the admin reads all"
        );
        let own = read(Role::Worker).await;
        assert_eq!(own.len(), 2, "{kind:?}: {own:?}");
        assert!(own.iter().all(|(w, _)| w == WORKER_PHONE), "{own:?}");

        // coverage figures, the same way: the admin all, the leader their village's grids and
        // the workers registered there, a worker their own row and grids only
        let village_of: std::collections::BTreeMap<String, String> = grids["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let p = &f["properties"];
                (
                    p["code"].as_str().unwrap().into(),
                    p["village_code"].as_str().unwrap().into(),
                )
            })
            .collect();
        let china = |d: chrono::TimeDelta| {
            let east8 = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
            (now + d)
                .with_timezone(&east8)
                .format("%Y-%m-%d")
                .to_string()
        };
        let cover = format!(
            "/api/patrol/coverage?from={}&to={}",
            china(-chrono::TimeDelta::hours(1)),
            china(chrono::TimeDelta::zero())
        );
        let coverage = |role: Role| {
            let (t, cover) = (&t, &cover);
            async move {
                let (st, v) = t.call(t.client(role), Method::GET, cover, None).await;
                assert_eq!(st, 200, "{role}: {v}");
                v
            }
        };
        let codes = |v: &Value| -> Vec<String> {
            v["grids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["code"].as_str().unwrap().into())
                .collect()
        };
        let all = coverage(Role::Admin).await;
        assert_eq!(
            codes(&all).len(),
            village_of.len(),
            "{kind:?}: the admin reads every grid"
        );
        let ids = |v: &Value| -> Vec<String> {
            v["workers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|w| {
                    w["ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i.as_str().unwrap().to_string())
                })
                .collect()
        };
        assert!(
            ids(&all).contains(&WORKER_PHONE.to_string())
                && ids(&all).contains(&"13900000002".to_string()),
            "{all}"
        );
        let led = coverage(Role::Leader).await;
        let in_village = village_of.values().filter(|v| **v == t.village).count();
        assert!(
            in_village > 0 && codes(&led).len() == in_village,
            "{kind:?}: {} grids for the leader, {in_village} in the village",
            codes(&led).len()
        );
        assert!(codes(&led).iter().all(|c| village_of[c] == t.village));
        for w in led["workers"].as_array().unwrap() {
            assert!(
                w["grids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| village_of[g.as_str().unwrap()] == t.village),
                "{kind:?}: a worker outside the leader's village: {w}"
            );
        }
        let mine = coverage(Role::Worker).await;
        let rows = mine["workers"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{kind:?}: {mine}");
        assert_eq!(ids(&mine), [WORKER_PHONE], "{kind:?}: {mine}");
        let my_grids: Vec<String> = rows[0]["grids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().into())
            .collect();
        assert_eq!(
            codes(&mine),
            my_grids,
            "{kind:?}: a worker reads only their own grids"
        );
    }
}

#[test]
fn the_command_line_adds_users_and_tokens_and_shows_the_audit() {
    let dir = common::tmp();
    let db = dir.path().join("a.gpkg");
    let db = db.to_str().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| common::wangge_stdin(args, stdin.unwrap_or(""));
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "zhang",
            "--role",
            "planner",
            "--town",
            "320583104",
            "--village",
            "320583104200",
            "--phone",
            "13800000009",
            "--password-stdin",
            "--db",
            db,
        ],
        Some("a long password\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "li",
            "--role",
            "boss",
            "--password-stdin",
            "--db",
            db,
        ],
        Some("a long password\n"),
    );
    assert!(!ok && err.contains("boss"), "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "li",
            "--role",
            "leader",
            "--village",
            "3205",
            "--password-stdin",
            "--db",
            db,
        ],
        Some("a long password\n"),
    );
    assert!(!ok && err.contains("3205"), "{err}");
    let (ok, out, err) = run(
        &[
            "token", "add", "--name", "phone9", "--role", "worker", "--phone", "139", "--db", db,
        ],
        None,
    );
    assert!(ok, "{err}");
    let token = out.trim();
    assert_eq!(token.len(), 64, "{out}");
    let (ok, _, err) = run(
        &["token", "add", "--name", "x", "--role", "admin", "--db", db],
        None,
    );
    assert!(!ok && err.contains("worker or screen"), "{err}");
    let (ok, out, _) = run(&["token", "list", "--db", db], None);
    assert!(
        ok && out.contains("phone9") && !out.contains(token),
        "{out}"
    );
    let (ok, _, err) = run(&["token", "revoke", "phone9", "--db", db], None);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["user", "list", "--db", db], None);
    assert!(
        ok && out.contains("zhang\tplanner\t320583104\t320583104200\t13800000009\tno"),
        "{out}"
    );
    let (ok, _, err) = run(
        &["user", "password", "zhang", "--password-stdin", "--db", db],
        Some("another long one\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["user", "disable", "zhang", "--db", db], None);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&["user", "list", "--db", db], None);
    assert!(ok && out.contains("13800000009\tyes"), "{out}");
    let (ok, out, err) = run(&["audit", "--json", "--db", db], None);
    assert!(ok, "{err}");
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "user add",
            "token add",
            "token revoke",
            "user password",
            "user disable"
        ],
        "{out}"
    );
    assert!(entries
        .iter()
        .all(|e| e["who"].as_str().unwrap().starts_with("cli:")));
    assert!(!out.contains(token), "the audit never shows a secret");
    let (ok, out, _) = run(&["audit", "--since", "2999-01-01", "--db", db], None);
    assert!(ok && out.lines().count() == 1, "{out}");
    let (ok, _, err) = run(&["audit", "--since", "yesterday", "--db", db], None);
    assert!(!ok && err.contains("--since"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_bodies_are_413_and_slow_clients_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        accounts: Some(common::auth::accounts_store().await),
        request_timeout: std::time::Duration::from_millis(300),
        ..Config::default()
    };
    let source = Arc::new(wangge::serve::StaticSource::new(common::partitioned_town(
        800, 3,
    )));
    tokio::spawn(serve_with(listener, source, config));
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/session");
    let mut ok = false;
    for _ in 0..100 {
        if client
            .get(format!("http://{addr}/api/health"))
            .send()
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "server up");
    let big = json!({"name": "x", "password": "y".repeat(100_000)});
    let r = client.post(&url).json(&big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    // a body announced and never sent: 408 once the timeout passes
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
}
