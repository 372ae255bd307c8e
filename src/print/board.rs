//! A grid's notice board (网格公示牌): its name and code, the grid on the map among its
//! neighbours, its leader and workers with their phones, its figures and the supervision phone
//! (监督电话), on one page.

use super::fonts::CjkFont;
use super::layout::{map_frame, north_arrow, scale_bar, Labels, Scale};
use super::map::fit_size;
use super::sheet::Sheet;
use super::svg::{num, Svg};
use super::{Options, Page};

/// The board's title: `<village><第N网格> 公示牌`.
pub fn title(sheet: &Sheet) -> String {
    match sheet.board_grid {
        Some(g) => {
            let g = &sheet.grids[g];
            format!("{}{} 网格公示牌", sheet.villages[g.village].name, g.name)
        }
        None => "网格公示牌".into(),
    }
}

/// Composes the notice board of `sheet`'s board grid as an SVG document.
pub fn compose(sheet: &Sheet, font: &CjkFont, page: Page, opts: &Options) -> String {
    let m = font.metrics();
    // sizes relative to an A4 page's width
    let u = page.w.min(page.h) / 210.0;
    let mut svg = Svg::new(page, &font.family, &title(sheet));
    let Some(gi) = sheet.board_grid else {
        return svg.finish();
    };
    let g = &sheet.grids[gi];
    let v = &sheet.villages[g.village];
    let margin = 10.0 * u;
    let (x0, x1) = (margin, page.w - margin);
    let cw = x1 - x0;
    let red = "#b3261e";

    // header band
    let band = 24.0 * u;
    svg.rect(0.0, 0.0, page.w, band, &[("fill", red)]);
    let hs = 12.0 * u;
    svg.text(
        page.w / 2.0,
        band / 2.0 + hs * 0.36,
        hs,
        "网 格 公 示 牌",
        &[
            ("text-anchor", "middle"),
            ("fill", "#ffffff"),
            ("font-weight", "bold"),
        ],
    );
    let mut y = band + 12.0 * u;
    let name = format!("{}{}", v.name, g.name);
    let ns = fit_size(&m, &name, 11.0 * u, cw);
    svg.text(
        page.w / 2.0,
        y,
        ns,
        &name,
        &[
            ("text-anchor", "middle"),
            ("fill", "#111111"),
            ("font-weight", "bold"),
        ],
    );
    y += 8.0 * u;
    let code = format!("网格编码 {}", g.code);
    svg.text(
        page.w / 2.0,
        y,
        5.5 * u,
        &code,
        &[("text-anchor", "middle"), ("fill", "#333333")],
    );
    y += 3.0 * u;
    let place = format!("{} · {}（{}）", sheet.town_label(), v.name, v.code);
    let ps = fit_size(&m, &place, 3.6 * u, cw);
    y += ps * 1.3;
    svg.text(
        page.w / 2.0,
        y,
        ps,
        &place,
        &[("text-anchor", "middle"), ("fill", "#555555")],
    );
    y += 4.0 * u;

    // the map: the grid among its neighbours
    let sc = Scale { k: page.k() };
    let map_h = (page.h * 0.46).min(cw * 1.1);
    let rect = [x0, y, cw, map_h];
    let proj = map_frame(&mut svg, sheet, &m, sc, rect, Labels::Board, 7.0 * u);
    scale_bar(&mut svg, &proj, sc, x0 + sc.mm(5.0), y + map_h - sc.mm(5.0));
    north_arrow(&mut svg, x1 - sc.mm(10.0), y + sc.mm(4.0), sc.mm(14.0));
    y += map_h + 9.0 * u;

    // figures
    let figs = format!(
        "户数 {:.0} 户 · 实有人口 {:.0} 人 · 面积 {:.2} 平方千米",
        g.households,
        g.residents,
        g.area_m2 / 1e6
    );
    svg.text(
        x0,
        y,
        fit_size(&m, &figs, 4.6 * u, cw),
        &figs,
        &[("fill", "#222222")],
    );
    y += 5.0 * u;

    // people
    let rs = 6.5 * u;
    let row = rs * 1.75;
    let name_x = x0 + 30.0 * u;
    let phone_x = x0 + 80.0 * u;
    let mut people: Vec<(&str, &str, String)> = Vec::new();
    if let Some(l) = g.leader() {
        people.push((
            "网格长",
            l.name.as_str(),
            l.phone.clone().unwrap_or_else(|| "—".into()),
        ));
    } else {
        people.push(("网格长", "（未登记）", "—".into()));
    }
    let workers: Vec<_> = g.workers().collect();
    if workers.is_empty() {
        people.push(("网格员", "（未登记）", "—".into()));
    }
    for w in workers {
        people.push((
            "网格员",
            w.name.as_str(),
            w.phone.clone().unwrap_or_else(|| "—".into()),
        ));
    }
    let room = page.h - margin - 30.0 * u - y;
    let rs = if people.len() as f64 * row > room {
        (room / people.len() as f64 / 1.75).max(3.0 * u)
    } else {
        rs
    };
    let row = rs * 1.75;
    for (i, (role, who, phone)) in people.iter().enumerate() {
        let ry = y + i as f64 * row;
        if i % 2 == 0 {
            svg.rect(x0, ry, cw, row, &[("fill", "#f3eeee")]);
        }
        let by = ry + row / 2.0 + rs * 0.36;
        svg.text(
            x0 + 3.0 * u,
            by,
            rs * 0.8,
            role,
            &[("fill", red), ("font-weight", "bold")],
        );
        svg.text(
            name_x,
            by,
            rs,
            who,
            &[("fill", "#111111"), ("font-weight", "bold")],
        );
        svg.text(
            phone_x,
            by,
            rs,
            &format!("电话 {phone}"),
            &[("fill", "#111111")],
        );
    }
    y += people.len() as f64 * row + 7.0 * u;

    // the supervision phone
    let sup = match &opts.supervision {
        Some(p) => format!("监督电话：{p}"),
        None => "监督电话：________________".into(),
    };
    let bs = 8.0 * u;
    let bh = bs * 1.9;
    svg.rect(
        x0,
        y,
        cw,
        bh,
        &[
            ("fill", "#fff6e0"),
            ("stroke", red),
            ("stroke-width", &num(0.8 * u)),
        ],
    );
    svg.text(
        page.w / 2.0,
        y + bh / 2.0 + bs * 0.36,
        fit_size(&m, &sup, bs, cw * 0.95),
        &sup,
        &[
            ("text-anchor", "middle"),
            ("fill", red),
            ("font-weight", "bold"),
        ],
    );

    // footer: the plan
    let plan = match &v.plan {
        Some(p) => match &p.date {
            Some(d) => format!("网格划分方案第 {} 版 · {}", p.version, d),
            None => format!("网格划分方案第 {} 版", p.version),
        },
        None => String::new(),
    };
    let footer = format!("{plan} · 网格化服务管理 · wangge 制图");
    let fs = 3.0 * u;
    svg.text(
        page.w / 2.0,
        page.h - margin * 0.6,
        fit_size(&m, &footer, fs, cw),
        &footer,
        &[("text-anchor", "middle"), ("fill", "#666666")],
    );
    svg.finish()
}
