//! The domain: villages, buildings, barriers, grids and their codes.
//!
//! Town (镇/街道) → [`Village`] (村/社区) → grid (网格) → micro-grid (微网格). Geometry is WGS84/CGCS2000
//! lon/lat.

use geo::{LineString, MultiPolygon, Point};
use serde::Serialize;
use std::fmt;

/// How a village is divided (seed 000: three modes of division).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Built-up town area (集镇建成区): grids of whole buildings along streets.
    #[default]
    Town,
    /// Industrial park (工业园区): firms get dedicated micro-grids.
    Industrial,
    /// Countryside (农村): villager groups (村民小组) are never split unless one alone is too big.
    Rural,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::Town, Mode::Industrial, Mode::Rural];

    /// `town`, `industrial` or `rural` (the `mode` field's text).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Town => "town",
            Mode::Industrial => "industrial",
            Mode::Rural => "rural",
        }
    }

    /// Parses `town`, `industrial` or `rural`.
    ///
    /// ```
    /// use wangge::model::Mode;
    /// for m in Mode::ALL {
    ///     assert_eq!(m.as_str().parse::<Mode>(), Ok(m));
    /// }
    /// assert_eq!(Mode::parse("city"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Mode> {
        s.parse().ok()
    }
}

impl std::str::FromStr for Mode {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Mode, UnknownName> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownName::new("mode", s))
    }
}

/// A name that is not one of an enum's texts (a mode, a barrier class, a micro-grid kind, a
/// register join).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    /// What was asked for (`mode`, `barrier class`, `micro-grid kind`).
    pub what: &'static str,
    /// The text given.
    pub name: String,
}

impl UnknownName {
    pub(crate) fn new(what: &'static str, name: &str) -> UnknownName {
        UnknownName {
            what,
            name: name.to_string(),
        }
    }
}

/// A village or community (村/社区) with its 12-digit statistical division code.
#[derive(Clone, Debug)]
pub struct Village {
    /// 12-digit division code (统计用区划代码).
    pub code: VillageCode,
    /// Name, e.g. 东风村.
    pub name: String,
    /// Mode of division.
    pub mode: Mode,
    /// Boundary, possibly in several pieces, possibly with holes.
    pub boundary: MultiPolygon<f64>,
}

/// What a building is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildingKind {
    /// Homes.
    Residential,
    /// A school: a dedicated micro-grid (专属微网格).
    School,
    /// A hospital: a dedicated micro-grid.
    Hospital,
    /// A factory: one micro-grid per workshop over 300 staff (一车间一网格).
    Factory,
    /// Shops and malls: dedicated micro-grids of 200–300 people.
    Commercial,
    /// Office buildings: dedicated micro-grids of 200–300 people.
    Office,
}

impl BuildingKind {
    /// Every kind.
    pub const ALL: [BuildingKind; 6] = [
        BuildingKind::Residential,
        BuildingKind::School,
        BuildingKind::Hospital,
        BuildingKind::Factory,
        BuildingKind::Commercial,
        BuildingKind::Office,
    ];

    /// The `kind` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildingKind::Residential => "residential",
            BuildingKind::School => "school",
            BuildingKind::Hospital => "hospital",
            BuildingKind::Factory => "factory",
            BuildingKind::Commercial => "commercial",
            BuildingKind::Office => "office",
        }
    }

    /// Parses the `kind` field.
    ///
    /// ```
    /// use wangge::model::BuildingKind;
    /// for k in BuildingKind::ALL {
    ///     assert_eq!(BuildingKind::parse(k.as_str()), Some(k));
    /// }
    /// assert_eq!(BuildingKind::parse("farm"), None);
    /// ```
    pub fn parse(s: &str) -> Option<BuildingKind> {
        BuildingKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Whether the building gets a dedicated micro-grid of its own.
    pub fn is_dedicated(self) -> bool {
        self != BuildingKind::Residential
    }
}

