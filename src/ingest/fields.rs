//! Column names of a planner's files mapped onto wangge's fields, since nobody's DBF says
//! `households`: `--field households=HS` (or `buildings.households=HS` for one layer), repeatable,
//! and `--field-map FILE`, a small TOML
//!
//! ```toml
//! households = "HS"        # every layer
//! [villages]
//! code = "XZQDM"           # the villages layer only
//! ```
//!
//! or a CSV `field,column` / `layer,field,column` (a header line naming those is skipped).

use std::path::{Path, PathBuf};

/// One mapping: the column `column` of the file is wangge's field `field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRule {
    /// The layer it is for (`buildings`), or every layer.
    pub layer: Option<String>,
    /// wangge's field (`households`).
    pub field: String,
    /// The file's column (`HS`).
    pub column: String,
    /// Where the rule was given (`--field households=HS`, `map.toml line 3`), for errors.
    pub origin: String,
}

/// Every mapping given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMap {
    rules: Vec<FieldRule>,
}

/// A mapping that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldMapError {
    /// A `--field` value is not `FIELD=COLUMN`.
    #[error("--field {0}: expected FIELD=COLUMN or LAYER.FIELD=COLUMN, e.g. households=HS")]
    Arg(String),
    /// A line of a mapping file is wrong.
    #[error("{}: line {line}: {problem}", file.display())]
    Line {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The file cannot be read.
    #[error("{}: cannot be read: {problem}", file.display())]
    File {
        /// The file.
        file: PathBuf,
        /// Why.
        problem: String,
    },
}

/// The layers a rule may name.
pub const LAYERS: [&str; 5] = ["villages", "buildings", "units", "groups", "barriers"];

fn rule(
    layer: Option<&str>,
    field: &str,
    column: &str,
    origin: String,
) -> Result<FieldRule, String> {
    let (field, column) = (field.trim(), column.trim());
    if field.is_empty() || column.is_empty() {
        return Err("a field and a column are both needed".into());
    }
    if let Some(l) = layer {
        if !LAYERS.contains(&l) {
            return Err(format!(
                "unknown layer {l:?}: expected one of {}",
                LAYERS.join(", ")
            ));
        }
    }
    Ok(FieldRule {
        layer: layer.map(str::to_string),
        field: field.to_string(),
        column: column.to_string(),
        origin,
    })
}

impl FieldMap {
    /// The rules, in the order given.
    pub fn rules(&self) -> &[FieldRule] {
        &self.rules
    }

    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Parses one `--field` value.
    ///
    /// ```
    /// use wangge::ingest::fields::FieldMap;
    /// let mut m = FieldMap::default();
    /// m.add_arg("buildings.households=HS").unwrap();
    /// assert_eq!(m.rules()[0].column, "HS");
    /// assert!(m.add_arg("households").is_err());
    /// ```
    pub fn add_arg(&mut self, arg: &str) -> Result<(), FieldMapError> {
        let bad = || FieldMapError::Arg(arg.to_string());
        let (lhs, column) = arg.split_once('=').ok_or_else(bad)?;
        let (layer, field) = match lhs.split_once('.') {
            Some((l, f)) => (Some(l.trim()), f),
            None => (None, lhs),
        };
        let r = rule(layer, field, column, format!("--field {arg}")).map_err(|_| bad())?;
        self.rules.push(r);
        Ok(())
    }

    /// Reads a mapping file: TOML when it ends in `.toml`, else CSV.
    pub fn add_file(&mut self, path: &Path) -> Result<(), FieldMapError> {
        let text = std::fs::read_to_string(path).map_err(|e| FieldMapError::File {
            file: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        let toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let name = path.display().to_string();
        let mut section: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let err = |problem: String| FieldMapError::Line {
                file: path.to_path_buf(),
                line: line_no,
                problem,
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let origin = format!("{name} line {line_no}");
            let r = if toml {
                if let Some(s) = line.strip_prefix('[') {
                    let s = s
                        .strip_suffix(']')
                        .ok_or_else(|| err("a section is [layer]".into()))?;
                    section = Some(s.trim().to_string());
                    continue;
                }
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| err("expected field = \"COLUMN\"".into()))?;
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .ok_or_else(|| err(format!("the column must be quoted: {v}")))?;
                rule(section.as_deref(), k.trim().trim_matches('"'), v, origin)
            } else {
                let cells: Vec<&str> = line.split(',').map(str::trim).collect();
                if i == 0 && cells.iter().any(|c| c.eq_ignore_ascii_case("column")) {
                    continue;
                }
                match cells.as_slice() {
                    [f, c] => rule(None, f, c, origin),
                    ["", f, c] => rule(None, f, c, origin),
                    [l, f, c] => rule(Some(l), f, c, origin),
                    _ => return Err(err("expected field,column or layer,field,column".into())),
                }
            };
            self.rules.push(r.map_err(err)?);
        }
        Ok(())
    }
}
