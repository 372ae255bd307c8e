//! Patrol coverage: readers, checks, patrols, every coverage figure on a hand-checked grid, heat,
//! the daily report, the track generator, and H3 cells against the reference `h3` library.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use std::sync::Arc;
use wangge::crs::{wgs84_to_gcj02, Crs, UnknownCrs};
use wangge::model::{Barrier, BarrierClass, Building, BuildingKind, Mode, VillageCode};
use wangge::partition::Figures;
use wangge::patrol::coverage::Metric;
use wangge::patrol::patrols::{days, runs, worker_days};
use wangge::patrol::read::Record;
use wangge::patrol::report::{daily_report, to_csv, Missed};
use wangge::patrol::tracks::{TrackConfig, TrackGen};
use wangge::patrol::*;
use wangge::snapshot::{BuildingView, GridView, Snapshot, VillageView};

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn pt(worker: &str, time: &str, lon: f64, lat: f64) -> PatrolPoint {
    PatrolPoint::new(
        Arc::from(worker),
        t(time),
        lon,
        lat,
        Ok(Crs::Wgs84),
        Some(5.0),
    )
}

fn now() -> DateTime<FixedOffset> {
    t("2026-11-22T12:00:00+08:00")
}

// ---------------------------------------------------------------- readers

#[test]
fn csv_reads_points_and_names_bad_records() {
    let csv = "worker,time,lon,lat,crs,accuracy\n\
               w1,2026-11-20T08:00:00+08:00,116.40,39.90,wgs84,5\n\
               w1,2026-11-20T08:00:10+08:00,116.4001,39.9001,,\n\
               w1,yesterday,116.40,39.90,wgs84,5\n\
               w2,2026-11-20T08:00:00+08:00,east,39.90,wgs84,5\n\
               w2,2026-11-20T08:00:00+08:00,116.40,39.90,gcj02,x\n\
               w2,2026-11-20T08:00:20Z,116.40,39.90,utm,5\n";
    let r = read_csv("a.csv", csv.as_bytes(), &ReadOptions::default()).unwrap();
    assert_eq!(r.points.len(), 3, "{:?}", r.errors);
    assert_eq!(r.points[1].accuracy_m, None);
    assert_eq!(r.points[1].crs, Ok(Crs::Wgs84));
    // An unknown CRS is read; the checks reject it.
    assert_eq!(r.points[2].crs, Err(UnknownCrs("utm".into())));
    let got: Vec<(Record, &str)> = r
        .errors
        .iter()
        .map(|e| match e {
            ReadError::Record { record, field, .. } => (*record, *field),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Record::Line(4), "time"),
            (Record::Line(5), "lon"),
            (Record::Line(6), "accuracy")
        ]
    );
    let msg = r.errors[0].to_string();
    assert!(
        msg.contains("a.csv") && msg.contains("line 4") && msg.contains("`time`"),
        "{msg}"
    );
    // A header without lat is a file error.
    let e = read_csv(
        "b.csv",
        "worker,time,lon\n".as_bytes(),
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("b.csv") && e.to_string().contains("`lat`"),
        "{e}"
    );
}

#[test]
fn csv_gcj02_is_converted_to_wgs84() {
    let (glon, glat) = wgs84_to_gcj02(116.4, 39.9);
    let csv = format!(
        "worker,time,lon,lat,crs,accuracy\nw,2026-11-20T08:00:00+08:00,{glon},{glat},GCJ-02,3\n"
    );
    let r = read_csv("g.csv", csv.as_bytes(), &ReadOptions::default()).unwrap();
    let p = &r.points[0];
    assert_eq!(p.crs, Ok(Crs::Gcj02));
    assert!(
        (p.lon - 116.4).abs() < 1e-7 && (p.lat - 39.9).abs() < 1e-7,
        "{p:?}"
    );
}

#[test]
fn geojson_reads_points_and_names_bad_features() {
    let text = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","geometry":{"type":"Point","coordinates":[116.4,39.9]},
       "properties":{"worker":"w1","time":"2026-11-20T08:00:00+08:00","accuracy":4.5}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[116.4,39.9]},
       "properties":{"time":"2026-11-20T08:00:10+08:00","crs":"bd09"}},
      {"type":"Feature","geometry":{"type":"Point","coordinates":[116.4,39.9]},
       "properties":{"worker":"w1","time":"08:00"}},
      {"type":"Feature","geometry":{"type":"LineString","coordinates":[[116.4,39.9],[116.5,39.9]]},
       "properties":{"worker":"w1","time":"2026-11-20T08:00:00+08:00"}}
    ]}"#;
    let opts = ReadOptions {
        worker: Some("phone-7".into()),
        zone: None,
    };
    let r = read_geojson("p.geojson", text, &opts).unwrap();
    assert_eq!(r.points.len(), 2);
    assert_eq!(&*r.points[0].worker, "w1");
    assert_eq!(r.points[0].accuracy_m, Some(4.5));
    assert_eq!(&*r.points[1].worker, "phone-7");
    assert_eq!(r.points[1].crs, Ok(Crs::Bd09));
    assert_eq!(r.errors.len(), 2);
    match &r.errors[0] {
        ReadError::Record { record, field, .. } => {
            assert_eq!((*record, *field), (Record::Feature(2), "time"))
        }
        e => panic!("{e}"),
    }
    match &r.errors[1] {
        ReadError::Record { record, field, .. } => {
            assert_eq!((*record, *field), (Record::Feature(3), "geometry"))
        }
        e => panic!("{e}"),
    }
    assert!(read_geojson("x.geojson", "{oops", &opts).is_err());
    assert!(read_geojson("x.geojson", r#"{"type":"Feature"}"#, &opts).is_err());
}

#[test]
fn gpx_reads_track_points_and_names_bad_ones() {
    let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <metadata><name>file name</name></metadata>
  <trk><name>Li &amp; Wang</name><trkseg>
    <trkpt lat="39.9" lon="116.4"><ele>50</ele><time>2026-11-20T00:00:00Z</time></trkpt>
    <trkpt lat="39.9001" lon="116.4001"><time>2026-11-20T00:00:10Z</time></trkpt>
    <trkpt lat="39.9002" lon="116.4002"></trkpt>
    <trkpt lat="north" lon="116.4003"><time>2026-11-20T00:00:30Z</time></trkpt>
  </trkseg></trk>
</gpx>"#;
    let zone = FixedOffset::east_opt(8 * 3600);
    let r = read_gpx("t.gpx", text, &ReadOptions { worker: None, zone }).unwrap();
    assert_eq!(r.points.len(), 2, "{:?}", r.errors);
    assert_eq!(&*r.points[0].worker, "Li & Wang");
    assert_eq!((r.points[0].lon, r.points[0].lat), (116.4, 39.9));
    // Expressed in +08:00: the local day is the 20th, 08:00.
    assert_eq!(r.points[0].time.to_rfc3339(), "2026-11-20T08:00:00+08:00");
    // A point without <time> is skipped and named; the file is still read (GPX makes time
    // optional). An unreadable coordinate is an error.
    let skipped: Vec<String> = r.skipped.iter().map(|e| e.to_string()).collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0].contains("t.gpx")
            && skipped[0].contains("trkpt 2")
            && skipped[0].contains("`time`"),
        "{skipped:?}"
    );
    let got: Vec<String> = r.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("trkpt 3") && got[0].contains("`lat`"),
        "{got:?}"
    );
    let opts = ReadOptions {
        worker: Some("w9".into()),
        zone: None,
    };
    assert_eq!(
        &*read_gpx("t.gpx", text, &opts).unwrap().points[0].worker,
        "w9"
    );
    assert!(read_gpx("bad.gpx", "<gpx><trk></gpx>", &opts).is_err());
    assert!(read_gpx("bad.gpx", "<kml></kml>", &opts).is_err());
}

