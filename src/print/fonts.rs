//! The CJK font a print is set in: one font file, given (`--font`) or found on the system, that
//! has glyphs for Chinese. It is the only font the renderer knows, so every piece of text is set
//! in it and embedded (as a subset) in the PDF; nothing falls back to boxes (豆腐块).
//!
//! Found fonts are searched in the usual font folders, in path order, preferring the families
//! of [`PREFERRED`]; Debian's `fonts-noto-cjk` or `fonts-wqy-microhei` provide one
//! (`scripts/setup` installs the latter).

use super::{PrintError, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Characters a font must have to print a grid map.
pub const PROBE: &str = "网格划分图监督电话镇村社区户数人口长员第编码北米";

/// Families preferred when several CJK fonts are installed, best first.
pub const PREFERRED: &[&str] = &[
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans SC",
    "Droid Sans Fallback",
];

/// Folders searched for fonts.
fn font_dirs() -> Vec<PathBuf> {
    let mut d = vec![
        PathBuf::from("/usr/share/fonts"),
        PathBuf::from("/usr/local/share/fonts"),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        d.push(home.join(".local/share/fonts"));
        d.push(home.join(".fonts"));
    }
    d
}

/// A font with Chinese glyphs, loaded.
#[derive(Clone)]
pub struct CjkFont {
    /// The file it came from.
    pub path: PathBuf,
    /// Its bytes (a whole collection for a `.ttc`).
    pub data: Arc<Vec<u8>>,
    /// The face's index in a collection.
    pub index: u32,
    /// Its family name, as the SVG names it.
    pub family: String,
}

impl std::fmt::Debug for CjkFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CjkFont")
            .field("path", &self.path)
            .field("index", &self.index)
            .field("family", &self.family)
            .finish()
    }
}

/// The family name of a face (its English one if it has several).
fn family_of(face: &ttf_parser::Face) -> Option<String> {
    let mut best: Option<(u8, String)> = None;
    for n in face.names() {
        let rank = match n.name_id {
            ttf_parser::name_id::TYPOGRAPHIC_FAMILY => 0,
            ttf_parser::name_id::FAMILY => 1,
            _ => continue,
        };
        let Some(s) = n.to_string() else { continue };
        let english = n.language() == ttf_parser::Language::English_UnitedStates;
        let rank = rank * 2 + u8::from(!english);
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, s));
        }
    }
    best.map(|(_, s)| s)
}

/// The faces of `data` that have every character of [`PROBE`]: (index, family).
fn cjk_faces(data: &[u8]) -> Vec<(u32, String)> {
    let n = ttf_parser::fonts_in_collection(data).unwrap_or(1);
    (0..n)
        .filter_map(|i| {
            let face = ttf_parser::Face::parse(data, i).ok()?;
            if PROBE.chars().all(|c| face.glyph_index(c).is_some()) {
                Some((i, family_of(&face)?))
            } else {
                None
            }
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc"))
        {
            out.push(p);
        }
    }
}

impl CjkFont {
    /// The font in `path` (its first face with Chinese glyphs).
    pub fn from_file(path: &Path) -> Result<CjkFont> {
        let data = std::fs::read(path).map_err(|e| PrintError::BadFont {
            path: path.to_path_buf(),
            why: format!("cannot read: {e}"),
        })?;
        if ttf_parser::Face::parse(&data, 0).is_err() {
            return Err(PrintError::BadFont {
                path: path.to_path_buf(),
                why: "is not a TrueType/OpenType font".into(),
            });
        }
        let Some((index, family)) = cjk_faces(&data).into_iter().next() else {
            return Err(PrintError::BadFont {
                path: path.to_path_buf(),
                why: format!(
                    "has no glyphs for Chinese (missing some of {PROBE}); give a CJK font"
                ),
            });
        };
        Ok(CjkFont {
            path: path.to_path_buf(),
            data: Arc::new(data),
            index,
            family,
        })
    }

    /// The font in `path` if given, else the best CJK font installed.
    pub fn find(path: Option<&Path>) -> Result<CjkFont> {
        if let Some(p) = path {
            return CjkFont::from_file(p);
        }
        let mut files = Vec::new();
        for d in font_dirs() {
            walk(&d, &mut files);
        }
        let mut best: Option<(usize, CjkFont)> = None;
        for f in files {
            let Ok(data) = std::fs::read(&f) else {
                continue;
            };
            for (index, family) in cjk_faces(&data) {
                let rank = PREFERRED
                    .iter()
                    .position(|p| *p == family)
                    .unwrap_or(PREFERRED.len());
                if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                    best = Some((
                        rank,
                        CjkFont {
                            path: f.clone(),
                            data: Arc::new(data.clone()),
                            index,
                            family,
                        },
                    ));
                }
            }
            if best.as_ref().is_some_and(|(r, _)| *r == 0) {
                break;
            }
        }
        best.map(|(_, f)| f).ok_or_else(|| {
            PrintError::NoCjkFont(
                "no installed font has Chinese glyphs; install one (Debian: apt-get install \
                 fonts-noto-cjk or fonts-wqy-microhei, as scripts/setup does) or give --font FILE"
                    .into(),
            )
        })
    }

    /// The installed CJK font, found once per process.
    pub fn system() -> Result<CjkFont> {
        static FOUND: std::sync::OnceLock<std::result::Result<CjkFont, String>> =
            std::sync::OnceLock::new();
        FOUND
            .get_or_init(|| CjkFont::find(None).map_err(|e| e.to_string()))
            .clone()
            .map_err(PrintError::NoCjkFont)
    }

    /// A measurer of text widths in this font.
    pub fn metrics(&self) -> Metrics<'_> {
        let face = ttf_parser::Face::parse(&self.data, self.index).ok();
        let upem = face.as_ref().map_or(1000.0, |f| f.units_per_em() as f64);
        Metrics { face, upem }
    }
}

/// Text widths in a font (advance widths, no kerning: what CJK text and digits need).
pub struct Metrics<'a> {
    face: Option<ttf_parser::Face<'a>>,
    upem: f64,
}

impl Metrics<'_> {
    /// The width of `text` set at `size` (same unit as the size).
    pub fn width(&self, text: &str, size: f64) -> f64 {
        let Some(face) = &self.face else {
            return text.chars().count() as f64 * size;
        };
        let units: f64 = text
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(self.upem, |a| a as f64)
            })
            .sum();
        units / self.upem * size
    }
}
