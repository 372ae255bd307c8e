//! Reading a building → grid assignment CSV (what `wangge export` writes as `assignment.csv`,
//! edited in Excel or QGIS) and checking it against a town's data, before
//! [`assign_village`](super::assign::assign_village) makes plans of it.
//!
//! Columns (by header name, any order): `id` and `grid_code` are needed; `kind` (`building`, the
//! default, or `unit`), `village_code` and `plan_version` are checked when present;
//! `micro_grid_code` and any other column are ignored (micro-grids are made again). Every error
//! names the file, the line and the field.
//!
//! Every building of a village the file touches must have a row: a building missing is an error
//! (a row deleted by mistake must not silently keep or lose its grid).

use super::assign::{AssignError, VillageAssignment};
use crate::model::{Dataset, GridCode};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;

/// A bad assignment file: which file, line and field, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CsvError {
    /// The file, as named to the user.
    pub file: String,
    /// The line (of the file, from 1; the header is line 1), if one line is at fault.
    pub line: Option<u64>,
    /// The field (column) at fault, if one.
    pub field: Option<String>,
    /// Why.
    pub why: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ": line {l}")?;
        }
        if let Some(c) = &self.field {
            write!(f, ": field `{c}`")?;
        }
        write!(f, ": {}", self.why)
    }
}

/// What a row assigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    /// A building.
    Building,
    /// A ready-made unit.
    Unit,
}

/// One row of an assignment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Its line in the file.
    pub line: u64,
    /// Building or unit.
    pub kind: ItemKind,
    /// The building's (unit's) id.
    pub id: String,
    /// The `village_code` given, if any.
    pub village: Option<String>,
    /// The `plan_version` given, if any: the version the file was exported from.
    pub plan_version: Option<i64>,
    /// The `grid_code` given (checked to be 15 digits).
    pub grid: GridCode,
}

/// Reads the rows of an assignment CSV. `file` names it in errors.
pub fn read(file: &str, input: impl Read) -> Result<Vec<Row>, CsvError> {
    let err = |line: Option<u64>, field: Option<&str>, why: String| CsvError {
        file: file.to_string(),
        line,
        field: field.map(str::to_string),
        why,
    };
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| err(Some(1), None, format!("cannot read the header line: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            err(
                Some(1),
                None,
                format!(
                    "the header has no `{name}` column (want kind,id,village_code,plan_version,grid_code as `wangge export` writes them)"
                ),
            )
        })
    };
    let (c_id, c_grid) = (need("id")?, need("grid_code")?);
    let (c_kind, c_village, c_version) = (col("kind"), col("village_code"), col("plan_version"));
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match r.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(err(line, None, format!("not valid CSV: {e}")));
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: Option<usize>| {
            c.and_then(|c| rec.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue; // a blank line a spreadsheet left
        }
        let kind = match get(c_kind) {
            None | Some("building") => ItemKind::Building,
            Some("unit") => ItemKind::Unit,
            Some(k) => {
                return Err(err(
                    Some(line),
                    Some("kind"),
                    format!("must be `building` or `unit`, got {k:?}"),
                ))
            }
        };
        let id = get(Some(c_id))
            .ok_or_else(|| err(Some(line), Some("id"), "is empty".into()))?
            .to_string();
        let grid = get(Some(c_grid)).ok_or_else(|| {
            err(
                Some(line),
                Some("grid_code"),
                format!("is empty: give {id} a grid"),
            )
        })?;
        let grid =
            GridCode::parse(grid).map_err(|e| err(Some(line), Some("grid_code"), e.to_string()))?;
        let plan_version = get(c_version)
            .map(|s| {
                s.parse::<i64>().map_err(|_| {
                    err(
                        Some(line),
                        Some("plan_version"),
                        format!("{s:?} is not a version number"),
                    )
                })
            })
            .transpose()?;
        rows.push(Row {
            line,
            kind,
            id,
            village: get(c_village).map(str::to_string),
            plan_version,
            grid,
        });
    }
    if rows.is_empty() {
        return Err(err(None, None, "has no rows".into()));
    }
    Ok(rows)
}

/// One village's checked assignment, with where each item was in the file.
#[derive(Clone, Debug)]
pub struct CheckedVillage {
    /// The assignment ([`VillageAssignment::previous`] is left empty for the caller to fill).
    pub assignment: VillageAssignment,
    /// The plan version the rows were exported from, if the file says.
    pub plan_version: Option<i64>,
    /// The line that first gave `plan_version`.
    pub version_line: Option<u64>,
    /// Line of each building or unit, by id.
    pub lines: HashMap<String, u64>,
}

