//! The pieces a page is made of: the map frame (grids, buildings, roads and rivers, village and
//! grid borders, labels), the scale bar, the north arrow, the legend and tables that fit a box.
//!
//! Borders are drawn from the planar topology of the grids (and of the villages): every shared
//! border once, simplified once ([`Topology::simplified`]) to a tenth of a millimetre on paper,
//! so neighbouring fills never gap or overlap and no line is drawn twice.

use super::fonts::Metrics;
use super::polylabel::{box_fits, pole};
use super::project::Projection;
use super::sheet::Sheet;
use super::svg::{num, PathData, Svg};
use crate::model::BarrierClass;
use crate::partition::colour::PALETTE;
use crate::topology::{Pt, Topology};
use geo::MultiPolygon;

/// Where the labels of grids go, and what they say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    /// Name and code of every grid in focus (a grid-division map).
    FocusNameAndCode,
    /// A notice board: the board grid's name and code, its neighbours' codes.
    Board,
}

/// Buildings' fill.
pub const BUILDING: &str = "#a3a3a3";
/// Village borders' colour.
pub const VILLAGE_BORDER: &str = "#955aa5";

/// A palette colour lightened towards white (60% colour), so that buildings and roads show
/// through. Solid, not transparent: svg2pdf writes transparency as graphics states in an order
/// that changes from run to run, and a print must give the same bytes every time.
///
/// ```
/// assert_eq!(wangge::print::layout::tint("#000000"), "#666666");
/// ```
pub fn tint(hex: &str) -> String {
    let h = hex.trim_start_matches('#');
    let c =
        |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("ff"), 16).unwrap_or(255) as f64;
    let t = |v: f64| (v * 0.6 + 255.0 * 0.4).round() as u8;
    format!("#{:02x}{:02x}{:02x}", t(c(0)), t(c(2)), t(c(4)))
}

/// Style of a barrier class: (casing colour, colour, width at A3, dash).
fn barrier_style(c: BarrierClass) -> (&'static str, &'static str, f64, &'static str) {
    match c {
        BarrierClass::River => ("", "#8cc4f0", 1.3, ""),
        BarrierClass::Rail => ("#444444", "#ffffff", 0.7, "2 2"),
        BarrierClass::Expressway => ("#b06000", "#f7b45b", 1.0, ""),
        BarrierClass::MajorRoad => ("#9a9a9a", "#ffffff", 0.75, ""),
        BarrierClass::MinorRoad => ("#b4b4b4", "#ffffff", 0.4, ""),
    }
}

/// The Chinese name of a barrier class, for the legend.
pub fn barrier_name(c: BarrierClass) -> &'static str {
    match c {
        BarrierClass::River => "河流",
        BarrierClass::Rail => "铁路",
        BarrierClass::Expressway => "高速公路",
        BarrierClass::MajorRoad => "主干道",
        BarrierClass::MinorRoad => "支路",
    }
}

/// Draw order of barriers: water, then small roads under big ones, rail on top.
const BARRIER_ORDER: [BarrierClass; 5] = [
    BarrierClass::River,
    BarrierClass::MinorRoad,
    BarrierClass::MajorRoad,
    BarrierClass::Expressway,
    BarrierClass::Rail,
];

/// The simplified planar topology of some polygons, projected.
struct Projected {
    topo: Topology,
    /// For each input polygon, its faces.
    faces_of: Vec<Vec<u32>>,
    feature_of_face: Vec<usize>,
}

impl Projected {
    fn new(polys: &[MultiPolygon<f64>], tol_deg: f64) -> Projected {
        let cov = Topology::from_polygons(polys);
        Projected {
            topo: cov.topology.simplified(tol_deg),
            faces_of: cov.faces_of_feature,
            feature_of_face: cov.feature_of_face,
        }
    }
    /// Polygon `i`'s parts as page rings (outer first).
    fn rings(&self, i: usize, p: &Projection) -> Vec<Vec<Vec<[f64; 2]>>> {
        self.faces_of[i]
            .iter()
            .map(|&f| {
                self.topo
                    .face_rings(f)
                    .iter()
                    .map(|r| page_ring(r, p))
                    .collect()
            })
            .collect()
    }
    fn path(&self, i: usize, p: &Projection) -> PathData {
        let mut d = PathData::new();
        for part in self.rings(i, p) {
            for r in part {
                d.ring(&r);
            }
        }
        d
    }
}

