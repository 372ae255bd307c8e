//! Events (网格事件) end to end, on both backends (a GeoPackage file, and PostGIS when
//! `WANGGE_TEST_PG` is set): every (state, action) pair of the flow in the store, legal or
//! refused naming both; two dispatchers at once (one wins, the other gets a 409, nothing lost);
//! a re-sent batch stores nothing twice; photos too big or not images are refused; a report near
//! a grid border is located like `/api/locate` and flagged ambiguous; workers and leaders act
//! only within their rights, and every action is in the audit log; the hotline import and the
//! `wangge events` commands.

mod common;

use common::auth::{add_user, bearer_client, cookie_client, session, session_of};
use common::stores::{fresh_target, kinds, Kind};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use wangge::accounts::login;
use wangge::accounts::{Name, Role};
use wangge::events::deadline::Limits;
use wangge::events::flow::{Action, Request, State};
use wangge::events::{Location, NewEvent, Priority, Source};
use wangge::model::Weight;
use wangge::partition::{partition, Options};
use wangge::serve::{serve_with, Config, StoreSource};
use wangge::snapshot::Snapshot;
use wangge::store::{Base, PlanMeta, Store};

const WORKER_PHONE: &str = "13900000001";

struct Town {
    base: String,
    store: Store,
    target: String,
    snap: Snapshot,
    admin: reqwest::Client,
    leader: reqwest::Client,
    /// A leader of another town's village.
    stranger: reqwest::Client,
    worker: reqwest::Client,
    worker2: reqwest::Client,
}

async fn town(kind: Kind, dir: &std::path::Path) -> Town {
    let input = dir.join(format!("in{}", rand::random::<u32>()));
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 2500,
        seed: 21,
        odd_shapes: false,
    })
    .write_dir(&input)
    .unwrap();
    let ds = wangge::ingest::read_dir(&input, &Weight::Households).unwrap();
    let plan = partition(&ds, &Options::default(), &|| {});
    let target = fresh_target(kind, dir).await;
    let store = Store::open(&target).await.unwrap();
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
    tokio::spawn(serve_with(
        listener,
        Arc::new(StoreSource::new(store.clone())),
        Config::default(),
    ));
    let snap = store.map_snapshot().await.unwrap();
    let village = snap.villages[snap.grids[0].village]
        .code
        .as_str()
        .to_string();
    let admin = cookie_client(&session(&store, "root", Role::Admin).await);
    add_user(&store, "leader1", Role::Leader, &[], &[&village]).await;
    add_user(&store, "leader9", Role::Leader, &["999999999"], &[]).await;
    let leader = cookie_client(&session_of(&store, "leader1").await);
    let stranger = cookie_client(&session_of(&store, "leader9").await);
    let worker = bearer_client(&token(&store, "phone1", WORKER_PHONE).await);
    let worker2 = bearer_client(&token(&store, "phone2", "13900000002").await);
    Town {
        base,
        store,
        target,
        snap,
        admin,
        leader,
        stranger,
        worker,
        worker2,
    }
}

