//! The input flags `wangge partition`, `wangge import` and `wangge check` share: the coordinate
//! system, the DBF text encoding and the column → field mapping of the input folder's layers.

use anyhow::{anyhow, Result};
use std::path::Path;
use std::path::PathBuf;
use wangge::crs::source::SourceCrs;
use wangge::ingest::divisions::DivisionList;
use wangge::ingest::fields::FieldMap;
use wangge::ingest::layer::ReadOptions;
use wangge::ingest::register::{JoinBy, RegisterReport, RegisterSpec};
use wangge::model::{Dataset, Weight};

/// How to read the input layers (flatten into a command's `Args`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct InputArgs {
    /// Coordinate system of every input layer, over what the files say: EPSG:NNNN (4326, 4490,
    /// CGCS2000 Gauss-Kruger 4491-4554, UTM 326NN/327NN, 3857), wgs84, cgcs2000, gcj02 (Amap,
    /// Tencent) or bd09 (Baidu). Needed for a Shapefile without .prj. LAYER=CRS
    /// (buildings=gcj02) sets one layer's; repeatable.
    #[arg(long, value_name = "CRS")]
    pub crs: Vec<String>,
    /// Text encoding of every Shapefile's .dbf, over its .cpg: gbk, gb18030, utf-8, …
    /// (default: the .cpg, else UTF-8 if the text is valid UTF-8, else GBK).
    #[arg(long, value_name = "ENCODING")]
    pub encoding: Option<String>,
    /// Read a column as one of wangge's fields: FIELD=COLUMN (households=HS) or
    /// LAYER.FIELD=COLUMN (villages.code=XZQDM). Repeatable.
    #[arg(long = "field", value_name = "FIELD=COLUMN")]
    pub field: Vec<String>,
    /// A file of such mappings: TOML (`households = "HS"`, `[villages]` sections) or CSV
    /// (`field,column` or `layer,field,column`).
    #[arg(long, value_name = "FILE")]
    pub field_map: Option<PathBuf>,
    /// A household or person register (实有房屋/实有人口) as CSV or Excel (.xlsx/.xls/.ods),
    /// joined to the buildings by --register-key: it sets the households (and residents) of every
    /// building it names; rows that match no building, or several, are listed by line.
    #[arg(long, value_name = "FILE.csv|FILE.xlsx")]
    pub register: Option<PathBuf>,
    /// How the register names a building: `building_id` (the buildings' id) or `address` (matched
    /// as the server matches addresses), read from the column of that name or --register-column.
    /// Any other value is the name of a column of building numbers.
    #[arg(
        long,
        value_name = "building_id|address|COLUMN",
        default_value = "building_id",
        requires = "register"
    )]
    pub register_key: String,
    /// The register's column holding the key, when it is not named `building_id` or `address`
    /// (e.g. --register-key address --register-column 地址).
    #[arg(long, value_name = "COLUMN", requires = "register")]
    pub register_column: Option<String>,
    /// The spreadsheet's sheet. If not given: the first sheet and every later one with the same
    /// header (a register longer than Excel's 1,048,576 rows a sheet runs on over several).
    #[arg(long, value_name = "NAME", requires = "register")]
    pub register_sheet: Option<String>,
    /// The register's household number column: each row is then a person, and a building's
    /// households are its distinct household numbers (else each row is a household).
    #[arg(long, value_name = "COLUMN", requires = "register")]
    pub register_household: Option<String>,
    /// The register's column of residents per row (a household register's 人数).
    #[arg(long, value_name = "COLUMN", requires = "register")]
    pub register_residents: Option<String>,
    /// Give each gap between villages (land inside the town no village's boundary holds) to the
    /// village with the longest border along it, and each overlap of two villages to the one
    /// first in the file, cut from the other. Without it both are reported and left as drawn.
    #[arg(long)]
    pub close_gaps: bool,
}

impl InputArgs {
    /// The flags as the library's [`ReadOptions`].
    pub fn options(&self) -> Result<ReadOptions> {
        let mut crs = None;
        let mut layer_crs = Vec::new();
        for c in &self.crs {
            let parse = |t: &str| {
                t.parse::<SourceCrs>()
                    .map_err(|e| anyhow!("--crs {c}: {e}"))
            };
            match c.split_once('=') {
                Some((layer, t)) if !c.contains('[') => {
                    let layer = layer.trim();
                    if !wangge::ingest::fields::LAYERS.contains(&layer) {
                        return Err(anyhow!(
                            "--crs {c}: unknown layer {layer:?} (expected one of {})",
                            wangge::ingest::fields::LAYERS.join(", ")
                        ));
                    }
                    layer_crs.push((layer.to_string(), parse(t)?));
                }
                _ if crs.is_some() => {
                    return Err(anyhow!(
                        "--crs {c}: a second CRS for every layer; use LAYER=CRS"
                    ))
                }
                _ => crs = Some(parse(c)?),
            }
        }
        let encoding = match &self.encoding {
            Some(e) => Some(wangge::ingest::shp::encoding_from_label(e).ok_or_else(|| {
                anyhow!("--encoding {e}: unknown text encoding (try gbk, gb18030 or utf-8)")
            })?),
            None => None,
        };
        let mut fields = FieldMap::default();
        if let Some(f) = &self.field_map {
            fields.add_file(f)?;
        }
        for f in &self.field {
            fields.add_arg(f)?;
        }
        Ok(ReadOptions {
            crs,
            layer_crs,
            encoding,
            fields,
            close_gaps: self.close_gaps,
        })
    }
}