/// GPX 1.0 and 1.1 say times are UTC: a time written without `Z` (as some devices do) is read as
/// UTC, not refused; a file where no point has a time says so in one line.
#[test]
fn gpx_times_without_zone_are_utc_and_a_file_without_times_is_named() {
    let text = r#"<gpx version="1.0" creator="device"><trk><name>w1</name><trkseg>
    <trkpt lat="31.2" lon="121.4"><time>2013-01-01T12:00:04</time></trkpt>
    <trkpt lat="31.2001" lon="121.4001"><time>2013-01-01T12:00:09.5</time></trkpt>
    </trkseg></trk></gpx>"#;
    let zone = FixedOffset::east_opt(8 * 3600);
    let r = read_gpx("d.gpx", text, &ReadOptions { worker: None, zone }).unwrap();
    assert!(
        r.errors.is_empty() && r.skipped.is_empty(),
        "{:?}",
        r.errors
    );
    assert_eq!(r.points[0].time.to_rfc3339(), "2013-01-01T20:00:04+08:00");
    assert_eq!(
        r.points[1].time.timestamp_millis() - r.points[0].time.timestamp_millis(),
        5500
    );
    let untimed = r#"<gpx version="1.1"><trk><name>w1</name><trkseg>
    <trkpt lat="31.2" lon="121.4"/><trkpt lat="31.3" lon="121.4"><ele>3</ele></trkpt>
    </trkseg></trk></gpx>"#;
    let e = read_gpx("r.gpx", untimed, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("r.gpx") && e.contains("none of its 2 track points has a <time>"),
        "{e}"
    );
}

/// KML as terminals and Google Earth export tracks: `gx:Track` pairs `<when>` with `<gx:coord>`,
/// a timed `Point` placemark is one point, an untimed one is skipped, unpaired counts refuse the file.
#[test]
fn kml_tracks_pair_when_with_coord_and_name_what_they_cannot_read() {
    let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Document><name>doc</name>
  <Placemark><name>w7</name>
    <gx:Track>
      <when>2026-11-18T08:00:00+08:00</when><when>2026-11-18T00:00:10Z</when><when>2026-11-18T08:00:20+08:00</when>
      <gx:coord>121.40 31.20 4</gx:coord><gx:coord>121.401 31.2001 4</gx:coord><gx:coord>121.402 north 4</gx:coord>
    </gx:Track>
  </Placemark>
  <Placemark><TimeStamp><when>2026-11-18T01:00:00</when></TimeStamp><Point><coordinates>121.5,31.3,0</coordinates></Point></Placemark>
  <Placemark><name>村委会</name><Point><coordinates>121.6,31.4</coordinates></Point></Placemark>
</Document></kml>"#;
    let zone = FixedOffset::east_opt(8 * 3600);
    let r =
        wangge::patrol::read::read_kml("t.kml", text, &ReadOptions { worker: None, zone }).unwrap();
    let got: Vec<(String, String, f64)> = r
        .points
        .iter()
        .map(|p| (p.worker.to_string(), p.time.to_rfc3339(), p.lon))
        .collect();
    assert_eq!(
        got,
        vec![
            ("w7".into(), "2026-11-18T08:00:00+08:00".into(), 121.40),
            ("w7".into(), "2026-11-18T08:00:10+08:00".into(), 121.401),
            // no placemark name: the document's; no offset: UTC
            ("doc".into(), "2026-11-18T09:00:00+08:00".into(), 121.5),
        ]
    );
    let errors: Vec<String> = r.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("t.kml")
            && errors[0].contains("KML point 2")
            && errors[0].contains("`coord`"),
        "{errors:?}"
    );
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.skipped[0].to_string().contains("KML point 4"),
        "{:?}",
        r.skipped
    );

    let unpaired = r#"<kml><Document><Placemark><name>w</name><gx:Track>
      <when>2026-11-18T08:00:00Z</when><when>2026-11-18T08:00:05Z</when><gx:coord>121 31 0</gx:coord>
    </gx:Track></Placemark></Document></kml>"#;
    let e = wangge::patrol::read::read_kml("u.kml", unpaired, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("u.kml") && e.contains("2 <when> but 1 <gx:coord>"),
        "{e}"
    );
    let pois = r#"<kml><Document><Placemark><Point><coordinates>121,31</coordinates></Point></Placemark></Document></kml>"#;
    let e = wangge::patrol::read::read_kml("p.kml", pois, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("p.kml") && e.contains("none of its 1 points has a time"),
        "{e}"
    );
    let e = wangge::patrol::read::read_kml("g.kml", "<gpx/>", &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a KML file"), "{e}");
}

/// A terminal's CSV export with local times and no offset: read in `--zone`, refused without it,
/// naming the line and the field.
#[test]
fn csv_local_times_need_a_zone() {
    let csv = "worker,time,lon,lat\nw1,2026-11-18 08:30:00,121.4,31.2\n";
    let zone = FixedOffset::east_opt(8 * 3600);
    let r = read_csv("t.csv", csv.as_bytes(), &ReadOptions { worker: None, zone }).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.points[0].time.to_rfc3339(), "2026-11-18T08:30:00+08:00");
    let r = read_csv("t.csv", csv.as_bytes(), &ReadOptions::default()).unwrap();
    let e = r.errors[0].to_string();
    assert!(
        e.contains("t.csv") && e.contains("line 2") && e.contains("`time`") && e.contains("--zone"),
        "{e}"
    );
}

// ---------------------------------------------------------------- checks

