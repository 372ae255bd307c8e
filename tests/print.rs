//! `wangge print`: a synthetic town partitioned into a store, printed to PDF, SVG and PNG, and the
//! files checked with real readers (poppler's pdftotext, pdffonts, pdfinfo, pdftoppm; an XML
//! parser; a PNG decoder), and `GET /api/print` on a served store.
//!
//! Needs poppler-utils and a CJK font (`scripts/setup` installs both).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

struct Town {
    _dir: tempfile::TempDir,
    db: PathBuf,
    /// (grid code, leader phone) of every grid, by village code.
    grids: Vec<(String, String)>,
}

impl Town {
    fn dir(&self) -> &Path {
        self.db.parent().unwrap()
    }
    fn of_village(&self, v: &str) -> Vec<&(String, String)> {
        self.grids
            .iter()
            .filter(|(c, _)| c.starts_with(v))
            .collect()
    }
}

fn wangge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(args)
        .output()
        .expect("runs wangge")
}

fn ok(args: &[&str]) -> Output {
    let out = wangge(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e} (install poppler-utils: scripts/setup)"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `fixture synth --households 8000 --seed 7`, partitioned into a GeoPackage, a leader and a
/// worker with phones for every grid.
fn town() -> Town {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let db = dir.path().join("x.gpkg");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(&[
        "fixture",
        "synth",
        "--households",
        "8000",
        "--seed",
        "7",
        "--out",
        &s(&input),
    ]);
    ok(&["partition", &s(&input), "--db", &s(&db), "--quiet"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snap = rt.block_on(async {
        let store = wangge::store::Store::open(&s(&db)).await.unwrap();
        let snap = store.map_snapshot().await.unwrap();
        store.close().await;
        snap
    });
    let mut csv = String::from("grid_code,role,name,phone\n");
    let mut grids = Vec::new();
    for (i, g) in snap.grids.iter().enumerate() {
        let phone = format!("139{:08}", 10_000 + i);
        csv.push_str(&format!(
            "{},grid_leader,王{}明,{phone}\n",
            g.code.as_str(),
            i
        ));
        csv.push_str(&format!(
            "{},grid_worker,李春华,137{:08}\n",
            g.code.as_str(),
            i
        ));
        grids.push((g.code.to_string(), phone));
    }
    assert!(grids.len() >= 10, "a town of {} grids", grids.len());
    let people = dir.path().join("people.csv");
    std::fs::write(&people, csv).unwrap();
    ok(&["people", &s(&people), "--db", &s(&db)]);
    Town {
        _dir: dir,
        db,
        grids,
    }
}

fn print(t: &Town, what: &[&str], out: &str) -> PathBuf {
    let path = t.dir().join(out);
    let mut args = vec!["print"];
    args.extend_from_slice(what);
    args.extend_from_slice(&[
        "--out",
        path.to_str().unwrap(),
        "--db",
        t.db.to_str().unwrap(),
    ]);
    ok(&args);
    path
}

/// The page size in points from `pdfinfo`.
fn page_size(pdf: &Path) -> (f64, f64) {
    let info = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    let line = info
        .lines()
        .find(|l| l.starts_with("Page size:"))
        .expect("pdfinfo gives a page size");
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn mm_pt(mm: f64) -> f64 {
    mm / 25.4 * 72.0
}

const VILLAGE: &str = "320583104001";
const TOWN: &str = "320583104";

#[test]
fn a_village_and_a_town_print_to_pdf_with_every_code_and_phone_and_an_embedded_cjk_font() {
    let t = town();
    for (what, out, codes) in [
        (vec!["--village", VILLAGE], "v.pdf", t.of_village(VILLAGE)),
        (vec!["--town", TOWN], "t.pdf", t.grids.iter().collect()),
    ] {
        let pdf = print(&t, &what, out);
        let text = tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
        assert!(!codes.is_empty());
        for (code, phone) in codes {
            assert!(
                text.contains(code.as_str()),
                "{out}: grid code {code} missing"
            );
            assert!(
                text.contains(phone.as_str()),
                "{out}: leader phone {phone} missing"
            );
        }
        assert!(text.contains("网格划分图"), "{out}: no title in {text}");
        let fonts = tool("pdffonts", &[pdf.to_str().unwrap()]);
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert!(!rows.is_empty(), "{out}: no fonts: {fonts}");
        for r in &rows {
            let cols: Vec<&str> = r.split_whitespace().collect();
            // name type… encoding emb sub uni id gen: "emb" is the 5th from the end
            assert_eq!(cols[cols.len() - 5], "yes", "{out}: font not embedded: {r}");
        }
        assert!(
            rows.iter().any(|r| r.contains("CID")),
            "{out}: no CID (CJK) font: {fonts}"
        );
        let (w, h) = page_size(&pdf);
        assert!(
            (w - mm_pt(297.0)).abs() < 1.0 && (h - mm_pt(420.0)).abs() < 1.0,
            "{w}×{h}"
        );
        // rendered back to PNG
        let png = t.dir().join(format!("{out}-back"));
        tool(
            "pdftoppm",
            &[
                "-r",
                "50",
                "-png",
                "-singlefile",
                pdf.to_str().unwrap(),
                png.to_str().unwrap(),
            ],
        );
        let back = std::fs::read(format!("{}.png", png.display())).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&back).unwrap();
        assert_eq!(img.width(), (297.0 / 25.4 * 50.0_f64).ceil() as u32);
    }
}

#[test]
fn paper_sizes_are_exact_portrait_and_landscape() {
    let t = town();
    for (paper, landscape, w, h) in [
        ("A4", false, 210.0, 297.0),
        ("A0", false, 841.0, 1189.0),
        ("A3", true, 420.0, 297.0),
        ("a2", false, 420.0, 594.0),
    ] {
        let mut what = vec!["--village", VILLAGE, "--paper", paper];
        if landscape {
            what.push("--landscape");
        }
        let pdf = print(&t, &what, &format!("{paper}-{landscape}.pdf"));
        let (pw, ph) = page_size(&pdf);
        assert!(
            (pw - mm_pt(w)).abs() < 1.0 && (ph - mm_pt(h)).abs() < 1.0,
            "{paper} landscape={landscape}: {pw}×{ph} pt"
        );
        let text = tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
        for (code, _) in t.of_village(VILLAGE) {
            assert!(text.contains(code.as_str()), "{paper}: {code} missing");
        }
    }
}

#[test]
fn svg_is_xml_png_decodes_and_the_same_input_gives_the_same_bytes() {
    let t = town();
    let svg = print(&t, &["--town", TOWN], "t.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = usvg::roxmltree::Document::parse(&text).expect("valid XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert_eq!(doc.root_element().attribute("width"), Some("297mm"));
    for (code, _) in &t.grids {
        assert!(text.contains(code.as_str()), "svg: {code} missing");
    }
    let png = print(&t, &["--village", VILLAGE, "--paper", "A4"], "v.png");
    let img = resvg::tiny_skia::Pixmap::decode_png(&std::fs::read(&png).unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (1240, 1754), "A4 at 150 dpi");
    // not blank: some pixels are grid colours
    assert!(img
        .pixels()
        .iter()
        .any(|p| (p.red(), p.green(), p.blue()) != (255, 255, 255)));
    for (what, a, b) in [
        (vec!["--town", TOWN], "d1.pdf", "d2.pdf"),
        (
            vec!["--village", VILLAGE, "--paper", "A4"],
            "d1.png",
            "d2.png",
        ),
        (
            vec!["--grid", t.grids[0].0.as_str(), "--board"],
            "b1.pdf",
            "b2.pdf",
        ),
    ] {
        let (a, b) = (print(&t, &what, a), print(&t, &what, b));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{what:?}: two prints differ"
        );
    }
}

#[test]
fn a_notice_board_shows_code_leader_phone_and_supervision_phone() {
    let t = town();
    let (code, phone) = &t.grids[3];
    let pdf = print(
        &t,
        &["--grid", code, "--board", "--supervision", "0512-12345"],
        "board.pdf",
    );
    let text = tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
    assert!(text.contains(code.as_str()), "{text}");
    assert!(text.contains(phone.as_str()), "{text}");
    assert!(text.contains("监督电话"), "{text}");
    assert!(text.contains("0512-12345"), "{text}");
    assert!(text.contains("网格长") && text.contains("网格员"), "{text}");
    let (w, h) = page_size(&pdf);
    assert!(
        (w - mm_pt(210.0)).abs() < 1.0 && (h - mm_pt(297.0)).abs() < 1.0,
        "A4: {w}×{h}"
    );
    let pages = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    assert!(pages
        .lines()
        .any(|l| l.starts_with("Pages:") && l.trim_end().ends_with(" 1")));
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let t = town();
    let db = t.db.to_str().unwrap();
    let out = t.dir().join("x.pdf");
    let out = out.to_str().unwrap();
    let err = |args: &[&str]| {
        let o = wangge(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = err(&[
        "print",
        "--village",
        "320583104999",
        "--out",
        out,
        "--db",
        db,
    ]);
    assert!(e.contains("village 320583104999: not in the store"), "{e}");
    assert!(
        e.contains(VILLAGE),
        "the error lists villages there are: {e}"
    );
    let e = err(&[
        "print",
        "--village",
        VILLAGE,
        "--paper",
        "B5",
        "--out",
        out,
        "--db",
        db,
    ]);
    assert!(e.contains("paper `B5`: unknown"), "{e}");
    let e = err(&["print", "--town", "999999999", "--out", out, "--db", db]);
    assert!(e.contains("town 999999999"), "{e}");
    let e = err(&[
        "print",
        "--grid",
        "320583104001999",
        "--board",
        "--out",
        out,
        "--db",
        db,
    ]);
    assert!(
        e.contains("grid 320583104001999: not in any village's active plan"),
        "{e}"
    );
    let e = err(&["print", "--village", VILLAGE, "--out", "x.doc", "--db", db]);
    assert!(e.contains("x.doc: unknown output format"), "{e}");
    let e = err(&[
        "print",
        "--village",
        VILLAGE,
        "--font",
        "/etc/hostname",
        "--out",
        out,
        "--db",
        db,
    ]);
    assert!(
        e.contains("/etc/hostname: is not a TrueType/OpenType font"),
        "{e}"
    );
    assert!(!Path::new(out).exists(), "nothing written on error");
}

#[test]
fn the_map_service_prints_a_village_as_pdf() {
    let t = town();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = wangge::store::Store::open(t.db.to_str().unwrap())
            .await
            .unwrap();
        let svc = Arc::new(
            wangge::serve::Service::load(
                Arc::new(wangge::serve::StoreSource::new(store.clone())),
                wangge::serve::Config::default(),
            )
            .await
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(std::future::IntoFuture::into_future(axum::serve(
            listener,
            wangge::serve::router(svc),
        )));
        // A printed map lists grid workers and their phones: anonymous visitors get 401.
        let anon = reqwest::Client::new()
            .get(format!("{base}/api/print?village={VILLAGE}&paper=A3"))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status(), 401);
        let c = common::auth::cookie_client(
            &common::auth::session(&store, "printer", wangge::accounts::Role::Worker).await,
        );
        let r = c
            .get(format!("{base}/api/print?village={VILLAGE}&paper=A3"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let body = r.bytes().await.unwrap();
        assert!(body.starts_with(b"%PDF-"));
        let pdf = t.dir().join("http.pdf");
        std::fs::write(&pdf, &body).unwrap();
        let text = tool("pdftotext", &[pdf.to_str().unwrap(), "-"]);
        for (code, phone) in t.of_village(VILLAGE) {
            assert!(text.contains(code.as_str()) && text.contains(phone.as_str()));
        }
        // the same bytes as the command line's
        let cli = print(&t, &["--village", VILLAGE, "--paper", "A3"], "cli.pdf");
        assert!(
            std::fs::read(cli).unwrap() == body.to_vec(),
            "HTTP and CLI PDFs differ"
        );
        for (q, status, says) in [
            ("village=320583104999", 404, "not in the store"),
            (
                &format!("village={VILLAGE}&paper=B5") as &str,
                400,
                "paper `B5`: unknown",
            ),
            ("", 400, "exactly one of"),
        ] {
            let r = c.get(format!("{base}/api/print?{q}")).send().await.unwrap();
            assert_eq!(r.status(), status, "{q}");
            let j: serde_json::Value = r.json().await.unwrap();
            assert!(j["error"].as_str().unwrap().contains(says), "{q}: {j}");
        }
    });
}