fn page_ring(r: &[Pt], p: &Projection) -> Vec<[f64; 2]> {
    let mut v: Vec<[f64; 2]> = r.iter().map(|&q| p.pt(q)).collect();
    if v.len() > 1 && v.first() == v.last() {
        v.pop();
    }
    v
}

/// The largest part (by area) of page polygon parts.
fn largest(parts: Vec<Vec<Vec<[f64; 2]>>>) -> Option<Vec<Vec<[f64; 2]>>> {
    let area = |r: &Vec<[f64; 2]>| {
        let mut a = 0.0;
        for i in 0..r.len() {
            let (p, q) = (r[i], r[(i + 1) % r.len()]);
            a += p[0] * q[1] - q[0] * p[1];
        }
        a.abs() / 2.0
    };
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .max_by(|a, b| area(&a[0]).total_cmp(&area(&b[0])))
}

/// Line widths and text sizes scale with the page (`k`, 1 at A3) and are never thinner than
/// print can show.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// [`super::Page::k`].
    pub k: f64,
}

impl Scale {
    /// A length at A3, on this page.
    pub fn mm(&self, a3: f64) -> f64 {
        a3 * self.k
    }
}

/// Draws the map of `sheet` into the page rectangle `x, y, w, h` and returns its projection.
#[allow(clippy::too_many_arguments)]
pub fn map_frame(
    svg: &mut Svg,
    sheet: &Sheet,
    m: &Metrics,
    sc: Scale,
    rect: [f64; 4],
    labels: Labels,
    label_max: f64,
) -> Projection {
    let [x, y, w, h] = rect;
    let proj = Projection::fit(sheet.bbox, x, y, w, h);
    let tol = 0.1 * proj.deg_per_mm();
    svg.clip_rect("map", x, y, w, h);
    svg.group(&[("clip-path", "url(#map)")]);
    svg.rect(x, y, w, h, &[("fill", "#f4f4f2")]);

    // villages: those asked for on white, the others grey
    let vpolys: Vec<MultiPolygon<f64>> =
        sheet.villages.iter().map(|v| v.boundary.clone()).collect();
    let villages = Projected::new(&vpolys, tol);
    for (i, v) in sheet.villages.iter().enumerate() {
        let fill = if v.focus || sheet.board_grid.is_some() {
            "#ffffff"
        } else {
            "#e6e6e3"
        };
        svg.path(
            &villages.path(i, &proj),
            &[("fill", fill), ("fill-rule", "evenodd")],
        );
    }

    // grid fills
    let gpolys: Vec<MultiPolygon<f64>> = sheet.grids.iter().map(|g| g.geometry.clone()).collect();
    let grids = Projected::new(&gpolys, tol);
    let neighbour = |i: usize| {
        sheet
            .board_grid
            .is_some_and(|b| sheet.adjacency[b].contains(&i))
    };
    svg.group(&[("fill-rule", "evenodd")]);
    for (i, g) in sheet.grids.iter().enumerate() {
        let fill = if g.focus || sheet.villages[g.village].focus {
            tint(PALETTE[g.colour as usize % PALETTE.len()])
        } else if neighbour(i) {
            "#dedede".to_string()
        } else {
            "#ebebe8".to_string()
        };
        svg.path(&grids.path(i, &proj), &[("fill", &fill)]);
    }
    svg.close();

    // buildings: one path
    let mut bd = PathData::new();
    let dot = sc.mm(0.25);
    for b in &sheet.buildings {
        match &b.footprint {
            Some(f) => {
                for poly in &f.0 {
                    let r: Vec<[f64; 2]> = poly
                        .exterior()
                        .0
                        .iter()
                        .map(|c| proj.to_page(c.x, c.y))
                        .collect();
                    bd.ring(&r);
                }
            }
            None => {
                let c = proj.to_page(b.point.x(), b.point.y());
                bd.ring(&[
                    [c[0] - dot, c[1] - dot],
                    [c[0] + dot, c[1] - dot],
                    [c[0] + dot, c[1] + dot],
                    [c[0] - dot, c[1] + dot],
                ]);
            }
        }
    }
    svg.path(&bd, &[("fill", BUILDING), ("stroke", "none")]);

    // roads, rivers, railways
    for class in BARRIER_ORDER {
        let mut d = PathData::new();
        for b in sheet.barriers.iter().filter(|b| b.class == class) {
            for l in &b.lines {
                let pts: Vec<[f64; 2]> = l.0.iter().map(|c| proj.to_page(c.x, c.y)).collect();
                d.line(&pts);
            }
        }
        let (casing, colour, width, dash) = barrier_style(class);
        let wd = sc.mm(width).max(0.25);
        if !casing.is_empty() {
            let cw = num(wd + sc.mm(0.3).max(0.15));
            svg.path(
                &d,
                &[
                    ("fill", "none"),
                    ("stroke", casing),
                    ("stroke-width", &cw),
                    ("stroke-linejoin", "round"),
                ],
            );
        }
        let ws = num(wd);
        let mut attrs = vec![
            ("fill", "none"),
            ("stroke", colour),
            ("stroke-width", ws.as_str()),
            ("stroke-linejoin", "round"),
            ("stroke-linecap", "round"),
        ];
        let dash_s;
        if !dash.is_empty() {
            dash_s = dash
                .split(' ')
                .map(|v| num(v.parse::<f64>().unwrap_or(1.0) * sc.k))
                .collect::<Vec<_>>()
                .join(" ");
            attrs.push(("stroke-dasharray", dash_s.as_str()));
            attrs[4] = ("stroke-linecap", "butt");
        }
        svg.path(&d, &attrs);
    }

    // village borders, each shared border once
    let mut vb = PathData::new();
    for a in &villages.topo.arcs {
        vb.line(&page_ring_open(&a.points, &proj));
    }
    let vw = num(sc.mm(1.1));
    let vdash = format!(
        "{} {} {} {}",
        num(sc.mm(4.0)),
        num(sc.mm(1.2)),
        num(sc.mm(1.0)),
        num(sc.mm(1.2))
    );
    svg.path(
        &vb,
        &[
            ("fill", "none"),
            ("stroke", VILLAGE_BORDER),
            ("stroke-width", &vw),
            ("stroke-dasharray", &vdash),
            ("stroke-linejoin", "round"),
        ],
    );

    // grid borders over village borders: those touching a grid in colour dark, others light
    let (mut strong, mut weak) = (PathData::new(), PathData::new());
    for a in &grids.topo.arcs {
        let side = |f: Option<u32>| f.map(|f| grids.feature_of_face[f as usize]);
        let shown = [side(a.left), side(a.right)]
            .into_iter()
            .flatten()
            .any(|g| sheet.grids[g].focus || sheet.villages[sheet.grids[g].village].focus);
        let pts = page_ring_open(&a.points, &proj);
        if shown {
            strong.line(&pts);
        } else {
            weak.line(&pts);
        }
    }
    let gw = num(sc.mm(0.35).max(0.18));
    let ww = num(sc.mm(0.2).max(0.12));
    svg.path(
        &weak,
        &[
            ("fill", "none"),
            ("stroke", "#9a9a9a"),
            ("stroke-width", &ww),
            ("stroke-linejoin", "round"),
        ],
    );
    svg.path(
        &strong,
        &[
            ("fill", "none"),
            ("stroke", "#1f1f1f"),
            ("stroke-width", &gw),
            ("stroke-linejoin", "round"),
        ],
    );
    // the board's grid outlined boldly
    if let Some(b) = sheet.board_grid {
        let bw = num(sc.mm(1.2));
        svg.path(
            &grids.path(b, &proj),
            &[
                ("fill", "none"),
                ("stroke", "#c0392b"),
                ("stroke-width", &bw),
                ("stroke-linejoin", "round"),
            ],
        );
    }

    // context villages' names
    for (i, v) in sheet.villages.iter().enumerate() {
        if v.focus || sheet.board_grid.is_some() {
            continue;
        }
        if let Some(part) = largest(villages.rings(i, &proj)) {
            let (c, _) = pole(&part, 0.5);
            let size = sc.mm(3.0);
            let tw = m.width(&v.name, size);
            if box_fits(&part, c, tw, size * 1.2) {
                svg.text(
                    c[0],
                    c[1] + 0.35 * size,
                    size,
                    &v.name,
                    &[("text-anchor", "middle"), ("fill", "#8a8a8a")],
                );
            }
        }
    }

    // grid labels
    svg.group(&[("text-anchor", "middle")]);
    let mut placed = Vec::new();
    for (i, g) in sheet.grids.iter().enumerate() {
        let full = vec![(g.name.clone(), 1.0), (g.code.clone(), 0.8)];
        let code = vec![(g.code.clone(), 0.8)];
        let seq = vec![(
            g.code
                .get(12..)
                .unwrap_or("")
                .trim_start_matches('0')
                .to_string(),
            0.9,
        )];
        let choices = match labels {
            Labels::FocusNameAndCode if g.focus => vec![full, code, seq],
            Labels::Board if Some(i) == sheet.board_grid => vec![full, code],
            Labels::Board if neighbour(i) => vec![code, seq],
            _ => continue,
        };
        let Some(part) = largest(grids.rings(i, &proj)) else {
            continue;
        };
        let (c, _) = pole(&part, 0.1);
        let min = sc.mm(1.6).max(1.3);
        label(svg, m, &part, c, &choices, label_max, min, &mut placed);
    }
    svg.close();
    svg.close();
    // the frame
    svg.rect(
        x,
        y,
        w,
        h,
        &[
            ("fill", "none"),
            ("stroke", "#333333"),
            ("stroke-width", &num(sc.mm(0.4))),
        ],
    );
    proj
}

