//! Running wangge as a service (issue 20): the config file (flags override it, errors name the
//! line), `/metrics` read by a real Prometheus text-format parser (Python's prometheus_client),
//! a backup taken during patrol imports that restores to a sound store holding whole batches
//! only, upgrades from an older schema (a backup first, one transaction) and the refusal of a
//! newer one, `wangge doctor` on a healthy and on a broken store, a PostGIS store dumped and
//! restored with the `pg_dump`/`pg_restore` lines `wangge backup` prints, and two servers on one
//! PostGIS seeing each other's sessions, activations and patrol points.

mod common;

use common::{bin, wangge};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wangge::ops::doctor::{disk_level, Level};

/// A small partitioned town in a GeoPackage in `dir`.
fn town_store(dir: &Path) -> PathBuf {
    let db = dir.join("town.gpkg");
    partitioned_town(dir, 600, 3, db.to_str().unwrap());
    db
}

/// A synthetic town of `households` (seed `seed`) generated in `dir` and partitioned into the
/// store `db` (a GeoPackage path or a postgres:// URL).
fn partitioned_town(dir: &Path, households: u64, seed: u64, db: &str) {
    let input = dir.join("town");
    let (ok, o, e) = wangge(&[
        "fixture",
        "synth",
        "--households",
        &households.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        input.to_str().unwrap(),
    ]);
    assert!(ok, "{o}{e}");
    let (ok, o, e) = wangge(&["partition", input.to_str().unwrap(), "--db", db, "--quiet"]);
    assert!(ok, "{o}{e}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `wangge serve`, killed when dropped; its stderr goes to `log`.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str], port: u16, log: PathBuf) -> Server {
    let child = Command::new(bin())
        .arg("serve")
        .args(args)
        .env_remove("WANGGE_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = s.child.try_wait() {
            panic!(
                "server exited {st}: {}",
                std::fs::read_to_string(&s.log).unwrap()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut r = c.get(url);
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    })
}

/// A CSV of `n` patrol points of one worker on one day, 10 s and about a metre apart.
fn patrol_csv(worker: &str, n: usize) -> String {
    let mut s = String::from("worker,time,lon,lat,crs,accuracy\n");
    for i in 0..n {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00+08:00").unwrap()
            + chrono::TimeDelta::seconds(10 * i as i64);
        s.push_str(&format!(
            "{worker},{},{:.6},{:.6},wgs84,5\n",
            t.to_rfc3339(),
            116.40 + i as f64 * 0.00001,
            39.90
        ));
    }
    s
}

fn sql_rows(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); \
             rows = [[str(v) for v in r] for r in c.execute(sys.argv[2])]; c.commit(); \
             print(json.dumps(rows))",
            db.to_str().unwrap(),
            sql,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn config_file_serves_flags_override_and_errors_name_the_line() {
    let dir = common::tmp();
    let db = town_store(dir.path());
    let (port_file, port_flag) = (free_port(), free_port());
    let conf = dir.path().join("wangge.toml");
    std::fs::write(
        &conf,
        format!(
            "# the service\nlisten = \"127.0.0.1:{port_file}\"\ndb = \"{}\"\nprivate = true\n\n\
             [cache]\ntile_mb = 4\nheat_mb = 2\n\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
            db.display()
        ),
    )
    .unwrap();
    let (ok, out, err) = wangge(&["config", "check", conf.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("private = true") && out.contains("cache.tile_mb = 4"),
        "{out}"
    );

    // the flag's port wins over the file's; the file's `private` and log format hold
    let listen = format!("127.0.0.1:{port_flag}");
    let srv = serve(
        &["--config", conf.to_str().unwrap(), "--listen", &listen],
        port_flag,
        dir.path().join("serve.log"),
    );
    let (status, body) = get(&format!("{}/api/grids", srv.base), None);
    assert_eq!(status, 401, "private from the config file: {body}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port_file)).is_err());
    std::thread::sleep(Duration::from_millis(300));
    let log = std::fs::read_to_string(&srv.log).unwrap();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["route"] == "/api/grids")
        .unwrap_or_else(|| panic!("no JSON request log line for /api/grids in:\n{log}"));
    assert_eq!(line["fields"]["status"], 401, "{line}");
    assert_eq!(line["fields"]["user"], "-", "{line}");
    assert!(line["fields"]["ms"].as_f64().is_some(), "{line}");
    drop(srv);

    // wrong keys and values: the file and line are named, serve refuses to start
    for (text, line, word) in [
        ("db = \"a.gpkg\"\n\nlisen = \"127.0.0.1:1\"\n", 3, "lisen"),
        ("[log]\nformat = \"xml\"\n", 2, "xml"),
        (
            "listen = \"127.0.0.1:1\"\n[cache]\ntile_mb = \"big\"\n",
            3,
            "tile_mb",
        ),
        ("[cache]\nheat_mb = 0\n", 2, "heat_mb"),
        ("[tls]\ncert = \"a.pem\"\n", 1, "key"),
    ] {
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, text).unwrap();
        let (ok, _, err) = wangge(&["config", "check", bad.to_str().unwrap()]);
        assert!(!ok, "{text} accepted");
        let want = format!("{}:{line}:", bad.display());
        assert!(
            err.contains(&want) && err.contains(word),
            "{text}: want {want}…{word}, got {err}"
        );
        let (ok, _, err2) = wangge(&["serve", "--config", bad.to_str().unwrap()]);
        assert!(!ok && err2.contains(&want), "{err2}");
    }
}

/// Samples of a metric family: (name, labels, value).
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses a Prometheus text exposition with prometheus_client's parser: family name → samples
/// (name, labels, value).
fn parse_prometheus(text: &str) -> BTreeMap<String, Samples> {
    use std::io::Write;
    let mut c = Command::new("python3")
        .args([
            "-c",
            "import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families\n\
             out = {}\nfor f in text_string_to_metric_families(sys.stdin.read()):\n    \
             out[f.name] = {'type': f.type, 'samples': [[s.name, s.labels, s.value] for s in f.samples]}\n\
             print(json.dumps(out))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "parser refused /metrics: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, f)| {
            let samples = f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let labels = s[1]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(a, b)| (a.clone(), b.as_str().unwrap().to_string()))
                        .collect();
                    (
                        s[0].as_str().unwrap().to_string(),
                        labels,
                        s[2].as_f64().unwrap(),
                    )
                })
                .collect();
            (k.clone(), samples)
        })
        .collect()
}