impl CheckedVillage {
    /// An engine error as a file error, naming the line (and field `grid_code`) at fault.
    pub fn explain(&self, file: &str, e: &AssignError) -> CsvError {
        let at = |id: &str| self.lines.get(id).copied();
        let (line, field) = match e {
            AssignError::SharedCell { second, .. } => (at(second), Some("grid_code")),
            AssignError::SplitUnit { building, .. } => (at(building), Some("grid_code")),
            AssignError::NotContiguous { buildings, .. } => (
                buildings.iter().filter_map(|b| at(b)).min(),
                Some("grid_code"),
            ),
            AssignError::CodesExhausted { .. } => (None, None),
        };
        CsvError {
            file: file.to_string(),
            line,
            field: field.map(str::to_string),
            why: e.to_string(),
        }
    }
}

/// Checks rows against the town's data: every id known and listed once, in the village the file
/// says, with a grid code of that village, and every building of each village touched listed.
/// Villages come out in the dataset's order.
pub fn check(file: &str, ds: &Dataset, rows: &[Row]) -> Result<Vec<CheckedVillage>, CsvError> {
    let err = |line: Option<u64>, field: Option<&str>, why: String| CsvError {
        file: file.to_string(),
        line,
        field: field.map(str::to_string),
        why,
    };
    let building_ix: HashMap<&str, u32> = ds
        .buildings
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i as u32))
        .collect();
    let unit_ix: HashMap<&str, u32> = ds
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i as u32))
        .collect();
    let mut first_line: HashMap<(ItemKind, &str), u64> = HashMap::new();
    let mut by_village: BTreeMap<usize, CheckedVillage> = BTreeMap::new();
    for r in rows {
        if let Some(l) = first_line.insert((r.kind, r.id.as_str()), r.line) {
            return Err(err(
                Some(r.line),
                Some("id"),
                format!("{} is listed twice (first on line {l})", r.id),
            ));
        }
        let (ix, village) = match r.kind {
            ItemKind::Building => {
                let i = *building_ix.get(r.id.as_str()).ok_or_else(|| {
                    err(
                        Some(r.line),
                        Some("id"),
                        format!("no building {} in the store", r.id),
                    )
                })?;
                (i, ds.buildings[i as usize].village)
            }
            ItemKind::Unit => {
                let i = *unit_ix.get(r.id.as_str()).ok_or_else(|| {
                    err(
                        Some(r.line),
                        Some("id"),
                        if ds.units.is_empty() {
                            format!("no unit {}: the town's data has no units", r.id)
                        } else {
                            format!("no unit {} in the town's data", r.id)
                        },
                    )
                })?;
                (i, ds.units[i as usize].village)
            }
        };
        let vcode = ds.villages[village].code.as_str();
        if let Some(given) = &r.village {
            if given != vcode {
                return Err(err(
                    Some(r.line),
                    Some("village_code"),
                    format!("{} lies in village {vcode}, not {given}", r.id),
                ));
            }
        }
        if r.grid.village().as_str() != vcode {
            return Err(err(
                Some(r.line),
                Some("grid_code"),
                format!(
                    "{} is not a grid of village {vcode} (a grid code is the village code and 3 digits), but {} lies there",
                    r.grid, r.id
                ),
            ));
        }
        let cv = by_village.entry(village).or_insert_with(|| CheckedVillage {
            assignment: VillageAssignment {
                village,
                ..VillageAssignment::default()
            },
            plan_version: None,
            version_line: None,
            lines: HashMap::new(),
        });
        if let Some(v) = r.plan_version {
            match cv.plan_version {
                Some(w) if w != v => {
                    return Err(err(
                        Some(r.line),
                        Some("plan_version"),
                        format!(
                            "is {v}, but line {} says {w} for village {vcode}: the rows of one village come from one plan version",
                            cv.version_line.unwrap_or(0)
                        ),
                    ))
                }
                Some(_) => {}
                None => {
                    cv.plan_version = Some(v);
                    cv.version_line = Some(r.line);
                }
            }
        }
        cv.lines.insert(r.id.clone(), r.line);
        match r.kind {
            ItemKind::Building => cv.assignment.buildings.insert(ix, r.grid.clone()),
            ItemKind::Unit => cv.assignment.units.insert(ix, r.grid.clone()),
        };
    }
    // Every building (and unit) of a village touched must be listed.
    for (&vi, cv) in &by_village {
        let missing: Vec<&str> = ds
            .buildings
            .iter()
            .enumerate()
            .filter(|(i, b)| b.village == vi && !cv.assignment.buildings.contains_key(&(*i as u32)))
            .map(|(_, b)| b.id.as_str())
            .chain(
                ds.units
                    .iter()
                    .enumerate()
                    .filter(|(i, u)| {
                        u.village == vi && !cv.assignment.units.contains_key(&(*i as u32))
                    })
                    .map(|(_, u)| u.id.as_str()),
            )
            .collect();
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).copied().collect();
            return Err(err(
                None,
                Some("id"),
                format!(
                    "village {}: {} building(s) of the village have no row: {}{}; every building of a village the file touches needs a row",
                    ds.villages[vi].code,
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > 10 { ", …" } else { "" }
                ),
            ));
        }
    }
    Ok(by_village.into_values().collect())
}