fn page_ring_open(r: &[Pt], p: &Projection) -> Vec<[f64; 2]> {
    r.iter().map(|&q| p.pt(q)).collect()
}

/// A label centred at `c`, as large as fits in `part` between `min` and `max` (mm): the first of
/// `choices` (each lines of text with sizes relative to the first) that fits at `min` or more
/// and overlaps no label already `placed`. Nothing if none does: a grid too small for its number
/// at `min` is listed in the table only (labels drawn over their neighbours are unreadable).
#[allow(clippy::too_many_arguments)]
fn label(
    svg: &mut Svg,
    m: &Metrics,
    part: &[Vec<[f64; 2]>],
    c: [f64; 2],
    choices: &[Vec<(String, f64)>],
    max: f64,
    min: f64,
    placed: &mut Vec<[f64; 4]>,
) {
    let bx = |lines: &[(String, f64)], s: f64| {
        let w = lines
            .iter()
            .map(|(t, r)| m.width(t, s * r))
            .fold(0.0, f64::max);
        let h: f64 = lines.iter().map(|(_, r)| s * r * 1.2).sum();
        (w + s * 0.4, h + s * 0.2)
    };
    let free = |w: f64, h: f64, placed: &[[f64; 4]]| {
        let r = [
            c[0] - w / 2.0,
            c[1] - h / 2.0,
            c[0] + w / 2.0,
            c[1] + h / 2.0,
        ];
        !placed
            .iter()
            .any(|p| r[0] < p[2] && p[0] < r[2] && r[1] < p[3] && p[1] < r[3])
    };
    let mut chosen: Option<(&[(String, f64)], f64)> = None;
    'choices: for (k, lines) in choices.iter().enumerate() {
        // a fallback (code only, number only) stays small: a huge bare number reads as a title
        let mut s = if k == 0 { max } else { max.min(min * 1.6) };
        while s >= min {
            let (w, h) = bx(lines, s);
            if box_fits(part, c, w, h) && free(w, h, placed) {
                chosen = Some((lines, s));
                break 'choices;
            }
            s *= 0.9;
        }
    }
    let Some((lines, s)) = chosen else {
        return;
    };
    let (w, h) = bx(lines, s);
    placed.push([
        c[0] - w / 2.0,
        c[1] - h / 2.0,
        c[0] + w / 2.0,
        c[1] + h / 2.0,
    ]);
    svg.rect(
        c[0] - w / 2.0,
        c[1] - h / 2.0,
        w,
        h,
        &[("fill", "#ffffff"), ("rx", &num(s * 0.2))],
    );
    let mut yy = c[1] - h / 2.0 + s * 0.1;
    for (i, (t, r)) in lines.iter().enumerate() {
        let size = s * r;
        yy += size * 1.2;
        let weight = if i == 0 { "bold" } else { "normal" };
        svg.text(
            c[0],
            yy - size * 0.27,
            size,
            t,
            &[("fill", "#111111"), ("font-weight", weight)],
        );
    }
}

