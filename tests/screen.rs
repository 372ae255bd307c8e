//! The command room's big screen: `GET /api/screen/summary` against a hand count of the patrol
//! points posted (and against the patrol coverage and report routes of the same day), who may
//! see it (a worker is refused), a screen token opened once as a cookie session (and ended by
//! revoking the token), the event stream pushing a new summary after a patrol batch, and the
//! store's screen sessions and event figures on both backends.

mod common;

use common::auth::{accounts_store, bearer_client, cookie_client, session};
use common::stores::{execute_sql, fresh_target, kinds};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wangge::accounts::login;
use wangge::accounts::{Name, Role};
use wangge::patrol::Window;
use wangge::screen::{event_board, Area};
use wangge::serve::{serve_with, Config, StaticSource};
use wangge::snapshot::{Person, Snapshot};
use wangge::store::Store;

const DAY: &str = "2024-05-01";

fn town() -> &'static Snapshot {
    static TOWN: OnceLock<Snapshot> = OnceLock::new();
    TOWN.get_or_init(|| {
        let mut s = common::partitioned_town(3000, 5);
        // w1 is grid 0's registered worker (by name); grid 1 has a leader with a phone
        s.grids[0].people = vec![Person {
            role: wangge::snapshot::Role::GridWorker,
            name: "w1".into(),
            phone: None,
        }];
        s.grids[1].people = vec![Person {
            role: wangge::snapshot::Role::GridLeader,
            name: "李网格长".into(),
            phone: Some("13800000011".into()),
        }];
        s
    })
}

struct Server {
    base: String,
    store: Store,
    admin: reqwest::Client,
}

async fn start() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let source = Arc::new(StaticSource::new(town().clone()));
    let store = accounts_store().await;
    let admin = cookie_client(&session(&store, "admin1", Role::Admin).await);
    let config = Config {
        accounts: Some(store.clone()),
        ..Config::default()
    };
    tokio::spawn(serve_with(listener, source, config));
    Server { base, store, admin }
}

