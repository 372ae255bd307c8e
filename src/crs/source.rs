//! The coordinate system an input file is in ([`SourceCrs`]): read from a `.prj` (WKT), a
//! GeoPackage's SRS, a GeoJSON `crs` member, or given as `--crs`; and the conversion of its
//! coordinates to lon/lat on WGS84/CGCS2000.
//!
//! Known: EPSG:4326 (WGS 84), 4490 (CGCS2000 geographic, taken as WGS84: the two differ by
//! millimetres to a few centimetres, far below what a grid border needs), every CGCS2000
//! Gauss–Krüger zone (3°: 4513–4533 with the zone number in front of the easting, 4534–4554
//! without; 6°: 4491–4501 with, 4502–4512 without), WGS 84 / UTM (32601–32660, 32701–32760), Web
//! Mercator (3857), and `gcj02` / `bd09` for lon/lat drawn on Amap or Baidu maps. Xi'an 80 and
//! Beijing 54 are refused: moving them to CGCS2000 needs a local 7-parameter set (an error of
//! 50–100 m without one), which the planner must apply first.
//!
//! ```
//! use wangge::crs::source::SourceCrs;
//! let zone: SourceCrs = "EPSG:4527".parse().unwrap(); // CGCS2000 3° GK zone 39 (117°E)
//! let (lon, lat) = zone.to_lonlat(39_547_627.381, 3_458_800.037).unwrap();
//! assert!((lon - 117.5).abs() < 1e-8 && (lat - 31.25).abs() < 1e-8);
//! // An easting without the zone number is not in this CRS, and says so.
//! assert!(zone.to_lonlat(547_627.381, 3_458_800.037).unwrap_err().contains("EPSG:4548"));
//! ```

use super::tm::{web_mercator_inverse, Ellipsoid, TransverseMercator};
use super::Crs;
use std::fmt;
use std::str::FromStr;

/// The coordinate system of an input layer.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceCrs {
    /// How it is shown in messages, e.g. `EPSG:4527 (CGCS2000 / 3-degree Gauss-Kruger zone 39)`.
    pub name: String,
    /// What its coordinates are.
    pub kind: CrsKind,
}

/// What the coordinates of a [`SourceCrs`] are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CrsKind {
    /// Longitude, latitude in degrees on WGS84/CGCS2000, GCJ-02 or BD-09.
    LonLat {
        /// The datum or web-map offset.
        datum: Crs,
        /// Whether points must lie in China (CGCS2000, GCJ-02, BD-09).
        china: bool,
    },
    /// Transverse Mercator metres (Gauss–Krüger, UTM).
    Tm {
        /// The projection.
        tm: TransverseMercator,
        /// Half the zone's width in degrees, when the zone is a standard one.
        half_width: Option<f64>,
        /// Whether points must lie in China (CGCS2000 zones).
        china: bool,
    },
    /// Web Mercator metres (EPSG:3857).
    WebMercator,
}

/// Why a CRS cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrsError {
    /// Not a CRS wangge knows.
    #[error("unknown coordinate system {0}: wangge reads EPSG:4326, 4490, the CGCS2000 Gauss-Kruger zones 4491-4554, UTM 32601-32660/32701-32760, 3857, gcj02 and bd09; convert the file to one of them or give --crs")]
    Unknown(String),
    /// Xi'an 80 or Beijing 54: no datum shift without local parameters.
    #[error("{crs} is on the {datum} datum: moving it to CGCS2000 needs the local 7-parameter set (without it points are 50-100 m off), which wangge does not have; convert the file to CGCS2000 with the land office's parameters first, or give --crs if its coordinates are CGCS2000 already")]
    OldDatum {
        /// The CRS as named in the file.
        crs: String,
        /// `Xi'an 1980` or `Beijing 1954`.
        datum: &'static str,
    },
    /// A WKT that does not parse.
    #[error("cannot read the coordinate system text (WKT): {0}")]
    BadWkt(String),
}

/// Where points of a Chinese CRS may lie: a generous box around China that holds every
/// CGCS2000 zone (72°E–138°E).
fn in_china(lon: f64, lat: f64) -> bool {
    (70.0..=140.0).contains(&lon) && (0.0..=56.0).contains(&lat)
}

fn lonlat(name: String, datum: Crs, china: bool) -> SourceCrs {
    SourceCrs {
        name,
        kind: CrsKind::LonLat { datum, china },
    }
}