#[test]
fn duplicates_are_kept_once_and_counted() {
    let a = pt("w1", "2026-11-20T08:00:00+08:00", 116.4, 39.9);
    // The same instant written in UTC, re-sent twice: one point.
    let b = pt("w1", "2026-11-20T00:00:00Z", 116.4, 39.9);
    let c = a.clone();
    // Same time, another worker: not a duplicate. Same worker, 1 m away: not a duplicate.
    let d = pt("w2", "2026-11-20T08:00:00+08:00", 116.4, 39.9);
    let e = pt("w1", "2026-11-20T08:00:00+08:00", 116.40001, 39.9);
    assert_eq!(a.dedupe_key(), b.dedupe_key());
    assert_ne!(a.dedupe_key(), e.dedupe_key());
    let out = check(vec![a.clone(), b, c, d, e], &CheckRules::new(now()));
    assert_eq!(out.duplicates, 2);
    assert_eq!(out.accepted.len(), 3);
    assert!(out.rejected.is_empty() && out.flagged.is_empty());
    // The first received is the one kept.
    assert_eq!(out.accepted[0].time.offset(), a.time.offset());
}

#[test]
fn out_of_order_input_gives_the_same_result() {
    let mut pts: Vec<PatrolPoint> = (0..40)
        .map(|k| {
            let time = t("2026-11-20T08:00:00+08:00") + TimeDelta::minutes(3 * k);
            PatrolPoint::new(
                Arc::from("w1"),
                time,
                116.4 + k as f64 * 1e-4,
                39.9,
                Ok(Crs::Wgs84),
                None,
            )
        })
        .collect();
    let rules = CheckRules::new(now());
    let sorted = check(pts.clone(), &rules);
    pts.reverse();
    pts.swap(3, 17);
    let shuffled = check(pts, &rules);
    assert_eq!(sorted.accepted, shuffled.accepted);
    assert!(shuffled.accepted.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(
        worker_days(&sorted.accepted, &PatrolRules::default()),
        worker_days(&shuffled.accepted, &PatrolRules::default())
    );
}

#[test]
fn every_kind_of_bad_point_has_its_reason() {
    let base = |min: i64, lon: f64, lat: f64| {
        let time = t("2026-11-20T08:00:00+08:00") + TimeDelta::minutes(min);
        PatrolPoint::new(Arc::from("w1"), time, lon, lat, Ok(Crs::Wgs84), Some(5.0))
    };
    let mut unknown = base(1, 116.4, 39.9);
    unknown.crs = Err(UnknownCrs("utm50n".into()));
    let mut future = base(2, 116.4, 39.9);
    future.time = now() + TimeDelta::hours(1);
    let mut skewed = base(3, 116.4, 39.9);
    skewed.time = now() + TimeDelta::minutes(4); // within the 5-minute clock skew: fine
    let mut negative = base(4, 116.4, 39.9);
    negative.accuracy_m = Some(-3.0);
    let mut poor = base(5, 116.4, 39.9);
    poor.accuracy_m = Some(500.0);
    let pts = vec![
        base(0, 116.4, 39.9),
        unknown,
        future,
        negative,
        poor,
        base(6, f64::NAN, 39.9),
        base(7, 116.4, 95.0),
        base(8, 0.0, 0.0),
        // 1.1 km in one minute after the point at minute 0 (last accepted): 68 km/h, fine.
        base(9, 116.4129, 39.9),
        // Then 8.5 km in one minute: 510 km/h, flagged.
        base(10, 116.5129, 39.9),
        // Back near the last accepted point: accepted (compared with it, not the flagged one).
        base(11, 116.4130, 39.9),
        skewed,
    ];
    let out = check(pts, &CheckRules::new(now()));
    let codes = |v: &[Issue]| v.iter().map(|i| i.reason.code()).collect::<Vec<_>>();
    assert_eq!(
        codes(&out.rejected),
        vec![
            "unknown_crs",
            "bad_accuracy",
            "bad_coordinates",
            "bad_coordinates",
            "null_island",
            "future"
        ]
    );
    assert_eq!(codes(&out.flagged), vec!["inaccurate", "too_fast"]);
    match &out.flagged[1].reason {
        Reason::TooFast { kmh, .. } => assert!(*kmh > 400.0 && *kmh < 600.0, "{kmh}"),
        r => panic!("{r}"),
    }
    assert_eq!(out.accepted.len(), 4);
    assert_eq!(
        out.accepted.len() + out.rejected.len() + out.flagged.len(),
        12
    );
    assert!(out.rejected[0].reason.to_string().contains("utm50n"));
}

// ---------------------------------------------------------------- patrols

fn walk(worker: &str, from: &str, minutes: &[i64]) -> Vec<PatrolPoint> {
    minutes
        .iter()
        .map(|m| {
            let time = t(from) + TimeDelta::minutes(*m);
            PatrolPoint::new(
                Arc::from(worker),
                time,
                116.4,
                39.9 + *m as f64 * 1e-5,
                Ok(Crs::Wgs84),
                None,
            )
        })
        .collect()
}

#[test]
fn patrols_split_at_the_gap() {
    let rules = PatrolRules::default();
    // Gaps of 30 min (kept) then 31 min (cut).
    let pts = walk("w", "2026-11-20T08:00:00+08:00", &[0, 10, 40, 71, 80, 95]);
    let r = runs(&pts, &rules);
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].points, r[1].points), (3, 3));
    assert_eq!(r[0].duration(), TimeDelta::minutes(40));
    assert_eq!(r[1].start, t("2026-11-20T09:11:00+08:00"));
    // A 5-minute run is not a patrol.
    let short = walk("w", "2026-11-20T08:00:00+08:00", &[0, 5, 120, 130]);
    let d = days(&short, &rules);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].patrols.len(), d[0].short), (1, 1));
    assert!(!d[0].twice);
}

#[test]
fn two_patrols_a_day_must_be_two_hours_apart() {
    let rules = PatrolRules::default();
    // 08:00–09:00 and 10:30–11:00: 1.5 h apart, one round.
    let mut close = walk("w", "2026-11-20T08:00:00+08:00", &[0, 20, 40, 60]);
    close.extend(walk("w", "2026-11-20T10:30:00+08:00", &[0, 15, 30]));
    let d = days(&close, &rules);
    assert_eq!(d[0].patrols.len(), 2);
    assert!(!d[0].twice);
    // 08:00–09:00 and 11:00–11:30: exactly 2 h apart, twice.
    let mut far = walk("w", "2026-11-20T08:00:00+08:00", &[0, 20, 40, 60]);
    far.extend(walk("w", "2026-11-20T11:00:00+08:00", &[0, 15, 30]));
    // And the next day one round only.
    far.extend(walk("w", "2026-11-21T08:00:00+08:00", &[0, 15, 30]));
    let d = days(&far, &rules);
    assert_eq!(d.len(), 2);
    assert!(d[0].twice && !d[1].twice);
    assert_eq!(d[1].day, NaiveDate::from_ymd_opt(2026, 11, 21).unwrap());
}

// ---------------------------------------------------------------- coverage (hand-checked)

const LON0: f64 = 116.4;
const LAT0: f64 = 39.9;

fn m() -> Metric {
    Metric::new(LON0, LAT0)
}

fn ll(x: f64, y: f64) -> Coord<f64> {
    let (lon, lat) = m().lonlat([x, y]);
    Coord { x: lon, y: lat }
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString::new(vec![
            ll(x0, y0),
            ll(x1, y0),
            ll(x1, y1),
            ll(x0, y1),
            ll(x0, y0),
        ]),
        vec![],
    )])
}

