//! The input flags `wangge partition`, `wangge import` and `wangge check` share: the coordinate
//! system, the DBF text encoding and the column → field mapping of the input folder's layers.

use anyhow::{anyhow, Result};
use std::path::PathBuf;
use wangge::crs::source::SourceCrs;
use wangge::ingest::fields::FieldMap;
use wangge::ingest::layer::ReadOptions;

/// How to read the input layers (flatten into a command's `Args`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct InputArgs {
    /// Coordinate system of every input layer, over what the files say: EPSG:NNNN (4326, 4490,
    /// CGCS2000 Gauss-Kruger 4491-4554, UTM 326NN/327NN, 3857), wgs84, cgcs2000, gcj02 (Amap,
    /// Tencent) or bd09 (Baidu). Needed for a Shapefile without .prj.
    #[arg(long, value_name = "CRS")]
    pub crs: Option<String>,
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
}

impl InputArgs {
    /// The flags as the library's [`ReadOptions`].
    pub fn options(&self) -> Result<ReadOptions> {
        let crs = match &self.crs {
            Some(c) => Some(
                c.parse::<SourceCrs>()
                    .map_err(|e| anyhow!("--crs {c}: {e}"))?,
            ),
            None => None,
        };
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
            encoding,
            fields,
        })
    }
}
