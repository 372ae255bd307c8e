//! Household and person registers (实有房屋 / 实有人口) as CSV, joined to the buildings by a
//! building number column, giving each building its households and residents.
//!
//! Each row is a household, unless a household column is named: then each row is a person and
//! the households of a building are its distinct household numbers. Residents are the sum of a
//! residents column when one is named, else the person rows (a household register without a
//! residents column leaves residents as they were). A building the register does not
//! mention keeps the counts its layer gave it; a row whose building number matches no building is
//! listed by line. Text that is not UTF-8 is read as GBK (Excel's CSV export in China).

use crate::model::Dataset;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// How to read a register.
#[derive(Clone, Debug)]
pub struct RegisterSpec {
    /// The CSV file.
    pub file: PathBuf,
    /// The column holding the building number (the buildings' `id`).
    pub key: String,
    /// The column holding the household number, for a register of persons.
    pub household: Option<String>,
    /// A column holding the residents of each row (a household register's 人数).
    pub residents: Option<String>,
}

/// What the join did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegisterReport {
    /// Data rows read.
    pub rows: usize,
    /// Rows whose building number matched a building.
    pub matched: usize,
    /// Buildings whose counts the register set.
    pub buildings: usize,
    /// Rows that matched no building: (1-based line, building number as written).
    pub unmatched: Vec<(usize, String)>,
}

/// A register that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {problem}", file.display(), line.map(|l| format!(": line {l}")).unwrap_or_default())]
pub struct RegisterError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, if about one line.
    pub line: Option<usize>,
    /// What is wrong (naming the column).
    pub problem: String,
}

/// A building number as written in a register: trimmed, full-width letters and digits made ASCII
/// (`Ｂ００１２` → `B0012`).
///
/// ```
/// use wangge::ingest::register::normalise_key;
/// assert_eq!(normalise_key(" Ｂ００１２ "), "B0012");
/// ```
pub fn normalise_key(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

fn decode(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s.trim_start_matches('\u{FEFF}').to_string(),
        Err(e) => encoding_rs::GB18030
            .decode_without_bom_handling(e.as_bytes())
            .0
            .into_owned(),
    }
}

/// Reads the register and sets the households and residents of the buildings it names.
pub fn apply(ds: &mut Dataset, spec: &RegisterSpec) -> Result<RegisterReport, RegisterError> {
    let err = |line: Option<usize>, problem: String| RegisterError {
        file: spec.file.clone(),
        line,
        problem,
    };
    let bytes = std::fs::read(&spec.file).map_err(|e| err(None, format!("cannot be read: {e}")))?;
    let text = decode(bytes);
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| err(Some(1), format!("no header line: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str| -> Result<usize, RegisterError> {
        header.iter().position(|h| h == name).ok_or_else(|| {
            err(
                Some(1),
                format!("no column {name:?} (columns: {})", header.join(", ")),
            )
        })
    };
    let key = col(&spec.key)?;
    let household = spec.household.as_deref().map(col).transpose()?;
    let residents = spec.residents.as_deref().map(col).transpose()?;
    let index: HashMap<String, usize> = ds
        .buildings
        .iter()
        .enumerate()
        .map(|(i, b)| (normalise_key(&b.id), i))
        .collect();
    // per building: household numbers (or row count) and residents
    let mut per: BTreeMap<usize, (HashSet<String>, u64, u64)> = BTreeMap::new();
    let mut report = RegisterReport::default();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(Some(line), format!("not valid CSV: {e}")))?;
        report.rows += 1;
        let k = normalise_key(rec.get(key).unwrap_or(""));
        let Some(&b) = index.get(&k) else {
            report.unmatched.push((line, k));
            continue;
        };
        report.matched += 1;
        let entry = per.entry(b).or_default();
        match household {
            Some(h) => {
                entry.0.insert(normalise_key(rec.get(h).unwrap_or("")));
            }
            None => entry.1 += 1,
        }
        entry.2 += match residents {
            Some(c) => {
                let v = rec.get(c).unwrap_or("").trim();
                v.parse::<u64>().map_err(|_| {
                    err(
                        Some(line),
                        format!(
                            "column {:?}: must be a whole number ≥ 0, got {v:?}",
                            spec.residents.as_deref().unwrap_or_default()
                        ),
                    )
                })?
            }
            None if household.is_some() => 1,
            None => 0,
        };
    }
    report.buildings = per.len();
    let counts_residents = household.is_some() || residents.is_some();
    for (b, (households, rows, residents)) in per {
        let building = &mut ds.buildings[b];
        building.households = if household.is_some() {
            households.len() as u64
        } else {
            rows
        };
        if counts_residents {
            building.residents = residents;
        }
    }
    Ok(report)
}