/// The largest round length (1, 2 or 5 × 10ⁿ metres) at most `max_m`.
///
/// ```
/// assert_eq!(wangge::print::layout::round_length(730.0), 500.0);
/// assert_eq!(wangge::print::layout::round_length(2100.0), 2000.0);
/// ```
pub fn round_length(max_m: f64) -> f64 {
    let p = 10f64.powf(max_m.max(1.0).log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|f| f * p)
        .find(|&l| l <= max_m)
        .unwrap_or(p)
}

fn metres_text(m: f64) -> String {
    if m >= 1000.0 {
        let km = m / 1000.0;
        if km.fract() == 0.0 {
            format!("{km:.0} 千米")
        } else {
            format!("{km} 千米")
        }
    } else {
        format!("{m:.0} 米")
    }
}

/// The scale bar with its left end at `x`, bottom at `y`: round metres in four blocks, the
/// scale `1:N` above.
pub fn scale_bar(svg: &mut Svg, proj: &Projection, sc: Scale, x: f64, y: f64) {
    let len_m = round_length(sc.mm(60.0) / proj.mm_per_m());
    let len = len_m * proj.mm_per_m();
    let bh = sc.mm(1.4);
    let ts = sc.mm(2.4);
    let pad = sc.mm(2.0);
    let (bx, by) = (x, y - bh);
    svg.rect(
        bx - pad,
        by - ts * 2.8 - pad,
        len + 2.0 * pad + sc.mm(8.0),
        ts * 2.8 + bh + ts * 1.4 + pad * 1.5,
        &[
            ("fill", "#ffffff"),
            ("stroke", "#999999"),
            ("stroke-width", &num(sc.mm(0.15))),
        ],
    );
    for i in 0..4 {
        let fill = if i % 2 == 0 { "#222222" } else { "#ffffff" };
        svg.rect(
            bx + len * i as f64 / 4.0,
            by,
            len / 4.0,
            bh,
            &[
                ("fill", fill),
                ("stroke", "#222222"),
                ("stroke-width", &num(sc.mm(0.15))),
            ],
        );
    }
    for (f, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "middle")] {
        let t = if f == 1.0 {
            metres_text(len_m)
        } else {
            metres_text(len_m * f)
                .replace(" 米", "")
                .replace(" 千米", "")
        };
        svg.text(
            bx + len * f,
            by + bh + ts * 1.1,
            ts,
            &t,
            &[("text-anchor", anchor), ("fill", "#222222")],
        );
    }
    svg.text(
        bx,
        by - ts * 0.8,
        ts,
        &format!("比例尺 1:{}", group_digits(proj.denominator)),
        &[("fill", "#222222")],
    );
}

