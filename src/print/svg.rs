//! The one SVG writer: a page in millimetres (`viewBox` = the paper), groups, paths, rectangles
//! and text, with every number written the same way (to 0.01 mm) so the same page gives the same
//! bytes.
//!
//! ```
//! use wangge::print::{svg::Svg, Page, Paper};
//! let mut s = Svg::new(Page::new(Paper::A4, false), "WenQuanYi Micro Hei", "标题");
//! s.text(10.0, 20.0, 5.0, "网格 <1>", &[("font-weight", "bold")]);
//! let doc = s.finish();
//! assert!(doc.contains(r#"width="210mm" height="297mm" viewBox="0 0 210 297""#));
//! assert!(doc.contains("网格 &lt;1&gt;"));
//! ```

use super::Page;
use std::fmt::Write;

/// A number to 0.01 (mm), without trailing zeros or a negative zero.
///
/// ```
/// use wangge::print::svg::num;
/// assert_eq!(num(1.0), "1");
/// assert_eq!(num(-0.001), "0");
/// assert_eq!(num(2.456), "2.46");
/// ```
pub fn num(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r == 0.0 || !r.is_finite() {
        return "0".into();
    }
    let mut s = format!("{r:.2}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}

/// Text with XML's special characters escaped.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

/// Path data (`d`) built from rings and lines in page millimetres.
#[derive(Default, Clone, Debug)]
pub struct PathData(String);

impl PathData {
    /// An empty path.
    pub fn new() -> PathData {
        PathData::default()
    }
    /// Adds a closed ring.
    pub fn ring(&mut self, pts: &[[f64; 2]]) {
        self.line(pts);
        if pts.len() > 1 {
            self.0.push('Z');
        }
    }
    /// Adds an open line.
    pub fn line(&mut self, pts: &[[f64; 2]]) {
        let mut last = (String::new(), String::new());
        for (i, p) in pts.iter().enumerate() {
            let (x, y) = (num(p[0]), num(p[1]));
            if i > 0 && (x.as_str(), y.as_str()) == (last.0.as_str(), last.1.as_str()) {
                continue;
            }
            let _ = write!(self.0, "{}{x} {y}", if i == 0 { 'M' } else { 'L' });
            last = (x, y);
        }
    }
    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The `d` attribute's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An SVG document being written.
pub struct Svg {
    out: String,
    depth: usize,
}

impl Svg {
    /// A page of `page`'s size with `family` as the default font and `title` as its `<title>`.
    pub fn new(page: Page, family: &str, title: &str) -> Svg {
        let mut out = String::with_capacity(1 << 16);
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
             width=\"{w}mm\" height=\"{h}mm\" viewBox=\"0 0 {w} {h}\" font-family=\"{f}\">\n\
             <title>{t}</title>\n<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
            w = num(page.w),
            h = num(page.h),
            f = esc(family),
            t = esc(title),
        );
        Svg { out, depth: 0 }
    }

    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", esc(v));
        }
    }

    /// Opens a `<g>` with attributes (close it with [`Svg::close`]).
    pub fn group(&mut self, attrs: &[(&str, &str)]) {
        self.out.push_str("<g");
        self.attrs(attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// Closes the last group.
    pub fn close(&mut self) {
        if self.depth > 0 {
            self.out.push_str("</g>\n");
            self.depth -= 1;
        }
    }

    /// A clip path `id` of one rectangle.
    pub fn clip_rect(&mut self, id: &str, x: f64, y: f64, w: f64, h: f64) {
        let _ = writeln!(
            self.out,
            "<clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>",
            esc(id),
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    /// A path; nothing if `d` is empty.
    pub fn path(&mut self, d: &PathData, attrs: &[(&str, &str)]) {
        if d.is_empty() {
            return;
        }
        let _ = write!(self.out, "<path d=\"{}\"", d.as_str());
        self.attrs(attrs);
        self.out.push_str("/>\n");
    }

    /// A rectangle.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &[(&str, &str)]) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"",
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0))
        );
        self.attrs(attrs);
        self.out.push_str("/>\n");
    }

    /// A straight line.
    pub fn line(&mut self, a: [f64; 2], b: [f64; 2], attrs: &[(&str, &str)]) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"",
            num(a[0]),
            num(a[1]),
            num(b[0]),
            num(b[1])
        );
        self.attrs(attrs);
        self.out.push_str("/>\n");
    }

    /// Text with its baseline's start (or middle, or end: `text-anchor`) at `x, y`, `size` mm.
    pub fn text(&mut self, x: f64, y: f64, size: f64, text: &str, attrs: &[(&str, &str)]) {
        if text.is_empty() {
            return;
        }
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" font-size=\"{}\"",
            num(x),
            num(y),
            num3(size)
        );
        self.attrs(attrs);
        let _ = writeln!(self.out, ">{}</text>", esc(text));
    }

    /// The document (open groups closed).
    pub fn finish(mut self) -> String {
        while self.depth > 0 {
            self.close();
        }
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// A number to 0.001 (font sizes: small text needs the extra digit to keep its measured width).
fn num3(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    let mut s = format!("{r:.3}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}
