//! The map service over a real store, on both backends (a GeoPackage file, and PostgreSQL +
//! PostGIS when `WANGGE_TEST_PG` is set; scripts/test sets it and `WANGGE_REQUIRE_PG=1`): a newly
//! activated plan rebuilds only its village's part of the state and drops only the tiles over it;
//! buildings (tiles, GeoJSON, addresses) come from the store's indexes.

mod common;

use common::stores::{fresh_target, kinds};
use geo::{BoundingRect, Contains, Intersects};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use wangge::model::Weight;
use wangge::partition::{partition, Band, Options};
use wangge::serve::{router, Config, Service, StoreSource};
use wangge::store::{Base, PlanMeta, Store, VillagePlanRecord};
use wangge::tiles::TileId;

fn meta(reason: &str) -> PlanMeta {
    PlanMeta {
        author: "test".into(),
        reason: reason.into(),
        params: "{}".into(),
    }
}

/// The z tile holding `(lon, lat)`.
fn tile_at(lon: f64, lat: f64, z: u32) -> TileId {
    let n = (1u32 << z) as f64;
    let x = ((lon + 180.0) / 360.0 * n) as u32;
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
    TileId::new(z, x, y).unwrap()
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    /// (status, ETag, body) of `path`.
    async fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let etag = r
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, etag, r.bytes().await.unwrap().to_vec())
    }
    async fn json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }
}