impl InputArgs {
    /// Reads the input folder with these flags, and joins the register if one is given (its
    /// summary and unmatched lines on stderr).
    pub fn read_dir(&self, dir: &Path, weight: &Weight) -> Result<Dataset> {
        Ok(self.read_input(dir, weight)?.dataset)
    }

    /// [`Self::read_dir`], with the units whose own figures differ from their buildings'.
    pub fn read_input(&self, dir: &Path, weight: &Weight) -> Result<wangge::ingest::Input> {
        let input = wangge::ingest::read_input_with(dir, weight, &self.options()?)?;
        self.finish(input)
    }

    /// Reads the layers of a town's GeoPackage (not a wangge store), as [`Self::read_dir`].
    pub fn read_gpkg(&self, file: &Path, weight: &Weight) -> Result<Dataset> {
        let input = wangge::ingest::read_gpkg_input_with(file, weight, &self.options()?)?;
        Ok(self.finish(input)?.dataset)
    }

    /// Joins the register and says on stderr what the input's villages leave to be desired.
    fn finish(&self, mut input: wangge::ingest::Input) -> Result<wangge::ingest::Input> {
        input.dataset = self.join_register(input.dataset)?;
        warn_divisions(&input.dataset);
        for seam in &input.seams {
            let what = if seam.given_to.is_some() {
                "note"
            } else {
                "warning"
            };
            eprintln!("{what}: {}", seam.describe(&input.dataset.villages));
        }
        Ok(input)
    }

    fn join_register(&self, mut ds: Dataset) -> Result<Dataset> {
        if let Some(file) = &self.register {
            let (join, key) = match self.register_key.parse::<JoinBy>() {
                Ok(join) => (
                    join,
                    self.register_column
                        .clone()
                        .unwrap_or_else(|| self.register_key.clone()),
                ),
                Err(_) => (JoinBy::BuildingId, self.register_key.clone()),
            };
            let spec = RegisterSpec {
                file: file.clone(),
                sheet: self.register_sheet.clone(),
                join,
                key,
                household: self.register_household.clone(),
                residents: self.register_residents.clone(),
            };
            let r = wangge::ingest::register::apply(&mut ds, &spec)?;
            eprintln!("{}", register_summary(file, &r));
        }
        Ok(ds)
    }
}

/// Prints a warning for each village whose code or name the national division list does not
/// confirm (the first 20, then how many more).
fn warn_divisions(ds: &Dataset) {
    const SHOWN: usize = 20;
    let warnings = DivisionList::national().check_villages(ds);
    for w in warnings.iter().take(SHOWN) {
        eprintln!("warning: {w}");
    }
    if warnings.len() > SHOWN {
        eprintln!(
            "warning: and {} more villages the division list does not confirm",
            warnings.len() - SHOWN
        );
    }
}

/// `register FILE: N rows, M matched (B buildings); K match no building: line 5 ("B0099"), …;
/// U match no building surely: line 9 ("…") candidates A, B`.
fn register_summary(file: &Path, r: &RegisterReport) -> String {
    const SHOWN: usize = 50;
    let sheets = match r.sheets.len() {
        0 | 1 => String::new(),
        n => format!(" in {n} sheets ({})", r.sheets.join(", ")),
    };
    let mut s = format!(
        "register {}: {} rows{sheets}, {} matched ({} buildings)",
        file.display(),
        r.rows,
        r.matched,
        r.buildings
    );
    let list = |items: Vec<String>, total: usize| {
        let more = total.saturating_sub(SHOWN);
        let mut t = items.join(", ");
        if more > 0 {
            t.push_str(&format!(", and {more} more"));
        }
        t
    };
    if !r.unmatched.is_empty() {
        let lines = r.unmatched.iter().take(SHOWN);
        let lines = lines
            .map(|(line, key)| format!("{line} ({key:?})"))
            .collect();
        s.push_str(&format!(
            "; {} match no building: {}",
            r.unmatched.len(),
            list(lines, r.unmatched.len())
        ));
    }
    if !r.uncertain.is_empty() {
        let lines = r
            .uncertain
            .iter()
            .take(SHOWN)
            .map(|(line, key, ids)| format!("{line} ({key:?}: candidates {})", ids.join(" ")));
        s.push_str(&format!(
            "; {} match no building surely (not joined): {}",
            r.uncertain.len(),
            list(lines.collect(), r.uncertain.len())
        ));
    }
    s
}