impl Server {
    async fn get(&self, c: &reqwest::Client, path: &str) -> (u16, Value) {
        let r = c.get(format!("{}{path}", self.base)).send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, points: &[Value]) -> Value {
        let r = self
            .admin
            .post(format!("{}/api/patrol/points", self.base))
            .json(&Value::Array(points.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.unwrap()
    }
    async fn token(&self, name: &str, role: Role, phone: Option<&str>) -> String {
        let s = login::issue_token(
            &self.store,
            &Name::new(name).unwrap(),
            role,
            phone,
            365,
            "test",
            "test",
        )
        .await
        .unwrap();
        s.as_str().to_string()
    }
}

/// A walk of `n` points one minute apart from `start` (local +08:00) around `(lon, lat)`.
fn walk(worker: &str, day: &str, start: &str, lon: f64, lat: f64, n: usize) -> Vec<Value> {
    let t0 = chrono::DateTime::parse_from_rfc3339(&format!("{day}T{start}+08:00")).unwrap();
    (0..n)
        .map(|i| {
            let t = t0 + chrono::TimeDelta::seconds(60 * i as i64);
            json!({"worker": worker, "time": t.to_rfc3339(),
                   "lon": lon + 1e-5 * (i % 4) as f64, "lat": lat + 1e-5 * (i / 4) as f64,
                   "accuracy": 5})
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_matches_a_hand_count_of_the_points() {
    let s = start().await;
    let snap = town();
    let (a, b) = (&snap.grids[0], &snap.grids[1]);
    // grid A: w1 at 08:00 and 11:00 (twice, 3 h apart); grid B: w2 (not registered) at 09:30
    let mut points = walk("w1", DAY, "08:00:00", a.label.x(), a.label.y(), 15);
    points.extend(walk("w1", DAY, "11:00:00", a.label.x(), a.label.y(), 15));
    points.extend(walk("w2", DAY, "09:30:00", b.label.x(), b.label.y(), 20));
    let r = s.post(&points).await;
    assert_eq!(r["stored"], 50, "{r}");

    let (st, sum) = s
        .get(&s.admin, &format!("/api/screen/summary?day={DAY}"))
        .await;
    assert_eq!(st, 200, "{sum}");
    let f = &sum["figures"];
    let n = snap.grids.len();
    let households: f64 = snap.grids.iter().map(|g| g.figures.households).sum();
    let residents: f64 = snap.grids.iter().map(|g| g.figures.residents).sum();
    assert_eq!(f["grids"], n);
    assert_eq!(f["villages"], snap.villages.len());
    assert!((f["households"].as_f64().unwrap() - households).abs() < 1e-6);
    assert!((f["residents"].as_f64().unwrap() - residents).abs() < 1e-6);
    assert_eq!(
        (&f["grids_twice"], &f["grids_once"], &f["grids_none"]),
        (&json!(1), &json!(1), &json!(n - 2)),
        "{f}"
    );
    let cov = f["coverage_share"].as_f64().unwrap();
    assert!((cov - 2.0 / n as f64).abs() < 1e-12, "{cov}");
    assert_eq!(
        (&f["workers"], &f["workers_on_duty"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(f["points"], 50);
    // points per hour: 08:00–08:14 (15), 09:30–09:49 (20), 11:00–11:14 (15)
    let mut hourly = [0u64; 24];
    hourly[8] = 15;
    hourly[9] = 20;
    hourly[11] = 15;
    let got: Vec<u64> = sum["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(got, hourly.to_vec());
    assert_eq!(sum["last_point_at"], "2024-05-01T11:14:00+08:00");
    assert_eq!(sum["events"], Value::Null, "no events table: null");
    // each grid's state for the map
    let states = sum["grids"].as_object().unwrap();
    assert_eq!(states.len(), n);
    assert_eq!(states[a.code.as_str()], 2);
    assert_eq!(states[b.code.as_str()], 1);
    assert_eq!(states.values().filter(|v| **v == 0).count(), n - 2);
    // worst first: every unpatrolled grid, then B (second patrol missed), with B's leader
    assert_eq!(sum["missed_total"], n - 1);
    let missed = sum["missed"].as_array().unwrap();
    assert_eq!(missed.len(), (n - 1).min(10));
    assert!(missed.iter().all(|m| m["grid"] != a.code.as_str()));
    for (i, m) in missed.iter().enumerate() {
        assert_eq!(m["rank"], i + 1);
    }
    if n - 1 <= 10 {
        let last = missed.last().unwrap();
        assert_eq!(last["grid"], b.code.as_str());
        assert_eq!(last["missed"], "second_patrol");
        assert_eq!(last["leader"], "李网格长");
    }

    // the same day as the patrol routes see it
    let (_, report) = s
        .get(&s.admin, &format!("/api/patrol/report?day={DAY}"))
        .await;
    let report_missed: usize = report["towns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["missed"].as_array().unwrap().len())
        .sum();
    assert_eq!(sum["missed_total"], report_missed);
    let first_report: Vec<&Value> = report["towns"][0]["missed"]
        .as_array()
        .unwrap()
        .iter()
        .take(missed.len())
        .map(|m| &m["grid"])
        .collect();
    if report["towns"].as_array().unwrap().len() == 1 {
        let first_screen: Vec<&Value> = missed.iter().map(|m| &m["grid"]).collect();
        assert_eq!(first_screen, first_report, "same order as the daily report");
    }
    let (_, cov) = s
        .get(&s.admin, &format!("/api/patrol/coverage?day={DAY}"))
        .await;
    let by_code: BTreeMap<&str, &Value> = cov["grids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["code"].as_str().unwrap(), g))
        .collect();
    assert_eq!(by_code[a.code.as_str()]["days_twice"], 1);
    let pts: u64 = by_code
        .values()
        .map(|g| g["points"].as_u64().unwrap())
        .sum();
    assert_eq!(pts, 50);

    // one village: only its grids
    let v = &snap.villages[b.village];
    let (st, one) = s
        .get(
            &s.admin,
            &format!("/api/screen/summary?day={DAY}&village={}", v.code.as_str()),
        )
        .await;
    assert_eq!(st, 200, "{one}");
    let in_v = snap.grids.iter().filter(|g| g.village == b.village).count();
    assert_eq!(one["figures"]["grids"], in_v);
    assert_eq!(one["figures"]["villages"], 1);
    assert_eq!(one["area"], v.code.as_str());
    // bad parameters name the field
    for (q, field) in [
        ("village=123", "village"),
        ("town=12x", "town"),
        ("day=May", "day"),
        ("zone=mars", "zone"),
    ] {
        let (st, e) = s.get(&s.admin, &format!("/api/screen/summary?{q}")).await;
        assert_eq!(st, 400, "{q}: {e}");
        assert!(e["error"].as_str().unwrap().contains(field), "{q}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_see_the_screen() {
    let s = start().await;
    let worker = bearer_client(&s.token("phone1", Role::Worker, Some("13900000009")).await);
    let screen = bearer_client(&s.token("wall1", Role::Screen, None).await);
    let leader = cookie_client(&session(&s.store, "leader1", Role::Leader).await);
    let planner = cookie_client(&session(&s.store, "planner1", Role::Planner).await);
    let anon = reqwest::Client::new();
    for path in ["/api/screen/summary", "/api/screen/stream"] {
        for (who, c, want) in [
            ("worker", &worker, 403),
            ("planner", &planner, 403),
            ("anonymous", &anon, 401),
            ("screen", &screen, 200),
            ("leader", &leader, 200),
            ("admin", &s.admin, 200),
        ] {
            let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
            assert_eq!(r.status().as_u16(), want, "{path} as {who}");
            if want != 200 {
                let e: Value = r.json().await.unwrap();
                assert!(e["error"].is_string(), "{path} as {who}: {e}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_token_opens_a_session_once() {
    let s = start().await;
    let token = s.token("wall2", Role::Screen, None).await;
    let worker = s.token("phone2", Role::Worker, Some("13900000008")).await;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(format!("{}/screen?town=320583104&token={token}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/screen?town=320583104");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(age > 300 * 86400, "as long as the token: {age} s");
    let id = cookie
        .strip_prefix("wangge_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let c = cookie_client(id);
    let (st, who) = s.get(&c, "/api/session").await;
    assert_eq!((st, &who["role"]), (200, &json!("screen")), "{who}");
    let (st, _) = s.get(&c, "/api/screen/summary").await;
    assert_eq!(st, 200);
    // logging out ends the screen's session; the token still opens a new one
    let r = c
        .delete(format!("{}/api/session", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (st, _) = s.get(&c, "/api/screen/summary").await;
    assert_eq!(st, 401, "a logged-out screen session still reads");
    let r = no_redirect
        .get(format!("{}/screen?token={token}", s.base))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let id = cookie
        .strip_prefix("wangge_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let c = cookie_client(id);
    let (st, _) = s.get(&c, "/api/screen/summary").await;
    assert_eq!(st, 200);
    // the page itself, without the token, needs none
    let page = no_redirect
        .get(format!("{}/screen", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("网格巡查指挥大屏"));
    // a worker's token, or nonsense, opens nothing
    for t in [worker.as_str(), "nonsense"] {
        let r = no_redirect
            .get(format!("{}/screen?token={t}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert!(r.headers().get("set-cookie").is_none());
    }
    // revoking the token ends its session at once
    s.store
        .token_revoke(
            "wall2",
            login::entry("test", "test", "token revoke", "", "ok"),
        )
        .await
        .unwrap();
    let (st, _) = s.get(&c, "/api/screen/summary").await;
    assert_eq!(st, 401);
    let (_, audit) = s.get(&s.admin, "/api/audit?limit=1000").await;
    let kinds: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "screen login")
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_string(),
                e["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("wall2".into(), "ok".into()),
            ("wall2".into(), "ok".into()), // opened again after logging out
            ("-".into(), "refused".into()),
            ("-".into(), "refused".into())
        ]
    );
    let logouts = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "logout" && e["who"] == "wall2")
        .count();
    assert_eq!(logouts, 1, "{audit}");
}

/// Reads `summary` events from an SSE response until `until` holds or `limit` passes.
async fn next_summary(
    r: &mut reqwest::Response,
    buf: &mut String,
    limit: Duration,
    until: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let end = Instant::now() + limit;
    loop {
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n");
            if block.lines().any(|l| l == "event: summary") {
                let v: Value = serde_json::from_str(&data).unwrap();
                if until(&v) {
                    return Some(v);
                }
            }
        }
        let left = end.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, r.chunk()).await {
            Ok(Ok(Some(c))) => buf.push_str(&String::from_utf8_lossy(&c)),
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_pushes_a_new_summary_after_a_patrol_batch() {
    let s = start().await;
    let screen = bearer_client(&s.token("wall3", Role::Screen, None).await);
    let mut r = screen
        .get(format!("{}/api/screen/stream", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut buf = String::new();
    let first = next_summary(&mut r, &mut buf, Duration::from_secs(10), |_| true)
        .await
        .expect("a first summary at once");
    let before = first["figures"]["points"].as_u64().unwrap();
    // a batch of today, an hour ago (or at midnight's first minutes)
    let now = chrono::Utc::now().with_timezone(&wangge::patrol::default_zone());
    let start = (now - chrono::TimeDelta::minutes(30)).max(
        now.date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_local_timezone(now.timezone())
            .unwrap(),
    );
    let g = &town().grids[2];
    let day = start.date_naive().to_string();
    let hms = start.format("%H:%M:%S").to_string();
    let batch: Vec<Value> = walk("w9", &day, &hms, g.label.x(), g.label.y(), 5)
        .into_iter()
        .filter(|p| {
            chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap()).unwrap() <= now
        })
        .collect();
    let sent = batch.len() as u64;
    let posted = Instant::now();
    s.post(&batch).await;
    let next = next_summary(&mut r, &mut buf, Duration::from_secs(10), |v| {
        v["figures"]["points"].as_u64() == Some(before + sent)
    })
    .await;
    let took = posted.elapsed();
    assert!(
        next.is_some(),
        "no summary with {} points within 10 s",
        before + sent
    );
    eprintln!("a batch of {sent} points showed in the stream after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_screen_sessions_and_event_figures_on_every_backend() {
    let dir = common::tmp();
    for kind in kinds() {
        let target = fresh_target(kind, dir.path()).await;
        let store = Store::open(&target).await.unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let window = Window::day(day, chrono::FixedOffset::east_opt(0).unwrap());
        let since = window.from.with_timezone(&chrono::Utc);
        let now: chrono::DateTime<chrono::Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        let board = |evs: &[wangge::events::Event], area: &Area| {
            let (f, dots) = event_board(evs, area, &window, now);
            let numbers: Vec<String> = dots.iter().map(|d| d.number.clone()).collect();
            ((f.reported, f.open, f.overdue, f.closed), numbers)
        };
        let empty = store.screen_event_list(since).await.unwrap().unwrap();
        assert_eq!(board(&empty, &Area::All), ((0, 0, 0, 0), vec![]));
        let rev0 = store.events_revision().await.unwrap().unwrap();
        // events in the store's own table (migration 8), in the states of the events flow, in
        // two towns
        let row = |n: u32, village: &str, state: &str, reported: &str, closed: &str, due: &str| {
            format!(
                "('E{n}', 'w', 'worker', 'other', 't', 'd', 'normal', '{state}', 'grid', 120.0, \
                 31.0, '{village}', 0, '[]', '{reported}', '{reported}', {closed}, '{due}', 0, 1)"
            )
        };
        let (a, b) = ("320583104200", "320583105201");
        let rows = [
            row(
                1,
                a,
                "reported",
                "2026-12-06T01:00:00Z",
                "NULL",
                "2026-12-06T20:00:00Z",
            ),
            row(
                2,
                a,
                "dispatched",
                "2026-12-05T01:00:00Z",
                "NULL",
                "2026-12-06T02:00:00Z",
            ),
            row(
                3,
                a,
                "archived",
                "2026-12-06T03:00:00Z",
                "'2026-12-06T05:00:00Z'",
                "2026-12-07T00:00:00Z",
            ),
            row(
                4,
                b,
                "evaluated",
                "2026-12-01T03:00:00Z",
                "'2026-12-02T05:00:00Z'",
                "2026-12-03T00:00:00Z",
            ),
            row(
                5,
                b,
                "returned",
                "2026-12-05T03:00:00Z",
                "NULL",
                "2026-12-05T04:00:00Z",
            ),
            row(
                6,
                b,
                "accepted",
                "2026-12-06T09:00:00Z",
                "NULL",
                "2026-12-06T18:00:00Z",
            ),
        ];
        execute_sql(
            kind,
            &target,
            &format!(
                "INSERT INTO events (number, reporter, source, category, title, description, \
                 priority, state, level, lon, lat, village_code, ambiguous, near_grids, \
                 reported_at, updated_at, closed_at, due_at, reopened, version) VALUES {}",
                rows.join(", ")
            ),
        )
        .await;
        assert_ne!(store.events_revision().await.unwrap().unwrap(), rev0);
        let evs = store.screen_event_list(since).await.unwrap().unwrap();
        let mut listed: Vec<&str> = evs.iter().map(|e| e.number.as_str()).collect();
        listed.sort();
        // open now (1, 2, 6) and changed today (1, 3, 6); not 4 (closed before) nor 5 (returned)
        assert_eq!(listed, ["E1", "E2", "E3", "E6"], "{kind:?}");
        // reported today 1, 3; open 1, 2; overdue 2; closed today 3; the overdue dot first
        let town_a = Area::parse(Some("320583104"), None).unwrap();
        assert_eq!(
            board(&evs, &town_a),
            ((2, 2, 1, 1), vec!["E2".into(), "E1".into()])
        );
        let town_b = Area::parse(Some("320583105"), None).unwrap();
        assert_eq!(board(&evs, &town_b), ((1, 1, 0, 0), vec!["E6".into()]));
        assert_eq!(
            board(&evs, &Area::All),
            ((3, 3, 1, 1), vec!["E2".into(), "E6".into(), "E1".into()])
        );
        // a screen token's session lives as long as the token, and ends with it
        login::issue_token(
            &store,
            &Name::new("wall").unwrap(),
            Role::Screen,
            None,
            30,
            "test",
            "test",
        )
        .await
        .unwrap();
        let e = || login::entry("wall", "test", "screen login", "", "ok");
        let expires = store.screen_session_add("wall", "h1", e()).await.unwrap();
        let in_29_days = (chrono::Utc::now() + chrono::TimeDelta::days(29))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert!(expires > in_29_days, "{expires}");
        let c = store
            .screen_session_caller("h1", &login::now())
            .await
            .unwrap()
            .expect("a live session");
        assert_eq!((c.name.as_str(), c.role), ("wall", Role::Screen));
        assert!(store
            .screen_session_caller("h1", "2999-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_none());
        assert!(store.screen_session_add("nobody", "h2", e()).await.is_err());
        store
            .token_revoke("wall", login::entry("t", "t", "token revoke", "", "ok"))
            .await
            .unwrap();
        assert!(store
            .screen_session_caller("h1", &login::now())
            .await
            .unwrap()
            .is_none());
        assert!(store.screen_session_add("wall", "h3", e()).await.is_err());
    }
}