/// `12500` → `12 500`.
pub fn group_digits(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A north arrow centred at `x`, its top at `y`, `size` mm tall.
pub fn north_arrow(svg: &mut Svg, x: f64, y: f64, size: f64) {
    let ts = size * 0.32;
    let top = y + ts * 1.2;
    let h = size - ts * 1.2;
    let w = h * 0.45;
    svg.rect(
        x - w * 0.9,
        y - size * 0.08,
        w * 1.8,
        size * 1.12,
        &[("fill", "#ffffff"), ("rx", &num(size * 0.08))],
    );
    svg.text(
        x,
        y + ts,
        ts,
        "北",
        &[
            ("text-anchor", "middle"),
            ("fill", "#222222"),
            ("font-weight", "bold"),
        ],
    );
    let mut left = PathData::new();
    left.ring(&[[x, top], [x - w / 2.0, top + h], [x, top + h * 0.72]]);
    let mut right = PathData::new();
    right.ring(&[[x, top], [x + w / 2.0, top + h], [x, top + h * 0.72]]);
    let sw = num(size * 0.02);
    svg.path(
        &left,
        &[
            ("fill", "#222222"),
            ("stroke", "#222222"),
            ("stroke-width", &sw),
        ],
    );
    svg.path(
        &right,
        &[
            ("fill", "#ffffff"),
            ("stroke", "#222222"),
            ("stroke-width", &sw),
        ],
    );
}

/// How a column's cells are aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Left.
    Left,
    /// Right (figures).
    Right,
}

/// A table: headers, alignments and rows of text.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Column alignments.
    pub align: Vec<Align>,
    /// Rows, one text per column.
    pub rows: Vec<Vec<String>>,
}

/// How a table is set in its box.
#[derive(Clone, Debug)]
pub struct TableFit {
    /// Text size (mm).
    pub size: f64,
    /// Column widths at that size.
    pub widths: Vec<f64>,
    /// Blocks of rows side by side.
    pub blocks: usize,
    /// Rows per block.
    pub rows_per_block: usize,
    /// Whether every row fits.
    pub complete: bool,
}