#[test]
fn metrics_parse_and_count_requests_tiles_and_patrol_points() {
    let dir = common::tmp();
    let db = town_store(dir.path());
    let csv = dir.path().join("p.csv");
    std::fs::write(&csv, patrol_csv("13800000001", 37)).unwrap();
    let (ok, o, e) = wangge(&[
        "patrol",
        "import",
        csv.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(ok, "{o}{e}");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let srv = serve(
        &["--db", db.to_str().unwrap(), "--listen", &listen],
        port,
        dir.path().join("serve.log"),
    );
    for _ in 0..3 {
        assert_eq!(get(&format!("{}/api/health", srv.base), None).0, 200);
    }
    let (bad, _) = get(&format!("{}/api/grids/nope", srv.base), None);
    assert!((400..500).contains(&bad), "{bad}");
    let bad = bad.to_string();
    // a tile over the town at zoom 12, asked for twice: rendered, then from the cache
    let (_, villages) = get(&format!("{}/api/villages", srv.base), None);
    let v: serde_json::Value = serde_json::from_str(&villages).unwrap();
    let first = |g: &serde_json::Value| -> (f64, f64) {
        let mut c = &g["coordinates"];
        while c[0].is_array() {
            c = &c[0];
        }
        (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
    };
    let (lon, lat) = first(&v["features"][0]["geometry"]);
    let n = 4096.0;
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let lr = lat.to_radians();
    let y = ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    let tile = format!("{}/tiles/grids/12/{x}/{y}.mvt", srv.base);
    assert_eq!(get(&tile, None).0, 200, "{tile}");
    assert_eq!(get(&tile, None).0, 200, "{tile}");
    let (status, text) = get(&format!("{}/metrics", srv.base), None);
    assert_eq!(status, 200, "{text}");
    let m = parse_prometheus(&text);
    let count = |route: &str, status: &str| {
        m["wangge_http_requests"]
            .iter()
            .filter(|(n, l, _)| {
                n == "wangge_http_requests_total" && l["route"] == route && l["status"] == status
            })
            .map(|s| s.2)
            .sum::<f64>()
    };
    assert_eq!(count("/api/health", "200"), 3.0, "{text}");
    assert_eq!(count("/api/grids/{code}", &bad), 1.0, "{text}");
    assert_eq!(
        count("/tiles/{layer}/{z}/{x}/{y}.mvt", "200"),
        2.0,
        "{text}"
    );
    let hist = &m["wangge_http_request_duration_seconds"];
    let inf = hist
        .iter()
        .find(|(n, l, _)| {
            n.ends_with("_bucket") && l["route"] == "/api/health" && l["le"] == "+Inf"
        })
        .expect("a +Inf bucket");
    assert_eq!(inf.2, 3.0);
    let one = |fam: &str| {
        m.get(fam)
            .unwrap_or_else(|| panic!("{fam} missing:\n{text}"))[0]
            .2
    };
    assert!(one("wangge_tile_cache_hits") >= 1.0, "{text}");
    assert!(one("wangge_tile_cache_misses") >= 1.0, "{text}");
    assert_eq!(one("wangge_patrol_points_stored"), 37.0, "{text}");
    assert!(one("wangge_store_revision") >= 1.0, "{text}");
    assert!(one("process_resident_memory_bytes") > 1e6, "{text}");
}

#[test]
fn a_backup_during_patrol_imports_restores_whole_batches() {
    let dir = common::tmp();
    let db = town_store(dir.path());
    let (batches, per_batch) = (12usize, 400usize);
    for b in 0..batches {
        let csv = dir.path().join(format!("b{b}.csv"));
        std::fs::write(&csv, patrol_csv(&format!("1390000{b:04}"), per_batch)).unwrap();
    }
    let importer = {
        let (dir, db) = (dir.path().to_path_buf(), db.clone());
        std::thread::spawn(move || {
            for b in 0..batches {
                let csv = dir.join(format!("b{b}.csv"));
                let (ok, o, e) = wangge(&[
                    "patrol",
                    "import",
                    csv.to_str().unwrap(),
                    "--db",
                    db.to_str().unwrap(),
                ]);
                assert!(ok, "{o}{e}");
            }
        })
    };
    let mut backups = Vec::new();
    while !importer.is_finished() || backups.is_empty() {
        let out = dir.path().join(format!("backup{}.gpkg", backups.len()));
        let (ok, o, e) = wangge(&[
            "backup",
            "--db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "{o}{e}");
        backups.push(out);
    }
    importer.join().unwrap();
    let mut seen = Vec::new();
    for (i, b) in backups.iter().enumerate() {
        let restored = dir.path().join(format!("restored{i}.gpkg"));
        let (ok, o, e) = wangge(&[
            "restore",
            "--from",
            b.to_str().unwrap(),
            "--db",
            restored.to_str().unwrap(),
        ]);
        assert!(ok, "{o}{e}");
        let (ok, o, e) = wangge(&["check", "--db", restored.to_str().unwrap()]);
        assert!(ok, "backup {i} fails wangge check: {o}{e}");
        let rows = sql_rows(
            &restored,
            "SELECT worker, sum(points) FROM patrol_tracks GROUP BY worker",
        );
        for r in &rows {
            assert_eq!(
                r[1],
                per_batch.to_string(),
                "backup {i}: a partial batch {r:?}"
            );
        }
        seen.push(rows.len());
    }
    eprintln!(
        "{} backups during {batches} imports held these whole batches: {seen:?}",
        backups.len()
    );
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    // a backup is never left half-written under its name, and no temporary file is left
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // restore refuses to replace a store without --force
    let (ok, _, err) = wangge(&[
        "restore",
        "--from",
        backups[0].to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("--force"), "{err}");
    let (ok, o, e) = wangge(&[
        "restore",
        "--from",
        backups.last().unwrap().to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--force",
    ]);
    assert!(ok, "{o}{e}");
    let rows = sql_rows(&db, "SELECT count(*) FROM patrol_tracks");
    assert_eq!(rows[0][0], seen.last().unwrap().to_string());
    // a file that is not a store is refused
    let junk = dir.path().join("junk.gpkg");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let (ok, _, err) = wangge(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--db",
        dir.path().join("x.gpkg").to_str().unwrap(),
    ]);
    assert!(!ok, "{err}");
}

fn migrations_of(db: &Path) -> Vec<i64> {
    sql_rows(db, "SELECT version FROM wangge_migrations ORDER BY version")
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect()
}

#[test]
fn an_older_store_is_upgraded_after_a_backup_and_a_newer_one_refused() {
    let dir = common::tmp();
    let db = dir.path().join("old.gpkg");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = wangge::store::Store::open_at(db.to_str().unwrap(), 2)
            .await
            .unwrap();
        s.close().await;
    });
    assert_eq!(migrations_of(&db), vec![1, 2]);
    sql_rows(
        &db,
        "INSERT INTO towns (code, name) VALUES ('320583104', '老镇')",
    );
    let known = wangge::store::known_migrations();

    // a failing migration (a table in the way of migration 5) rolls the whole upgrade back
    let blocked = dir.path().join("blocked.gpkg");
    std::fs::copy(&db, &blocked).unwrap();
    sql_rows(&blocked, "CREATE TABLE villager_groups (x)");
    let (ok, _, err) = wangge(&["plans", "--db", blocked.to_str().unwrap()]);
    assert!(!ok, "{err}");
    assert_eq!(
        migrations_of(&blocked),
        vec![1, 2],
        "a half upgrade was kept: {err}"
    );

    // doctor says it is older, and changes nothing
    let (ok, out, _) = wangge(&["doctor", "--db", db.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("older"), "{out}");
    assert_eq!(migrations_of(&db), vec![1, 2]);

    let (ok, o, e) = wangge(&["plans", "--db", db.to_str().unwrap()]);
    assert!(ok, "{o}{e}");
    assert_eq!(migrations_of(&db), known);
    let kept = dir.path().join("old.schema-v2.gpkg");
    assert!(kept.is_file(), "no backup beside the store: {e}");
    assert_eq!(migrations_of(&kept), vec![1, 2]);
    assert_eq!(sql_rows(&kept, "SELECT name FROM towns")[0][0], "老镇");
    assert_eq!(sql_rows(&db, "SELECT name FROM towns")[0][0], "老镇");
    // opening it again does not back it up again
    let (ok, _, _) = wangge(&["plans", "--db", db.to_str().unwrap()]);
    assert!(ok);
    assert!(!dir.path().join("old.schema-v2-2.gpkg").exists());
    let newest = *known.last().unwrap();
    assert!(!dir
        .path()
        .join(format!("old.schema-v{newest}.gpkg"))
        .exists());

    // a store from a newer wangge is refused, naming both versions, and left as it is
    sql_rows(
        &db,
        "INSERT INTO wangge_migrations VALUES (999, 'from the future', '2030-01-01T00:00:00Z')",
    );
    let (ok, _, err) = wangge(&["plans", "--db", db.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("schema version 999") && err.contains(&format!("up to {newest}")),
        "{err}"
    );
    let (ok, out, _) = wangge(&["doctor", "--db", db.to_str().unwrap()]);
    assert!(!ok && out.contains("999"), "{out}");
}

/// The doctor's disk verdict for `db`, from `df`'s count of available bytes.
fn expected_disk_level(db: &Path) -> Level {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(db.parent().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let avail: u64 = text.lines().nth(1).unwrap().trim().parse().unwrap();
    disk_level(avail, std::fs::metadata(db).unwrap().len())
}

#[test]
fn doctor_passes_a_healthy_store_and_fails_a_broken_one() {
    let dir = common::tmp();
    let db = town_store(dir.path());
    // a certificate that expires in 10 days: a warning
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "10",
            "-subj",
            "/CN=wangge",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (ok, out, err) = wangge(&[
        "doctor",
        "--db",
        db.to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
    ]);
    assert!(out.contains("ok   store"), "{out}");
    // the disk line agrees with what `df` says of this machine's disk, whatever it holds
    let disk = expected_disk_level(&db);
    assert!(
        out.contains(&format!("{:<4} disk", disk.as_str())),
        "df says {disk:?}:\n{out}"
    );
    assert!(
        out.contains("warn tls") && (out.contains("(9 days)") || out.contains("(10 days)")),
        "{out}"
    );
    if disk == Level::Fail {
        assert!(!ok && out.contains("verdict: NOT healthy"), "{out}");
    } else {
        assert!(ok, "{out}{err}");
        assert!(out.contains("verdict: healthy"), "{out}");
    }

    // damage the file: the pages after the first 8 KiB overwritten
    let broken = dir.path().join("broken.gpkg");
    let (ok, o, e) = wangge(&[
        "backup",
        "--db",
        db.to_str().unwrap(),
        "--out",
        broken.to_str().unwrap(),
    ]);
    assert!(ok, "{o}{e}");
    let mut bytes = std::fs::read(&broken).unwrap();
    let n = bytes.len();
    for b in &mut bytes[8192..n.min(8192 + 65536)] {
        *b = 0x5a;
    }
    std::fs::write(&broken, bytes).unwrap();
    let out = Command::new(bin())
        .args(["doctor", "--db", broken.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL store") && text.contains("restore"),
        "{text}"
    );
    assert!(text.contains("verdict: NOT healthy"), "{text}");
}

#[test]
fn the_deb_holds_the_service_its_config_and_user_setup() {
    let dir = common::tmp();
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release"))
        .args([
            "--binary",
            bin().to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .env("WANGGE_DEB_COMPRESS", "gzip")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = String::from_utf8_lossy(&out.stdout).to_string();
    let deb = made
        .lines()
        .find(|l| l.ends_with(".deb"))
        .expect("a .deb")
        .to_string();
    let tgz = made
        .lines()
        .find(|l| l.ends_with(".tar.gz"))
        .expect("an archive")
        .to_string();
    // the package's files, one by one: path → (mode, owner)
    let list = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    let files: BTreeMap<String, (String, String)> = list
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[5].trim_start_matches('.').to_string(),
                (f[0].to_string(), f[1].to_string()),
            )
        })
        .collect();
    for (path, mode) in [
        ("/usr/bin/wangge", "-rwxr-xr-x"),
        ("/lib/systemd/system/wangge.service", "-rw-r--r--"),
        ("/etc/wangge/wangge.toml", "-rw-r-----"),
        ("/usr/share/doc/wangge/README.md", "-rw-r--r--"),
        ("/usr/share/doc/wangge/LICENSE-MIT", "-rw-r--r--"),
        ("/usr/share/doc/wangge/LICENSE-APACHE", "-rw-r--r--"),
        ("/usr/share/doc/wangge/THIRD-PARTY.txt", "-rw-r--r--"),
        ("/var/lib/wangge/", "drwxr-xr-x"),
    ] {
        let (m, owner) = files
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing:\n{list}"));
        assert_eq!(m, mode, "{path}");
        assert_eq!(owner, "root/root", "{path}");
    }
    let field = |f: &str| {
        let o = Command::new("dpkg-deb")
            .args(["-f", &deb, f])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(field("Package"), "wangge");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert!(field("Depends").contains("libc6"));
    // maintainer scripts: the user, the state folder, the unit enabled; the config is a conffile
    let ctl = dir.path().join("ctl");
    assert!(Command::new("dpkg-deb")
        .args(["-e", &deb, ctl.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let postinst = std::fs::read_to_string(ctl.join("postinst")).unwrap();
    assert!(
        postinst.contains("adduser --system --group --home /var/lib/wangge"),
        "{postinst}"
    );
    assert!(
        postinst.contains("chown wangge:wangge /var/lib/wangge"),
        "{postinst}"
    );
    assert!(
        postinst.contains("systemctl enable wangge.service"),
        "{postinst}"
    );
    assert_eq!(
        std::fs::read_to_string(ctl.join("conffiles"))
            .unwrap()
            .trim(),
        "/etc/wangge/wangge.toml"
    );
    // unpacked: the unit runs the packaged binary on the packaged config, which is valid
    let root = dir.path().join("root");
    assert!(Command::new("dpkg-deb")
        .args(["-x", &deb, root.to_str().unwrap()])
        .status()
        .unwrap()
        .success());
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/wangge.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/wangge serve --config /etc/wangge/wangge.toml"),
        "{unit}"
    );
    assert!(
        unit.contains("User=wangge") && unit.contains("ReadWritePaths=/var/lib/wangge"),
        "{unit}"
    );
    let packaged = root.join("usr/bin/wangge");
    let conf = root.join("etc/wangge/wangge.toml");
    let o = Command::new(&packaged)
        .args(["config", "check", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("db = /var/lib/wangge/wangge.gpkg"), "{text}");
    // the packaged binary serves a store from the packaged config (db and port by flag)
    let db = town_store(dir.path());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(&packaged)
        .args([
            "serve",
            "--config",
            conf.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--listen",
            &listen,
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut srv = Server {
        child,
        base: format!("http://{listen}"),
        log: dir.path().join("none"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            srv.child.try_wait().unwrap().is_none(),
            "packaged server exited"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(&format!("{}/", srv.base), None).0, 200);
    // private = true in the packaged config
    assert_eq!(get(&format!("{}/api/grids", srv.base), None).0, 401);
    let _ = &mut srv;
    // the archive holds the binary, README, config and unit
    let t = Command::new("tar").args(["-tzf", &tgz]).output().unwrap();
    let t = String::from_utf8_lossy(&t.stdout);
    for f in [
        "/wangge",
        "/README.md",
        "/wangge.toml",
        "/wangge.service",
        "/LICENSE-MIT",
        "/LICENSE-APACHE",
        "/THIRD-PARTY.txt",
    ] {
        assert!(
            t.lines().any(|l| l.ends_with(f)),
            "{f} not in the archive:\n{t}"
        );
    }
    // the notices name what the binary holds, with the licence texts
    let notices =
        std::fs::read_to_string(root.join("usr/share/doc/wangge/THIRD-PARTY.txt")).unwrap();
    let crates: Vec<&str> = notices
        .lines()
        .skip_while(|l| !l.starts_with("== Rust crates"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(crates.len() > 100, "{} crates listed", crates.len());
    for name in [
        "axum ",
        "geo ",
        "h3o ",
        "libsqlite3-sys ",
        "sqlx ",
        "tokio ",
    ] {
        assert!(
            crates
                .iter()
                .any(|l| l.starts_with(name) && l.contains('\t')),
            "{name} not among the crates listed"
        );
    }
    assert!(
        !crates
            .iter()
            .any(|l| l.starts_with("wangge ") || l.starts_with("serde_derive ")),
        "wangge itself or a proc macro is listed"
    );
    for text in [
        "Apache License",
        "Permission is hereby granted",
        "== MapLibre GL JS",
        "== DejaVu Sans glyphs",
        "Bitstream Vera",
    ] {
        assert!(notices.contains(text), "{text:?} not in THIRD-PARTY.txt");
    }
}

/// `curl` (an independent TLS client) against `url`: (exit status, HTTP status, headers, body).
fn curl(args: &[&str], url: &str) -> (i32, u16, String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-D",
            "-",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (rest, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    let (head, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        out.status.code().unwrap_or(-1),
        code.trim().parse().unwrap_or(0),
        head.to_string(),
        body.to_string(),
    )
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn https_with_a_generated_certificate_renewed_without_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::tmp();
    let db = town_store(dir.path());
    let certs = dir.path().join("certs");
    let c = |name: &str| certs.join(name).to_str().unwrap().to_string();
    let (ok, out, err) = wangge(&[
        "cert",
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--out",
        &c(""),
    ]);
    assert!(ok && out.contains("made a new CA"), "{out}{err}");
    for key in ["key.pem", "ca-key.pem"] {
        let mode = std::fs::metadata(certs.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    // openssl agrees: the server certificate chains to the CA and names both hosts
    let verified = openssl(&["verify", "-CAfile", &c("ca.pem"), &c("cert.pem")]);
    assert!(verified.trim().ends_with("OK"), "{verified}");
    let text = openssl(&["x509", "-in", &c("cert.pem"), "-noout", "-text"]);
    assert!(
        text.contains("DNS:localhost") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    let ca_text = openssl(&["x509", "-in", &c("ca.pem"), "-noout", "-text"]);
    assert!(ca_text.contains("CA:TRUE"), "{ca_text}");

    let (ok, _, err) = common::wangge_stdin(
        &[
            "user",
            "add",
            "ops1",
            "--role",
            "admin",
            "--password-stdin",
            "--db",
            db.to_str().unwrap(),
        ],
        "a long password\n",
    );
    assert!(ok, "{err}");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = serve(
        &[
            "--db",
            db.to_str().unwrap(),
            "--listen",
            &listen,
            "--tls-cert",
            &c("cert.pem"),
            "--tls-key",
            &c("key.pem"),
        ],
        port,
        dir.path().join("serve.log"),
    );
    let https = |host: &str, path: &str| format!("https://{host}:{port}{path}");
    let ca = c("ca.pem");
    // a client that trusts the CA reaches it by name and by address; one that does not, refuses
    for host in ["localhost", "127.0.0.1"] {
        let (rc, st, _, body) = curl(&["--cacert", &ca], &https(host, "/api/health"));
        assert_eq!((rc, st), (0, 200), "{host}: {body}");
    }
    let (rc, ..) = curl(&[], &https("localhost", "/api/health"));
    assert_eq!(rc, 60, "an unknown CA must fail verification");
    let (_, st, ..) = curl(&[], &format!("http://127.0.0.1:{port}/api/health"));
    assert_ne!(st, 200, "plain HTTP on the HTTPS port");
    // the CA offered for phones is the folder's ca.pem
    let (rc, st, head, body) = curl(&["--cacert", &ca], &https("localhost", "/ca.pem"));
    assert_eq!((rc, st), (0, 200), "{body}");
    assert!(
        head.to_lowercase().contains("application/x-x509-ca-cert"),
        "{head}"
    );
    assert_eq!(body, std::fs::read_to_string(certs.join("ca.pem")).unwrap());
    // the session cookie is Secure over HTTPS
    let (_, st, head, body) = curl(
        &[
            "--cacert",
            &ca,
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"name":"ops1","password":"a long password"}"#,
        ],
        &https("localhost", "/api/session"),
    );
    assert_eq!(st, 200, "{body}");
    let cookie = head
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie"))
        .unwrap_or("");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{head}"
    );

    // renewed for a new name from the same CA; SIGHUP serves it without a restart
    let ca_before = std::fs::read(certs.join("ca.pem")).unwrap();
    let (ok, out, err) = wangge(&[
        "cert",
        "--host",
        "localhost",
        "--host",
        "wangge.test",
        "--out",
        &c(""),
        "--days",
        "30",
    ]);
    assert!(ok && out.contains("kept the CA"), "{out}{err}");
    assert_eq!(std::fs::read(certs.join("ca.pem")).unwrap(), ca_before);
    let resolve = format!("wangge.test:{port}:127.0.0.1");
    let by_new_name = || {
        curl(
            &["--cacert", &ca, "--resolve", &resolve],
            &https("wangge.test", "/api/health"),
        )
    };
    assert_eq!(
        by_new_name().0,
        60,
        "the old certificate does not name wangge.test"
    );
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    loop {
        let (rc, st, _, body) = by_new_name();
        if (rc, st) == (0, 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not reloaded: curl {rc} {st} {body}; {}",
            std::fs::read_to_string(&server.log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, out, _) = wangge(&[
        "doctor",
        "--db",
        db.to_str().unwrap(),
        "--tls-cert",
        &c("cert.pem"),
    ]);
    assert!(
        out.contains("tls") && (out.contains("(29 days)") || out.contains("(30 days)")),
        "{ok} {out}"
    );
    drop(server);

    // bad input is named
    let (ok, _, err) = wangge(&["cert", "--host", "bad host!", "--out", &c("other")]);
    assert!(!ok && err.contains("--host \"bad host!\""), "{err}");
    let (ok, _, err) = wangge(&[
        "cert",
        "--host",
        "a.test",
        "--out",
        &c("other"),
        "--days",
        "3650",
    ]);
    assert!(!ok && err.contains("--days"), "{err}");
    let (ok, _, err) = wangge(&[
        "serve",
        "--db",
        db.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--tls-cert",
        &c("missing.pem"),
        "--tls-key",
        &c("key.pem"),
    ]);
    assert!(!ok && err.contains("missing.pem"), "{err}");
}

/// `psql URL -tAc SQL`: the rows, `|`-separated.
fn psql(url: &str, sql: &str) -> String {
    let o = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(
        o.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn sh(line: &str) {
    let o = Command::new("sh").args(["-c", line]).output().unwrap();
    assert!(
        o.status.success(),
        "{line}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every file of an export folder, name → bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_postgis_store_restores_from_the_pg_dump_lines_wangge_prints() {
    let Ok(admin) = std::env::var("WANGGE_TEST_PG") else {
        assert!(
            std::env::var("WANGGE_REQUIRE_PG").is_err(),
            "WANGGE_REQUIRE_PG is set but WANGGE_TEST_PG is not"
        );
        eprintln!("NOTE: WANGGE_TEST_PG not set: the PostGIS dump and restore is skipped");
        return;
    };
    let dir = common::tmp();
    let base = admin.rsplit_once('/').unwrap().0;
    let n = std::process::id();
    let (src, dst) = (
        format!("{base}/wangge_dumped_{n}"),
        format!("{base}/wangge_restored_{n}"),
    );
    psql(&admin, &format!("CREATE DATABASE wangge_dumped_{n}"));
    psql(&admin, &format!("CREATE DATABASE wangge_restored_{n}"));
    // a town's plan and a day of patrol points in a PostGIS store
    partitioned_town(dir.path(), 2000, 5, &src);
    let csv = dir.path().join("patrol.csv");
    std::fs::write(&csv, patrol_csv("13900001111", 300)).unwrap();
    let (ok, o, e) = wangge(&["patrol", "import", csv.to_str().unwrap(), "--db", &src]);
    assert!(ok, "{o}{e}");
    // wangge backup prints the pg_dump and pg_restore lines for this store; run them as printed
    let dump = dir.path().join("wangge.dump");
    let (ok, _, err) = wangge(&["backup", "--db", &src, "--out", dump.to_str().unwrap()]);
    assert!(!ok, "a PostGIS store is not copied by wangge itself");
    let lines: Vec<&str> = err.split('`').skip(1).step_by(2).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("pg_dump ") && lines[1].starts_with("pg_restore "),
        "{err}"
    );
    sh(lines[0]);
    assert!(std::fs::metadata(&dump).unwrap().len() > 10_000);
    sh(&lines[1].replace("<URL of an empty database>", &dst));
    // the restored store passes wangge check and holds the same plans and patrol points
    let (ok, o, e) = wangge(&["check", "--db", &dst]);
    assert!(ok, "the restored store fails wangge check: {o}{e}");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for (db, out) in [(&src, &a), (&dst, &b)] {
        let (ok, o, e) = wangge(&["export", "--db", db, "--out", out.to_str().unwrap()]);
        assert!(ok, "{o}{e}");
    }
    let (fa, fb) = (files(&a), files(&b));
    assert!(fa.len() >= 4, "{:?}", fa.keys());
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(fb[name] == *bytes, "{name} differs after the restore");
    }
    let count = "SELECT count(*), sum(points) FROM patrol_tracks";
    assert_eq!(psql(&src, count), psql(&dst, count));
    assert_eq!(psql(&dst, count), "1|300");
    psql(
        &admin,
        &format!("DROP DATABASE wangge_dumped_{n} WITH (FORCE)"),
    );
    psql(
        &admin,
        &format!("DROP DATABASE wangge_restored_{n} WITH (FORCE)"),
    );
}

/// An HTTP call with an optional cookie or bearer token and JSON body: (status, JSON or text).
fn call(
    method: &str,
    url: &str,
    auth: Option<(&str, &str)>,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let mut r = c.request(method.parse().unwrap(), url);
        match auth {
            Some(("cookie", v)) => r = r.header("cookie", v),
            Some((_, v)) => r = r.bearer_auth(v),
            None => {}
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            cookie,
        )
    })
}

/// Polls `probe` every 50 ms until it holds (at most 30 s); how long it took.
fn until(what: &str, probe: &mut dyn FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !probe() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what}: not within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

#[test]
fn two_servers_on_one_postgis_see_each_others_writes() {
    let Ok(admin) = std::env::var("WANGGE_TEST_PG") else {
        assert!(
            std::env::var("WANGGE_REQUIRE_PG").is_err(),
            "WANGGE_REQUIRE_PG is set but WANGGE_TEST_PG is not"
        );
        eprintln!("NOTE: WANGGE_TEST_PG not set: two servers on one PostGIS skipped");
        return;
    };
    let dir = common::tmp();
    let n = std::process::id();
    let db = format!("{}/wangge_two_{n}", admin.rsplit_once('/').unwrap().0);
    psql(&admin, &format!("CREATE DATABASE wangge_two_{n}"));
    partitioned_town(dir.path(), 2000, 5, &db);
    let (ok, o, e) = common::wangge_stdin(
        &[
            "user",
            "add",
            "boss",
            "--role",
            "admin",
            "--password-stdin",
            "--db",
            &db,
        ],
        "two servers password\n",
    );
    assert!(ok, "{o}{e}");
    let (pa, pb) = (free_port(), free_port());
    let a = serve(
        &["--db", &db, "--listen", &format!("127.0.0.1:{pa}")],
        pa,
        dir.path().join("a.log"),
    );
    let b = serve(
        &["--db", &db, "--listen", &format!("127.0.0.1:{pb}")],
        pb,
        dir.path().join("b.log"),
    );
    let (ua, ub) = (a.base.clone(), b.base.clone());

    // a session opened on A works on B; closed on A, B refuses it
    let login = serde_json::json!({"name": "boss", "password": "two servers password"});
    let (st, _, cookie) = call("POST", &format!("{ua}/api/session"), None, Some(&login));
    assert_eq!(st, 200);
    let me = |base: &str| {
        call(
            "GET",
            &format!("{base}/api/session"),
            Some(("cookie", &cookie)),
            None,
        )
    };
    let (st, v, _) = me(&ub);
    assert_eq!((st, v["name"].as_str()), (200, Some("boss")), "{v}");
    // a token made and revoked by the CLI (a third writer): both servers follow
    let (ok, token, e) = wangge(&[
        "token", "add", "--name", "wall", "--role", "screen", "--db", &db,
    ]);
    assert!(ok, "{e}");
    let token = token.trim().to_string();
    let screen = |base: &str| {
        call(
            "GET",
            &format!("{base}/api/screen/summary"),
            Some(("bearer", &token)),
            None,
        )
        .0
    };
    assert_eq!((screen(&ua), screen(&ub)), (200, 200));
    let (ok, o, e) = wangge(&["token", "revoke", "wall", "--db", &db]);
    assert!(ok, "{o}{e}");
    let revoked = until("the revoked token refused on B", &mut || screen(&ub) == 401);
    assert_eq!(screen(&ua), 401);
    // a plan activated through A shows on B
    let villages = call("GET", &format!("{ub}/api/villages"), None, None).1;
    let code = villages["features"][0]["properties"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let version = |base: &str| {
        call("GET", &format!("{base}/api/villages"), None, None).1["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["code"] == code.as_str())
            .and_then(|f| f["properties"]["plan_version"].as_i64())
    };
    let (ok, o, e) = wangge(&[
        "partition",
        dir.path().join("town").to_str().unwrap(),
        "--db",
        &db,
        "--seed",
        "9",
        "--quiet",
    ]);
    assert!(ok, "{o}{e}");
    until("version 2 active on both", &mut || {
        version(&ua) == Some(2) && version(&ub) == Some(2)
    });
    let back = serde_json::json!({"version": 1, "expect": 2});
    let (st, v, _) = call(
        "POST",
        &format!("{ua}/api/villages/{code}/activate"),
        Some(("cookie", &cookie)),
        Some(&back),
    );
    assert_eq!(st, 200, "{v}");
    let shown = until("version 1 shown on B", &mut || version(&ub) == Some(1));
    // the same patrol batch sent to both is stored once
    let (ok, wtoken, e) = wangge(&[
        "token",
        "add",
        "--name",
        "phone",
        "--role",
        "worker",
        "--phone",
        "13900000009",
        "--db",
        &db,
    ]);
    assert!(ok, "{e}");
    let wtoken = wtoken.trim().to_string();
    let now = chrono::Utc::now();
    let batch = serde_json::Value::Array(
        (0..20)
            .map(|i| {
                serde_json::json!({"worker": "13900000009",
                    "time": (now - chrono::TimeDelta::seconds(600 - 10 * i)).to_rfc3339(),
                    "lon": 120.5 + 0.00002 * i as f64, "lat": 31.2, "accuracy": 5})
            })
            .collect(),
    );
    for base in [&ua, &ub] {
        let (st, v, _) = call(
            "POST",
            &format!("{base}/api/patrol/points"),
            Some(("bearer", &wtoken)),
            Some(&batch),
        );
        assert_eq!(st, 200, "{v}");
    }
    // the points' window, not "today" in China (their first minutes would be yesterday's)
    let from =
        (now - chrono::TimeDelta::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let stored = call(
        "GET",
        &format!("{ub}/api/patrol/points?from={from}"),
        Some(("cookie", &cookie)),
        None,
    )
    .1;
    assert_eq!(
        stored["features"].as_array().map(Vec::len),
        Some(20),
        "stored once"
    );
    // logging out on A ends the session on B
    let (st, _, _) = call(
        "DELETE",
        &format!("{ua}/api/session"),
        Some(("cookie", &cookie)),
        None,
    );
    assert!(st == 200 || st == 204, "{st}");
    let ended = until("the session closed on A refused on B", &mut || {
        me(&ub).0 == 401
    });
    eprintln!(
        "two servers: token revocation seen on B after {revoked:?}, activation after {shown:?}, logout after {ended:?}"
    );
    drop((a, b));
    psql(
        &admin,
        &format!("DROP DATABASE wangge_two_{n} WITH (FORCE)"),
    );
}
