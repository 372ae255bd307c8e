//! The people responsible for grids, read from a CSV `grid_code,role,name,phone` (columns in any
//! order, `phone` optional). Every error names the file, the line and the field.

use crate::model::GridCode;
use crate::snapshot::{Person, Role};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a people CSV could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    /// The file cannot be opened or its header read.
    #[error("{}: {what}", file.display())]
    File {
        /// The file.
        file: PathBuf,
        /// What went wrong (`cannot read`, `no header line`).
        what: &'static str,
        /// The CSV reader's error.
        #[source]
        source: csv::Error,
    },
    /// A column the file needs is missing from its header.
    #[error("{}: header has no `{column}` column (want grid_code,role,name,phone)", file.display())]
    Column {
        /// The file.
        file: PathBuf,
        /// The missing column.
        column: &'static str,
    },
    /// A line is not valid CSV.
    #[error("{}: line {line}: not valid CSV", file.display())]
    Csv {
        /// The file.
        file: PathBuf,
        /// 1-based line (the header is line 1).
        line: usize,
        /// The CSV reader's error.
        #[source]
        source: csv::Error,
    },
    /// A field of a line is wrong.
    #[error("{}: line {line}: field `{field}`: {what}", file.display())]
    Field {
        /// The file.
        file: PathBuf,
        /// 1-based line (the header is line 1).
        line: usize,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        what: String,
    },
}

/// Reads `grid_code,role,name,phone` rows into each grid's people, in file order.
pub fn read_people(path: &Path) -> Result<BTreeMap<String, Vec<Person>>, PeopleError> {
    let file = || path.to_path_buf();
    let mut r = csv::Reader::from_path(path).map_err(|source| PeopleError::File {
        file: file(),
        what: "cannot read",
        source,
    })?;
    let headers = r
        .headers()
        .map_err(|source| PeopleError::File {
            file: file(),
            what: "no header line",
            source,
        })?
        .clone();
    let col = |column: &'static str| {
        headers
            .iter()
            .position(|h| h.trim() == column)
            .ok_or_else(|| PeopleError::Column {
                file: file(),
                column,
            })
    };
    let (c_code, c_role, c_name) = (col("grid_code")?, col("role")?, col("name")?);
    let c_phone = headers.iter().position(|h| h.trim() == "phone");
    let mut out: BTreeMap<String, Vec<Person>> = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|source| PeopleError::Csv {
            file: file(),
            line,
            source,
        })?;
        let bad = |field: &'static str, what: String| PeopleError::Field {
            file: file(),
            line,
            field,
            what,
        };
        let field = |c: usize| rec.get(c).unwrap_or("").trim().to_string();
        let code = field(c_code);
        GridCode::parse(&code).map_err(|e| bad("grid_code", e.to_string()))?;
        let role = field(c_role);
        let role = Role::parse(&role).ok_or_else(|| {
            bad(
                "role",
                format!("must be grid_leader or grid_worker, got {role:?}"),
            )
        })?;
        let name = field(c_name);
        if name.is_empty() {
            return Err(bad("name", "is empty".into()));
        }
        let phone = c_phone.map(field).filter(|p| !p.is_empty());
        out.entry(code)
            .or_default()
            .push(Person { role, name, phone });
    }
    Ok(out)
}
