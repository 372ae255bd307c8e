//! The same town (fixtures/shanghai) as GeoJSON/WGS84, Shapefiles in CGCS2000 3° Gauss–Krüger
//! zones with GBK DBFs (one of them zipped), a GeoPackage in a 6° zone, KML and GCJ-02 GeoJSON
//! reads into the same dataset (names, households, coordinates within 1 mm) and partitions into
//! the same grids. The files are made at test time with GDAL's ogr2ogr (scripts/setup installs
//! it) in a temporary folder. Bad files get errors naming the file, feature and field.

mod common;
use common::{tmp, wangge};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use wangge::crs::source::SourceCrs;
use wangge::ingest::fields::FieldMap;
use wangge::ingest::layer::ReadOptions;
use wangge::ingest::register::Line;
use wangge::model::{Dataset, Weight};
use wangge::partition::{partition, Options};

const TOWN: &str = "fixtures/shanghai";
const LAYERS: [&str; 3] = ["villages", "buildings", "barriers"];

fn src(layer: &str) -> String {
    format!("{TOWN}/{layer}.geojson")
}

/// Runs ogr2ogr, panicking with its stderr on failure.
fn ogr(args: &[&str]) {
    let out = Command::new("ogr2ogr")
        .args(args)
        .output()
        .expect("run ogr2ogr (GDAL; scripts/setup installs it)");
    assert!(
        out.status.success(),
        "ogr2ogr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `layer` of the town as a Shapefile `dir/name.shp` in `epsg`, DBF in GBK, `extra` ogr2ogr args.
fn shapefile(dir: &Path, layer: &str, name: &str, epsg: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("{name}.shp"));
    let mut args = vec![
        "-f",
        "ESRI Shapefile",
        "-s_srs",
        "EPSG:4490",
        "-t_srs",
        epsg,
        "-lco",
        "ENCODING=GBK",
        out.to_str().unwrap(),
    ];
    let s = src(layer);
    args.push(&s);
    args.extend_from_slice(extra);
    ogr(&args);
    out
}

fn read(dir: &Path, opts: &ReadOptions) -> Result<Dataset, String> {
    wangge::ingest::read_dir_with(dir, &Weight::Households, opts).map_err(|e| e.to_string())
}

fn baseline() -> &'static (Dataset, Vec<GridRow>) {
    static B: OnceLock<(Dataset, Vec<GridRow>)> = OnceLock::new();
    B.get_or_init(|| {
        let ds = read(Path::new(TOWN), &ReadOptions::default()).unwrap();
        let grids = grids(&ds);
        (ds, grids)
    })
}

/// Metres between two nearby lon/lat points.
fn metres(a: geo::Coord<f64>, b: geo::Coord<f64>) -> f64 {
    let k = 111_319.49;
    ((a.x - b.x) * k * a.y.to_radians().cos()).hypot((a.y - b.y) * k)
}

fn coords_close(what: &str, a: &[geo::Coord<f64>], b: &[geo::Coord<f64>], tol: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "{what}: vertex counts differ");
    let worst = a
        .iter()
        .zip(b)
        .map(|(p, q)| metres(*p, *q))
        .fold(0.0, f64::max);
    assert!(worst < tol, "{what}: a vertex is {worst} m off");
    worst
}

/// Asserts `got` is the baseline town: same villages, buildings, barriers, attributes, and
/// coordinates within `tol` metres; returns the worst coordinate difference.
fn assert_same_town(got: &Dataset, tol: f64) -> f64 {
    use geo::CoordsIter;
    let want = &baseline().0;
    let mut worst = 0.0f64;
    assert_eq!(got.villages.len(), want.villages.len());
    for (g, w) in got.villages.iter().zip(&want.villages) {
        assert_eq!(
            (g.code.as_str(), g.name.as_str(), g.mode),
            (w.code.as_str(), w.name.as_str(), w.mode)
        );
        let (gc, wc): (Vec<_>, Vec<_>) = (
            g.boundary.coords_iter().collect(),
            w.boundary.coords_iter().collect(),
        );
        worst = worst.max(coords_close(g.code.as_str(), &gc, &wc, tol));
    }
    assert_eq!(got.buildings.len(), want.buildings.len());
    for (g, w) in got.buildings.iter().zip(&want.buildings) {
        assert_eq!(
            (
                &g.id,
                g.households,
                g.residents,
                g.kind,
                &g.address,
                g.village
            ),
            (
                &w.id,
                w.households,
                w.residents,
                w.kind,
                &w.address,
                w.village
            )
        );
        match (&g.footprint, &w.footprint) {
            // The point of a footprint is an interior point of it, which may jump with a
            // nanometre change of a vertex: compare the footprints.
            (Some(gf), Some(wf)) => {
                let (gc, wc): (Vec<_>, Vec<_>) =
                    (gf.coords_iter().collect(), wf.coords_iter().collect());
                worst = worst.max(coords_close(&g.id, &gc, &wc, tol));
            }
            _ => {
                worst = worst.max(metres(g.point.0, w.point.0));
                assert!(worst < tol, "building {}: {worst} m off", g.id);
            }
        }
    }
    assert_eq!(got.barriers.len(), want.barriers.len());
    for (g, w) in got.barriers.iter().zip(&want.barriers) {
        assert_eq!((g.class, &g.name), (w.class, &w.name));
        let gc: Vec<_> = g.lines.iter().flat_map(|l| l.0.clone()).collect();
        let wc: Vec<_> = w.lines.iter().flat_map(|l| l.0.clone()).collect();
        worst = worst.max(coords_close("barrier", &gc, &wc, tol));
    }
    worst
}

