//! The grid-division map (网格划分图) of a village or a town: title, map, legend, scale bar,
//! north arrow and the table of grids on one page.
//!
//! Portrait pages put the legend and the table under the map, landscape pages beside it; the
//! panel takes as little room as the table needs at a readable size (at most about 40% of
//! the page), the map the rest, at the largest round scale that shows the whole area.

use super::fonts::{CjkFont, Metrics};
use super::layout::{
    barrier_name, map_frame, north_arrow, scale_bar, tint, Align, Labels, Scale, Table, BUILDING,
    VILLAGE_BORDER,
};
use super::sheet::{GridSheet, Sheet};
use super::svg::{num, PathData, Svg};
use super::{Page, Target};
use crate::model::BarrierClass;
use crate::partition::colour::PALETTE;
use std::collections::BTreeSet;

/// The map's title: `<town> <village> 网格划分图`.
pub fn title(sheet: &Sheet) -> String {
    let vs = sheet.focus_villages();
    match (&sheet.target, vs.as_slice()) {
        (Target::Village(_), [v]) => format!("{} {} 网格划分图", sheet.town_label(), v.name),
        _ => format!("{} 网格划分图", sheet.town_label()),
    }
}

/// The line under the title: plan version and date, counts and totals.
pub fn subtitle(sheet: &Sheet) -> String {
    let grids: Vec<&GridSheet> = sheet.focus_grids().map(|(_, g)| g).collect();
    let hh: f64 = grids.iter().map(|g| g.households).sum();
    let rs: f64 = grids.iter().map(|g| g.residents).sum();
    let totals = format!("{} 个网格 · {:.0} 户 · {:.0} 人", grids.len(), hh, rs);
    let vs = sheet.focus_villages();
    match vs.as_slice() {
        [v] => {
            let plan = match &v.plan {
                Some(p) => match &p.date {
                    Some(d) => format!("方案第 {} 版 · {}", p.version, d),
                    None => format!("方案第 {} 版", p.version),
                },
                None => "无现行方案".into(),
            };
            format!("{}（{}）· {} · {}", v.name, v.code, plan, totals)
        }
        _ => {
            let latest = vs
                .iter()
                .filter_map(|v| v.plan.as_ref().and_then(|p| p.date.clone()))
                .max();
            let plan = match latest {
                Some(d) => format!("各村/社区现行方案（最近更新 {d}）"),
                None => "各村/社区现行方案".into(),
            };
            format!("{} 个村/社区 · {} · {}", vs.len(), plan, totals)
        }
    }
}

/// The table of the grids in colour: code, (village,) name, households, residents, leader, phone.
pub fn grid_table(sheet: &Sheet) -> Table {
    let town = matches!(sheet.target, Target::Town(_));
    let mut headers = vec!["网格编码".to_string()];
    let mut align = vec![Align::Left];
    if town {
        headers.push("村/社区".into());
        align.push(Align::Left);
    }
    for (h, a) in [
        ("名称", Align::Left),
        ("户数", Align::Right),
        ("人口", Align::Right),
        ("网格长", Align::Left),
        ("联系电话", Align::Left),
    ] {
        headers.push(h.into());
        align.push(a);
    }
    let rows = sheet
        .focus_grids()
        .map(|(_, g)| {
            let mut r = vec![g.code.clone()];
            if town {
                r.push(sheet.villages[g.village].name.clone());
            }
            let leader = g.leader();
            r.push(g.name.clone());
            r.push(format!("{:.0}", g.households));
            r.push(format!("{:.0}", g.residents));
            r.push(leader.map_or("—".into(), |p| p.name.clone()));
            r.push(
                leader
                    .and_then(|p| p.phone.clone())
                    .unwrap_or_else(|| "—".into()),
            );
            r
        })
        .collect();
    Table {
        headers,
        align,
        rows,
    }
}

/// Barrier classes in the legend's order.
const BARRIER_CLASSES: [BarrierClass; 5] = [
    BarrierClass::River,
    BarrierClass::Rail,
    BarrierClass::Expressway,
    BarrierClass::MajorRoad,
    BarrierClass::MinorRoad,
];

