//! wangge's own Transverse Mercator (Krüger series) and CRS handling against PROJ's outputs
//! (`fixtures/proj/reference.csv`, made with pyproj: see its README), and the errors a file in
//! the wrong CRS gets.

use wangge::crs::source::{CrsKind, SourceCrs};
use wangge::crs::{wgs84_to_gcj02, Crs};

struct Ref {
    epsg: u32,
    x: f64,
    y: f64,
    lon: f64,
    lat: f64,
}

fn reference() -> Vec<Ref> {
    let text = std::fs::read_to_string("fixtures/proj/reference.csv").unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Ref {
                epsg: c[0].parse().unwrap(),
                x: c[1].parse().unwrap(),
                y: c[2].parse().unwrap(),
                lon: c[3].parse().unwrap(),
                lat: c[4].parse().unwrap(),
            }
        })
        .collect()
}

/// Ground distance in metres between two nearby lon/lat points.
fn metres(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let k = 111_319.49;
    let dx = (lon1 - lon2) * k * lat1.to_radians().cos();
    let dy = (lat1 - lat2) * k;
    dx.hypot(dy)
}

#[test]
fn inverse_matches_proj_to_a_millimetre() {
    let refs = reference();
    assert_eq!(refs.len(), 510);
    let mut worst = (0.0f64, 0u32);
    let mut worst_fwd = 0.0f64;
    for r in &refs {
        let crs = SourceCrs::from_epsg(r.epsg).unwrap();
        let (lon, lat) = crs.to_lonlat(r.x, r.y).unwrap();
        let e = metres(lon, lat, r.lon, r.lat);
        if e > worst.0 {
            worst = (e, r.epsg);
        }
        if let CrsKind::Tm { tm, .. } = crs.kind {
            let (x, y) = tm.forward(r.lon, r.lat);
            worst_fwd = worst_fwd.max((x - r.x).hypot(y - r.y));
        }
    }
    eprintln!(
        "worst inverse error {:.6} mm (EPSG:{}), worst forward error {:.6} mm, over {} points",
        worst.0 * 1000.0,
        worst.1,
        worst_fwd * 1000.0,
        refs.len()
    );
    assert!(worst.0 < 0.001, "inverse off by {} m", worst.0);
    assert!(worst_fwd < 0.001, "forward off by {worst_fwd} m");
}

#[test]
fn every_cgcs2000_zone_is_known() {
    for code in 4491..=4554 {
        let crs = SourceCrs::from_epsg(code).unwrap();
        assert!(crs.name.contains("CGCS2000"), "{code}: {}", crs.name);
    }
    for code in [4326, 4490, 3857, 32650, 32751] {
        SourceCrs::from_epsg(code).unwrap();
    }
}

#[test]
fn eastings_in_the_wrong_zone_convention_are_refused() {
    // CM 117°E (zone 39): 4527 has the zone number in front, 4548 has not.
    let with = SourceCrs::from_epsg(4527).unwrap();
    let without = SourceCrs::from_epsg(4548).unwrap();
    let (x, y) = (39_547_627.381, 3_458_800.037);
    let e = without.to_lonlat(x, y).unwrap_err();
    assert!(
        e.contains("zone number in front") && e.contains("EPSG:4527"),
        "{e}"
    );
    let e = with.to_lonlat(x - 39e6, y).unwrap_err();
    assert!(
        e.contains("no zone number") && e.contains("EPSG:4548"),
        "{e}"
    );
    let e = with.to_lonlat(x + 1e6, y).unwrap_err();
    assert!(e.contains("zone 40") && e.contains("EPSG:4528"), "{e}");
    // a 6° zone easting given to a 3° zone CRS
    let e = with.to_lonlat(20_500_000.0, y).unwrap_err();
    assert!(e.contains("zone 20") && e.contains("EPSG:4498"), "{e}");
}

#[test]
fn chinese_crs_points_outside_china_are_refused() {
    let cgcs = SourceCrs::from_epsg(4490).unwrap();
    assert!(cgcs.to_lonlat(117.5, 31.2).is_ok());
    let e = cgcs.to_lonlat(31.2, 117.5).unwrap_err();
    assert!(e.contains("swapped"), "{e}");
    let e = cgcs.to_lonlat(-71.4, 41.8).unwrap_err();
    assert!(e.contains("outside China"), "{e}");
    // WGS84 is not tied to China.
    assert!(SourceCrs::wgs84().to_lonlat(-71.4, 41.8).is_ok());
}

#[test]
fn old_datums_and_unknown_codes_say_what_to_do() {
    let e = SourceCrs::from_epsg(2383).unwrap_err().to_string();
    assert!(e.contains("Xi'an 1980") && e.contains("7-parameter"), "{e}");
    let e = "EPSG:2415".parse::<SourceCrs>().unwrap_err().to_string();
    assert!(e.contains("Beijing 1954"), "{e}");
    let prj = r#"PROJCS["Xian_1980_3_Degree_GK_CM_117E",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    let e = SourceCrs::from_wkt(prj).unwrap_err().to_string();
    assert!(
        e.contains("Xi'an 1980") && e.contains("Xian_1980_3_Degree_GK_CM_117E"),
        "{e}"
    );
    let e = "EPSG:2154".parse::<SourceCrs>().unwrap_err().to_string();
    assert!(e.contains("EPSG:2154") && e.contains("--crs"), "{e}");
    assert!("tokyo".parse::<SourceCrs>().is_err());
}

#[test]
fn esri_prj_of_a_6_degree_zone_reads_like_its_epsg_code() {
    // as pyproj writes EPSG:4498 in WKT1_ESRI (no EPSG authority in the text)
    let prj = r#"PROJCS["CGCS2000_GK_Zone_20",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",20500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    let from_prj = SourceCrs::from_wkt(prj).unwrap();
    let from_code = SourceCrs::from_epsg(4498).unwrap();
    for r in reference().iter().filter(|r| r.epsg == 4498) {
        let a = from_prj.to_lonlat(r.x, r.y).unwrap();
        let b = from_code.to_lonlat(r.x, r.y).unwrap();
        assert!(metres(a.0, a.1, b.0, b.1) < 1e-6);
    }
    // a 6° zone easting in this CRS says it is the wrong zone
    assert!(from_prj.to_lonlat(39_500_000.0, 3e6).is_err());
}

#[test]
fn gcj02_and_bd09_lonlat_come_back_to_wgs84() {
    let gcj: SourceCrs = "gcj02".parse().unwrap();
    let (lon, lat) = (121.4737, 31.2304);
    let (g, h) = wgs84_to_gcj02(lon, lat);
    let (a, b) = gcj.to_lonlat(g, h).unwrap();
    assert!(metres(a, b, lon, lat) < 0.01, "{}", metres(a, b, lon, lat));
    let (bx, by) = wangge::crs::gcj02_to_bd09(g, h);
    let bd: SourceCrs = "BD-09".parse().unwrap();
    let (a, b) = bd.to_lonlat(bx, by).unwrap();
    assert!(metres(a, b, lon, lat) < 0.01, "{}", metres(a, b, lon, lat));
    assert!(matches!(
        bd.kind,
        CrsKind::LonLat {
            datum: Crs::Bd09,
            ..
        }
    ));
}