fn building(
    id: &str,
    kind: BuildingKind,
    x: f64,
    y: f64,
    footprint: Option<MultiPolygon<f64>>,
    grid: usize,
) -> BuildingView {
    let c = ll(x, y);
    BuildingView {
        building: Building {
            id: id.into(),
            point: Point::new(c.x, c.y),
            footprint,
            households: 1,
            residents: 3,
            kind,
            address: None,
            group: None,
            staff: None,
            workshops: None,
            custom: None,
            village: 0,
        },
        grid: Some(grid),
        micro: vec![],
    }
}

/// Grid A: the square (-100..100 m)², a minor road along y = 0 from x = -99.95 to 99.95
/// (199.9 m: 40 pieces of 4.9975 m). Grid B: (100..300) × (-100..100), no road, no building.
/// Plus an expressway through A (not walked) and a road far away (in no grid).
fn hand_snapshot() -> Snapshot {
    let code = VillageCode::parse("110101001001").unwrap();
    let grid = |i: u32, geometry: MultiPolygon<f64>| GridView {
        code: code.grid(i),
        village: 0,
        label: Point::new(
            geometry.0[0].exterior().0[0].x,
            geometry.0[0].exterior().0[0].y,
        ),
        geometry,
        figures: Figures::default(),
        people: vec![],
        color: None,
    };
    let a = square(-100.0, -100.0, 100.0, 100.0);
    let b = square(100.0, -100.0, 300.0, 100.0);
    let line = |x0: f64, y0: f64, x1: f64, y1: f64| LineString::new(vec![ll(x0, y0), ll(x1, y1)]);
    Snapshot {
        villages: vec![VillageView {
            code: code.clone(),
            name: "东风村".into(),
            mode: Mode::Town,
            boundary: square(-100.0, -100.0, 300.0, 100.0),
            plan_version: Some(1),
        }],
        grids: vec![grid(1, a), grid(2, b)],
        micro_grids: vec![],
        buildings: vec![
            building("B1", BuildingKind::Residential, -50.0, 20.0, None, 0),
            building(
                "B2",
                BuildingKind::School,
                50.0,
                50.0,
                Some(square(40.0, 40.0, 60.0, 60.0)),
                0,
            ),
            building("B3", BuildingKind::Hospital, 90.0, -90.0, None, 0),
            building("B4", BuildingKind::Residential, -90.0, -90.0, None, 0),
        ],
        barriers: vec![
            Barrier {
                class: BarrierClass::MinorRoad,
                name: None,
                lines: vec![line(-99.95, 0.0, 99.95, 0.0)],
            },
            Barrier {
                class: BarrierClass::Expressway,
                name: None,
                lines: vec![line(-60.0, -100.0, -60.0, 100.0)],
            },
            Barrier {
                class: BarrierClass::MajorRoad,
                name: None,
                lines: vec![line(-100.0, 500.0, 100.0, 500.0)],
            },
        ],
        revision: 1,
        data_revision: 0,
    }
}

fn at(worker: &str, time: &str, x: f64, y: f64) -> PatrolPoint {
    let c = ll(x, y);
    pt(worker, time, c.x, c.y)
}

/// Day 1 in grid A: morning along the road, x = -100..-40 at y = 0, 08:00–08:30, then a point
/// at (75, 75) at 08:50 (same patrol); a lone point at 11:00 (a short run); afternoon 14:00–14:20
/// at y = -50. Day 2: only the morning walk.
fn hand_points() -> Vec<PatrolPoint> {
    let mut v = Vec::new();
    for day in ["2026-11-20", "2026-11-21"] {
        for (k, x) in [-100.0, -90.0, -80.0, -70.0, -60.0, -50.0, -40.0]
            .into_iter()
            .enumerate()
        {
            v.push(at("w1", &format!("{day}T08:{:02}:00+08:00", k * 5), x, 0.0));
        }
    }
    v.push(at("w1", "2026-11-20T08:50:00+08:00", 75.0, 75.0));
    v.push(at("w1", "2026-11-20T11:00:00+08:00", 0.0, -50.0));
    for (k, x) in [0.0, 10.0, 20.0].into_iter().enumerate() {
        v.push(at(
            "w1",
            &format!("2026-11-20T14:{:02}:00+08:00", k * 10),
            x,
            -50.0,
        ));
    }
    v
}

fn zone() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

#[test]
fn every_coverage_figure_on_a_hand_checked_grid() {
    let snap = hand_snapshot();
    let rules = CoverageRules {
        resolution: h3o::Resolution::Eleven,
        ..CoverageRules::default()
    };
    let index = CoverageIndex::new(&snap, rules);
    let checked = check(hand_points(), &CheckRules::new(now()));
    assert_eq!(checked.accepted.len(), 19);
    let cov = index.coverage(&checked.accepted, &Window::day(day(20), zone()));
    let a = &cov[0];
    assert_eq!(a.code.as_str(), "110101001001001");
    assert_eq!(a.points, 12);
    // Morning (08:00–08:50) and afternoon (14:00–14:20); the 11:00 point is a short run.
    assert_eq!(a.patrols, 2);
    assert_eq!(a.days.len(), 1);
    assert!(a.days[0].twice);
    assert_eq!((a.days[0].workers, a.days_twice), (1, 1));
    // Road: 40 pieces of 4.9975 m; walked up to x = -40 + 30 = -10: the first 18 pieces
    // (midpoints up to -12.46 m; the 19th is at -7.49 m). Expressway and the far road excluded.
    assert!((a.road_m - 199.9).abs() < 0.01, "{}", a.road_m);
    assert!(
        (a.road_walked_m - 18.0 * 4.9975).abs() < 0.01,
        "{}",
        a.road_walked_m
    );
    assert!((a.road_share.unwrap() - 0.45).abs() < 1e-4);
    // Buildings: B1 (20 m from (-50, 0)) and B2 (its footprint corner (60, 60) is 21 m from
    // (75, 75), though its point (50, 50) is 35 m away) passed; B3 and B4 not.
    assert_eq!((a.buildings, a.buildings_passed), (4, 2));
    assert_eq!(a.building_share, Some(0.5));
    // Targets: the school (passed) and the hospital (not).
    assert_eq!((a.targets, a.targets_passed), (2, 1));
    assert_eq!(a.target_share, Some(0.5));
    // H3 cells at res 11 whose centre is in the square, and those holding a point.
    let cells = expected_cells(h3o::Resolution::Eleven, -100.0, -100.0, 100.0, 100.0);
    assert!(cells.len() >= 10, "{}", cells.len());
    assert_eq!(index.cells(0), &cells[..]);
    let day_pts: Vec<&PatrolPoint> = checked
        .accepted
        .iter()
        .filter(|p| p.time.date_naive() == day(20))
        .collect();
    let hit = cells
        .iter()
        .filter(|c| {
            day_pts.iter().any(|p| {
                h3o::LatLng::new(p.lat, p.lon)
                    .unwrap()
                    .to_cell(h3o::Resolution::Eleven)
                    == **c
            })
        })
        .count();
    assert!(hit > 0 && hit < cells.len());
    assert_eq!((a.cells, a.cells_visited), (cells.len(), hit));
    // Grid B: nothing to cover but cells; no patrol.
    let b = &cov[1];
    assert_eq!((b.points, b.patrols, b.days_twice), (0, 0, 0));
    assert_eq!(
        (b.road_share, b.target_share, b.building_share),
        (None, None, None)
    );
    assert_eq!(b.cells_visited, 0);

    // Two days: two days patrolled, one of them twice.
    let two = index.coverage(&checked.accepted, &Window::days(day(20), 2, zone()));
    assert_eq!(
        (two[0].patrols, two[0].days.len(), two[0].days_twice),
        (3, 2, 1)
    );
}