/// A building (楼幢) or house with its households (户) and residents (实有人口).
#[derive(Clone, Debug)]
pub struct Building {
    /// The planner's id.
    pub id: String,
    /// A point inside the building (its footprint's interior point, or the address point).
    pub point: Point<f64>,
    /// The footprint, when the input gave one (the basemap draws it; the partition uses `point`).
    pub footprint: Option<MultiPolygon<f64>>,
    /// Households living here.
    pub households: u64,
    /// Residents living here.
    pub residents: u64,
    /// What it is used for.
    pub kind: BuildingKind,
    /// Address, if known.
    pub address: Option<String>,
    /// Villager group (村民小组), in the countryside.
    pub group: Option<String>,
    /// Staff, for firms, schools, hospitals.
    pub staff: Option<u64>,
    /// Workshops (车间), for factories.
    pub workshops: Option<u64>,
    /// An extra numeric field named by `--weight <field>`.
    pub custom: Option<f64>,
    /// Index of the village it lies in.
    pub village: usize,
}

/// A ready-made unit polygon (a census block, a parcel) used instead of tessellating buildings.
#[derive(Clone, Debug)]
pub struct Unit {
    /// The unit's id.
    pub id: String,
    /// Its outline.
    pub area: MultiPolygon<f64>,
    /// Households, if given.
    pub households: f64,
    /// Residents, if given.
    pub residents: f64,
    /// The `--weight <field>` value, if a custom field was asked for.
    pub custom: Option<f64>,
    /// Index of the village it lies in.
    pub village: usize,
}

/// A villager-group polygon (村民小组).
#[derive(Clone, Debug)]
pub struct Group {
    /// The group's name, as in buildings' `group`.
    pub id: String,
    /// Its outline.
    pub area: MultiPolygon<f64>,
}

/// What kind of line a barrier is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BarrierClass {
    /// River or canal.
    River,
    /// Railway.
    Rail,
    /// Expressway.
    Expressway,
    /// Main road.
    MajorRoad,
    /// Minor road.
    MinorRoad,
}

impl BarrierClass {
    /// Every class.
    pub const ALL: [BarrierClass; 5] = [
        BarrierClass::River,
        BarrierClass::Rail,
        BarrierClass::Expressway,
        BarrierClass::MajorRoad,
        BarrierClass::MinorRoad,
    ];

    /// `river`, `rail`, `expressway`, `major_road` or `minor_road` (the `class` field's text).
    pub fn as_str(self) -> &'static str {
        match self {
            BarrierClass::River => "river",
            BarrierClass::Rail => "rail",
            BarrierClass::Expressway => "expressway",
            BarrierClass::MajorRoad => "major_road",
            BarrierClass::MinorRoad => "minor_road",
        }
    }

    /// Parses the `class` field.
    ///
    /// ```
    /// use wangge::model::BarrierClass;
    /// for c in BarrierClass::ALL {
    ///     assert_eq!(c.as_str().parse::<BarrierClass>(), Ok(c));
    /// }
    /// assert_eq!(BarrierClass::parse("canal"), None);
    /// ```
    pub fn parse(s: &str) -> Option<BarrierClass> {
        s.parse().ok()
    }
}

impl std::str::FromStr for BarrierClass {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<BarrierClass, UnknownName> {
        BarrierClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("barrier class", s))
    }
}

/// Why a micro-grid is what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MicroKind {
    /// Whole buildings or villager-group parts, 50–80 households.
    Residential,
    /// A dedicated micro-grid (专属微网格) for a school, hospital, firm, mall or office.
    Dedicated,
    /// One part of a building over the band, split by stairwell/floor (same footprint).
    BuildingPart,
}

impl MicroKind {
    /// Every kind.
    pub const ALL: [MicroKind; 3] = [
        MicroKind::Residential,
        MicroKind::Dedicated,
        MicroKind::BuildingPart,
    ];

    /// `residential`, `dedicated` or `building_part`.
    ///
    /// ```
    /// use wangge::model::MicroKind;
    /// for k in MicroKind::ALL {
    ///     assert_eq!(k.as_str().parse::<MicroKind>(), Ok(k));
    /// }
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            MicroKind::Residential => "residential",
            MicroKind::Dedicated => "dedicated",
            MicroKind::BuildingPart => "building_part",
        }
    }
}

