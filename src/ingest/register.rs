//! Household and person registers (实有房屋 / 实有人口) as CSV or Excel (`.xlsx`, `.xls`, `.ods`),
//! joined to the buildings by a building number column or by address, giving each building its
//! households and residents.
//!
//! Each row is a household, unless a household column is named: then each row is a person and
//! the households of a building are its distinct household numbers. Residents are the sum of a
//! residents column when one is named, else the person rows (a household register without a
//! residents column leaves residents as they were). A building the register does not
//! mention keeps the counts its layer gave it; a row that matches no building, or several, is
//! listed by line (the spreadsheet's row number) with the candidates. CSV text that is not UTF-8
//! is read as GBK (Excel's CSV export in China).
//!
//! Joining by address uses the server's address matching ([`crate::address`]): full-width
//! digits, 号楼/栋/幢/座, with or without province, city and district. Only a sure match (the
//! whole address, one building) is joined; anything less is listed with its candidates.

use crate::address::AddressIndex;
use crate::model::Dataset;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What a register's key column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinBy {
    /// The building number: the buildings' `id`.
    BuildingId,
    /// The address: matched against the buildings' `address`.
    Address,
}

impl JoinBy {
    /// Both ways, in the order named in messages.
    pub const ALL: [JoinBy; 2] = [JoinBy::BuildingId, JoinBy::Address];

    /// `building_id` or `address`.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinBy::BuildingId => "building_id",
            JoinBy::Address => "address",
        }
    }
}

impl std::str::FromStr for JoinBy {
    type Err = crate::model::UnknownName;
    fn from_str(s: &str) -> Result<JoinBy, Self::Err> {
        JoinBy::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| crate::model::UnknownName::new("register join", s))
    }
}

/// How to read a register.
#[derive(Clone, Debug)]
pub struct RegisterSpec {
    /// The CSV or spreadsheet file.
    pub file: PathBuf,
    /// The sheet of a spreadsheet; when `None`, the first sheet and every later one with the same
    /// header.
    pub sheet: Option<String>,
    /// What the key column holds.
    pub join: JoinBy,
    /// The column holding the key: the building number or the address.
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
    /// Rows that matched no building: (where, key as normalised).
    pub unmatched: Vec<(Line, String)>,
    /// Rows joined by address that no building matches surely: (where, address, candidate
    /// buildings' ids, best first). Several buildings, or a partial match, are listed here and
    /// not joined.
    pub uncertain: Vec<(Line, String, Vec<String>)>,
    /// The sheets read, in order (a spreadsheet's register may run on over several sheets with
    /// the same header, as one sheet holds at most 1,048,576 rows); empty for CSV.
    pub sheets: Vec<String>,
}

/// Where a row stands: its 1-based line in a CSV file, or its row as Excel numbers it, with the
/// sheet named when the register runs over several sheets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The sheet, when the register was read from several.
    pub sheet: Option<String>,
    /// The line or row number.
    pub row: usize,
}

impl Line {
    /// Line or row `row` of the only table.
    pub fn at(row: usize) -> Line {
        Line { sheet: None, row }
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sheet {
            None => write!(f, "line {}", self.row),
            Some(s) => write!(f, "sheet {s:?} row {}", self.row),
        }
    }
}