/// Cells whose centre lies strictly inside the square (metres), found by walking a disk.
fn expected_cells(res: h3o::Resolution, x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<h3o::CellIndex> {
    let c = ll(0.0, 0.0);
    let centre = h3o::LatLng::new(c.y, c.x).unwrap().to_cell(res);
    let mut v: Vec<h3o::CellIndex> = centre
        .grid_disk::<Vec<_>>(20)
        .into_iter()
        .filter(|cell| {
            let ll = h3o::LatLng::from(*cell);
            let [x, y] = m().xy(ll.lng(), ll.lat());
            x > x0 && x < x1 && y > y0 && y < y1
        })
        .collect();
    v.sort();
    v
}

#[test]
fn road_on_a_border_counts_for_both_grids() {
    let mut snap = hand_snapshot();
    snap.barriers = vec![Barrier {
        class: BarrierClass::MinorRoad,
        name: None,
        lines: vec![LineString::new(vec![ll(100.0, -50.0), ll(100.0, 50.0)])],
    }];
    let index = CoverageIndex::new(&snap, CoverageRules::default());
    let a: f64 = index.road_pieces(0).iter().map(|p| p.len).sum();
    let b: f64 = index.road_pieces(1).iter().map(|p| p.len).sum();
    assert!(
        (a - 100.0).abs() < 0.01 && (b - 100.0).abs() < 0.01,
        "{a} {b}"
    );
}

// ---------------------------------------------------------------- report

#[test]
fn daily_report_ranks_grids_that_missed() {
    let mut snap = hand_snapshot();
    // A third grid C (to the west), with a road: patrolled once on the 20th.
    snap.grids.push(GridView {
        code: snap.villages[0].code.grid(3),
        village: 0,
        geometry: square(-300.0, -100.0, -100.0, 100.0),
        label: Point::new(0.0, 0.0),
        figures: Figures::default(),
        people: vec![],
        color: None,
    });
    let index = CoverageIndex::new(&snap, CoverageRules::default());
    let mut pts = hand_points();
    for k in 0..4 {
        pts.push(at(
            "w3",
            &format!("2026-11-20T09:{:02}:00+08:00", k * 10),
            -200.0,
            k as f64 * 10.0,
        ));
    }
    let checked = check(pts, &CheckRules::new(now()));
    let cov = index.coverage(&checked.accepted, &Window::day(day(20), zone()));
    let rep = daily_report(&snap, &cov, day(20));
    assert_eq!(rep.len(), 1);
    assert_eq!(rep[0].town, "110101001");
    assert_eq!((rep[0].grids, rep[0].grids_twice), (3, 1));
    let rows: Vec<(usize, &str, Missed, usize)> = rep[0]
        .missed
        .iter()
        .map(|m| (m.rank, m.grid.as_str(), m.missed, m.patrols))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "110101001001002", Missed::Patrol, 0),
            (2, "110101001001003", Missed::SecondPatrol, 1)
        ]
    );
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json[0]["missed"][1]["missed"], "second_patrol");
    let csv = to_csv(&rep);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "town,day,rank,grid,village,missed,patrols,road_share,target_share,cell_share"
    );
    assert!(
        lines[1].starts_with("110101001,2026-11-20,1,110101001001002,东风村,patrol,0,,,"),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 3);
}

// ---------------------------------------------------------------- heat

#[test]
fn heat_counts_points_and_workers_and_coarsens_exactly() {
    use h3o::Resolution;
    let res = Resolution::Twelve;
    let a = ll(0.0, 0.0);
    let cell = h3o::LatLng::new(a.y, a.x).unwrap().to_cell(res);
    // Two children of one res-9 parent.
    let parent = cell.parent(Resolution::Nine).unwrap();
    let other = parent.children(res).find(|c| *c != cell).unwrap();
    let oc = h3o::LatLng::from(other);
    let p = |w: &str, lon: f64, lat: f64| pt(w, "2026-11-20T08:00:00+08:00", lon, lat);
    let pts = vec![
        p("w1", a.x, a.y),
        p("w1", a.x, a.y),
        p("w2", a.x, a.y),
        p("w1", oc.lng(), oc.lat()),
    ];
    let h = heat(&pts, res);
    assert_eq!(h.len(), 2);
    assert!(h[0].cell < h[1].cell);
    let hc = h.iter().find(|c| c.cell == cell).unwrap();
    assert_eq!((hc.points, hc.workers), (3, 2));
    let ho = h.iter().find(|c| c.cell == other).unwrap();
    assert_eq!((ho.points, ho.workers), (1, 1));
    // Coarser: one parent cell, 4 points, 2 distinct workers (w1 counted once).
    let coarse = HeatMap::new(&pts, res)
        .coarsen(Resolution::Nine)
        .unwrap()
        .cells();
    assert_eq!(coarse.len(), 1);
    assert_eq!(
        (coarse[0].cell, coarse[0].points, coarse[0].workers),
        (parent, 4, 2)
    );
    assert!(HeatMap::new(&pts, Resolution::Nine).coarsen(res).is_none());
    let fc = heat_geojson(&h);
    assert_eq!(fc.features.len(), 2);
    let v = serde_json::to_value(&fc).unwrap();
    let f0 = &v["features"][0];
    assert_eq!(f0["properties"]["h3"], h[0].cell.to_string());
    assert_eq!(f0["properties"]["res"], 12);
    let ring = f0["geometry"]["coordinates"][0].as_array().unwrap();
    assert_eq!(ring.len(), 7);
    assert_eq!(ring[0], ring[6]);
}

// ---------------------------------------------------------------- generator

fn town_snapshot(households: u64, seed: u64) -> Snapshot {
    let town = wangge::synth::synth_town(&wangge::synth::SynthConfig {
        households,
        seed,
        odd_shapes: false,
    });
    let dir = tempfile::tempdir().unwrap();
    town.write_dir(dir.path()).unwrap();
    let ds = wangge::ingest::read_dir(dir.path(), &wangge::model::Weight::Households).unwrap();
    let plan = wangge::partition::partition(&ds, &wangge::partition::Options::default(), &|| {});
    Snapshot::from_plan(&ds, &plan, 1)
}