/// The legend's entries present on this map.
fn legend(svg: &mut Svg, sheet: &Sheet, sc: Scale, x: f64, y: f64, w: f64) -> f64 {
    let ts = sc.mm(2.6);
    let row = ts * 1.9;
    let sw = ts * 2.6;
    svg.text(
        x,
        y + ts,
        ts * 1.15,
        "图例",
        &[("font-weight", "bold"), ("fill", "#111111")],
    );
    let mut yy = y + ts * 2.4;
    let mut item = |svg: &mut Svg, label: &str, draw: &dyn Fn(&mut Svg, f64, f64)| {
        draw(svg, x, yy);
        svg.text(
            x + sw + ts * 0.8,
            yy + ts * 0.36,
            ts,
            label,
            &[("fill", "#111111")],
        );
        yy += row;
    };
    let present: BTreeSet<u8> = sheet.focus_grids().map(|(_, g)| g.colour).collect();
    let colours: Vec<&str> = present
        .iter()
        .map(|&c| PALETTE[c as usize % PALETTE.len()])
        .collect();
    item(svg, "网格（颜色区分相邻网格）", &|svg, x, y| {
        let n = colours.len().max(1) as f64;
        for (i, c) in colours.iter().enumerate() {
            svg.rect(
                x + sw * i as f64 / n,
                y - ts * 0.5,
                sw / n,
                ts,
                &[("fill", &tint(c))],
            );
        }
    });
    let line = |svg: &mut Svg, x: f64, y: f64, attrs: &[(&str, &str)]| {
        let mut d = PathData::new();
        d.line(&[[x, y], [x + sw, y]]);
        svg.path(&d, attrs);
    };
    let gw = num(sc.mm(0.35));
    item(svg, "网格界线", &|svg, x, y| {
        line(
            svg,
            x,
            y,
            &[
                ("stroke", "#1f1f1f"),
                ("stroke-width", &gw),
                ("fill", "none"),
            ],
        )
    });
    let vw = num(sc.mm(1.1));
    let vdash = format!(
        "{} {} {} {}",
        num(sc.mm(4.0)),
        num(sc.mm(1.2)),
        num(sc.mm(1.0)),
        num(sc.mm(1.2))
    );
    item(svg, "村/社区界线", &|svg, x, y| {
        line(
            svg,
            x,
            y,
            &[
                ("stroke", VILLAGE_BORDER),
                ("stroke-width", &vw),
                ("stroke-dasharray", &vdash),
                ("fill", "none"),
            ],
        )
    });
    for c in BARRIER_CLASSES {
        if !sheet.barriers.iter().any(|b| b.class == c) {
            continue;
        }
        let (casing, colour, width) = match c {
            BarrierClass::River => ("", "#8cc4f0", 1.3),
            BarrierClass::Rail => ("#444444", "#ffffff", 0.7),
            BarrierClass::Expressway => ("#b06000", "#f7b45b", 1.0),
            BarrierClass::MajorRoad => ("#9a9a9a", "#ffffff", 0.75),
            BarrierClass::MinorRoad => ("#b4b4b4", "#ffffff", 0.4),
        };
        let wd = num(sc.mm(width));
        let cw = num(sc.mm(width + 0.3));
        let dash = if c == BarrierClass::Rail {
            num(sc.mm(2.0))
        } else {
            "none".into()
        };
        item(svg, barrier_name(c), &|svg, x, y| {
            if !casing.is_empty() {
                line(
                    svg,
                    x,
                    y,
                    &[("stroke", casing), ("stroke-width", &cw), ("fill", "none")],
                );
            }
            line(
                svg,
                x,
                y,
                &[
                    ("stroke", colour),
                    ("stroke-width", &wd),
                    ("stroke-dasharray", &dash),
                    ("fill", "none"),
                ],
            );
        });
    }
    if !sheet.buildings.is_empty() {
        item(svg, "建筑", &|svg, x, y| {
            svg.rect(
                x + sw * 0.3,
                y - ts * 0.4,
                sw * 0.4,
                ts * 0.8,
                &[("fill", BUILDING)],
            );
        });
    }
    let _ = w;
    yy - y
}

/// The legend's height (without drawing it).
fn legend_height(sheet: &Sheet, sc: Scale) -> f64 {
    let ts = sc.mm(2.6);
    let classes = BARRIER_CLASSES
        .iter()
        .filter(|&&c| sheet.barriers.iter().any(|b| b.class == c))
        .count();
    let n = 3 + classes + usize::from(!sheet.buildings.is_empty());
    ts * 2.4 + n as f64 * ts * 1.9
}