fn gk(code: u32, what: String, lon0: f64, fe: f64, half: f64) -> SourceCrs {
    SourceCrs {
        name: format!("EPSG:{code} (CGCS2000 / {what})"),
        kind: CrsKind::Tm {
            tm: TransverseMercator::gauss_kruger(Ellipsoid::CGCS2000, lon0, fe),
            half_width: Some(half),
            china: true,
        },
    }
}

fn old_datum(code: u32) -> Option<&'static str> {
    match code {
        4610 | 2327..=2390 => Some("Xi'an 1980"),
        4214 | 2401..=2442 | 21413..=21423 | 21453..=21463 | 21473..=21483 => Some("Beijing 1954"),
        _ => None,
    }
}

impl SourceCrs {
    /// WGS 84 lon/lat, the GeoJSON and KML default.
    pub fn wgs84() -> SourceCrs {
        lonlat("EPSG:4326 (WGS84)".into(), Crs::Wgs84, false)
    }

    /// The CRS of an EPSG code.
    ///
    /// ```
    /// use wangge::crs::source::SourceCrs;
    /// assert!(SourceCrs::from_epsg(4534).unwrap().name.contains("CM 75E"));
    /// assert!(SourceCrs::from_epsg(2383).unwrap_err().to_string().contains("Xi'an 1980"));
    /// ```
    pub fn from_epsg(code: u32) -> Result<SourceCrs, CrsError> {
        if let Some(datum) = old_datum(code) {
            return Err(CrsError::OldDatum {
                crs: format!("EPSG:{code}"),
                datum,
            });
        }
        let f = code as f64;
        Ok(match code {
            4326 => SourceCrs::wgs84(),
            4490 => lonlat("EPSG:4490 (CGCS2000)".into(), Crs::Wgs84, true),
            4491..=4501 => {
                let zone = f - 4491.0 + 13.0;
                let what = format!("Gauss-Kruger zone {zone}");
                gk(code, what, zone * 6.0 - 3.0, zone * 1e6 + 5e5, 3.0)
            }
            4502..=4512 => {
                let cm = 75.0 + (f - 4502.0) * 6.0;
                gk(code, format!("Gauss-Kruger CM {cm}E"), cm, 5e5, 3.0)
            }
            4513..=4533 => {
                let zone = f - 4513.0 + 25.0;
                let what = format!("3-degree Gauss-Kruger zone {zone}");
                gk(code, what, zone * 3.0, zone * 1e6 + 5e5, 1.5)
            }
            4534..=4554 => {
                let cm = 75.0 + (f - 4534.0) * 3.0;
                gk(
                    code,
                    format!("3-degree Gauss-Kruger CM {cm}E"),
                    cm,
                    5e5,
                    1.5,
                )
            }
            32601..=32660 | 32701..=32760 => {
                let south = code > 32700;
                let zone = (code % 100) as f64;
                SourceCrs {
                    name: format!(
                        "EPSG:{code} (WGS 84 / UTM zone {zone}{})",
                        if south { "S" } else { "N" }
                    ),
                    kind: CrsKind::Tm {
                        tm: TransverseMercator {
                            ellipsoid: Ellipsoid::WGS84,
                            lon0: zone * 6.0 - 183.0,
                            k0: 0.9996,
                            false_easting: 5e5,
                            false_northing: if south { 1e7 } else { 0.0 },
                        },
                        half_width: Some(3.0),
                        china: false,
                    },
                }
            }
            3857 | 900913 => SourceCrs {
                name: "EPSG:3857 (Web Mercator)".into(),
                kind: CrsKind::WebMercator,
            },
            _ => return Err(CrsError::Unknown(format!("EPSG:{code}"))),
        })
    }