#[test]
fn generated_tracks_cover_their_grids_twice_a_day() {
    let snap = town_snapshot(4000, 3);
    let index = CoverageIndex::new(&snap, CoverageRules::default());
    let codes: Vec<_> = snap.grids.iter().map(|g| g.code.clone()).collect();
    let cfg = TrackConfig::new(11, day(20));
    let gen = TrackGen::new(&index, &codes, cfg);
    assert_eq!(gen.workers(), snap.grids.len());
    let pts = gen.day(0);
    assert_eq!(pts, gen.day(0), "deterministic");
    assert_ne!(
        pts,
        TrackGen::new(&index, &codes, TrackConfig::new(12, day(20))).day(0)
    );
    let per = gen.fixes_per_day();
    assert_eq!(per, 722);
    assert!(pts.len() >= per * gen.workers(), "{}", pts.len());
    let checked = check(
        pts.clone(),
        &CheckRules::new(t("2026-11-21T00:00:00+08:00")),
    );
    assert_eq!(
        checked.accepted.len()
            + checked.flagged.len()
            + checked.rejected.len()
            + checked.duplicates,
        pts.len()
    );
    assert!(checked.duplicates > 0);
    assert!(!checked.rejected.is_empty());
    let cov = index.coverage(&checked.accepted, &Window::day(day(20), zone()));
    let twice = cov.iter().filter(|c| c.days_twice == 1).count();
    assert!(twice * 10 >= cov.len() * 9, "{twice} of {}", cov.len());
    let mean_road: f64 = cov.iter().filter_map(|c| c.road_share).sum::<f64>()
        / cov.iter().filter(|c| c.road_share.is_some()).count().max(1) as f64;
    assert!(mean_road > 0.3, "{mean_road}");
    // Slices of a day add up to the day.
    let half = snap.grids.len() / 2;
    let mut sliced = gen.day_grids(0, 0..half);
    sliced.extend(gen.day_grids(0, half..snap.grids.len()));
    assert_eq!(sliced, pts);
}

// ---------------------------------------------------------------- H3 against the reference library