impl std::str::FromStr for MicroKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<MicroKind, UnknownName> {
        MicroKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName::new("micro-grid kind", s))
    }
}

/// A line on the ground that grid borders should follow and grids should not cross.
#[derive(Clone, Debug)]
pub struct Barrier {
    /// What it is.
    pub class: BarrierClass,
    /// Its name, if known.
    pub name: Option<String>,
    /// The line (several parts for a MultiLineString).
    pub lines: Vec<LineString<f64>>,
}

/// A 12-digit village/community division code: 6 county + 3 township + 3 village.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct VillageCode(String);

/// Why a string is not a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{got}` is not a {want}-digit code")]
pub struct CodeError {
    /// The string given.
    pub got: String,
    /// Digits wanted.
    pub want: usize,
}

fn digits(s: &str, want: usize) -> Result<String, CodeError> {
    if s.len() == want && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(CodeError {
            got: s.to_string(),
            want,
        })
    }
}

impl VillageCode {
    /// Checks that `s` is exactly 12 ASCII digits.
    ///
    /// ```
    /// use wangge::model::VillageCode;
    /// assert!(VillageCode::parse("110101001001").is_ok());
    /// assert!(VillageCode::parse("11010100100").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<VillageCode, CodeError> {
        digits(s, 12).map(VillageCode)
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The grid code for sequence number `seq` (1-based).
    pub fn grid(&self, seq: u32) -> GridCode {
        GridCode(format!("{}{:03}", self.0, seq))
    }
}

impl fmt::Display for VillageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 15-digit grid code: village code + 3-digit sequence, numbered west→east, north→south.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GridCode(String);

impl GridCode {
    /// Checks that `s` is exactly 15 ASCII digits.
    ///
    /// ```
    /// use wangge::model::GridCode;
    /// assert!(GridCode::parse("110101001001003").is_ok());
    /// assert!(GridCode::parse("11010100100100").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<GridCode, CodeError> {
        digits(s, 15).map(GridCode)
    }
    /// The code of the village it belongs to (its first 12 digits).
    pub fn village(&self) -> VillageCode {
        VillageCode(self.0[..12].to_string())
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The micro-grid code for sequence number `seq` (1-based): 18 digits.
    pub fn micro(&self, seq: u32) -> MicroGridCode {
        MicroGridCode(format!("{}{:03}", self.0, seq))
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An 18-digit micro-grid code: grid code + 3-digit sequence.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MicroGridCode(String);

impl MicroGridCode {
    /// Checks that `s` is exactly 18 ASCII digits.
    pub fn parse(s: &str) -> Result<MicroGridCode, CodeError> {
        digits(s, 18).map(MicroGridCode)
    }
    /// The code of the grid it belongs to (its first 15 digits).
    pub fn grid(&self) -> GridCode {
        GridCode(self.0[..15].to_string())
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MicroGridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a town's partition starts from.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Villages and communities.
    pub villages: Vec<Village>,
    /// Buildings and houses.
    pub buildings: Vec<Building>,
    /// Ready-made units, if given (then buildings are optional).
    pub units: Vec<Unit>,
    /// Villager-group polygons, if given.
    pub groups: Vec<Group>,
    /// Roads, rivers, railways.
    pub barriers: Vec<Barrier>,
}

/// What the grid band counts (`--weight`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Weight {
    /// Households (户), the default.
    #[default]
    Households,
    /// Residents (实有人口).
    Residents,
    /// Any other numeric field of buildings or units.
    Field(String),
}

impl Weight {
    /// Parses `households`, `residents` or a field name.
    pub fn parse(s: &str) -> Weight {
        match s {
            "households" => Weight::Households,
            "residents" => Weight::Residents,
            other => Weight::Field(other.to_string()),
        }
    }
    /// The name used in reports.
    pub fn name(&self) -> &str {
        match self {
            Weight::Households => "households",
            Weight::Residents => "residents",
            Weight::Field(f) => f,
        }
    }
}