/// A register that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {problem}", file.display(), line.as_ref().map(|l| format!(": {l}")).unwrap_or_default())]
pub struct RegisterError {
    /// The file.
    pub file: PathBuf,
    /// The line or row, if about one.
    pub line: Option<Line>,
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

/// A register's rows as text: the header, then each data row with where it stands, and the
/// sheets read.
struct Table {
    header: Vec<String>,
    rows: Vec<(Line, Vec<String>)>,
    sheets: Vec<String>,
}

/// Whether the file is a spreadsheet calamine reads, by extension.
fn is_spreadsheet(file: &Path) -> bool {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods")
}

fn read_csv_table(spec: &RegisterSpec) -> Result<Table, RegisterError> {
    let err = |line: Option<usize>, problem: String| RegisterError {
        file: spec.file.clone(),
        line: line.map(Line::at),
        problem,
    };
    let bytes = std::fs::read(&spec.file).map_err(|e| err(None, format!("cannot be read: {e}")))?;
    let text = decode(bytes);
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| err(Some(1), format!("no header line: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(Some(line), format!("not valid CSV: {e}")))?;
        rows.push((Line::at(line), rec.iter().map(str::to_string).collect()));
    }
    Ok(Table {
        header,
        rows,
        sheets: Vec::new(),
    })
}

/// A spreadsheet cell as the text a person sees: whole numbers without `.0` (building numbers
/// and counts are often stored as numbers), dates as ISO dates.
fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The register's sheet (`spec.sheet`), or else the first sheet and every later one whose header
/// is the same (a register too long for one sheet runs on over several).
fn read_spreadsheet_table(spec: &RegisterSpec) -> Result<Table, RegisterError> {
    use calamine::Reader;
    let err = |problem: String| RegisterError {
        file: spec.file.clone(),
        line: None,
        problem,
    };
    let mut book = calamine::open_workbook_auto(&spec.file)
        .map_err(|e| err(format!("cannot be read as a spreadsheet: {e}")))?;
    let names = book.sheet_names();
    let chosen: Vec<String> = match &spec.sheet {
        Some(s) if names.contains(s) => vec![s.clone()],
        Some(s) => {
            return Err(err(format!(
                "no sheet {s:?} (sheets: {})",
                names.join(", ")
            )))
        }
        None if names.is_empty() => return Err(err("has no sheet".into())),
        None => names.clone(),
    };
    let mut table: Option<Table> = None;
    for sheet in chosen {
        let range = book
            .worksheet_range(&sheet)
            .map_err(|e| err(format!("sheet {sheet:?} cannot be read: {e}")))?;
        // Row numbers as Excel shows them: the used range may start below row 1.
        let first = range.start().map(|(r, _)| r as usize + 1).unwrap_or(1);
        let mut rows = range
            .rows()
            .enumerate()
            .map(|(i, r)| (first + i, r.iter().map(cell_text).collect::<Vec<_>>()));
        let header: Vec<String> = match rows.next() {
            Some((_, h)) => h.iter().map(|h| h.trim().to_string()).collect(),
            None if table.is_none() => return Err(err(format!("sheet {sheet:?} is empty"))),
            None => continue,
        };
        let t = table.get_or_insert_with(|| Table {
            header: header.clone(),
            rows: Vec::new(),
            sheets: Vec::new(),
        });
        if header != t.header {
            continue; // another table (a summary, a code list), not the register's next part
        }
        t.sheets.push(sheet.clone());
        t.rows.extend(
            rows.filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
                .map(|(row, r)| {
                    let sheet = Some(sheet.clone());
                    (Line { sheet, row }, r)
                }),
        );
    }
    let mut table = table.expect("at least one sheet was read");
    if table.sheets.len() == 1 {
        for (line, _) in &mut table.rows {
            line.sheet = None; // one sheet: rows are known by their number alone
        }
    }
    Ok(table)
}

/// How one row's key found its building.
enum Found {
    One(usize),
    None,
    Uncertain(Vec<usize>),
}

/// Finds rows' buildings by building number or by address.
enum Keys {
    Ids(HashMap<String, usize>),
    Addresses(AddressIndex),
}

impl Keys {
    fn new(ds: &Dataset, join: JoinBy) -> Keys {
        match join {
            JoinBy::BuildingId => Keys::Ids(
                ds.buildings
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (normalise_key(&b.id), i))
                    .collect(),
            ),
            JoinBy::Address => Keys::Addresses(AddressIndex::new(
                ds.buildings.iter().enumerate().filter_map(|(i, b)| {
                    let village = ds.villages.get(b.village).map_or("", |v| v.name.as_str());
                    b.address.as_deref().map(|a| (i, a, village))
                }),
            )),
        }
    }

    fn find(&self, key: &str) -> Found {
        match self {
            Keys::Ids(ids) => ids.get(key).map_or(Found::None, |&b| Found::One(b)),
            Keys::Addresses(_) if key.is_empty() => Found::None,
            Keys::Addresses(idx) => {
                let m = idx.lookup(key);
                match (m.sure, m.candidates.first()) {
                    (true, Some(c)) => Found::One(c.building),
                    (_, None) => Found::None,
                    (false, Some(_)) => {
                        Found::Uncertain(m.candidates.iter().map(|c| c.building).collect())
                    }
                }
            }
        }
    }
}

/// Reads the register and sets the households and residents of the buildings it names.
pub fn apply(ds: &mut Dataset, spec: &RegisterSpec) -> Result<RegisterReport, RegisterError> {
    let err = |line: Option<usize>, problem: String| RegisterError {
        file: spec.file.clone(),
        line: line.map(Line::at),
        problem,
    };
    let table = if is_spreadsheet(&spec.file) {
        read_spreadsheet_table(spec)?
    } else {
        read_csv_table(spec)?
    };
    let header = &table.header;
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
    let keys = Keys::new(ds, spec.join);
    // per building: household numbers (or row count) and residents
    let mut per: BTreeMap<usize, (HashSet<String>, u64, u64)> = BTreeMap::new();
    let mut report = RegisterReport {
        sheets: table.sheets.clone(),
        ..Default::default()
    };
    for (line, rec) in &table.rows {
        let get = |c: usize| rec.get(c).map_or("", String::as_str);
        report.rows += 1;
        let k = normalise_key(get(key));
        let b = match keys.find(&k) {
            Found::One(b) => b,
            Found::None => {
                report.unmatched.push((line.clone(), k));
                continue;
            }
            Found::Uncertain(bs) => {
                let ids = bs.iter().map(|&b| ds.buildings[b].id.clone()).collect();
                report.uncertain.push((line.clone(), k, ids));
                continue;
            }
        };
        report.matched += 1;
        let entry = per.entry(b).or_default();
        match household {
            Some(h) => {
                entry.0.insert(normalise_key(get(h)));
            }
            None => entry.1 += 1,
        }
        entry.2 += match residents {
            Some(c) => {
                let v = get(c).trim();
                v.parse::<u64>().map_err(|_| RegisterError {
                    line: Some(line.clone()),
                    ..err(
                        None,
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