/// A grid as compared across formats: code, households, residents, buildings.
type GridRow = (String, u64, u64, usize);

fn grids(ds: &Dataset) -> Vec<GridRow> {
    let plan = partition(ds, &Options::default(), &|| {});
    plan.villages
        .iter()
        .flat_map(|v| &v.grids)
        .map(|g| {
            (
                g.code.as_str().to_string(),
                g.figures.households as u64,
                g.figures.residents as u64,
                g.figures.buildings,
            )
        })
        .collect()
}

/// Same town, and partitioned into the same grids.
fn assert_same_plan(ds: &Dataset, what: &str) {
    let worst = assert_same_town(ds, 0.001);
    eprintln!("{what}: worst coordinate difference {:.3} µm", worst * 1e6);
    let want = &baseline().1;
    assert!(!want.is_empty());
    assert_eq!(&grids(ds), want, "{what}: other grids than from GeoJSON");
}

#[test]
fn shapefiles_in_gauss_kruger_zones_with_gbk_dbf_and_a_zip() {
    let dir = tmp();
    // villages and barriers: 3° zone 40 with the zone number in front (EPSG:4528)
    shapefile(dir.path(), "villages", "villages", "EPSG:4528", &[]);
    shapefile(dir.path(), "barriers", "barriers", "EPSG:4528", &[]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("villages.cpg")).unwrap(),
        "GBK"
    );
    // buildings: 3° zone CM 120°E without the number (EPSG:4549), zipped with its .prj and .cpg
    let scratch = tmp();
    shapefile(scratch.path(), "buildings", "buildings", "EPSG:4549", &[]);
    let zip_path = dir.path().join("buildings.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(format!("buildings.{ext}"), opts).unwrap();
        zip.write_all(&std::fs::read(scratch.path().join(format!("buildings.{ext}"))).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
    let ds = read(dir.path(), &ReadOptions::default()).unwrap();
    assert_eq!(ds.villages[0].name, "外滩片区", "GBK names read right");
    assert_same_plan(&ds, "Shapefile GK 3° + zip");

    // No .cpg: the GBK text is detected (it is not valid UTF-8).
    std::fs::remove_file(dir.path().join("villages.cpg")).unwrap();
    let ds = read(dir.path(), &ReadOptions::default()).unwrap();
    assert_eq!(ds.villages[0].name, "外滩片区");
    // A .cpg that says UTF-8 over GBK text: an error naming the file, record and field…
    std::fs::write(dir.path().join("villages.cpg"), "UTF-8").unwrap();
    let e = read(dir.path(), &ReadOptions::default()).unwrap_err();
    for part in ["villages.shp", "feature #0", "\"name\"", "--encoding gbk"] {
        assert!(e.contains(part), "{e:?} does not name {part}");
    }
    // … that --encoding overrides.
    let opts = ReadOptions {
        encoding: wangge::ingest::shp::encoding_from_label("gbk"),
        ..ReadOptions::default()
    };
    assert_eq!(
        read(dir.path(), &opts).unwrap().villages[0].name,
        "外滩片区"
    );
}

#[test]
fn geopackage_in_a_6_degree_zone() {
    let dir = tmp();
    let gpkg = dir.path().join("town.gpkg");
    for (i, layer) in LAYERS.iter().enumerate() {
        let g = gpkg.to_str().unwrap();
        let s = src(layer);
        let mut args = vec!["-f", "GPKG"];
        if i > 0 {
            args.push("-update");
        }
        args.extend_from_slice(&[g, &s, "-nln", layer, "-s_srs", "EPSG:4490"]);
        args.extend_from_slice(&["-t_srs", "EPSG:4510"]); // 6° zone CM 123°E, no prefix
        ogr(&args);
    }
    let ds = read(dir.path(), &ReadOptions::default()).unwrap();
    assert_same_plan(&ds, "GeoPackage GK 6°");
    // The same through the command line, and into a store with `wangge import`.
    let out = dir.path().join("out");
    let (ok, _, err) = wangge(&[
        "partition",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(ok, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["totals"]["grids"].as_u64().unwrap() as usize,
        baseline().1.len()
    );
    let db = dir.path().join("store.gpkg");
    let (ok, stdout, err) = wangge(&[
        "import",
        dir.path().to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("3 villages, 1282 buildings, 628 barriers"),
        "{stdout}"
    );
    // `wangge import town.gpkg`: a town's GeoPackage (not a store) is read as its layers.
    let db2 = dir.path().join("store2.gpkg");
    let (ok, stdout, err) = wangge(&[
        "import",
        gpkg.to_str().unwrap(),
        "--db",
        db2.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("3 villages, 1282 buildings, 628 barriers"),
        "{stdout}"
    );
    // and the store it made is one: imported again, it is read as a store
    let db3 = dir.path().join("store3.gpkg");
    let (ok, stdout, err) = wangge(&[
        "import",
        db2.to_str().unwrap(),
        "--db",
        db3.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("3 villages, 1282 buildings, 628 barriers"),
        "{stdout}"
    );
}

#[test]
fn kml() {
    let dir = tmp();
    for layer in LAYERS {
        let out = dir.path().join(format!("{layer}.kml"));
        ogr(&["-f", "KML", out.to_str().unwrap(), &src(layer)]);
    }
    let ds = read(dir.path(), &ReadOptions::default()).unwrap();
    assert_same_plan(&ds, "KML");
}

/// Every coordinate of a GeoJSON value moved by `f`.
fn map_json_coords(v: &mut serde_json::Value, f: &impl Fn(f64, f64) -> (f64, f64)) {
    match v {
        serde_json::Value::Array(a) if a.len() >= 2 && a.iter().all(|x| x.is_number()) => {
            let (x, y) = f(a[0].as_f64().unwrap(), a[1].as_f64().unwrap());
            a[0] = x.into();
            a[1] = y.into();
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| map_json_coords(x, f)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| map_json_coords(x, f)),
        _ => {}
    }
}

#[test]
fn gcj02_geojson_with_crs_flag() {
    let dir = tmp();
    for layer in LAYERS {
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(src(layer)).unwrap()).unwrap();
        for f in doc["features"].as_array_mut().unwrap() {
            map_json_coords(&mut f["geometry"], &wangge::crs::wgs84_to_gcj02);
        }
        std::fs::write(dir.path().join(format!("{layer}.geojson")), doc.to_string()).unwrap();
    }
    // Read as WGS84 the town is hundreds of metres off…
    let shifted = read(dir.path(), &ReadOptions::default()).unwrap();
    let off = metres(
        shifted.buildings[0].point.0,
        baseline().0.buildings[0].point.0,
    );
    assert!(off > 100.0, "{off}");
    // …with --crs gcj02 it is back in place.
    let opts = ReadOptions {
        crs: Some("gcj02".parse::<SourceCrs>().unwrap()),
        ..ReadOptions::default()
    };
    assert_same_plan(&read(dir.path(), &opts).unwrap(), "GCJ-02 GeoJSON");
    // Mixed: survey Shapefiles in a GK zone, buildings drawn on Amap; `--crs buildings=gcj02`.
    for layer in ["villages", "barriers"] {
        std::fs::remove_file(dir.path().join(format!("{layer}.geojson"))).unwrap();
        shapefile(dir.path(), layer, layer, "EPSG:4528", &[]);
    }
    let out = dir.path().join("out");
    let (ok, stdout, err) = wangge(&[
        "partition",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--crs",
        "buildings=gcj02",
    ]);
    assert!(ok, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let hh: f64 = baseline().1.iter().map(|g| g.1 as f64).sum();
    assert_eq!(
        report["totals"]["grids"].as_u64().unwrap() as usize,
        baseline().1.len(),
        "{stdout}"
    );
    assert_eq!(
        report["totals"]["households"].as_f64(),
        Some(hh),
        "{}",
        report["totals"]
    );
}

#[test]
fn renamed_columns_are_mapped() {
    let dir = tmp();
    shapefile(
        dir.path(),
        "villages",
        "villages",
        "EPSG:4528",
        &[
            "-sql",
            "SELECT code AS XZQDM, name AS MC, mode FROM villages",
        ],
    );
    shapefile(
        dir.path(),
        "buildings",
        "buildings",
        "EPSG:4528",
        &[
            "-sql",
            "SELECT id AS BH, households AS HS, residents AS RK, kind, address FROM buildings",
        ],
    );
    std::fs::write(
        dir.path().join("map.toml"),
        "# village columns\n[villages]\ncode = \"XZQDM\"\nname = \"MC\"\n",
    )
    .unwrap();
    let mut fields = FieldMap::default();
    fields.add_file(&dir.path().join("map.toml")).unwrap();
    for f in ["buildings.id=BH", "households=HS", "residents=RK"] {
        fields.add_arg(f).unwrap();
    }
    let opts = ReadOptions {
        fields: fields.clone(),
        ..ReadOptions::default()
    };
    let ds = read(dir.path(), &opts).unwrap();
    assert_eq!(ds.villages[0].name, "外滩片区");
    assert_eq!(ds.buildings.len(), baseline().0.buildings.len());
    for (g, w) in ds.buildings.iter().zip(&baseline().0.buildings) {
        assert_eq!(
            (&g.id, g.households, g.residents),
            (&w.id, w.households, w.residents)
        );
    }
    // From the command line: a column no layer has is named, with the columns there are.
    let out = dir.path().join("out");
    let (ok, _, err) = wangge(&[
        "partition",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--field-map",
        dir.path().join("map.toml").to_str().unwrap(),
        "--field",
        "buildings.id=BH",
        "--field",
        "households=HHX",
    ]);
    assert!(!ok);
    for part in ["households=HHX", "\"HHX\"", "buildings.shp has", "HS"] {
        assert!(err.contains(part), "{err:?} does not name {part}");
    }
    assert_eq!(err.lines().count(), 1, "{err}");
    // and with the right mapping it partitions
    let (ok, _, err) = wangge(&[
        "partition",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--field-map",
        dir.path().join("map.toml").to_str().unwrap(),
        "--field",
        "buildings.id=BH",
        "--field",
        "households=HS",
    ]);
    assert!(ok, "{err}");
}

#[test]
fn a_missing_mapped_value_names_the_file_feature_and_column() {
    let dir = tmp();
    shapefile(dir.path(), "villages", "villages", "EPSG:4528", &[]);
    shapefile(
        dir.path(),
        "buildings",
        "buildings",
        "EPSG:4528",
        &[
            "-dialect",
            "SQLite",
            "-sql",
            "SELECT id, CASE WHEN rowid = 2 THEN NULL ELSE households END AS HS, residents, kind, geometry FROM buildings",
        ],
    );
    let mut fields = FieldMap::default();
    fields.add_arg("households=HS").unwrap();
    let opts = ReadOptions {
        fields,
        ..ReadOptions::default()
    };
    let e = read(dir.path(), &opts).unwrap_err();
    let id = &baseline().0.buildings[2].id;
    for part in [
        "buildings.shp",
        "feature #2",
        id.as_str(),
        "\"HS (as households)\"",
        "missing",
    ] {
        assert!(e.contains(part), "{e:?} does not name {part}");
    }
}

#[test]
fn a_shapefile_without_prj_or_in_an_unknown_crs_is_refused() {
    let dir = tmp();
    shapefile(dir.path(), "villages", "villages", "EPSG:4528", &[]);
    shapefile(dir.path(), "buildings", "buildings", "EPSG:4528", &[]);
    std::fs::remove_file(dir.path().join("buildings.prj")).unwrap();
    let e = read(dir.path(), &ReadOptions::default()).unwrap_err();
    for part in ["buildings.shp", "no .prj", "--crs"] {
        assert!(e.contains(part), "{e:?} does not name {part}");
    }
    // --crs supplies it
    let opts = ReadOptions {
        crs: Some("EPSG:4528".parse().unwrap()),
        ..ReadOptions::default()
    };
    assert_eq!(read(dir.path(), &opts).unwrap().buildings.len(), 1282);
    // the wrong --crs (no zone number in front) is caught by the eastings
    let opts = ReadOptions {
        crs: Some("EPSG:4549".parse().unwrap()),
        ..ReadOptions::default()
    };
    let e = read(dir.path(), &opts).unwrap_err();
    for part in [
        "villages.shp",
        "feature #0",
        "\"geometry\"",
        "zone number in front",
    ] {
        assert!(e.contains(part), "{e:?} does not name {part}");
    }
    // a .prj in a CRS wangge does not know (Lambert-93), and Xi'an 80
    let other = tmp();
    shapefile(other.path(), "villages", "x", "EPSG:2154", &[]);
    std::fs::copy(other.path().join("x.prj"), dir.path().join("buildings.prj")).unwrap();
    let e = read(dir.path(), &ReadOptions::default()).unwrap_err();
    for part in ["buildings.prj", "unknown coordinate system", "Lambert"] {
        assert!(e.contains(part), "{e:?} does not name {part}");
    }
    let (ok, _, err) = wangge(&[
        "partition",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
        "--quiet",
        "--crs",
        "EPSG:2383",
    ]);
    assert!(!ok);
    assert!(err.contains("Xi'an 1980") && err.contains("--crs"), "{err}");
}

#[test]
fn two_files_for_one_layer_are_refused() {
    let dir = tmp();
    std::fs::copy(src("villages"), dir.path().join("villages.geojson")).unwrap();
    ogr(&[
        "-f",
        "KML",
        dir.path().join("villages.kml").to_str().unwrap(),
        &src("villages"),
    ]);
    std::fs::copy(src("buildings"), dir.path().join("buildings.geojson")).unwrap();
    let e = read(dir.path(), &ReadOptions::default()).unwrap_err();
    assert!(
        e.contains("villages.geojson, villages.kml") && e.contains("keep one"),
        "{e}"
    );
}

#[test]
fn a_person_register_in_gbk_sets_households_and_lists_unmatched_lines() {
    let (b0, b1) = (
        baseline().0.buildings[0].id.clone(),
        baseline().0.buildings[1].id.clone(),
    );
    let fullwidth: String = b1
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            c => c,
        })
        .collect();
    let csv = format!(
        "楼栋编号,户号,姓名\n{b0},H1,张三\n{b0},H1,李四\n{b0},H2,王五\nX-404,H9,赵六\n{fullwidth},H3,钱七\n,H4,孙八\n"
    );
    let dir = tmp();
    let file = dir.path().join("人口.csv");
    std::fs::write(&file, encoding_rs::GBK.encode(&csv).0).unwrap();
    let mut ds = baseline().0.clone();
    let spec = wangge::ingest::register::RegisterSpec {
        file: file.clone(),
        sheet: None,
        join: wangge::ingest::register::JoinBy::BuildingId,
        key: "楼栋编号".into(),
        household: Some("户号".into()),
        residents: None,
    };
    let r = wangge::ingest::register::apply(&mut ds, &spec).unwrap();
    assert_eq!((r.rows, r.matched, r.buildings), (6, 4, 2));
    assert_eq!(
        r.unmatched,
        vec![
            (Line::at(5), "X-404".to_string()),
            (Line::at(7), String::new())
        ]
    );
    assert_eq!(
        (ds.buildings[0].households, ds.buildings[0].residents),
        (2, 3)
    );
    assert_eq!(
        (ds.buildings[1].households, ds.buildings[1].residents),
        (1, 1)
    );
    let other = &baseline().0.buildings[2];
    assert_eq!(
        ds.buildings[2].households, other.households,
        "not in the register"
    );
    // A column that is not there is named, with the columns there are.
    let bad = wangge::ingest::register::RegisterSpec {
        key: "building_id".into(),
        ..spec
    };
    let e = wangge::ingest::register::apply(&mut ds, &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"building_id\"") && e.contains("楼栋编号, 户号, 姓名"),
        "{e}"
    );
    // From the command line: the summary names the unmatched lines.
    let out = dir.path().join("out");
    let (ok, _, err) = wangge(&[
        "partition",
        TOWN,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--register",
        file.to_str().unwrap(),
        "--register-key",
        "楼栋编号",
        "--register-household",
        "户号",
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("6 rows, 4 matched (2 buildings); 2 match no building: line 5 (\"X-404\"), line 7 (\"\")"),
        "{err}"
    );
}

#[test]
fn villages_with_holes_and_pieces_survive_shapefile_and_kml() {
    use geo::{Area, CoordsIter};
    let town = tmp();
    wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households: 3000,
        seed: 5,
        odd_shapes: true,
    })
    .write_dir(town.path())
    .unwrap();
    let want = read(town.path(), &ReadOptions::default()).unwrap();
    let holes: usize = want
        .villages
        .iter()
        .flat_map(|v| &v.boundary.0)
        .map(|p| p.interiors().len())
        .sum();
    let pieces = want
        .villages
        .iter()
        .filter(|v| v.boundary.0.len() > 1)
        .count();
    assert!(
        holes > 0 && pieces > 0,
        "holes {holes}, villages in pieces {pieces}"
    );
    let g = |l: &str| {
        town.path()
            .join(format!("{l}.geojson"))
            .to_str()
            .unwrap()
            .to_string()
    };
    for (fmt, ext) in [("ESRI Shapefile", "shp"), ("KML", "kml")] {
        let dir = tmp();
        for l in ["villages", "groups", "barriers"] {
            let out = dir.path().join(format!("{l}.{ext}"));
            let mut args = vec!["-f", fmt, out.to_str().unwrap()];
            let src = g(l);
            args.push(&src);
            if ext == "shp" {
                args.extend_from_slice(&["-s_srs", "EPSG:4490", "-t_srs", "EPSG:4528"]);
            }
            ogr(&args);
        }
        std::fs::copy(g("buildings"), dir.path().join("buildings.geojson")).unwrap();
        let got = read(dir.path(), &ReadOptions::default()).unwrap();
        assert_eq!(got.villages.len(), want.villages.len());
        for (a, b) in got.villages.iter().zip(&want.villages) {
            assert_eq!(
                a.boundary.0.len(),
                b.boundary.0.len(),
                "{ext}: {} pieces",
                a.code
            );
            let ih = |v: &wangge::model::Village| -> Vec<usize> {
                v.boundary.0.iter().map(|p| p.interiors().len()).collect()
            };
            assert_eq!(ih(a), ih(b), "{ext}: {} holes", a.code);
            let (x, y) = (a.boundary.unsigned_area(), b.boundary.unsigned_area());
            assert!((x - y).abs() < 1e-9 * y, "{ext}: {} area", a.code);
            assert_eq!(a.boundary.coords_count(), b.boundary.coords_count());
        }
        assert_eq!(got.groups.len(), want.groups.len(), "{ext}");
        assert_eq!(got.barriers.len(), want.barriers.len(), "{ext}");
        let hh = |d: &Dataset| {
            d.buildings
                .iter()
                .map(|b| (b.village, b.households))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            hh(&got),
            hh(&want),
            "{ext}: buildings fall in the same villages"
        );
    }
}

/// A person register as an Excel workbook (written by GDAL, not by us) joined by address, with
/// the loose addresses a town office types: full-width digits, with and without province, city
/// and district. Rows that match nothing, or more than one building, are listed by their Excel
/// row, with the candidates; the rest are summed per building.
#[test]
fn an_excel_register_joins_by_loose_address_and_lists_what_it_cannot() {
    let ds0 = &baseline().0;
    let by_address = |a: &str| {
        ds0.buildings
            .iter()
            .position(|b| b.address.as_deref() == Some(a))
            .unwrap_or_else(|| panic!("no building at {a}"))
    };
    let (a, b) = (by_address("世纪大道100号"), by_address("圆明园路133号"));
    let dir = tmp();
    let csv = dir.path().join("register.csv");
    // Row 2.. as Excel numbers them (row 1 is the header). 户号 is numeric: GDAL stores it as a
    // number, as Excel would.
    std::fs::write(
        &csv,
        "地址,户号,人数\n\
         上海市浦东新区世纪大道１００号,1,3\n\
         浦东新区世纪大道100号,2,2\n\
         世纪大道100号,2,1\n\
         上海市黄浦区圆明园路１３３号,7,4\n\
         火星路1号,9,2\n\
         ,10,1\n",
    )
    .unwrap();
    let xlsx = dir.path().join("实有人口.xlsx");
    ogr(&[
        "-f",
        "XLSX",
        xlsx.to_str().unwrap(),
        csv.to_str().unwrap(),
        "-nln",
        "人口",
        "-oo",
        "AUTODETECT_TYPE=YES",
    ]);
    let mut ds = ds0.clone();
    let spec = wangge::ingest::register::RegisterSpec {
        file: xlsx.clone(),
        sheet: Some("人口".into()),
        join: wangge::ingest::register::JoinBy::Address,
        key: "地址".into(),
        household: Some("户号".into()),
        residents: Some("人数".into()),
    };
    let r = wangge::ingest::register::apply(&mut ds, &spec).unwrap();
    assert_eq!((r.rows, r.matched, r.buildings), (6, 4, 2), "{r:?}");
    assert_eq!(
        (ds.buildings[a].households, ds.buildings[a].residents),
        (2, 6),
        "households 1 and 2; 3 + 2 + 1 residents"
    );
    assert_eq!(
        (ds.buildings[b].households, ds.buildings[b].residents),
        (1, 4)
    );
    let unmatched: Vec<usize> = r.unmatched.iter().map(|(l, _)| l.row).collect();
    let uncertain: Vec<usize> = r.uncertain.iter().map(|(l, _, _)| l.row).collect();
    let mut listed = [unmatched.clone(), uncertain.clone()].concat();
    listed.sort();
    assert_eq!(
        listed,
        vec![6, 7],
        "unmatched {unmatched:?}, uncertain {uncertain:?}"
    );
    // A sheet that is not there is named, with the sheets there are.
    let bad = wangge::ingest::register::RegisterSpec {
        sheet: Some("Sheet9".into()),
        ..spec
    };
    let e = wangge::ingest::register::apply(&mut ds, &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("实有人口.xlsx") && e.contains("\"Sheet9\"") && e.contains("人口"),
        "{e}"
    );
    // From the command line, by the flags: the summary names the rows left out.
    let out = dir.path().join("out");
    let (ok, _, err) = wangge(&[
        "partition",
        TOWN,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--register",
        xlsx.to_str().unwrap(),
        "--register-key",
        "address",
        "--register-column",
        "地址",
        "--register-household",
        "户号",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("6 rows, 4 matched (2 buildings)"), "{err}");
    assert!(err.contains("line 6 (\"火星路1号\""), "{err}");
}

/// A person register too long for one sheet (Excel holds 1,048,576 rows a sheet) runs on over
/// several sheets with the same header: all of them are read, a sheet with another table (notes)
/// is not, and a row that matches no building is named by its sheet and row. Before, only the
/// first sheet was read: three quarters of a 4M-person register were dropped without a word.
#[test]
fn a_register_running_over_several_sheets_is_read_whole() {
    let ds0 = &baseline().0;
    let id = |i: usize| ds0.buildings[i].id.clone();
    let dir = tmp();
    let part = |name: &str, text: String| {
        let csv = dir.path().join(format!("{name}.csv"));
        std::fs::write(&csv, text).unwrap();
        csv
    };
    let one = part(
        "one",
        format!("楼号,户号\n{0},1\n{0},2\n{1},1\n", id(0), id(1)),
    );
    let two = part(
        "two",
        format!("楼号,户号\n{},2\n{},1\nX-9,1\n", id(1), id(2)),
    );
    let notes = part("notes", "项目,内容\n来源,派出所\n".into());
    let xlsx = dir.path().join("实有人口.xlsx");
    for (i, (csv, sheet)) in [(&one, "人口1"), (&two, "人口2"), (&notes, "说明")]
        .into_iter()
        .enumerate()
    {
        let mut args = vec!["-f", "XLSX"];
        if i > 0 {
            args.push("-update");
        }
        args.extend([xlsx.to_str().unwrap(), csv.to_str().unwrap(), "-nln", sheet]);
        ogr(&args);
    }
    let mut ds = ds0.clone();
    let spec = wangge::ingest::register::RegisterSpec {
        file: xlsx.clone(),
        sheet: None,
        join: wangge::ingest::register::JoinBy::BuildingId,
        key: "楼号".into(),
        household: Some("户号".into()),
        residents: None,
    };
    let r = wangge::ingest::register::apply(&mut ds, &spec).unwrap();
    assert_eq!(r.sheets, vec!["人口1".to_string(), "人口2".to_string()]);
    assert_eq!((r.rows, r.matched, r.buildings), (6, 5, 3), "{r:?}");
    let households: Vec<u64> = (0..3).map(|i| ds.buildings[i].households).collect();
    assert_eq!(
        households,
        vec![2, 2, 1],
        "building 1's households are on both sheets"
    );
    assert_eq!(
        r.unmatched,
        vec![(
            Line {
                sheet: Some("人口2".into()),
                row: 4
            },
            "X-9".to_string()
        )]
    );
    // One sheet named: that sheet alone, rows known by number.
    let r = wangge::ingest::register::apply(
        &mut ds0.clone(),
        &wangge::ingest::register::RegisterSpec {
            sheet: Some("人口2".into()),
            ..spec
        },
    )
    .unwrap();
    assert_eq!((r.rows, r.sheets.len()), (3, 1));
    assert_eq!(r.unmatched, vec![(Line::at(4), "X-9".to_string())]);
    // From the command line: the summary says which sheets it read and names the row.
    let out = dir.path().join("out");
    let (ok, _, err) = wangge(&[
        "partition",
        TOWN,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--register",
        xlsx.to_str().unwrap(),
        "--register-key",
        "楼号",
        "--register-household",
        "户号",
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("6 rows in 2 sheets (人口1, 人口2), 5 matched (3 buildings)"),
        "{err}"
    );
    assert!(err.contains("sheet \"人口2\" row 4 (\"X-9\")"), "{err}");
}

/// Village codes and names are checked against the national division list: a known code under
/// another name, and a township that does not exist, are warnings naming both; the plan is made.
#[test]
fn village_codes_and_names_are_checked_against_the_division_list() {
    let dir = tmp();
    for layer in LAYERS {
        let text = std::fs::read_to_string(src(layer)).unwrap();
        let text = match layer {
            "villages" => text
                .replace("310101013001", "110101001001")
                .replace("310109018001", "310109999001"),
            _ => text,
        };
        std::fs::write(dir.path().join(format!("{layer}.geojson")), text).unwrap();
    }
    let out = dir.path().join("out");
    let (ok, _, err) = wangge(&[
        "partition",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(ok, "{err}");
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("division list"))
        .collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(
        warnings[0].contains("110101001001")
            && warnings[0].contains("外滩片区")
            && warnings[0].contains("多福巷社区居委会"),
        "{err}"
    );
    assert!(
        warnings[1].contains("310109999001")
            && warnings[1].contains("北外滩片区")
            && warnings[1].contains("township 310109999"),
        "{err}"
    );
    // the real codes of the fixture pass
    let (ok, _, err) = wangge(&["partition", TOWN, "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(ok && !err.contains("division list"), "{err}");
}

/// One layer file as the planner's editor brings it in (`ingest::read_layer_upload`): the
/// villages as a GeoPackage in a 6° zone, a zipped GBK Shapefile in a 3° zone and GeoJSON come
/// back in lon/lat within 1 cm of the source with their names; a file that is not a layer, a
/// Shapefile without its `.prj` and a CRS that cannot be the file's are refused, naming the file.
#[test]
fn one_layer_file_in_any_format_reads_back_in_lon_lat() {
    let dir = tempfile::tempdir().unwrap();
    let source: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src("villages")).unwrap()).unwrap();
    let rings = |feats: &[serde_json::Value]| -> Vec<(String, Vec<geo::Coord<f64>>)> {
        feats
            .iter()
            .map(|f| {
                let ring = f["geometry"]["coordinates"][0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| geo::coord! { x: c[0].as_f64().unwrap(), y: c[1].as_f64().unwrap() })
                    .collect();
                (f["properties"]["name"].as_str().unwrap().to_string(), ring)
            })
            .collect()
    };
    let want = rings(source["features"].as_array().unwrap());
    let gpkg = dir.path().join("villages.gpkg");
    let (g, s) = (gpkg.to_str().unwrap(), src("villages"));
    ogr(&[
        "-f",
        "GPKG",
        "-s_srs",
        "EPSG:4490",
        "-t_srs",
        "EPSG:4490",
        g,
        &s,
    ]);
    let gk6 = dir.path().join("gk6.gpkg");
    ogr(&[
        "-f",
        "GPKG",
        "-t_srs",
        "EPSG:4510",
        gk6.to_str().unwrap(),
        g,
    ]);
    let shp = shapefile(dir.path(), "villages", "villages", "EPSG:4528", &[]);
    let zip_path = dir.path().join("villages.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        let p = shp.with_extension(ext);
        if p.exists() {
            zip.start_file(
                format!("villages.{ext}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            std::io::Write::write_all(&mut zip, &std::fs::read(&p).unwrap()).unwrap();
        }
    }
    zip.finish().unwrap();
    for (name, path) in [
        ("villages.gpkg", gk6.clone()),
        ("villages.zip", zip_path.clone()),
        ("villages.geojson", PathBuf::from(src("villages"))),
    ] {
        let bytes = std::fs::read(&path).unwrap();
        let feats = wangge::ingest::read_layer_upload(name, &bytes, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<serde_json::Value> = feats
            .iter()
            .map(|f| serde_json::to_value(f).unwrap())
            .collect();
        let got = rings(&got);
        assert_eq!(got.len(), want.len(), "{name}");
        for ((gn, gr), (wn, wr)) in got.iter().zip(&want) {
            assert_eq!(gn, wn, "{name}: names read right (GBK in the DBF)");
            let worst = coords_close(name, gr, wr, 0.01);
            assert!(worst < 0.01, "{name}: {wn} off by {worst} m");
        }
    }
    let err = |name: &str, bytes: &[u8], crs: Option<&str>| {
        let crs = crs.map(|c| c.parse::<wangge::crs::source::SourceCrs>().unwrap());
        wangge::ingest::read_layer_upload(name, bytes, crs.as_ref())
            .unwrap_err()
            .to_string()
    };
    let e = err("notes.txt", b"1 2 3", None);
    assert!(
        e.starts_with("notes.txt: ") && e.contains("not a layer file"),
        "{e}"
    );
    let e = err("villages.shp", &std::fs::read(&shp).unwrap(), None);
    assert!(
        e.starts_with("villages.shp") && (e.contains(".dbf") || e.contains(".prj")),
        "{e}"
    );
    let e = err(
        "villages.zip",
        &std::fs::read(&zip_path).unwrap(),
        Some("EPSG:4490"),
    );
    assert!(
        e.starts_with("villages.zip") && e.contains("EPSG:4490"),
        "{e}"
    );
    assert!(
        !std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .any(|d| d
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("wangge-upload-{}-", std::process::id()))),
        "the scratch folders are removed"
    );
}

/// The editor's GeoPackage export (`store::layer_file`): two layers written in one file read back
/// by GDAL and by our reader with their types (whole numbers, reals, text, nulls, Chinese); a bad
/// layer name is refused and nothing is left behind.
#[test]
fn feature_layers_written_as_a_geopackage_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let villages: geojson::FeatureCollection = std::fs::read_to_string(src("villages"))
        .unwrap()
        .parse()
        .unwrap();
    let mut grids = villages.features.clone();
    for (i, f) in grids.iter_mut().enumerate() {
        f.set_property("households", 300 + i as i64);
        f.set_property("share", 0.25 + i as f64);
        f.set_property(
            "note",
            if i % 2 == 0 {
                serde_json::Value::Null
            } else {
                "有".into()
            },
        );
    }
    let points: Vec<geojson::Feature> = (0..3)
        .map(|i| geojson::Feature {
            geometry: Some(geojson::Geometry::new(geojson::GeometryValue::new_point([
                121.49 + f64::from(i) * 0.001,
                31.23,
            ]))),
            properties: Some(
                serde_json::json!({"id": format!("B{i}"), "grid_code": "310101013001001"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            ..Default::default()
        })
        .collect();
    use wangge::store::layer_file::{write_feature_gpkg, FeatureLayer};
    let path = dir.path().join("draft.gpkg");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let layers = [
        FeatureLayer {
            name: "grids",
            description: "网格草稿",
            features: &grids,
        },
        FeatureLayer {
            name: "buildings",
            description: "建筑",
            features: &points,
        },
    ];
    rt.block_on(write_feature_gpkg(&path, &layers)).unwrap();
    let info = Command::new("ogrinfo")
        .args(["-so", "-al", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success() && info.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(
        text.contains("Layer name: grids") && text.contains("Layer name: buildings"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Feature Count: {}", grids.len()))
            && text.contains("Feature Count: 3"),
        "{text}"
    );
    assert!(
        text.contains("households: Integer")
            && text.contains("share: Real")
            && text.contains("note: String"),
        "{text}"
    );
    let back = wangge::ingest::read_layer_file(&path.with_extension("gpkg"), None);
    // two tables: our reader asks which
    assert!(back.unwrap_err().to_string().contains("grids"));
    let one = dir.path().join("one.gpkg");
    rt.block_on(write_feature_gpkg(&one, &layers[..1])).unwrap();
    let back = wangge::ingest::read_layer_file(&one, None).unwrap();
    for (a, b) in back.iter().zip(&grids) {
        for k in ["code", "name", "households", "share", "note"] {
            assert_eq!(a.property(k), b.property(k), "{k}");
        }
    }
    let bad = FeatureLayer {
        name: "grids; DROP",
        description: "",
        features: &grids,
    };
    let e = rt
        .block_on(write_feature_gpkg(&dir.path().join("bad.gpkg"), &[bad]))
        .unwrap_err();
    assert!(e.to_string().contains("grids; DROP"), "{e}");
    assert!(!dir.path().join("bad.gpkg").exists());
}