impl Table {
    /// Column widths at text size 1.
    fn unit_widths(&self, m: &Metrics) -> Vec<f64> {
        (0..self.headers.len())
            .map(|c| {
                let cells = self.rows.iter().map(|r| m.width(&r[c], 1.0));
                cells
                    .chain(std::iter::once(m.width(&self.headers[c], 1.0)))
                    .fold(0.0, f64::max)
                    + 1.0
            })
            .collect()
    }

    /// The largest text size in `min..=max` at which the table fits `w × h` (in blocks of rows
    /// side by side); at `min`, as many rows as fit.
    pub fn fit(&self, m: &Metrics, w: f64, h: f64, max: f64, min: f64) -> TableFit {
        let unit = self.unit_widths(m);
        let total: f64 = unit.iter().sum();
        let n = self.rows.len().max(1);
        let layout = |s: f64| {
            let bw = total * s;
            let gap = 2.5 * s;
            let blocks = (((w + gap) / (bw + gap)).floor() as usize).max(1);
            let rows = ((h - s * 1.9) / (s * 1.5)).floor().max(0.0) as usize;
            (blocks, rows)
        };
        let mut s = max;
        while s > min {
            let (blocks, rows) = layout(s);
            let spread = (blocks * rows >= n) && total * s <= w;
            if spread {
                let blocks = n.div_ceil(rows.max(1)).min(blocks).max(1);
                let rows_per_block = n.div_ceil(blocks);
                return TableFit {
                    size: s,
                    widths: unit.iter().map(|u| u * s).collect(),
                    blocks,
                    rows_per_block,
                    complete: true,
                };
            }
            s *= 0.94;
        }
        let s = min.min(w / total);
        let (blocks, rows) = layout(s);
        let complete = blocks * rows >= n;
        TableFit {
            size: s,
            widths: unit.iter().map(|u| u * s).collect(),
            blocks,
            // a row left for the note that some are not listed
            rows_per_block: if complete {
                rows
            } else {
                rows.saturating_sub(1)
            },
            complete,
        }
    }

    /// Draws the table at `x, y` as `fit` says; returns the height used.
    pub fn draw(&self, svg: &mut Svg, fit: &TableFit, x: f64, y: f64) -> f64 {
        let s = fit.size;
        let (rh, hh) = (s * 1.5, s * 1.9);
        let bw: f64 = fit.widths.iter().sum();
        let gap = 2.5 * s;
        let mut used: f64 = 0.0;
        for b in 0..fit.blocks {
            let rows: Vec<&Vec<String>> = self
                .rows
                .iter()
                .skip(b * fit.rows_per_block)
                .take(fit.rows_per_block)
                .collect();
            if rows.is_empty() && b > 0 {
                break;
            }
            let bx = x + b as f64 * (bw + gap);
            svg.rect(bx, y, bw, hh, &[("fill", "#4a4a4a")]);
            let mut cx = bx;
            for (c, hd) in self.headers.iter().enumerate() {
                let (tx, anchor) = match self.align[c] {
                    Align::Left => (cx + s * 0.5, "start"),
                    Align::Right => (cx + fit.widths[c] - s * 0.5, "end"),
                };
                svg.text(
                    tx,
                    y + hh * 0.5 + s * 0.36,
                    s,
                    hd,
                    &[
                        ("fill", "#ffffff"),
                        ("text-anchor", anchor),
                        ("font-weight", "bold"),
                    ],
                );
                cx += fit.widths[c];
            }
            for (ri, row) in rows.iter().enumerate() {
                let ry = y + hh + ri as f64 * rh;
                if ri % 2 == 1 {
                    svg.rect(bx, ry, bw, rh, &[("fill", "#efefef")]);
                }
                let mut cx = bx;
                for (c, cell) in row.iter().enumerate() {
                    let (tx, anchor) = match self.align[c] {
                        Align::Left => (cx + s * 0.5, "start"),
                        Align::Right => (cx + fit.widths[c] - s * 0.5, "end"),
                    };
                    svg.text(
                        tx,
                        ry + rh * 0.5 + s * 0.36,
                        s,
                        cell,
                        &[("fill", "#111111"), ("text-anchor", anchor)],
                    );
                    cx += fit.widths[c];
                }
            }
            let h = hh + rows.len() as f64 * rh;
            svg.rect(
                bx,
                y,
                bw,
                h,
                &[
                    ("fill", "none"),
                    ("stroke", "#4a4a4a"),
                    ("stroke-width", &num(s * 0.06)),
                ],
            );
            used = used.max(h);
        }
        used
    }
}