/// Composes the grid-division map of `sheet` on `page` as an SVG document.
pub fn compose(sheet: &Sheet, font: &CjkFont, page: Page) -> String {
    let m = font.metrics();
    let sc = Scale { k: page.k() };
    let mut svg = Svg::new(page, &font.family, &title(sheet));
    let margin = 6.0 + 4.0 * sc.k;
    let (x0, y0, x1, y1) = (margin, margin, page.w - margin, page.h - margin);
    let cw = x1 - x0;

    // title
    let t = title(sheet);
    let ts = fit_size(&m, &t, sc.mm(9.0), cw * 0.95);
    svg.text(
        page.w / 2.0,
        y0 + ts * 0.9,
        ts,
        &t,
        &[
            ("text-anchor", "middle"),
            ("font-weight", "bold"),
            ("fill", "#111111"),
        ],
    );
    let st = subtitle(sheet);
    let ss = fit_size(&m, &st, sc.mm(3.6), cw * 0.95);
    svg.text(
        page.w / 2.0,
        y0 + ts * 1.25 + ss * 1.2,
        ss,
        &st,
        &[("text-anchor", "middle"), ("fill", "#333333")],
    );
    let top = y0 + ts * 1.25 + ss * 1.9;

    // footer
    let fs = sc.mm(2.2);
    let footer = "网格编码 = 12 位村/社区统计用区划代码 + 3 位序号（自西向东、自北向南编号）· 坐标系 CGCS2000 · wangge 制图";
    let fs = fit_size(&m, footer, fs, cw);
    svg.text(x0, y1 - fs * 0.3, fs, footer, &[("fill", "#555555")]);
    let bottom = y1 - fs * 1.6;

    let table = grid_table(sheet);
    let gap = sc.mm(4.0);
    let ch = bottom - top;
    let legend_w = sc.mm(52.0);
    let lh = legend_height(sheet, sc);
    let (s_max, s_min) = (sc.mm(3.0), sc.mm(1.6).max(1.3));
    let (map_rect, fit, table_xy, legend_xy);
    if page.landscape() {
        // panel on the right: legend on top, table below
        let mut chosen = None;
        for share in [0.26, 0.32, 0.38, 0.44, 0.5] {
            let pw = cw * share;
            let f = table.fit(&m, pw, ch - lh - gap, s_max, s_min);
            if f.complete && f.size >= sc.mm(2.2) || share == 0.5 {
                chosen = Some((pw, f));
                break;
            }
        }
        let (pw, f) = chosen.expect("the last share is always chosen");
        let used: f64 =
            f.widths.iter().sum::<f64>() * f.blocks as f64 + 2.5 * f.size * (f.blocks as f64 - 1.0);
        let pw = used.max(legend_w).min(pw);
        map_rect = [x0, top, cw - pw - gap, ch];
        legend_xy = [x1 - pw, top];
        table_xy = [x1 - pw, top + lh + gap];
        fit = f;
    } else {
        // panel at the bottom: legend on the left, table to its right
        let tw = cw - legend_w - gap;
        let mut chosen = None;
        for share in [0.18, 0.24, 0.30, 0.36, 0.42, 0.5] {
            let ph = (ch * share).max(lh);
            let f = table.fit(&m, tw, ph, s_max, s_min);
            if f.complete && f.size >= sc.mm(2.2) || share == 0.5 {
                chosen = Some((ph, f));
                break;
            }
        }
        let (ph, f) = chosen.expect("the last share is always chosen");
        let used = f.size * 1.9 + f.rows_per_block as f64 * f.size * 1.5;
        let ph = used.max(lh).min(ph);
        map_rect = [x0, top, cw, ch - ph - gap];
        legend_xy = [x0, bottom - ph];
        table_xy = [x0 + legend_w + gap, bottom - ph];
        fit = f;
    }

    let label_max = (page.w.min(page.h) / 50.0).max(3.0);
    let proj = map_frame(
        &mut svg,
        sheet,
        &m,
        sc,
        map_rect,
        Labels::FocusNameAndCode,
        label_max,
    );
    let [mx, my, mw, mh] = map_rect;
    scale_bar(&mut svg, &proj, sc, mx + sc.mm(5.0), my + mh - sc.mm(5.0));
    north_arrow(
        &mut svg,
        mx + mw - sc.mm(10.0),
        my + sc.mm(4.0),
        sc.mm(14.0),
    );

    legend(&mut svg, sheet, sc, legend_xy[0], legend_xy[1], legend_w);
    let used = table.draw(&mut svg, &fit, table_xy[0], table_xy[1]);
    if !fit.complete {
        let shown = fit.blocks * fit.rows_per_block;
        svg.text(
            table_xy[0],
            table_xy[1] + used + fit.size * 1.5,
            fit.size,
            &format!(
                "另有 {} 个网格未列出：请用更大的纸张打印",
                table.rows.len().saturating_sub(shown)
            ),
            &[("fill", "#c0392b")],
        );
    }
    svg.finish()
}

/// `size`, shrunk so that `text` is at most `max_w` wide.
pub fn fit_size(m: &Metrics, text: &str, size: f64, max_w: f64) -> f64 {
    let w = m.width(text, size);
    if w > max_w && w > 0.0 {
        size * max_w / w
    } else {
        size
    }
}
