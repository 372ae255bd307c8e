//! The SVG page in the format asked for: the SVG itself, a PDF (svg2pdf: vector, the font
//! embedded as a subset, text kept as text so it can be searched and copied) or a PNG (resvg).
//!
//! The renderer knows one font, the print's [`CjkFont`], so nothing is set in a fallback font.
//! The PDF's page is the paper to the point (MediaBox from millimetres, not from pixels) and its
//! metadata holds the title and the plan's date, never the time of printing: the same page gives
//! the same bytes.

use super::fonts::CjkFont;
use super::{Format, Page, PrintError, Result};
use pdf_writer::{Date, Finish, Name, Pdf, Rect, Ref, TextStr};
use std::sync::Arc;

/// PNG resolution, dots per inch (lowered for very large paper to stay under ~60 megapixels).
pub const PNG_DPI: f64 = 150.0;

/// What the PDF's document information says.
#[derive(Clone, Debug, Default)]
pub struct PdfMeta {
    /// The title.
    pub title: String,
    /// The plan's date `YYYY-MM-DD`, written as the creation date (none if unknown).
    pub date: Option<String>,
}

fn tree(svg: &str, font: &CjkFont) -> Result<usvg::Tree> {
    let mut db = usvg::fontdb::Database::new();
    let data: Arc<dyn AsRef<[u8]> + Send + Sync> = font.data.clone();
    db.load_font_source(usvg::fontdb::Source::Binary(data));
    let opt = usvg::Options {
        font_family: font.family.clone(),
        fontdb: Arc::new(db),
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &opt).map_err(|e| PrintError::Render(e.to_string()))
}

/// `svg` (a page of `page`) as `format`.
pub fn write(
    svg: &str,
    font: &CjkFont,
    page: Page,
    format: Format,
    meta: &PdfMeta,
) -> Result<Vec<u8>> {
    match format {
        Format::Svg => Ok(svg.as_bytes().to_vec()),
        Format::Pdf => pdf(&tree(svg, font)?, page, meta),
        Format::Png => png(&tree(svg, font)?, page),
    }
}

/// Millimetres to PDF points.
pub fn mm_to_pt(mm: f64) -> f32 {
    (mm / 25.4 * 72.0) as f32
}

fn pdf(tree: &usvg::Tree, page: Page, meta: &PdfMeta) -> Result<Vec<u8>> {
    let opts = svg2pdf::ConversionOptions {
        compress: true,
        embed_text: true,
        ..svg2pdf::ConversionOptions::default()
    };
    let (chunk, svg_ref) =
        svg2pdf::to_chunk(tree, opts).map_err(|e| PrintError::Render(format!("{e:?}")))?;
    // our objects are 1–5; the chunk's are moved past them
    const OURS: i32 = 5;
    let chunk = chunk.renumber(|r| Ref::new(r.get() + OURS));
    let svg_ref = Ref::new(svg_ref.get() + OURS);
    let (catalog, pages, page_id, content_id, info) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let (w, h) = (mm_to_pt(page.w), mm_to_pt(page.h));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(Rect::new(0.0, 0.0, w, h));
    p.parent(pages);
    p.contents(content_id);
    p.resources().x_objects().pair(Name(b"S1"), svg_ref);
    p.finish();
    let mut content = pdf_writer::Content::new();
    content.transform([w, 0.0, 0.0, h, 0.0, 0.0]);
    content.x_object(Name(b"S1"));
    pdf.stream(content_id, &content.finish());
    let mut di = pdf.document_info(info);
    di.title(TextStr(&meta.title));
    di.producer(TextStr("wangge print (svg2pdf)"));
    if let Some(d) = meta.date.as_deref().and_then(parse_date) {
        di.creation_date(d);
    }
    di.finish();
    pdf.extend(&chunk);
    Ok(pdf.finish())
}

/// `YYYY-MM-DD` as a PDF date.
fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.get(..10)?.split('-');
    let y: u16 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    Some(Date::new(y).month(m).day(d))
}

fn png(tree: &usvg::Tree, page: Page) -> Result<Vec<u8>> {
    let px = |mm: f64, dpi: f64| (mm / 25.4 * dpi).round();
    let mut dpi = PNG_DPI;
    while px(page.w, dpi) * px(page.h, dpi) > 60e6 {
        dpi *= 0.8;
    }
    let (w, h) = (px(page.w, dpi) as u32, px(page.h, dpi) as u32);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| PrintError::Render(format!("cannot make a {w}×{h} image")))?;
    let size = tree.size();
    let t =
        resvg::tiny_skia::Transform::from_scale(w as f32 / size.width(), h as f32 / size.height());
    resvg::render(tree, t, &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| PrintError::Render(e.to_string()))
}