async fn token(store: &Store, name: &str, phone: &str) -> String {
    login::issue_token(
        store,
        &Name::new(name).unwrap(),
        Role::Worker,
        Some(phone),
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
    async fn post(&self, c: &reqwest::Client, path: &str, body: Value) -> (StatusCode, Value) {
        let r = c
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let st = r.status();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, c: &reqwest::Client, path: &str) -> (StatusCode, Value) {
        let r = c.get(format!("{}{path}", self.base)).send().await.unwrap();
        let st = r.status();
        (st, r.json().await.unwrap_or(Value::Null))
    }
    /// A point inside grid `i` (its label).
    fn inside(&self, i: usize) -> (f64, f64) {
        let l = self.snap.grids[i].label;
        (l.x(), l.y())
    }
    fn grid_code(&self, i: usize) -> String {
        self.snap.grids[i].code.as_str().to_string()
    }
    /// Reports one event in grid 0 as `c`: its id and version.
    async fn report(&self, c: &reqwest::Client, client_id: &str) -> (i64, i64) {
        let (lon, lat) = self.inside(0);
        let (st, v) = self
            .post(
                c,
                "/api/events",
                json!({"client_id": client_id, "category": "sanitation.rubbish", "title": "路边垃圾",
                       "lon": lon, "lat": lat, "priority": "normal"}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        (v["events"][0]["id"].as_i64().unwrap(), 1)
    }
    async fn act(&self, c: &reqwest::Client, id: i64, body: Value) -> (StatusCode, Value) {
        self.post(c, &format!("/api/events/{id}/actions"), body)
            .await
    }
}

fn new_event(n: usize) -> NewEvent {
    NewEvent {
        client_id: Some(format!("c{n}")),
        reporter: "w1".into(),
        source: Source::Worker,
        category: "safety.fire".into(),
        title: format!("事件 {n}"),
        description: String::new(),
        lon: 120.5,
        lat: 31.2,
        address: None,
        location: Location::default(),
        priority: Priority::High,
        photos: Vec::new(),
        reported_at: chrono::Utc::now(),
    }
}

/// A request with every field an action may need (a reassignment to another worker than the
/// dispatch's).
fn full(action: Action, version: i64) -> Request {
    let to = if action == Action::Reassign {
        "w3"
    } else {
        "w2"
    };
    Request {
        assignee: Some(to.into()),
        reason: Some("信息不全".into()),
        rating: Some(5),
        note: "ok".into(),
        ..Request::new(action, version)
    }
}

/// The path from `reported` to each state.
fn path_to(s: State) -> Vec<Action> {
    use Action::*;
    match s {
        State::Reported => vec![],
        State::Accepted => vec![Accept],
        State::Dispatched => vec![Accept, Dispatch],
        State::Handled => vec![Accept, Dispatch, Reply],
        State::Verified => vec![Accept, Dispatch, Reply, Verify],
        State::Archived => vec![Accept, Dispatch, Reply, Verify, Archive],
        State::Evaluated => vec![Accept, Dispatch, Reply, Verify, Archive, Evaluate],
        State::Returned => vec![Return],
    }
}

/// The legal (from, action, to) of a grid-level event, written out here independently of the
/// library's table.
fn expected(s: State, a: Action) -> Option<State> {
    use Action as A;
    use State as S;
    Some(match (s, a) {
        (S::Reported, A::Accept) => S::Accepted,
        (S::Accepted, A::Dispatch) => S::Dispatched,
        (S::Dispatched, A::Reassign) => S::Dispatched,
        (S::Reported | S::Accepted, A::Return) => S::Returned,
        (S::Dispatched, A::Return) => S::Accepted,
        (S::Returned, A::Resubmit) => S::Reported,
        (S::Reported | S::Accepted | S::Dispatched, A::Escalate) => S::Reported,
        (S::Reported, A::HandleInGrid) => S::Handled,
        (S::Dispatched, A::Reply) => S::Handled,
        (S::Handled, A::Verify) => S::Verified,
        (S::Handled, A::Reopen) => S::Dispatched,
        (S::Verified, A::Archive) => S::Archived,
        (S::Archived, A::Evaluate) => S::Evaluated,
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_and_action_is_legal_or_refused_naming_both() {
    let dir = common::tmp();
    for kind in kinds() {
        let store = Store::open(&fresh_target(kind, dir.path()).await)
            .await
            .unwrap();
        let limits = Limits::default();
        let (mut legal, mut refused, mut n) = (0, 0, 0);
        for s in State::ALL {
            for a in Action::ALL {
                n += 1;
                let r = store.report_events(&[new_event(n)], &limits).await.unwrap();
                let id = r[0].id;
                let mut v = 1;
                for step in path_to(*s) {
                    let e = store
                        .act_on_event(id, &full(step, v), "admin", &limits, chrono::Utc::now())
                        .await
                        .unwrap_or_else(|e| panic!("{kind:?} {s} via {step}: {e}"));
                    v = e.version;
                }
                let before = store.event(id).await.unwrap();
                assert_eq!(before.state, *s);
                let got = store
                    .act_on_event(id, &full(*a, v), "admin", &limits, chrono::Utc::now())
                    .await;
                match (expected(*s, *a), got) {
                    (Some(to), Ok(e)) => {
                        legal += 1;
                        assert_eq!(e.state, to, "{kind:?} {s} --{a}-->");
                        assert_eq!(e.version, v + 1);
                        let h = store.event_history(id).await.unwrap();
                        let last = h.last().unwrap();
                        assert_eq!(
                            (last.action.as_str(), last.to_state.as_str()),
                            (a.as_str(), to.as_str())
                        );
                        assert_eq!(last.from_state.as_deref(), Some(s.as_str()));
                        assert_eq!(last.who, "admin");
                        assert_eq!(
                            h.len(),
                            path_to(*s).len() + 2,
                            "the report and every action"
                        );
                    }
                    (None, Err(e)) => {
                        refused += 1;
                        let m = e.to_string();
                        assert!(
                            m.contains(s.as_str()) && m.contains(a.as_str()),
                            "{kind:?}: {m}"
                        );
                        assert_eq!(
                            store.event(id).await.unwrap(),
                            before,
                            "a refusal changes nothing"
                        );
                    }
                    (want, got) => panic!("{kind:?} {s} --{a}-->: expected {want:?}, got {got:?}"),
                }
            }
        }
        eprintln!("{kind:?}: {legal} legal, {refused} refused of {n}");
        assert_eq!(legal, 16);
        assert_eq!(legal + refused, State::ALL.len() * Action::ALL.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_and_the_side_turns_keep_their_history() {
    let dir = common::tmp();
    for kind in kinds() {
        let store = Store::open(&fresh_target(kind, dir.path()).await)
            .await
            .unwrap();
        let l = Limits::default();
        let now = chrono::Utc::now;
        let id = store.report_events(&[new_event(1)], &l).await.unwrap()[0].id;
        let e = store
            .act_on_event(id, &full(Action::Escalate, 1), "w1", &l, now())
            .await
            .unwrap();
        assert_eq!((e.state, e.level.as_str()), (State::Reported, "village"));
        let e = store
            .act_on_event(id, &full(Action::Escalate, 2), "l1", &l, now())
            .await
            .unwrap();
        assert_eq!(e.level.as_str(), "town");
        let err = store
            .act_on_event(id, &full(Action::Escalate, 3), "t1", &l, now())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("town level"), "{err}");
        // at town level the grid's own worker cannot close it in the grid
        assert!(store
            .act_on_event(id, &full(Action::HandleInGrid, 3), "w1", &l, now())
            .await
            .is_err());
        // accept, dispatch, reassign, reply, fail the verification, reply, verify, archive
        let mut v = 3;
        for (a, who) in [(Action::Accept, "t1"), (Action::Dispatch, "t1")] {
            v = store
                .act_on_event(id, &full(a, v), who, &l, now())
                .await
                .unwrap()
                .version;
        }
        let e = store
            .act_on_event(id, &full(Action::Reassign, v), "t1", &l, now())
            .await
            .unwrap();
        assert_eq!(e.assignee.as_deref(), Some("w3"));
        v = e.version;
        for a in [
            Action::Reply,
            Action::Reopen,
            Action::Reply,
            Action::Verify,
            Action::Archive,
        ] {
            v = store
                .act_on_event(id, &full(a, v), "t1", &l, now())
                .await
                .unwrap()
                .version;
        }
        let e = store.event(id).await.unwrap();
        assert_eq!((e.state, e.reopened), (State::Archived, 1));
        assert!(e.closed_at.is_some() && e.due_at.is_none());
        let h = store.event_history(id).await.unwrap();
        let actions: Vec<&str> = h.iter().map(|x| x.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "report", "escalate", "escalate", "accept", "dispatch", "reassign", "reply",
                "reopen", "reply", "verify", "archive"
            ]
        );
        assert_eq!(h[7].reason.as_deref(), Some("信息不全"));
        assert!(
            h.iter().zip(1..).all(|(x, n)| x.version == n),
            "versions count up by one"
        );
        // numbers are never reused: the same town and day counts on
        let more = store
            .report_events(&[new_event(2), new_event(3)], &l)
            .await
            .unwrap();
        let first = store.event(id).await.unwrap().number;
        assert_eq!(first.len(), 22, "{first}");
        let seq = |n: &str| n[17..].parse::<i64>().unwrap();
        assert_eq!(seq(&more[0].number), seq(&first) + 1);
        assert_eq!(seq(&more[1].number), seq(&first) + 2);
        let hour_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
        let c = store
            .event_counts_since(hour_ago, chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!((c.reported, c.open, c.closed), (3, 2, 1), "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_at_once_one_wins_the_other_gets_a_conflict() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        for round in 0..6 {
            let (id, v) = t.report(&t.worker, &format!("race{round}")).await;
            let a = t.act(
                &t.admin,
                id,
                json!({"action": "accept", "expected_version": v, "note": "admin"}),
            );
            let b = t.act(
                &t.leader,
                id,
                json!({"action": "accept", "expected_version": v, "note": "leader"}),
            );
            let ((sa, va), (sb, vb)) = tokio::join!(a, b);
            let mut st = [sa.as_u16(), sb.as_u16()];
            st.sort();
            assert_eq!(st, [200, 409], "{kind:?} round {round}: {va} / {vb}");
            let loser = if sa == StatusCode::CONFLICT { &va } else { &vb };
            assert!(
                loser["error"].as_str().unwrap().contains("conflict"),
                "{loser}"
            );
            let (_, e) = t.get(&t.admin, &format!("/api/events/{id}")).await;
            assert_eq!(e["state"], "accepted");
            assert_eq!(e["version"], 2);
            let accepts = e["history"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h["action"] == "accept")
                .count();
            assert_eq!(accepts, 1, "{e}");
            // the loser reloads and goes on from the version it now sees
            let (st, e) = t
                .act(
                    &t.leader,
                    id,
                    json!({"action": "dispatch", "expected_version": 2, "assignee": WORKER_PHONE}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_batch_stores_nothing_twice_and_a_bad_one_nothing_at_all() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let (lon, lat) = t.inside(1);
        let batch: Vec<Value> = (0..3)
            .map(|i| {
                json!({"client_id": format!("phone-{i}"), "category": "facility.light",
                            "title": format!("路灯 {i}"), "lon": lon, "lat": lat})
            })
            .collect();
        let (st, first) = t.post(&t.worker, "/api/events", json!(batch)).await;
        assert_eq!(st, StatusCode::CREATED, "{first}");
        let (st, again) = t.post(&t.worker, "/api/events", json!(batch)).await;
        assert_eq!(st, StatusCode::OK, "{again}");
        for (a, b) in first["events"]
            .as_array()
            .unwrap()
            .iter()
            .zip(again["events"].as_array().unwrap())
        {
            assert_eq!(
                (a["id"].clone(), a["number"].clone()),
                (b["id"].clone(), b["number"].clone())
            );
            assert_eq!(
                (a["duplicate"].clone(), b["duplicate"].clone()),
                (json!(false), json!(true))
            );
            assert_eq!(a["grid"], t.grid_code(1));
        }
        // the same client_id from another reporter is another event
        let (st, other) = t.post(&t.worker2, "/api/events", batch[0].clone()).await;
        assert_eq!(st, StatusCode::CREATED, "{other}");
        // a batch with one bad report stores none of it
        let bad = json!([
            {"client_id": "x1", "category": "facility.light", "title": "a", "lon": lon, "lat": lat},
            {"client_id": "x2", "category": "facility.moon", "title": "b", "lon": lon, "lat": lat},
        ]);
        let (st, v) = t.post(&t.worker, "/api/events", bad).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let m = v["error"].as_str().unwrap();
        assert!(
            m.contains("event #1") && m.contains("category") && m.contains("facility.moon"),
            "{m}"
        );
        let (_, list) = t
            .get(&t.admin, &format!("/api/events?grid={}", t.grid_code(1)))
            .await;
        assert_eq!(list["events"].as_array().unwrap().len(), 4, "{list}");
        // a worker lists only their own
        let (_, mine) = t.get(&t.worker2, "/api/events").await;
        assert_eq!(mine["events"].as_array().unwrap().len(), 1);
        // fields are named
        let (st, v) = t
            .post(
                &t.worker,
                "/api/events",
                json!({"category": "other", "title": "x", "lon": 500.0, "lat": 1.0}),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().starts_with("lon:"), "{v}");
    }
}

/// Base64 of bytes (the test's own encoder, not the library's decoder).
fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_too_big_or_not_images_are_refused_and_good_ones_kept() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let (lon, lat) = t.inside(0);
        let with = |p: Value| json!({"category": "safety.building", "title": "墙体开裂", "lon": lon, "lat": lat, "photos": [p]});
        let mut big = vec![0xff, 0xd8, 0xff, 0xe0];
        big.resize(3 * 1024 * 1024, 7);
        let (st, v) = t
            .post(
                &t.worker,
                "/api/events",
                with(json!({"type": "image/jpeg", "data": b64(&big)})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["error"].as_str().unwrap().contains("photo #0")
                && v["error"].as_str().unwrap().contains("more than"),
            "{v}"
        );
        let (st, v) = t
            .post(
                &t.worker,
                "/api/events",
                with(json!({"type": "image/jpeg", "data": b64(b"%PDF-1.7 not a photo")})),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(
            v["error"].as_str().unwrap().contains("not a JPEG or PNG"),
            "{v}"
        );
        let png: Vec<u8> = [
            &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a][..],
            &[1, 2, 3, 250, 0, 9],
        ]
        .concat();
        let (st, v) = t
            .post(
                &t.worker,
                "/api/events",
                with(json!({"type": "image/png", "data": b64(&png)})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let id = v["events"][0]["id"].as_i64().unwrap();
        let (_, e) = t.get(&t.worker, &format!("/api/events/{id}")).await;
        let pid = e["history"][0]["photos"][0]
            .as_i64()
            .expect("the photo is on the report");
        let r = t
            .worker
            .get(format!("{}/api/events/{id}/photos/{pid}", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.bytes().await.unwrap().to_vec(), png);
        // an action's photos too
        let (st, v) = t
            .act(&t.worker, id, json!({"action": "handle_in_grid", "expected_version": 1, "note": "已清理",
                                      "photos": [{"type": "image/png", "data": b64(b"GIF89a....")}]}))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(
            t.store.event(id).await.unwrap().version,
            1,
            "nothing changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_near_a_border_is_located_like_locate_and_flagged() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        // a point 1 m inside grid 0 from a vertex of its outline
        let g = &t.snap.grids[0];
        let v = g.geometry.0[0].exterior().0[0];
        let (lx, ly) = t.inside(0);
        let d = ((lx - v.x).powi(2) + (ly - v.y).powi(2)).sqrt();
        let k = 1e-5 / d;
        let (lon, lat) = (v.x + (lx - v.x) * k, v.y + (ly - v.y) * k);
        let (_, loc) = t
            .get(&t.admin, &format!("/api/locate?lon={lon}&lat={lat}"))
            .await;
        assert_eq!(loc["ambiguous"], true, "{loc}");
        let (st, r) = t
            .post(
                &t.worker,
                "/api/events",
                json!({"category": "other.other", "title": "边界", "lon": lon, "lat": lat}),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{r}");
        assert_eq!(r["events"][0]["grid"], loc["grid"]["code"], "{r} vs {loc}");
        assert_eq!(r["events"][0]["village"], loc["village"]["code"]);
        let id = r["events"][0]["id"].as_i64().unwrap();
        let (_, e) = t.get(&t.admin, &format!("/api/events/{id}")).await;
        assert_eq!(e["location"]["ambiguous"], true, "{e}");
        let near: Vec<&str> = e["location"]["near"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let want: Vec<&str> = loc["grids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["code"].as_str().unwrap())
            .collect();
        assert_eq!(near, want);
        // GCJ-02 input lands in the same grid as its WGS84 point
        let (glon, glat) = wangge::crs::wgs84_to_gcj02(lx, ly);
        let (_, r) = t
            .post(&t.worker, "/api/events", json!({"category": "other", "title": "gcj", "lon": glon, "lat": glat, "crs": "gcj02"}))
            .await;
        assert_eq!(r["events"][0]["grid"], t.grid_code(0), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_act_within_their_rights_and_every_action_is_audited() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let (id, _) = t.report(&t.worker, "r1").await;
        // a worker does not accept; a leader of another town neither
        let (st, v) = t
            .act(
                &t.worker,
                id,
                json!({"action": "accept", "expected_version": 1}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        let (st, _) = t
            .act(
                &t.stranger,
                id,
                json!({"action": "accept", "expected_version": 1}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = t.get(&t.stranger, &format!("/api/events/{id}")).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, _) = t.get(&t.worker2, &format!("/api/events/{id}")).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "another worker's event");
        // the leader of its village accepts and dispatches to the second worker
        let (st, v) = t
            .act(
                &t.leader,
                id,
                json!({"action": "accept", "expected_version": 1}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (st, v) = t
            .act(
                &t.leader,
                id,
                json!({"action": "dispatch", "expected_version": 2, "assignee": "13900000002"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["due"], "ok");
        // the reporter does not hold it any more; the assignee replies
        let (st, _) = t
            .act(
                &t.worker,
                id,
                json!({"action": "reply", "expected_version": 3}),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, v) = t
            .act(
                &t.worker2,
                id,
                json!({"action": "reply", "expected_version": 3, "note": "已修复"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        // an illegal action: 422 naming state and action
        let (st, v) = t
            .act(
                &t.leader,
                id,
                json!({"action": "archive", "expected_version": 4}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let m = v["error"].as_str().unwrap();
        assert!(m.contains("handled") && m.contains("archive"), "{m}");
        let (st, v) = t
            .act(
                &t.leader,
                id,
                json!({"action": "return", "expected_version": 4}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (st, v) = t
            .act(
                &t.leader,
                id,
                json!({"action": "reopen", "expected_version": 4}),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "a reopen needs a reason: {v}");
        assert!(v["error"].as_str().unwrap().contains("reason"));
        // the inner loop: a worker handles their own report in the grid
        let (id2, _) = t.report(&t.worker, "r2").await;
        let (st, v) = t
            .act(
                &t.worker,
                id2,
                json!({"action": "handle_in_grid", "expected_version": 1, "note": "就地解决"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["state"], "handled");
        // every action is in the audit log, refusals too
        let (_, a) = t.get(&t.admin, "/api/audit?limit=100000").await;
        let entries = a["entries"].as_array().unwrap();
        let acts: Vec<&Value> = entries
            .iter()
            .filter(|e| e["kind"] == "POST /api/events/{id}/actions")
            .collect();
        assert_eq!(acts.len(), 10, "{acts:?}");
        assert!(
            acts.iter().any(|e| e["objects"]
                .as_str()
                .unwrap()
                .contains("dispatch (accepted → dispatched")),
            "{acts:?}"
        );
        assert_eq!(
            acts.iter().filter(|e| e["result"] == "403 refused").count(),
            3
        );
        // figures: 2 events in grid 0, both open
        let (st, f) = t.get(&t.admin, "/api/events/figures").await;
        assert_eq!(st, StatusCode::OK, "{f}");
        assert_eq!(f["totals"]["reported"], 2);
        assert_eq!(f["totals"]["open"], 2);
        assert_eq!(f["grids"][0]["grid"], t.grid_code(0));
        let (st, g) = t.get(&t.admin, "/api/events/geojson?state=handled").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(g["features"].as_array().unwrap().len(), 2);
        let (_, c) = t.get(&t.worker, "/api/events/categories").await;
        assert_eq!(c[0]["name"], "安全隐患");
    }
}

fn offered(v: &Value) -> Vec<&str> {
    v["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("no actions in {v}"))
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect()
}

/// `GET /api/events/{id}` offers each caller exactly the actions the flow allows now and their
/// role lets them do (what the console at `/events` shows as buttons); the console page is
/// served to anyone (it asks for a login itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_is_offered_what_the_flow_and_their_role_allow() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let (id, _) = t.report(&t.worker, "o1").await;
        let path = format!("/api/events/{id}");
        let (_, v) = t.get(&t.leader, &path).await;
        assert_eq!(
            offered(&v),
            ["accept", "return", "escalate", "handle_in_grid"],
            "{v}"
        );
        let ret = &v["actions"][1];
        assert_eq!(
            (ret["label"].as_str(), ret["needs"].clone()),
            (Some("退回"), json!(["reason"]))
        );
        let (_, v) = t.get(&t.worker, &path).await;
        assert_eq!(offered(&v), ["escalate", "handle_in_grid"], "the reporter");
        let (_, v) = t.get(&t.admin, &path).await;
        assert_eq!(
            offered(&v),
            ["accept", "return", "escalate", "handle_in_grid"]
        );
        for (version, body) in [
            (1, json!({"action": "accept"})),
            (2, json!({"action": "dispatch", "assignee": "13900000002"})),
        ] {
            let mut body = body;
            body["expected_version"] = json!(version);
            let (st, v) = t.act(&t.leader, id, body).await;
            assert_eq!(st, StatusCode::OK, "{v}");
        }
        let (_, v) = t.get(&t.leader, &path).await;
        // a leader may act for the handler too (reply), see policy::may_act_on_event
        assert_eq!(
            offered(&v),
            ["reassign", "return", "escalate", "reply"],
            "{v}"
        );
        assert_eq!(v["actions"][0]["needs"], json!(["assignee"]));
        let (_, v) = t.get(&t.worker2, &path).await;
        assert_eq!(offered(&v), ["escalate", "reply"], "the assignee");
        // every offer is taken: the leader escalates as offered
        let (st, v) = t
            .act(
                &t.leader,
                id,
                json!({"action": "escalate", "expected_version": 3}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (_, v) = t.get(&t.leader, &path).await;
        assert_eq!(
            (v["state"].as_str(), v["level"].as_str()),
            (Some("reported"), Some("village"))
        );
        assert_eq!(
            offered(&v),
            ["accept", "return", "escalate"],
            "no handling in the grid above it"
        );
        // the console page
        let r = reqwest::get(format!("{}/events", t.base)).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("网格事件调度台"));
    }
}

/// A field of a protobuf message: its number and its value (a varint, or bytes).
enum Pb<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// The fields of a protobuf message, in order.
fn pb(b: &[u8]) -> Vec<(u64, Pb<'_>)> {
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        let key = varint(b, &mut i);
        let v = match key & 7 {
            0 => Pb::Int(varint(b, &mut i)),
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                i += n;
                Pb::Bytes(&b[i - n..i])
            }
            2 => {
                let n = varint(b, &mut i) as usize;
                i += n;
                Pb::Bytes(&b[i - n..i])
            }
            w => panic!("wire type {w} in a vector tile"),
        };
        out.push((key >> 3, v));
    }
    out
}

fn packed(b: &[u8]) -> Vec<u64> {
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        out.push(varint(b, &mut i));
    }
    out
}

/// One point feature of a decoded tile: id, properties (as text), position in tile units.
#[derive(Debug)]
struct TilePoint {
    id: u64,
    props: std::collections::BTreeMap<String, String>,
    at: (i64, i64),
}

/// Decodes an MVT (spec 2.1) with one point layer: its name, extent and points.
fn decode_points(tile: &[u8]) -> (String, u64, Vec<TilePoint>) {
    let layers: Vec<&[u8]> = pb(tile)
        .into_iter()
        .filter_map(|(f, v)| match (f, v) {
            (3, Pb::Bytes(b)) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(layers.len(), 1, "one layer");
    let (mut name, mut extent, mut keys, mut values, mut feats) =
        (String::new(), 4096, Vec::new(), Vec::new(), Vec::new());
    for (f, v) in pb(layers[0]) {
        match (f, v) {
            (1, Pb::Bytes(b)) => name = String::from_utf8(b.to_vec()).unwrap(),
            (2, Pb::Bytes(b)) => feats.push(b),
            (3, Pb::Bytes(b)) => keys.push(String::from_utf8(b.to_vec()).unwrap()),
            (4, Pb::Bytes(b)) => values.push(match pb(b).pop().unwrap() {
                (1, Pb::Bytes(s)) => String::from_utf8(s.to_vec()).unwrap(),
                (4 | 5, Pb::Int(n)) => n.to_string(),
                (7, Pb::Int(n)) => (n != 0).to_string(),
                (k, _) => format!("value type {k}"),
            }),
            (5, Pb::Int(e)) => extent = e,
            _ => {}
        }
    }
    let zz = |n: u64| ((n >> 1) as i64) ^ -((n & 1) as i64);
    let points = feats
        .into_iter()
        .map(|b| {
            let mut p = TilePoint {
                id: 0,
                props: Default::default(),
                at: (0, 0),
            };
            for (f, v) in pb(b) {
                match (f, v) {
                    (1, Pb::Int(id)) => p.id = id,
                    (2, Pb::Bytes(t)) => {
                        for kv in packed(t).chunks(2) {
                            p.props.insert(
                                keys[kv[0] as usize].clone(),
                                values[kv[1] as usize].clone(),
                            );
                        }
                    }
                    (3, Pb::Int(t)) => assert_eq!(t, 1, "a point feature"),
                    (4, Pb::Bytes(g)) => {
                        let g = packed(g);
                        assert_eq!(g[0], 9, "one MoveTo");
                        p.at = (zz(g[1]), zz(g[2]));
                    }
                    _ => {}
                }
            }
            p
        })
        .collect();
    (name, extent, points)
}

/// The tile of zoom `z` holding a lon/lat.
fn tile_of(z: u32, lon: f64, lat: f64) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x as u32, y as u32)
}

/// The events tile: each event the caller may see is a point where it was reported, with its
/// state and category; filters as `GET /api/events`; none for other areas or other workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_tile_has_a_point_per_event_with_state_and_category() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let (a, _) = t.report(&t.worker, "t1").await;
        let (b, _) = t.report(&t.worker, "t2").await;
        let (st, v) = t
            .act(
                &t.leader,
                a,
                json!({"action": "accept", "expected_version": 1}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (lon, lat) = t.inside(0);
        let z = 15;
        let (x, y) = tile_of(z, lon, lat);
        let tile = |c: &reqwest::Client, (z, x, y): (u32, u32, u32)| {
            c.get(format!("{}/tiles/events/{z}/{x}/{y}.mvt", t.base))
                .send()
        };
        let get = |c: &reqwest::Client, q: &str| {
            c.get(format!("{}/tiles/events/{z}/{x}/{y}.mvt{q}", t.base))
                .send()
        };
        let r = get(&t.leader, "").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[reqwest::header::CONTENT_TYPE],
            "application/vnd.mapbox-vector-tile"
        );
        let (name, extent, pts) = decode_points(&r.bytes().await.unwrap());
        assert_eq!(name, "events");
        let mut ids: Vec<u64> = pts.iter().map(|p| p.id).collect();
        ids.sort();
        assert_eq!(ids, [a as u64, b as u64]);
        for p in &pts {
            let want = if p.id == a as u64 {
                "accepted"
            } else {
                "reported"
            };
            assert_eq!(p.props["state"], want, "{p:?}");
            assert_eq!(p.props["category"], "sanitation.rubbish");
            assert_eq!(p.props["top"], "sanitation");
            assert_eq!(p.props["due"], "ok");
            assert_eq!(p.props["grid"], t.grid_code(0));
            assert!(p.props["number"].len() >= 22, "{p:?}");
            // back to lon/lat: within a tile unit (~0.3 m at z15)
            let n = f64::from(1u32 << z) * extent as f64;
            let plon = (f64::from(x) * extent as f64 + p.at.0 as f64) / n * 360.0 - 180.0;
            let my = std::f64::consts::PI
                * (1.0 - 2.0 * (f64::from(y) * extent as f64 + p.at.1 as f64) / n);
            let plat = my.sinh().atan().to_degrees();
            assert!(
                (plon - lon).abs() < 1e-5 && (plat - lat).abs() < 1e-5,
                "{plon},{plat} vs {lon},{lat}"
            );
        }
        // up to z14 events a few pixels apart are one cluster: how many, open, overdue, top
        for zc in [12, 14] {
            let (xc, yc) = tile_of(zc, lon, lat);
            let r = tile(&t.leader, (zc, xc, yc)).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let (_, _, pts) = decode_points(&r.bytes().await.unwrap());
            assert_eq!(pts.len(), 1, "z{zc}: {pts:?}");
            let c = &pts[0];
            assert_eq!(c.id, a.min(b) as u64, "{c:?}");
            assert_eq!(c.props["count"], "2", "{c:?}");
            assert_eq!(c.props["open"], "2", "{c:?}");
            assert_eq!(c.props["overdue"], "0", "{c:?}");
            assert_eq!(c.props["top"], "sanitation", "{c:?}");
            assert!(!c.props.contains_key("state"), "{c:?}");
        }
        // filtered like the list
        let r = get(&t.leader, "?state=accepted").await.unwrap();
        let (_, _, pts) = decode_points(&r.bytes().await.unwrap());
        assert_eq!(pts.iter().map(|p| p.id).collect::<Vec<_>>(), [a as u64]);
        // the reporter sees their two; another worker, a leader of another town: nothing
        let r = get(&t.worker, "").await.unwrap();
        assert_eq!(decode_points(&r.bytes().await.unwrap()).2.len(), 2);
        assert_eq!(
            get(&t.worker2, "").await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            get(&t.stranger, "").await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            get(&reqwest::Client::new(), "").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        // a tile elsewhere is empty; a bad one names its field
        let far = tile(&t.leader, (z, 0, 0)).await.unwrap();
        assert_eq!(far.status(), StatusCode::NO_CONTENT);
        let (st, v) = t.get(&t.leader, "/tiles/events/15/x/1.mvt").await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().contains("x `x`"), "{v}");
        let (st, tj) = t.get(&t.leader, "/tiles/events.json").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(tj["vector_layers"][0]["id"], "events");
        assert_eq!(tj["vector_layers"][0]["fields"]["state"], "String");
    }
}

#[test]
fn the_hotline_import_and_the_events_commands() {
    let dir = common::tmp();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt.block_on(town(Kind::Gpkg, dir.path()));
    let (lon, lat) = t.inside(2);
    let csv = dir.path().join("hotline.csv");
    let bad = format!("工单编号,受理时间,事件类型,标题,经度,纬度\nH1,2026-03-01 09:30,垃圾堆放,a,{lon},{lat}\nH2,2026-03-01 10:00,外星人,b,{lon},{lat}\n");
    std::fs::write(&csv, bad).unwrap();
    let db = t.target.as_str();
    let csv_s = csv.to_str().unwrap();
    let (ok, _, err) = common::wangge(&["events", "import", csv_s, "--db", db]);
    assert!(!ok);
    assert!(
        err.contains("hotline.csv line 3, field category") && err.contains("外星人"),
        "{err}"
    );
    let good = format!(
        "工单编号,受理时间,事件类型,标题,经度,纬度,紧急程度\nH1,2026-03-01 09:30,垃圾堆放,a,{lon},{lat},紧急\nH2,2026-03-01 10:00,路灯故障,b,{lon},{lat},\n"
    );
    std::fs::write(&csv, good).unwrap();
    let (ok, out, err) = common::wangge(&["events", "import", csv_s, "--db", db]);
    assert!(ok, "{err}");
    assert!(out.contains("2 events stored, 0 already stored"), "{out}");
    let (ok, out, _) = common::wangge(&["events", "import", csv_s, "--db", db]);
    assert!(
        ok && out.contains("0 events stored, 2 already stored"),
        "{out}"
    );
    let (ok, out, _) = common::wangge(&["events", "list", "--db", db, "--json"]);
    assert!(ok);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let e = &list[1];
    assert_eq!(e["location"]["grid"], t.grid_code(2));
    assert_eq!(e["priority"], "high");
    assert_eq!(e["source"], "hotline");
    assert!(e["number"].as_str().unwrap().contains("20260301"), "{e}");
    // the hotline's old reports are long past their 1 h limit to accept
    let (ok, out, _) = common::wangge(&["events", "list", "--db", db, "--overdue"]);
    assert!(ok && out.lines().count() == 3, "{out}");
    let (ok, out, _) =
        common::wangge(&["events", "show", e["number"].as_str().unwrap(), "--db", db]);
    assert!(ok, "{out}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["history"][0]["action"], "report");
    let (ok, out, err) = common::wangge(&[
        "events",
        "report",
        "--db",
        db,
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("{}\t2\t2\t2\t0", t.grid_code(2))),
        "{out}"
    );
    // the deployment's own tree: set from a file, printed back, used by the next import
    let (ok, out, _) = common::wangge(&["events", "categories", "--db", db]);
    assert!(ok);
    let mut tree: Vec<Value> = serde_json::from_str(&out).unwrap();
    tree.push(json!({"code": "water", "name": "供排水",
                     "children": [{"code": "water.pipe", "name": "管道破裂", "children": []}]}));
    let file = dir.path().join("tree.json");
    std::fs::write(&file, serde_json::to_string(&tree).unwrap()).unwrap();
    let file_s = file.to_str().unwrap();
    let (ok, out, err) = common::wangge(&["events", "categories", "--set", file_s, "--db", db]);
    assert!(ok && out.contains("categories set"), "{out}{err}");
    let (_, out, _) = common::wangge(&["events", "categories", "--db", db]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!(tree));
    std::fs::write(
        &csv,
        format!("工单编号,受理时间,事件类型,标题,经度,纬度\nH3,2026-03-02 09:00,管道破裂,c,{lon},{lat}\n"),
    )
    .unwrap();
    let (ok, out, err) = common::wangge(&["events", "import", csv_s, "--db", db]);
    assert!(ok && out.contains("1 events stored"), "{out}{err}");
    // leaving out a category in use, or a bad limit: refused, naming the file and what
    let kept: Vec<&Value> = tree.iter().filter(|c| c["code"] != "sanitation").collect();
    std::fs::write(&file, serde_json::to_string(&kept).unwrap()).unwrap();
    let (ok, _, err) = common::wangge(&["events", "categories", "--set", file_s, "--db", db]);
    assert!(
        !ok && err.contains(file_s) && err.contains("`sanitation.rubbish` (1 events)"),
        "{err}"
    );
    std::fs::write(
        &file,
        r#"[{"category": "water", "step": "soon", "hours": 1}]"#,
    )
    .unwrap();
    let (ok, _, err) = common::wangge(&["events", "limits", "--set", file_s, "--db", db]);
    assert!(!ok && err.contains(file_s) && err.contains("soon"), "{err}");
    // a category the tree lacks (a typo) would apply to nothing: refused, naming it
    std::fs::write(&file, r#"[{"category": "watr", "hours": 1}]"#).unwrap();
    let (ok, _, err) = common::wangge(&["events", "limits", "--set", file_s, "--db", db]);
    assert!(
        !ok && err.contains(file_s) && err.contains("`watr` is not a category"),
        "{err}"
    );
    std::fs::write(
        &file,
        r#"[{"category": "water", "step": "accept", "hours": 1}]"#,
    )
    .unwrap();
    let (ok, out, err) = common::wangge(&["events", "limits", "--set", file_s, "--db", db]);
    assert!(ok && out.contains("1 overrides set"), "{out}{err}");
    let (_, out, _) = common::wangge(&["events", "limits", "--db", db]);
    let l: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        l["overrides"],
        json!([{"category": "water", "step": "accept", "hours": 1}])
    );
}

/// A deployment's own categories and time limits: an admin sets them (a leader may not), reports
/// and deadlines follow them at once, a bad tree or limit names its field, and a tree leaving out
/// a category stored events are in is refused (409) naming it; every change is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_sets_its_categories_and_limits() {
    let dir = common::tmp();
    for kind in kinds() {
        let t = town(kind, dir.path()).await;
        let put = |c: &reqwest::Client, path: &str, body: Value| {
            let r = c.put(format!("{}{path}", t.base)).json(&body).send();
            async move {
                let r = r.await.unwrap();
                let st = r.status();
                (st, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (lon, lat) = t.inside(0);
        let water = |id: &str| {
            json!({"client_id": id, "category": "water.pipe", "title": "水管破裂",
                   "lon": lon, "lat": lat, "priority": "normal"})
        };
        // the default tree until someone sets one: no water
        let (st, tree) = t.get(&t.worker, "/api/events/categories").await;
        assert_eq!(st, StatusCode::OK);
        assert!(tree
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "safety"));
        let (st, v) = t.post(&t.worker, "/api/events", water("w0")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].as_str().unwrap().contains("water.pipe"), "{v}");
        let (a, _) = t.report(&t.worker, "s1").await;
        // the admin adds 供排水 with a child; a leader may not; a bad tree names its code
        let mut mine = tree.as_array().unwrap().clone();
        mine.push(json!({"code": "water", "name": "供排水",
                         "children": [{"code": "water.pipe", "name": "管道破裂", "children": []}]}));
        let (st, v) = put(&t.leader, "/api/events/categories", json!(mine)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        let (st, v) = put(
            &t.admin,
            "/api/events/categories",
            json!([{"code": "water", "name": "供排水", "children": [{"code": "pipe", "name": "管道"}]}]),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("`pipe` must start with `water.`"),
            "{v}"
        );
        let (st, v) = put(&t.admin, "/api/events/categories", json!(mine)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let (_, tree) = t.get(&t.worker, "/api/events/categories").await;
        assert_eq!(tree, json!(mine));
        let (st, v) = t.post(&t.worker, "/api/events", water("w1")).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let w1 = v["events"][0]["id"].as_i64().unwrap();
        let (_, e) = t.get(&t.worker, &format!("/api/events/{w1}")).await;
        assert_eq!(e["category_name"], "管道破裂", "{e}");
        // leaving out sanitation, which event `a` is in: refused, naming it; nothing changed
        let without: Vec<Value> = mine
            .iter()
            .filter(|c| c["code"] != "sanitation")
            .cloned()
            .collect();
        let (st, v) = put(&t.admin, "/api/events/categories", json!(without)).await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("`sanitation.rubbish` (1 events)"),
            "{v}"
        );
        assert_eq!(
            t.get(&t.worker, "/api/events/categories").await.1,
            json!(mine)
        );
        // limits: the defaults and the default override, then the admin's
        let (st, l) = t.get(&t.worker, "/api/events/limits").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(l["defaults"].as_array().unwrap().len(), 4 * 5, "{l}");
        assert_eq!(
            l["overrides"],
            json!([{"category": "safety", "step": "handle", "factor": 0.5}])
        );
        let due_h = |e: &Value| {
            let t = |k: &str| chrono::DateTime::parse_from_rfc3339(e[k].as_str().unwrap()).unwrap();
            (t("due_at") - t("reported_at")).num_seconds() as f64 / 3600.0
        };
        assert_eq!(due_h(&e), 2.0, "a normal event is accepted within 2 h: {e}");
        let one_hour = json!([{"category": "water", "step": "accept", "hours": 1}]);
        let (st, _) = put(&t.leader, "/api/events/limits", one_hour.clone()).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, v) = put(
            &t.admin,
            "/api/events/limits",
            json!([{"category": "water", "hours": 1, "factor": 2}]),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("#0: give either hours or factor"),
            "{v}"
        );
        let (st, v) = put(
            &t.admin,
            "/api/events/limits",
            json!([{"category": "watr", "hours": 1}]),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].as_str().unwrap().contains("`watr`"), "{v}");
        let (st, v) = put(&t.admin, "/api/events/limits", one_hour.clone()).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["overrides"], one_hour);
        // what holds for one category, as the settings page shows it
        let (st, l) = t
            .get(&t.worker, "/api/events/limits?category=water.pipe")
            .await;
        assert_eq!(st, StatusCode::OK, "{l}");
        let hours = |rows: &Value, p: &str, s: &str| {
            rows.as_array()
                .unwrap()
                .iter()
                .find(|r| r["priority"] == p && r["step"] == s)
                .map(|r| r["hours"].clone())
        };
        for p in ["urgent", "high", "normal", "low"] {
            assert_eq!(hours(&l["effective"], p, "accept"), Some(json!(1)), "{l}");
            assert_eq!(
                hours(&l["effective"], p, "handle"),
                hours(&l["defaults"], p, "handle"),
                "{l}"
            );
        }
        let (st, v) = t.get(&t.worker, "/api/events/limits?category=moon").await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        // a tree leaving out a category the limits name is refused, naming it
        let without_water: Vec<Value> = mine
            .iter()
            .filter(|c| c["code"] != "water")
            .cloned()
            .collect();
        let (st, v) = put(&t.admin, "/api/events/categories", json!(without_water)).await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        let msg = v["error"].as_str().unwrap();
        assert!(
            msg.contains("`water`") && msg.contains("time limits"),
            "{v}"
        );
        let (_, v) = t.post(&t.worker, "/api/events", water("w2")).await;
        let (_, e2) = t
            .get(&t.worker, &format!("/api/events/{}", v["events"][0]["id"]))
            .await;
        assert_eq!(due_h(&e2), 1.0, "water is accepted within 1 h now: {e2}");
        assert_eq!(
            due_h(&e),
            2.0,
            "an event already waiting keeps its deadline"
        );
        let (b, _) = t.report(&t.worker, "s2").await;
        let (_, eb) = t.get(&t.worker, &format!("/api/events/{b}")).await;
        assert_eq!(due_h(&eb), 2.0, "other categories keep the default: {eb}");
        assert!(a != b);
        // both changes are in the audit trail, by the admin
        let (_, audit) = t.get(&t.admin, "/api/audit?limit=100").await;
        for kind in ["PUT /api/events/categories", "PUT /api/events/limits"] {
            assert!(
                audit["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["kind"] == kind && x["result"] == "200 ok" && x["who"] == "root"),
                "{kind} not audited: {audit}"
            );
        }
    }
}