#[test]
fn h3_cells_match_the_reference_library() {
    use rand::{Rng, SeedableRng};
    use std::io::Write;
    use std::process::{Command, Stdio};
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_reference.py");
    let importable = Command::new("python3")
        .args(["-c", "import h3"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !importable {
        // CI (scripts/test) installs h3 and sets WANGGE_REQUIRE_H3: there a missing h3 fails
        assert!(
            std::env::var("WANGGE_REQUIRE_H3").is_err(),
            "WANGGE_REQUIRE_H3 is set but python3 cannot import h3 (scripts/setup installs it)"
        );
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED h3_cells_match_the_reference_library: python3 cannot import h3 !!!\n\
             !!! install it with `pip install h3` to run this check                     !!!\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    }
    // 1,000 seeded points: most over China (where patrols happen), some anywhere on Earth, a few
    // near the poles and the antimeridian; each at one of several resolutions.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let resolutions = [0u8, 3, 5, 7, 9, 10, 11, 12, 13, 15];
    let mut sample: Vec<(f64, f64, u8)> = Vec::new();
    for k in 0..1000 {
        let (lat, lng) = match k % 10 {
            0 => (
                rng.random_range(-90.0..=90.0),
                rng.random_range(-180.0..180.0),
            ),
            1 => (rng.random_range(80.0..90.0), rng.random_range(175.0..180.0)),
            _ => (rng.random_range(18.0..53.0), rng.random_range(73.0..135.0)),
        };
        sample.push((lat, lng, resolutions[k % resolutions.len()]));
    }
    // And the generated-track style: points a few metres apart around one place, all at res 10.
    for _ in 0..100 {
        sample.push((
            39.9 + rng.random_range(-0.01..0.01),
            116.4 + rng.random_range(-0.01..0.01),
            10,
        ));
    }
    let input: String = sample
        .iter()
        .map(|(lat, lng, r)| format!("{lat} {lng} {r}\n"))
        .collect();
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(want.len(), sample.len());
    let mut bad = Vec::new();
    for ((lat, lng, r), w) in sample.iter().zip(&want) {
        let res = h3o::Resolution::try_from(*r).unwrap();
        let got = h3o::LatLng::new(*lat, *lng)
            .unwrap()
            .to_cell(res)
            .to_string();
        if &got != w {
            bad.push(format!("({lat}, {lng}) res {r}: h3o {got}, h3 {w}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        sample.len(),
        bad.join("\n")
    );
    // The heat map uses the same cells.
    let pts: Vec<PatrolPoint> = sample
        .iter()
        .filter(|s| s.2 == 10)
        .map(|(lat, lng, _)| pt("w", "2026-11-20T08:00:00+08:00", *lng, *lat))
        .collect();
    let mut cells: Vec<String> = heat(&pts, h3o::Resolution::Ten)
        .iter()
        .map(|h| h.cell.to_string())
        .collect();
    let mut want10: Vec<String> = sample
        .iter()
        .zip(&want)
        .filter(|(s, _)| s.2 == 10)
        .map(|(_, w)| w.clone())
        .collect();
    cells.sort();
    want10.sort();
    want10.dedup();
    assert_eq!(cells, want10);
}

// ---------------------------------------------------------------- benchmark (run by hand)

/// A district-day: `PATROL_BENCH_HOUSEHOLDS` (default 1,500,000) households, generated tracks for
/// one day, then checks, coverage, heat and the report, each timed. Prints figures, asserts none
/// of the timings (shared machine). Run:
/// `PATROL_BENCH_HOUSEHOLDS=1500000 cargo test --release --test patrol district_day -- --ignored --nocapture`
#[test]
#[ignore]
fn district_day_benchmark() {
    use std::time::Instant;
    let hh: u64 = std::env::var("PATROL_BENCH_HOUSEHOLDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_500_000);
    let t0 = Instant::now();
    let snap = town_snapshot(hh, 7);
    println!(
        "snapshot: {hh} households, {} grids, {} buildings, {} barriers in {:.1} s (generate + read + partition)",
        snap.grids.len(),
        snap.buildings.len(),
        snap.barriers.len(),
        t0.elapsed().as_secs_f64()
    );
    let clock = Instant::now();
    let index = CoverageIndex::new(&snap, CoverageRules::default());
    let pieces: usize = (0..index.len()).map(|g| index.road_pieces(g).len()).sum();
    let cells: usize = (0..index.len()).map(|g| index.cells(g).len()).sum();
    println!(
        "coverage index: {:.2} s ({pieces} road pieces, {cells} H3 cells)",
        clock.elapsed().as_secs_f64()
    );
    let codes: Vec<_> = snap.grids.iter().map(|g| g.code.clone()).collect();
    let gen = TrackGen::new(&index, &codes, TrackConfig::new(1, day(20)));
    let clock = Instant::now();
    let pts = gen.day(0);
    println!(
        "generate: {} points, {} workers in {:.2} s",
        pts.len(),
        gen.workers(),
        clock.elapsed().as_secs_f64()
    );
    let rules = CheckRules::new(t("2026-11-21T00:00:00+08:00"));
    let clock = Instant::now();
    let n = pts.len();
    let checked = check(pts, &rules);
    let dt = clock.elapsed().as_secs_f64();
    println!(
        "check: {:.2} s ({:.0} points/s): {} accepted, {} duplicates, {} rejected, {} flagged",
        dt,
        n as f64 / dt,
        checked.accepted.len(),
        checked.duplicates,
        checked.rejected.len(),
        checked.flagged.len()
    );
    let clock = Instant::now();
    let cov = index.coverage(&checked.accepted, &Window::day(day(20), zone()));
    println!(
        "coverage of the district-day: {:.2} s for {} grids",
        clock.elapsed().as_secs_f64(),
        cov.len()
    );
    let twice = cov.iter().filter(|c| c.days_twice > 0).count();
    let mean = |f: &dyn Fn(&GridCoverage) -> Option<f64>| {
        let v: Vec<f64> = cov.iter().filter_map(f).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    println!(
        "  twice patrolled {twice}/{}, mean shares: road {:.3}, targets {:.3}, buildings {:.3}, cells {:.3}",
        cov.len(),
        mean(&|c| c.road_share),
        mean(&|c| c.target_share),
        mean(&|c| c.building_share),
        mean(&|c| c.cell_share)
    );
    let clock = Instant::now();
    let hm = HeatMap::new(&checked.accepted, h3o::Resolution::Ten);
    let h10 = hm.cells().len();
    let h7 = hm
        .coarsen(h3o::Resolution::Seven)
        .map(|h| h.cells().len())
        .unwrap_or(0);
    println!(
        "heat: res 10 {h10} cells, res 7 {h7} cells in {:.2} s",
        clock.elapsed().as_secs_f64()
    );
    let clock = Instant::now();
    let rep = daily_report(&snap, &cov, day(20));
    let missed: usize = rep.iter().map(|r| r.missed.len()).sum();
    println!(
        "report: {} towns, {missed} grids missed, {:.3} s",
        rep.len(),
        clock.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------- coverage per worker

fn person(
    role: wangge::snapshot::Role,
    name: &str,
    phone: Option<&str>,
) -> wangge::snapshot::Person {
    wangge::snapshot::Person {
        role,
        name: name.into(),
        phone: phone.map(Into::into),
    }
}

fn rename(points: Vec<PatrolPoint>, worker: &str) -> Vec<PatrolPoint> {
    let w: Arc<str> = Arc::from(worker);
    points
        .into_iter()
        .map(|mut p| {
            p.worker = w.clone();
            p
        })
        .collect()
}

/// The hand-checked grids with a register: A has 张三 (phone 13900000001), a leader, and 王伟
/// (phone …02); B has 李四 (no phone) and another 王伟 (phone …03).
fn registered_snapshot() -> Snapshot {
    use wangge::snapshot::Role::{GridLeader, GridWorker};
    let mut snap = hand_snapshot();
    snap.grids[0].people = vec![
        person(GridWorker, "张三", Some("13900000001")),
        person(GridLeader, "队长", None),
        person(GridWorker, "王伟", Some("13900000002")),
    ];
    snap.grids[1].people = vec![
        person(GridWorker, "李四", None),
        person(GridWorker, "王伟", Some("13900000003")),
    ];
    snap
}

#[test]
fn every_coverage_figure_per_worker_on_the_hand_checked_grid() {
    let snap = registered_snapshot();
    let rules = CoverageRules {
        resolution: h3o::Resolution::Eleven,
        ..CoverageRules::default()
    };
    let index = CoverageIndex::new(&snap, rules);
    let roster = Roster::from_snapshot(&snap);
    // 张三's terminal sends his phone number; his day is the hand-checked one.
    let mut pts = rename(hand_points(), "13900000001");
    // w9 (not registered) walks along y = 20 in A, 09:00–09:40: one patrol, near the road.
    for (k, x) in [-90.0, -45.0, 0.0, 45.0, 90.0].into_iter().enumerate() {
        pts.push(at(
            "w9",
            &format!("2026-11-20T09:{:02}:00+08:00", k * 10),
            x,
            20.0,
        ));
    }
    // "王伟" names two registered workers: ambiguous. Two points 5 minutes apart in B.
    pts.push(at("王伟", "2026-11-20T10:00:00+08:00", 150.0, 0.0));
    pts.push(at("王伟", "2026-11-20T10:05:00+08:00", 160.0, 0.0));
    let checked = check(pts, &CheckRules::new(now()));
    let w = Window::day(day(20), zone());
    let mut run = index.run(w, Some(&roster));
    run.add(&checked.accepted);
    let cov = run.finish();
    let statuses: Vec<(&str, Status)> = cov
        .workers
        .iter()
        .map(|w| (w.worker.as_str(), w.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("张三", Status::Registered),
            ("李四", Status::Registered),
            ("王伟", Status::Registered),
            ("王伟", Status::Registered),
            ("王伟", Status::Ambiguous),
            ("w9", Status::Unregistered),
        ],
        "registered workers in roster order (patrolled or not), then the other ids"
    );
    let z = &cov.workers[0];
    assert_eq!(z.phone.as_deref(), Some("13900000001"));
    assert_eq!(z.ids, vec!["13900000001".to_string()]);
    assert_eq!(z.grids.len(), 1);
    assert_eq!(z.grids[0].as_str(), "110101001001001");
    // His 12 points of the day, all in A (x = -100 is A's border: included).
    assert_eq!((z.points, z.points_in_grids), (12, 12));
    assert_eq!((z.patrols, z.days_twice), (2, 1));
    assert_eq!(z.days.len(), 1);
    assert!(z.days[0].twice && z.days[0].patrols == 2);
    // Shares from his points only: the same as the grid's when he walked alone (see
    // every_coverage_figure_on_a_hand_checked_grid), although w9 walked more of A's road.
    assert!((z.road_m - 199.9).abs() < 0.01);
    assert!(
        (z.road_walked_m - 18.0 * 4.9975).abs() < 0.01,
        "{}",
        z.road_walked_m
    );
    assert_eq!((z.buildings, z.buildings_passed), (4, 2));
    assert_eq!((z.targets, z.targets_passed), (2, 1));
    let a = &cov.grids[0];
    assert!(
        a.road_walked_m > z.road_walked_m + 50.0,
        "{}",
        a.road_walked_m
    );
    assert_eq!(a.points, 12 + 5);
    let cells = index.cells(0);
    let his: Vec<h3o::CellIndex> = checked
        .accepted
        .iter()
        .filter(|p| &*p.worker == "13900000001" && p.time.date_naive() == day(20))
        .map(|p| {
            h3o::LatLng::new(p.lat, p.lon)
                .unwrap()
                .to_cell(h3o::Resolution::Eleven)
        })
        .collect();
    let hit = cells.iter().filter(|c| his.contains(c)).count();
    assert_eq!((z.cells, z.cells_visited), (cells.len(), hit));
    assert!(a.cells_visited > z.cells_visited);
    // 李四: registered for B, no point: nothing covered, the shares of what B has.
    let l = &cov.workers[1];
    assert!(l.ids.is_empty() && l.phone.is_none());
    assert_eq!((l.points, l.patrols, l.days_twice), (0, 0, 0));
    assert_eq!(
        (l.road_m, l.road_share, l.building_share),
        (0.0, None, None)
    );
    assert_eq!((l.cells, l.cells_visited), (index.cells(1).len(), 0));
    assert_eq!(l.cell_share, Some(0.0));
    // The ambiguous id: its points, no grid, no share; a 5-minute run is not a patrol.
    let amb = &cov.workers[4];
    assert_eq!((amb.points, amb.points_in_grids, amb.patrols), (2, 0, 0));
    assert!(amb.grids.is_empty() && amb.road_share.is_none() && amb.cell_share.is_none());
    // w9: unregistered; patrols counted wherever they are.
    let w9 = &cov.workers[5];
    assert_eq!(w9.ids, vec!["w9".to_string()]);
    assert_eq!((w9.points, w9.patrols, w9.days_twice), (5, 1, 0));
    assert!(w9.grids.is_empty() && w9.road_share.is_none());
    // The points of the ambiguous id still count for the grid they are in.
    assert_eq!(cov.grids[1].points, 2);
}

#[test]
fn a_worker_of_two_grids_counts_their_shared_road_once() {
    use wangge::snapshot::Role::GridWorker;
    let mut snap = hand_snapshot();
    // A road on the border of A and B (x = 100, y from -50 to 50): in both grids.
    snap.barriers = vec![Barrier {
        class: BarrierClass::MinorRoad,
        name: None,
        lines: vec![LineString::new(vec![ll(100.0, -50.0), ll(100.0, 50.0)])],
    }];
    snap.grids[0].people = vec![person(GridWorker, "赵六", None)];
    snap.grids[1].people = vec![person(GridWorker, "赵六", None)];
    let index = CoverageIndex::new(&snap, CoverageRules::default());
    let roster = Roster::from_snapshot(&snap);
    // He walks the border road north, 08:00–08:40; a point in B and one in A.
    let mut pts: Vec<PatrolPoint> = (0..5)
        .map(|k| {
            at(
                "赵六",
                &format!("2026-11-20T08:{:02}:00+08:00", k * 10),
                100.0,
                -50.0 + 25.0 * k as f64,
            )
        })
        .collect();
    pts.push(at("赵六", "2026-11-20T08:45:00+08:00", 150.0, 0.0));
    pts.push(at("赵六", "2026-11-20T08:50:00+08:00", 50.0, 0.0));
    let checked = check(pts, &CheckRules::new(now()));
    let mut run = index.run(Window::day(day(20), zone()), Some(&roster));
    run.add(&checked.accepted);
    let cov = run.finish();
    assert_eq!(cov.workers.len(), 1);
    let w = &cov.workers[0];
    assert_eq!(w.grids.len(), 2);
    assert!(
        (w.road_m - 100.0).abs() < 0.01,
        "shared road once: {}",
        w.road_m
    );
    assert!(
        (w.road_walked_m - 100.0).abs() < 0.01,
        "{}",
        w.road_walked_m
    );
    assert!(
        (cov.grids[0].road_m - 100.0).abs() < 0.01 && (cov.grids[1].road_m - 100.0).abs() < 0.01
    );
    assert_eq!(w.cells, index.cells(0).len() + index.cells(1).len());
    assert_eq!((w.points, w.points_in_grids), (7, 7));
    // One run through both grids (50 minutes).
    assert_eq!(w.patrols, 1);
}

#[test]
fn a_window_fed_day_by_day_gives_the_figures_of_all_its_points_at_once() {
    let snap = registered_snapshot();
    let index = CoverageIndex::new(&snap, CoverageRules::default());
    let roster = Roster::from_snapshot(&snap);
    let mut pts = rename(hand_points(), "13900000001");
    // A patrol across midnight, 23:40–00:20: it belongs to the 20th, where it starts.
    for (k, time) in [
        "2026-11-20T23:40:00+08:00",
        "2026-11-20T23:50:00+08:00",
        "2026-11-21T00:00:00+08:00",
        "2026-11-21T00:10:00+08:00",
        "2026-11-21T00:20:00+08:00",
    ]
    .into_iter()
    .enumerate()
    {
        pts.push(at("13900000001", time, -80.0 + 10.0 * k as f64, -80.0));
    }
    // Another worker on the 21st only, in B.
    for k in 0..4 {
        pts.push(at(
            "李四",
            &format!("2026-11-21T09:{:02}:00+08:00", k * 10),
            200.0,
            10.0 * k as f64,
        ));
    }
    let accepted = check(pts, &CheckRules::new(now())).accepted;
    let period = Period::between(day(20), day(21), zone()).unwrap();
    let mut once = index.run(period.window(), Some(&roster));
    once.add(&accepted);
    let once = once.finish();
    let mut daily = index.run(period.window(), Some(&roster));
    let mut per_day = Vec::new();
    for d in period.dates() {
        let w = period.day_window(d);
        // Each day's points in reverse order: order within a chunk does not matter.
        let mut mine: Vec<PatrolPoint> = accepted
            .iter()
            .filter(|p| w.contains(&p.time))
            .cloned()
            .collect();
        mine.reverse();
        per_day.push(daily.add(&mine));
    }
    let daily = daily.finish();
    assert_eq!(daily, once);
    let a = &once.grids[0];
    // 20th: morning, afternoon and the midnight patrol; 21st: the morning only.
    let days: Vec<(NaiveDate, usize, bool)> =
        a.days.iter().map(|d| (d.day, d.patrols, d.twice)).collect();
    assert_eq!(days, vec![(day(20), 3, true), (day(21), 1, false)]);
    assert_eq!(once.workers[0].patrols, 4);
    assert_eq!(once.workers[1].patrols, 1, "李四 on the 21st");
    // Each day on its own (what the daily report ranks): the 21st sees 00:00–00:20 as a
    // patrol of its own.
    assert_eq!(per_day[0][0].patrols, 3);
    assert_eq!(per_day[1][0].patrols, 2);
    assert_eq!(per_day[1][1].patrols, 1);
    // Shares over the window are the union of the days'.
    assert!(a.road_walked_m >= per_day[0][0].road_walked_m.max(per_day[1][0].road_walked_m));
    assert_eq!(index.coverage(&accepted, &period.window()), once.grids);
}
