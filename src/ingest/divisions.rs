//! Village codes and names checked against the national division list (统计用区划代码).
//!
//! A town's layers name each village by its 12-digit code and a name; a typo in either puts a
//! plan under the wrong village for years. The list shipped with the binary
//! (`fixtures/divisions/`, the National Bureau of Statistics' 2023 codes) holds every township of
//! China and the villages and communities of the provinces named in [`VILLAGE_PROVINCES`]; a
//! code is checked as far as the list reaches:
//!
//! - its township (first 9 digits) must be in the national list;
//! - where the list holds the province's villages, the code must be one of them and the name
//!   must match its official name, loosely: `多福巷社区`, `多福巷` and `多福巷社区居委会` are one name
//!   (the committee suffixes 居民委员会/村民委员会/居委会/村委会 and a trailing 社区/村 are set aside).
//!
//! What it finds are warnings ([`DivisionWarning`]), each naming the code and the names: the
//! plan is still made, as a test town or a newly created village may not be in the 2023 list.
//!
//! ```
//! use wangge::ingest::divisions::{DivisionList, DivisionWarning};
//! use wangge::model::VillageCode;
//! let list = DivisionList::national();
//! let code = VillageCode::parse("110101001001").unwrap();
//! assert_eq!(list.check(&code, "多福巷社区"), None);
//! assert!(matches!(list.check(&code, "银闸社区"), Some(DivisionWarning::NameDiffers { .. })));
//! let made_up = VillageCode::parse("110101999001").unwrap();
//! assert!(matches!(list.check(&made_up, "某村"), Some(DivisionWarning::UnknownTownship { .. })));
//! ```

use crate::model::{Dataset, VillageCode};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// The provinces (2-digit codes) whose villages and communities the shipped list holds.
pub const VILLAGE_PROVINCES: &[&str] = &["11"];

const TOWNSHIPS: &str = include_str!("../../fixtures/divisions/townships.csv");
const VILLAGES_11: &str = include_str!("../../fixtures/divisions/villages_11.csv");

/// Township and village codes with their official names.
#[derive(Debug, Default)]
pub struct DivisionList {
    townships: BTreeMap<String, String>,
    villages: BTreeMap<String, String>,
    village_provinces: Vec<String>,
}

/// What the check of one village found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DivisionWarning {
    /// The code's township (first 9 digits) is not in the national list.
    UnknownTownship {
        /// The village's code.
        code: VillageCode,
        /// The village's name as given.
        name: String,
    },
    /// The township is known and the list holds its province's villages, but not this code.
    UnknownVillage {
        /// The village's code.
        code: VillageCode,
        /// The village's name as given.
        name: String,
        /// The official name of its township.
        township: String,
    },
    /// The code is known under another name.
    NameDiffers {
        /// The village's code.
        code: VillageCode,
        /// The name as given.
        given: String,
        /// The name in the national list.
        official: String,
    },
}

impl fmt::Display for DivisionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DivisionWarning::UnknownTownship { code, name } => write!(
                f,
                "village {code} ({name}): township {} is not in the 2023 division list",
                &code.as_str()[..9]
            ),
            DivisionWarning::UnknownVillage {
                code,
                name,
                township,
            } => write!(
                f,
                "village {code} ({name}): no such code in township {} ({township}) of the 2023 division list",
                &code.as_str()[..9]
            ),
            DivisionWarning::NameDiffers {
                code,
                given,
                official,
            } => write!(
                f,
                "village {code}: named {given}, but the 2023 division list names {code} {official}"
            ),
        }
    }
}