    /// Converts one coordinate to WGS84 lon/lat, or says why it cannot be in this CRS.
    pub fn to_lonlat(&self, x: f64, y: f64) -> Result<(f64, f64), String> {
        if !x.is_finite() || !y.is_finite() {
            return Err(format!("coordinate ({x}, {y}) is not a number"));
        }
        let (lon, lat, china) = match self.kind {
            CrsKind::LonLat { datum, china } => {
                if x.abs() > 180.0 || y.abs() > 90.0 {
                    let hint = if x.abs() > 1000.0 || y.abs() > 1000.0 {
                        " (metres? give the projected CRS with --crs EPSG:NNNN)"
                    } else if x.abs() <= 90.0 && y.abs() <= 180.0 {
                        " (latitude and longitude swapped?)"
                    } else {
                        ""
                    };
                    return Err(format!(
                        "coordinate ({x}, {y}) is not a lon/lat in {}{hint}",
                        self.name
                    ));
                }
                let (lon, lat) = datum.to_wgs84(x, y);
                (lon, lat, china)
            }
            CrsKind::Tm {
                tm,
                half_width,
                china,
            } => {
                self.check_easting(&tm, x)?;
                let (lon, lat) = tm.inverse(x, y);
                if let Some(h) = half_width {
                    if (lon - tm.lon0).abs() > h + 1.0 || lat.abs() > 85.0 {
                        return Err(format!(
                            "coordinate ({x}, {y}) lies outside {} (at {lon:.4}, {lat:.4})",
                            self.name
                        ));
                    }
                }
                (lon, lat, china)
            }
            CrsKind::WebMercator => {
                let (lon, lat) = web_mercator_inverse(x, y);
                (lon, lat, false)
            }
        };
        if china && !in_china(lon, lat) {
            return Err(format!(
                "coordinate ({x}, {y}) in {} is at ({lon:.5}, {lat:.5}), outside China: is the coordinate system right (or x and y swapped)?",
                self.name
            ));
        }
        Ok((lon, lat))
    }

    /// An easting must carry the zone number in front exactly when the false easting does.
    fn check_easting(&self, tm: &TransverseMercator, x: f64) -> Result<(), String> {
        let prefix = (tm.false_easting / 1e6).floor();
        let got = (x / 1e6).floor();
        let suggest = |zone: f64| -> String {
            let z = zone as i64;
            match z {
                25..=45 => format!(
                    " (3° zone {z} with the number in front is EPSG:{})",
                    4488 + z
                ),
                13..=23 => format!(
                    " (6° zone {z} with the number in front is EPSG:{})",
                    4478 + z
                ),
                _ => String::new(),
            }
        };
        if prefix == 0.0 && got >= 1.0 {
            let cm = tm.lon0;
            let fix = if (73.0..=136.0).contains(&cm) {
                " (zone numbers in front: EPSG:4513-4533 for 3° zones, 4491-4501 for 6° zones)"
            } else {
                ""
            };
            return Err(format!(
                "easting {x} has a zone number in front ({got}), but {} has none: the file is in another CRS{fix}{}",
                self.name,
                suggest(got)
            ));
        }
        if prefix > 0.0 && got != prefix {
            if got == 0.0 {
                let no_prefix = match prefix as i64 {
                    z @ 25..=45 => format!(" (EPSG:{})", 4509 + z),
                    z @ 13..=23 => format!(" (EPSG:{})", 4489 + z),
                    _ => String::new(),
                };
                return Err(format!(
                    "easting {x} has no zone number in front, but {} expects {prefix} in front: the file is in the zone's CRS without the number{no_prefix}",
                    self.name
                ));
            }
            return Err(format!(
                "easting {x} says zone {got}, but {} is zone {prefix}: the file is in another zone{}",
                self.name,
                suggest(got)
            ));
        }
        Ok(())
    }