/// The values of `field` in the features GDAL reads from an MVT tile.
fn ogr_values(bytes: &[u8], t: TileId, field: &str) -> BTreeSet<String> {
    let dir = common::tmp();
    let path = dir.path().join(format!("{}.mvt", t.y));
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-oo"])
        .arg(format!("X={}", t.x))
        .args(["-oo"])
        .arg(format!("Y={}", t.y))
        .args(["-oo"])
        .arg(format!("Z={}", t.z))
        .args(["-oo", "CLIP=NO"])
        .arg(&path)
        .output()
        .expect("run ogrinfo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(" = ")?;
            (k.trim().split_once(" (")?.0 == field).then(|| v.trim().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_activation_rebuilds_only_its_village_and_shows_in_tiles() {
    let dir = common::tmp();
    let input = dir.path().join("in");
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 5000,
        seed: 51,
        odd_shapes: false,
    })
    .write_dir(&input)
    .unwrap();
    let ds = wangge::ingest::read_dir(&input, &Weight::Households).unwrap();
    let band = |min, max| Options {
        band: Band { min, max },
        ..Options::default()
    };
    let p1 = partition(&ds, &band(300.0, 500.0), &|| {});
    let p2 = partition(&ds, &band(200.0, 350.0), &|| {});
    for kind in kinds() {
        let store = Store::open(&fresh_target(kind, dir.path()).await)
            .await
            .unwrap();
        store
            .save_run(&ds, &p1, &meta("v1"), &Base::default(), &mut |_, _| {})
            .await
            .unwrap();
        let recs: Vec<VillagePlanRecord> = p2
            .villages
            .iter()
            .map(VillagePlanRecord::from_partition)
            .collect();
        store
            .save_plans(&recs, &meta("v2"), &Base::default())
            .await
            .unwrap();
        let svc = Arc::new(
            Service::load(Arc::new(StoreSource::new(store.clone())), Config::default())
                .await
                .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = Http {
            base: format!("http://{}", listener.local_addr().unwrap()),
            client: common::auth::admin_client(&store).await,
        };
        tokio::spawn(std::future::IntoFuture::into_future(axum::serve(
            listener,
            router(svc.clone()),
        )));
        let before = svc.state();
        let snap = &before.snapshot;
        // village A changes; B is a village whose grids are far from A's
        let a = (0..snap.villages.len())
            .max_by_key(|&v| snap.grids.iter().filter(|g| g.village == v).count())
            .unwrap();
        let a_code = snap.villages[a].code.to_string();
        let a_box = snap.villages[a].boundary.bounding_rect().unwrap();
        let ga = snap.grids.iter().find(|g| g.village == a).unwrap();
        let tile_a = tile_at(ga.label.x(), ga.label.y(), 14);
        let gb = snap
            .grids
            .iter()
            .find(|g| {
                g.village != a && {
                    let t = tile_at(g.label.x(), g.label.y(), 14);
                    !t.buffered_bounds(wangge::tiles::BUFFER).intersects(&a_box)
                }
            })
            .expect("a grid away from village A");
        let b = gb.village;
        let tile_b = tile_at(gb.label.x(), gb.label.y(), 14);
        let path = |t: TileId| format!("/tiles/grids/{}/{}/{}.mvt", t.z, t.x, t.y);
        let (sa, etag_a, _) = http.get(&path(tile_a)).await;
        let (sb, etag_b, _) = http.get(&path(tile_b)).await;
        assert_eq!((sa, sb), (200, 200), "{kind:?}");
        let grids_layer = wangge::serve::State::layer_index("grids").unwrap();
        assert!(svc.cache.get(grids_layer as u8, tile_a).is_some());

        // Roll village A back to version 1.
        store.activate(&a_code, 1, Some(Some(2))).await.unwrap();
        assert!(svc.refresh().await.unwrap(), "{kind:?}: a new revision");
        let after = svc.state();
        assert_eq!(after.snapshot.villages[a].plan_version, Some(1));
        assert_eq!(after.snapshot.villages[b].plan_version, Some(2));
        // only A's tile pieces were built again; the rest is shared with the previous state
        for name in ["grids", "micro_grids"] {
            let i = wangge::serve::State::layer_index(name).unwrap();
            let (old, new) = (before.layers[i].parts(), after.layers[i].parts());
            assert_eq!(old.len(), new.len());
            for v in 0..old.len() {
                assert_eq!(
                    Arc::ptr_eq(&old[v].shapes, &new[v].shapes),
                    v != a,
                    "{kind:?}: {name} piece of village {v}"
                );
            }
        }
        for name in ["villages", "roads", "rivers"] {
            let i = wangge::serve::State::layer_index(name).unwrap();
            let (old, new) = (&before.layers[i], &after.layers[i]);
            assert!(
                Arc::ptr_eq(old, new)
                    || old
                        .parts()
                        .iter()
                        .zip(new.parts())
                        .all(|(x, y)| Arc::ptr_eq(&x.shapes, &y.shapes)),
                "{kind:?}: {name} rebuilt"
            );
        }
        // only the tiles over A left the cache
        assert!(svc.cache.get(grids_layer as u8, tile_a).is_none());
        assert!(svc.cache.get(grids_layer as u8, tile_b).is_some());
        // over HTTP: A's tile is version 1's grids, B's tile is as it was
        let v1: BTreeSet<String> = store
            .load_plan(&a_code, 1)
            .await
            .unwrap()
            .1
            .grids
            .iter()
            .map(|g| g.code.clone())
            .collect();
        let v2: BTreeSet<String> = store
            .load_plan(&a_code, 2)
            .await
            .unwrap()
            .1
            .grids
            .iter()
            .map(|g| g.code.clone())
            .collect();
        assert_ne!(v1, v2, "{kind:?}: the two versions differ");
        let (sa, etag_a2, body_a) = http.get(&path(tile_a)).await;
        assert_eq!(sa, 200);
        assert_ne!(etag_a2, etag_a, "{kind:?}: A's tile changed");
        let codes = ogr_values(&body_a, tile_a, "code");
        let in_tile: Vec<&wangge::snapshot::GridView> = after
            .snapshot
            .grids
            .iter()
            .filter(|g| g.village == a && tile_a.bounds().contains(&g.label))
            .collect();
        assert!(!in_tile.is_empty());
        for g in &in_tile {
            assert!(v1.contains(g.code.as_str()));
            assert!(
                codes.contains(g.code.as_str()),
                "{kind:?}: {} not in {codes:?}",
                g.code
            );
        }
        for c in v2.difference(&v1) {
            assert!(
                !codes.contains(c),
                "{kind:?}: version 2's grid {c} still drawn"
            );
        }
        let (_, etag_b2, _) = http.get(&path(tile_b)).await;
        assert_eq!(etag_b2, etag_b, "{kind:?}: B's tile kept its ETag");
        // GeoJSON, buildings and addresses follow the new plan
        let g = http.json(&format!("/api/grids?village={a_code}")).await;
        let served: BTreeSet<String> = g["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(served, v1, "{kind:?}");
        let bs = http.json(&format!("/api/buildings?village={a_code}")).await;
        let bs = bs["features"].as_array().unwrap();
        assert_eq!(
            bs.len(),
            ds.buildings
                .iter()
                .filter(|x| ds.villages[x.village].code.as_str() == a_code)
                .count()
        );
        for f in bs {
            let gc = f["properties"]["grid_code"].as_str().unwrap();
            assert!(v1.contains(gc), "{kind:?}: building in grid {gc}");
        }
        // paged by 5 (by the village, and by a box of the whole town), the same buildings in
        // the same order
        let ids = |v: &serde_json::Value| -> Vec<String> {
            v["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect()
        };
        let bbox = "bbox=-180,-90,180,90";
        let whole_town = ids(&http.json(&format!("/api/buildings?{bbox}")).await);
        assert_eq!(whole_town.len(), ds.buildings.len(), "{kind:?}");
        for (first, want) in [
            (
                format!("village={a_code}"),
                bs.iter()
                    .map(|f| f["id"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>(),
            ),
            (bbox.to_string(), whole_town),
        ] {
            let (mut got, mut path, mut pages) =
                (Vec::new(), format!("/api/buildings?{first}&limit=5"), 0);
            loop {
                let page = http.json(&path).await;
                let these = ids(&page);
                assert!(these.len() <= 5, "{kind:?}: {path}");
                got.extend(these);
                pages += 1;
                match page.get("next").and_then(|n| n.as_str()) {
                    Some(n) => path = format!("/api/buildings?{first}&limit=5&after={n}"),
                    None => break,
                }
            }
            assert_eq!(got, want, "{kind:?}: {first} paged by 5");
            assert_eq!(pages, want.len().div_ceil(5), "{kind:?}: {first}");
        }
        let home = bs
            .iter()
            .find(|f| {
                f["properties"]["address"]
                    .as_str()
                    .is_some_and(|a| a.ends_with('栋'))
            })
            .expect("a home with a building number");
        let addr = home["properties"]["address"].as_str().unwrap();
        let found = http
            .json(&format!(
                "/api/locate?address={}",
                addr.bytes()
                    .map(|c| format!("%{c:02X}"))
                    .collect::<String>()
            ))
            .await;
        assert_eq!(
            found["building"]["id"], home["properties"]["id"],
            "{kind:?}"
        );
        assert_eq!(found["sure"], true);
        assert_eq!(found["grid"]["code"], home["properties"]["grid_code"]);
        // a building tile over that home, read by GDAL: the home with its grid
        let hp = home["geometry"]["coordinates"].clone();
        let (hx, hy) = match home["geometry"]["type"].as_str().unwrap() {
            "Point" => (hp[0].as_f64().unwrap(), hp[1].as_f64().unwrap()),
            _ => (hp[0][0][0].as_f64().unwrap(), hp[0][0][1].as_f64().unwrap()),
        };
        let bt = tile_at(hx, hy, 16);
        let (st, _, body) = http
            .get(&format!("/tiles/buildings/16/{}/{}.mvt", bt.x, bt.y))
            .await;
        assert_eq!(st, 200, "{kind:?}");
        let ids = ogr_values(&body, bt, "id");
        assert!(
            ids.contains(home["properties"]["id"].as_str().unwrap()),
            "{kind:?}: {ids:?}"
        );
        // A leader named for a grid of B: no outline rebuilt, B's grid tile shows the leader
        store
            .set_people(
                gb.code.as_str(),
                &[wangge::snapshot::Person {
                    role: wangge::snapshot::Role::GridLeader,
                    name: "王芳".into(),
                    phone: None,
                }],
            )
            .await
            .unwrap();
        assert!(svc.refresh().await.unwrap());
        let third = svc.state();
        let i = wangge::serve::State::layer_index("grids").unwrap();
        assert!(after.layers[i]
            .parts()
            .iter()
            .zip(third.layers[i].parts())
            .all(|(x, y)| Arc::ptr_eq(&x.shapes, &y.shapes)));
        let (_, etag_b3, body_b) = http.get(&path(tile_b)).await;
        assert_ne!(etag_b3, etag_b, "{kind:?}: B's tile shows the new leader");
        assert!(ogr_values(&body_b, tile_b, "leader").contains("王芳"));
        store.close().await;
    }
}