impl DivisionList {
    /// The list shipped with wangge (parsed once).
    pub fn national() -> &'static DivisionList {
        static LIST: OnceLock<DivisionList> = OnceLock::new();
        LIST.get_or_init(|| {
            let mut list = DivisionList::default();
            list.add_townships(TOWNSHIPS);
            list.add_villages("11", VILLAGES_11);
            list
        })
    }

    /// Adds `code,name` rows (with a header line) of townships.
    pub fn add_townships(&mut self, csv: &str) {
        self.townships.extend(rows(csv));
    }

    /// Adds `code,name` rows (with a header line) of the villages of `province`, which is then
    /// checked village by village.
    pub fn add_villages(&mut self, province: &str, csv: &str) {
        self.villages.extend(rows(csv));
        self.village_provinces.push(province.to_string());
    }

    /// The official name of a township (9 digits) or village (12 digits), if listed.
    pub fn name(&self, code: &str) -> Option<&str> {
        match code.len() {
            9 => self.townships.get(code),
            12 => self.villages.get(code),
            _ => None,
        }
        .map(String::as_str)
    }

    /// Checks one village's code and name; `None` when they agree with the list as far as it
    /// reaches.
    pub fn check(&self, code: &VillageCode, name: &str) -> Option<DivisionWarning> {
        let c = code.as_str();
        let Some(township) = self.townships.get(&c[..9]) else {
            return Some(DivisionWarning::UnknownTownship {
                code: code.clone(),
                name: name.to_string(),
            });
        };
        if !self.village_provinces.iter().any(|p| c.starts_with(p)) {
            return None;
        }
        match self.villages.get(c) {
            None => Some(DivisionWarning::UnknownVillage {
                code: code.clone(),
                name: name.to_string(),
                township: township.clone(),
            }),
            Some(official) if !same_name(name, official) => Some(DivisionWarning::NameDiffers {
                code: code.clone(),
                given: name.to_string(),
                official: official.clone(),
            }),
            Some(_) => None,
        }
    }

    /// Checks every village of a dataset, in its order.
    pub fn check_villages(&self, ds: &Dataset) -> Vec<DivisionWarning> {
        ds.villages
            .iter()
            .filter_map(|v| self.check(&v.code, &v.name))
            .collect()
    }
}

fn rows(csv: &str) -> impl Iterator<Item = (String, String)> + '_ {
    csv.lines().skip(1).filter_map(|l| {
        let (code, name) = l.split_once(',')?;
        Some((code.to_string(), name.trim().to_string()))
    })
}

/// A name without the committee suffix and a trailing 社区/村, for a loose comparison.
fn core(name: &str) -> &str {
    let mut n = name.trim();
    for suffix in ["居民委员会", "村民委员会", "居委会", "村委会", "委员会"] {
        if let Some(s) = n.strip_suffix(suffix) {
            n = s;
            break;
        }
    }
    for suffix in ["社区", "村"] {
        if let Some(s) = n.strip_suffix(suffix) {
            if !s.is_empty() {
                n = s;
                break;
            }
        }
    }
    n
}

fn same_name(given: &str, official: &str) -> bool {
    let g = core(given);
    !g.is_empty() && g == core(official)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_names() {
        assert!(same_name("多福巷社区", "多福巷社区居委会"));
        assert!(same_name("多福巷", "多福巷社区居委会"));
        assert!(same_name("东风村", "东风村民委员会"));
        assert!(same_name("东风村", "东风村委会"));
        assert!(!same_name("东风", "西风村委会"));
        assert!(!same_name("", "社区居委会"));
    }

    #[test]
    fn the_shipped_list_is_whole() {
        let l = DivisionList::national();
        assert_eq!(l.townships.len(), 41_352);
        assert_eq!(l.name("320583104"), Some("花桥镇"));
        assert_eq!(l.name("110101001002"), Some("银闸社区居委会"));
        // a village outside the listed provinces: its township is all that can be checked
        let kunshan = VillageCode::parse("320583104201").unwrap();
        assert_eq!(l.check(&kunshan, "任何名字"), None);
        let w = l
            .check(&VillageCode::parse("110101001999").unwrap(), "新村")
            .unwrap();
        assert!(w.to_string().contains("东华门街道"), "{w}");
    }
}