    /// Parses a WKT text (a `.prj`, a GeoPackage SRS definition): by its EPSG authority when it
    /// has one, else by its datum, projection and parameters.
    ///
    /// ```
    /// use wangge::crs::source::SourceCrs;
    /// let prj = r#"PROJCS["CGCS2000_3_Degree_GK_CM_117E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
    /// let crs = SourceCrs::from_wkt(prj).unwrap();
    /// let (lon, _) = crs.to_lonlat(500_000.0, 3_000_000.0).unwrap();
    /// assert!((lon - 117.0).abs() < 1e-9);
    /// ```
    pub fn from_wkt(wkt: &str) -> Result<SourceCrs, CrsError> {
        let root = wkt::parse(wkt).map_err(CrsError::BadWkt)?;
        let name = root.text(0).unwrap_or("unnamed").to_string();
        let datum_name = root.find("DATUM").and_then(|d| d.text(0)).unwrap_or("");
        let datum = norm(datum_name);
        let old = if datum.contains("xian") || datum.contains("xi_an") {
            Some("Xi'an 1980")
        } else if datum.contains("beijing") {
            Some("Beijing 1954")
        } else {
            None
        };
        if let Some(datum) = old {
            return Err(CrsError::OldDatum { crs: name, datum });
        }
        if let Some(code) = root.epsg() {
            if let Ok(c) = SourceCrs::from_epsg(code) {
                return Ok(c);
            }
        }
        let unknown = || CrsError::Unknown(format!("\"{name}\""));
        let key = root.key.to_ascii_uppercase();
        let cgcs = datum.contains("china2000")
            || datum.contains("cgcs2000")
            || datum.contains("chinageodeticcoordinatesystem2000");
        let wgs = datum.contains("wgs84")
            || datum.contains("wgs1984")
            || datum.contains("worldgeodeticsystem1984");
        match key.as_str() {
            "GEOGCS" | "GEOGCRS" | "GEODCRS" | "GEOGRAPHICCRS" => {
                if cgcs {
                    Ok(lonlat(format!("\"{name}\" (CGCS2000)"), Crs::Wgs84, true))
                } else if wgs {
                    Ok(lonlat(format!("\"{name}\" (WGS 84)"), Crs::Wgs84, false))
                } else {
                    Err(unknown())
                }
            }
            "PROJCS" | "PROJCRS" | "PROJECTEDCRS" => {
                if !(cgcs || wgs) {
                    return Err(unknown());
                }
                let method = root
                    .find("PROJECTION")
                    .or_else(|| root.find("METHOD"))
                    .and_then(|m| m.text(0))
                    .map(norm)
                    .unwrap_or_default();
                if !(method.contains("transversemercator") || method.contains("gausskruger")) {
                    if method.contains("pseudomercator") || method.contains("auxiliarysphere") {
                        return SourceCrs::from_epsg(3857);
                    }
                    return Err(unknown());
                }
                let p = |names: &[&str]| root.parameter(names);
                let lat0 = p(&["latitudeoforigin", "latitudeofnaturalorigin"]).unwrap_or(0.0);
                let unit = root
                    .children()
                    .find(|c| c.key.eq_ignore_ascii_case("UNIT"))
                    .and_then(|u| u.number(1))
                    .unwrap_or(1.0);
                if lat0 != 0.0 || (unit - 1.0).abs() > 1e-12 {
                    return Err(unknown());
                }
                let (a, rf) = root
                    .find("SPHEROID")
                    .or_else(|| root.find("ELLIPSOID"))
                    .and_then(|s| Some((s.number(1)?, s.number(2)?)))
                    .ok_or_else(unknown)?;
                let tm = TransverseMercator {
                    ellipsoid: Ellipsoid { a, f: 1.0 / rf },
                    lon0: p(&[
                        "centralmeridian",
                        "longitudeofnaturalorigin",
                        "longitudeofcenter",
                    ])
                    .ok_or_else(unknown)?,
                    k0: p(&["scalefactor", "scalefactoratnaturalorigin"]).unwrap_or(1.0),
                    false_easting: p(&["falseeasting"]).unwrap_or(0.0),
                    false_northing: p(&["falsenorthing"]).unwrap_or(0.0),
                };
                Ok(SourceCrs {
                    name: format!("\"{name}\""),
                    kind: CrsKind::Tm {
                        tm,
                        half_width: None,
                        china: cgcs,
                    },
                })
            }
            _ => Err(unknown()),
        }
    }
}

/// Lower case, letters and digits only.
fn norm(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl FromStr for SourceCrs {
    type Err = CrsError;
    /// `EPSG:4527`, `4527`, `urn:ogc:def:crs:EPSG::4527`, `CRS84`, `wgs84`, `cgcs2000`, `gcj02`,
    /// `bd09`, or a WKT text.
    fn from_str(s: &str) -> Result<SourceCrs, CrsError> {
        let t = s.trim();
        if t.contains('[') {
            return SourceCrs::from_wkt(t);
        }
        let lower = t.to_ascii_lowercase();
        if lower.ends_with("crs84") {
            return Ok(SourceCrs::wgs84());
        }
        let digits = lower
            .strip_prefix("epsg:")
            .or_else(|| lower.rsplit_once("epsg::").map(|(_, c)| c))
            .or_else(|| lower.rsplit_once("epsg:").map(|(_, c)| c))
            .unwrap_or(&lower);
        if let Ok(code) = digits.trim().parse::<u32>() {
            return SourceCrs::from_epsg(code);
        }
        match Crs::from_str(t) {
            Ok(Crs::Wgs84) if lower.contains("cgcs") => SourceCrs::from_epsg(4490),
            Ok(Crs::Wgs84) => Ok(SourceCrs::wgs84()),
            Ok(datum) => Ok(lonlat(datum.to_string(), datum, true)),
            Err(_) => Err(CrsError::Unknown(format!("`{t}`"))),
        }
    }
}

impl fmt::Display for SourceCrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A small WKT (1 and 2) reader: `KEY[arg, …]` trees of quoted text, numbers and words.
mod wkt {
    /// One `KEY[…]` node.
    pub struct Node {
        pub key: String,
        pub args: Vec<Arg>,
    }

    pub enum Arg {
        Text(String),
        Number(f64),
        Word,
        Node(Node),
    }

    pub fn parse(s: &str) -> Result<Node, String> {
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
        };
        let n = p.node()?;
        Ok(n)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn word(&mut self) -> String {
            self.ws();
            let start = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || b"_.-+".contains(&self.s[self.i]))
            {
                self.i += 1;
            }
            String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
        }
        fn node(&mut self) -> Result<Node, String> {
            let key = self.word();
            if key.is_empty() {
                return Err(format!("expected a keyword at byte {}", self.i));
            }
            self.ws();
            let open = self.s.get(self.i).copied();
            if open != Some(b'[') && open != Some(b'(') {
                return Err(format!("expected [ after {key} at byte {}", self.i));
            }
            self.i += 1;
            let mut args = Vec::new();
            loop {
                self.ws();
                match self.s.get(self.i).copied() {
                    None => return Err(format!("{key}[ is not closed")),
                    Some(b']') | Some(b')') => {
                        self.i += 1;
                        return Ok(Node { key, args });
                    }
                    Some(b',') => self.i += 1,
                    Some(b'"') => {
                        self.i += 1;
                        let start = self.i;
                        while self.i < self.s.len() && self.s[self.i] != b'"' {
                            self.i += 1;
                        }
                        let t = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                        self.i += 1;
                        args.push(Arg::Text(t));
                    }
                    Some(_) => {
                        let save = self.i;
                        let w = self.word();
                        if w.is_empty() {
                            return Err(format!("unexpected character at byte {}", self.i));
                        }
                        self.ws();
                        if matches!(self.s.get(self.i), Some(b'[') | Some(b'(')) {
                            self.i = save;
                            args.push(Arg::Node(self.node()?));
                        } else if let Ok(n) = w.parse::<f64>() {
                            args.push(Arg::Number(n));
                        } else {
                            args.push(Arg::Word);
                        }
                    }
                }
            }
        }
    }

    impl Node {
        pub fn text(&self, i: usize) -> Option<&str> {
            match self.args.get(i)? {
                Arg::Text(t) => Some(t),
                _ => None,
            }
        }
        pub fn number(&self, i: usize) -> Option<f64> {
            match self.args.get(i)? {
                Arg::Number(n) => Some(*n),
                Arg::Text(t) => t.parse().ok(),
                _ => None,
            }
        }
        pub fn children(&self) -> impl Iterator<Item = &Node> {
            self.args.iter().filter_map(|a| match a {
                Arg::Node(n) => Some(n),
                _ => None,
            })
        }
        /// The first node named `key` (any case), depth first.
        pub fn find(&self, key: &str) -> Option<&Node> {
            for c in self.children() {
                if c.key.eq_ignore_ascii_case(key) {
                    return Some(c);
                }
                if let Some(n) = c.find(key) {
                    return Some(n);
                }
            }
            None
        }
        /// The EPSG code of this node itself (AUTHORITY or ID among its direct children).
        pub fn epsg(&self) -> Option<u32> {
            self.children()
                .filter(|c| {
                    c.key.eq_ignore_ascii_case("AUTHORITY") || c.key.eq_ignore_ascii_case("ID")
                })
                .find(|c| c.text(0).is_some_and(|a| a.eq_ignore_ascii_case("EPSG")))
                .and_then(|c| c.number(1))
                .map(|n| n as u32)
        }
        /// The value of the first PARAMETER whose normalised name is one of `names`.
        pub fn parameter(&self, names: &[&str]) -> Option<f64> {
            let mut stack: Vec<&Node> = vec![self];
            while let Some(n) = stack.pop() {
                for c in n.children() {
                    if c.key.eq_ignore_ascii_case("PARAMETER")
                        && c.text(0)
                            .is_some_and(|t| names.contains(&super::norm(t).as_str()))
                    {
                        return c.number(1);
                    }
                    stack.push(c);
                }
            }
            None
        }
    }
}
