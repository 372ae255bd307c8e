//! Synthetic towns: a seeded, deterministic generator of realistic test data.
//!
//! [`synth_town`] builds a town (镇) of about `households` households as four GeoJSON layers —
//! villages/communities (村/社区), buildings (实有房屋), villager groups (村民小组) and barriers
//! (rivers, rail, expressway, roads) — and [`SynthTown::write_dir`] writes them as files. It feeds
//! tests, benchmarks and demos of the partitioner; nothing in it is real data.
//!
//! # Layout
//! * **Location.** The town is centred on lon 120.98°, lat 31.30° (Kunshan, Jiangsu); geometry is
//!   built in local metres and converted with a local equirectangular projection
//!   (110 574 m per degree of latitude, 111 320 m·cos φ per degree of longitude). Output
//!   coordinates are WGS84 rounded to 7 decimals (≈1 cm); rings are closed, exteriors CCW, holes CW.
//! * **Grid.** Everything is cut from one jittered grid of ≈700 m cells (±8 %). Every grid node is
//!   shifted by up to 10 % of the cell size and every cell edge carries 2–4 extra vertices offset
//!   by up to 3 %, so borders wiggle. A village is a set of cells; its rings are chained from the
//!   *same* edge polylines as its neighbours', so shared borders have identical coordinates on both
//!   sides and villages never overlap (they tile the town's rectangle-ish extent).
//! * **Villages.** The cells are grouped into 3 × 3 blocks. A plain block is one rural village
//!   (mode `rural`, "…村", ≈4.4 km²). The blocks nearest the centre hold the built-up core: town
//!   communities of one cell each (mode `town`, residents' committees, "…社区", ≈0.5 km²), filled
//!   from the block corner nearest the centre, the rest of a partly built block being one
//!   (concave) rural village. One block next to the core per 40 blocks (at least one once there
//!   are 4 blocks and a core) holds an industrial park on its strip nearest the centre (mode
//!   `industrial`, "…工业园社区", 3 cells) and a rural village on the other 6 cells.
//! * **Sizes.** 40 % of the households live in communities (≈3 400 households each, i.e.
//!   7 000/km²), the rest in rural villages at 750 households/km² (≈3 300 per full block); parks
//!   hold ≈800 households of dormitories. Each village's weight gets ±20 % noise (±40 % for parks)
//!   and the number of blocks is chosen so the weights sum close to the target; integer targets
//!   are then apportioned by largest remainder, so they sum exactly to `households`. Communities
//!   and villages thus carry ≈1 500–6 000 households (parks fewer), and 1 500 000 households give
//!   ≈450 villages. The generated total equals the target unless a village runs out of room (it
//!   does not at these densities; the tests check ±2 %). Residents are ≈2.5–3 per household.
//!   Fewer than ≈4 300 households give no core: a single rural village (households 300 → one
//!   village; 0 → one empty village).
//! * **Codes.** `320583` (Kunshan) + township `104` + 3 digits: residents' committees (mode `town`)
//!   from `001`, villages' committees (mode `rural`) from `200`, industrial parks from `400`.
//!   Villages are numbered in reading order (north to south, west to east). When a mode runs out of
//!   numbers (199 communities, 200 villages or 100 parks) the next township (`105`, `106`, …) starts,
//!   so every code has 12 digits and is unique. Output is sorted by code.
//!
//! # Buildings
//! * **Town communities:** apartment blocks of 40–200 households (footprints 28–62 m × 12–16 m,
//!   rotated with the community, ±3°) in east–west rows on a 72 m × 46 m slot lattice, filled
//!   compound by compound (200 m squares in random order); plus dedicated buildings with
//!   `households` 0, `residents` 0 and `staff` > 0 (day population) and a `name`: the residents'
//!   committee office, sometimes an office tower, a mall and sometimes a market (`commercial`), a
//!   primary school (with `students`) in most communities and a middle school in big ones, the
//!   town hospital (with `beds`) in the central community and clinics in some others. Addresses
//!   name the nearest road: "新华社区人民路12号3栋".
//! * **Industrial parks:** factories (`staff` 50–2 000, log-uniform; footprint up to 200 × 120 m,
//!   growing with staff; `workshops` 2–8 on factories over 300 staff, absent on smaller ones), a
//!   park office and dormitory blocks of 40–200 households (`residential`, `name` "…宿舍").
//! * **Rural villages:** single-household houses as Points (12 m lattice, jittered), clustered into
//!   villager groups of 20–120 households ("第3村民小组", property `group`, numbered in reading
//!   order), with empty fields between clusters; plus a village committee office, sometimes a
//!   school and 0–2 small factories as Polygon footprints. Note: with 20–120 households per group,
//!   a village of 1 500–6 000 households has ≈20–60 groups (not 4–12).
//! * Buildings stay at least 2 m inside their village (never in a hole), keep clear of rivers,
//!   rail, the expressway and roads, and footprints never overlap.
//!
//! # Groups and barriers
//! * **Groups:** one 16-gon per villager group, around its houses, inside its village and at least
//!   30 m from every other group (so groups never overlap); properties `id` (the group name, equal
//!   to the houses' `group`) and `village` (the village code). Groups do not tile their village.
//! * **Barriers** (`class`, `name`): a sinuous river (≈50 m wide) crossing the whole town west to
//!   east inside the middle cell row of the central block row, so it cuts every village of that
//!   row into two banks; a tributary flowing south into it through the middle of the western block
//!   column (when there are 3+ block columns); a rail line (north–south) and an expressway
//!   (west–east) across the whole town; major roads along the cell lines bordering communities and
//!   parks, two county roads (`major_road`, the cell lines nearest the centre) across the whole
//!   town, and minor roads through the middle of every community.
//!
//! # Odd shapes
//! With `odd_shapes` the town has at least 3 × 3 blocks and its four corner blocks become: an
//! L-shaped village (5 cells) wrapping a square one (4 cells); a village with an enclave hole (8
//! cells; the enclave is a separate one-cell community, "…农场社区", whose ring is the hole's ring
//! reversed); a U-shaped village (7 cells) around a notch village (2 cells); and a MultiPolygon
//! village of two 1 × 3 strips on either side of a third village (each piece gets houses in
//! proportion to its area). The river row always cuts whole villages in two.
//!
//! # Determinism and speed
//! Everything derives from `ChaCha8Rng::seed_from_u64(seed)`; each village gets its own stream
//! (`set_stream`) and villages are generated in parallel with rayon, collected in order, so the
//! output is byte-identical for the same config. 1 500 000 households generate in a few seconds in
//! release mode.

use crate::model::BuildingKind;
use std::collections::{BTreeMap, BTreeSet};
use std::f64::consts::PI;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::{Add, Mul, Sub};
use std::path::Path;

use geojson::{
    Feature, FeatureCollection, Geometry, GeometryValue, JsonObject, JsonValue, Position,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Parameters of [`synth_town`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynthConfig {
    /// Target number of households in the whole town (0 gives one empty village).
    pub households: u64,
    /// Seed of the random stream: the same config always gives byte-identical output.
    pub seed: u64,
    /// Also generate awkward villages (L and U shapes, an enclave hole, a two-piece MultiPolygon).
    pub odd_shapes: bool,
}

/// A generated town: four GeoJSON layers in WGS84 lon/lat (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct SynthTown {
    /// Villages and communities: Polygon or MultiPolygon; properties `code`, `name`, `mode`.
    pub villages: FeatureCollection,
    /// Buildings: Polygon footprints or Points; properties `id`, `kind`, `households`,
    /// `residents`, `address` and, depending on the kind, `group`, `staff`, `workshops`, `name`,
    /// `students`, `beds`.
    pub buildings: FeatureCollection,
    /// Villager groups of rural villages: Polygons; properties `id` (group name) and `village`.
    pub groups: FeatureCollection,
    /// Rivers, rail, expressway and roads: LineStrings; properties `class` and `name`.
    pub barriers: FeatureCollection,
}

impl SynthTown {
    /// Write `villages.geojson`, `buildings.geojson`, `groups.geojson` (only when there are
    /// groups; a stale one is removed otherwise) and `barriers.geojson` into `dir`, creating it if
    /// needed. Each file is written to a temporary file in `dir` and renamed into place.
    pub fn write_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        write_fc(&dir.join("villages.geojson"), &self.villages)?;
        write_fc(&dir.join("buildings.geojson"), &self.buildings)?;
        let groups = dir.join("groups.geojson");
        if self.groups.features.is_empty() {
            match std::fs::remove_file(&groups) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        } else {
            write_fc(&groups, &self.groups)?;
        }
        write_fc(&dir.join("barriers.geojson"), &self.barriers)?;
        Ok(())
    }
}

/// Serialize a feature collection exactly as `serde_json::to_writer` would, but with the
/// features serialized in parallel chunks; temp file + rename.
fn write_fc(path: &Path, fc: &FeatureCollection) -> io::Result<()> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("out.geojson");
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        if fc.bbox.is_some() || fc.foreign_members.is_some() {
            serde_json::to_writer(&mut w, fc)?;
        } else {
            let chunks: Vec<serde_json::Result<Vec<u8>>> = fc
                .features
                .par_chunks(2048)
                .map(|chunk| {
                    let mut buf = Vec::with_capacity(chunk.len() * 256);
                    for (i, f) in chunk.iter().enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        serde_json::to_writer(&mut buf, f)?;
                    }
                    Ok(buf)
                })
                .collect();
            w.write_all(br#"{"type":"FeatureCollection","features":["#)?;
            for (i, chunk) in chunks.into_iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(&chunk?)?;
            }
            w.write_all(b"]}")?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Constants

const LON0: f64 = 120.98;
const LAT0: f64 = 31.30;
const M_PER_DEG_LAT: f64 = 110_574.0;
const M_PER_DEG_LON_EQUATOR: f64 = 111_320.0;
const COUNTY: &str = "320583";
const FIRST_TOWNSHIP: u32 = 104;

/// Side of a grid cell, metres: one town community, or a ninth of a rural village.
const CELL: f64 = 700.0;
/// Rural villages are blocks of `BLOCK × BLOCK` cells.
const BLOCK: usize = 3;
/// Share of the households living in town communities.
const URBAN_SHARE: f64 = 0.4;
const TOWN_DENSITY: f64 = 7000.0; // households per km²
const RURAL_DENSITY: f64 = 750.0; // households per km²
const INDUSTRIAL_HH: f64 = 800.0; // dormitory households per park

/// Exclusion half-widths (half the carriageway plus a set-back), metres.
const RIVER_HW: f64 = 40.0;
const TRIB_HW: f64 = 22.0;
const RAIL_HW: f64 = 25.0;
const EXPRESSWAY_HW: f64 = 40.0;
const MAJOR_HW: f64 = 15.0;
const MINOR_HW: f64 = 8.0;

/// Rural house lattice spacing, metres.
const HOUSE_SPACING: f64 = 12.0;
/// Houses lie within this fraction of their group's radius (the group 16-gon contains that disk).
const HOUSE_FRACTION: f64 = 0.9;
/// Minimum gap between two group disks / rural facilities, metres.
const GROUP_GAP: f64 = 30.0;

const NAME_A: [&str; 40] = [
    "东", "西", "南", "北", "新", "永", "长", "兴", "安", "富", "金", "前", "红", "光", "和", "建",
    "胜", "太", "大", "小", "青", "白", "石", "桃", "柳", "杨", "梅", "湖", "河", "塘", "龙", "凤",
    "福", "民", "同", "华", "明", "嘉", "盛", "丰",
];
const NAME_B: [&str; 36] = [
    "风", "华", "丰", "联", "星", "桥", "港", "浜", "泾", "塘", "庄", "湾", "河", "圩", "墩", "坝",
    "溪", "林", "湖", "园", "田", "阳", "光", "明", "兴", "盛", "和", "安", "乐", "宁", "平", "城",
    "浦", "家", "山", "泉",
];
const ROAD_EW: [&str; 20] = [
    "人民",
    "长江",
    "黄河",
    "珠江",
    "淮河",
    "太湖",
    "阳澄",
    "玉山",
    "朝阳",
    "紫竹",
    "白塘",
    "青阳",
    "同丰",
    "景王",
    "柏庐",
    "萧林",
    "中华园",
    "前进",
    "震川",
    "盛园",
];
const ROAD_NS: [&str; 20] = [
    "建设",
    "解放",
    "中山",
    "文化",
    "健康",
    "学府",
    "花园",
    "环城",
    "新华",
    "春晖",
    "马鞍山",
    "亭林",
    "江浦",
    "祖冲之",
    "星圃",
    "博士",
    "汉浦",
    "黄浦江",
    "登云",
    "娄江",
];
const ROAD_MINOR: [&str; 20] = [
    "幸福", "和平", "光明", "团结", "友谊", "育才", "花桥", "新村", "梅园", "桃园", "竹园", "兰苑",
    "静安", "宝带", "晨曦", "金沙", "银杏", "香樟", "丁香", "海棠",
];
const INDUSTRIES: [&str; 12] = [
    "精密机械",
    "电子科技",
    "纺织",
    "新材料",
    "光电",
    "汽车零部件",
    "食品",
    "模具",
    "包装",
    "医疗器械",
    "智能装备",
    "印刷",
];
const CN_ORDINAL: [&str; 10] = ["", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

// ---------------------------------------------------------------------------------------------
// Small geometry

#[derive(Debug, Clone, Copy, PartialEq)]
struct P {
    x: f64,
    y: f64,
}

const fn pt(x: f64, y: f64) -> P {
    P { x, y }
}

impl Add for P {
    type Output = P;
    fn add(self, o: P) -> P {
        pt(self.x + o.x, self.y + o.y)
    }
}

impl Sub for P {
    type Output = P;
    fn sub(self, o: P) -> P {
        pt(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f64> for P {
    type Output = P;
    fn mul(self, k: f64) -> P {
        pt(self.x * k, self.y * k)
    }
}

impl P {
    fn dot(self, o: P) -> f64 {
        self.x * o.x + self.y * o.y
    }
    fn len(self) -> f64 {
        self.dot(self).sqrt()
    }
}

fn seg_dist2(p: P, a: P, b: P) -> f64 {
    let d = b - a;
    let l2 = d.dot(d);
    let t = if l2 > 0.0 {
        ((p - a).dot(d) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let q = a + d * t - p;
    q.dot(q)
}

fn polyline_dist(p: P, pts: &[P]) -> f64 {
    pts.windows(2)
        .map(|w| seg_dist2(p, w[0], w[1]))
        .fold(f64::INFINITY, f64::min)
        .sqrt()
}

fn ring_area(ring: &[P]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let a = ring[i];
            let b = ring[(i + 1) % n];
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

/// Axis-aligned bounding box.
#[derive(Debug, Clone, Copy)]
struct BBox {
    min: P,
    max: P,
}

impl BBox {
    fn of(points: impl IntoIterator<Item = P>) -> BBox {
        let mut b = BBox {
            min: pt(f64::INFINITY, f64::INFINITY),
            max: pt(f64::NEG_INFINITY, f64::NEG_INFINITY),
        };
        for p in points {
            b.min = pt(b.min.x.min(p.x), b.min.y.min(p.y));
            b.max = pt(b.max.x.max(p.x), b.max.y.max(p.y));
        }
        b
    }
    fn grow(self, d: f64) -> BBox {
        BBox {
            min: pt(self.min.x - d, self.min.y - d),
            max: pt(self.max.x + d, self.max.y + d),
        }
    }
    fn intersects(&self, o: &BBox) -> bool {
        self.min.x <= o.max.x
            && o.min.x <= self.max.x
            && self.min.y <= o.max.y
            && o.min.y <= self.max.y
    }
    fn center(&self) -> P {
        (self.min + self.max) * 0.5
    }
}

/// A polygon in local metres: open rings, exterior CCW, holes CW.
#[derive(Debug, Clone)]
struct Poly {
    ext: Vec<P>,
    holes: Vec<Vec<P>>,
}

impl Poly {
    fn area(&self) -> f64 {
        ring_area(&self.ext) + self.holes.iter().map(|h| ring_area(h)).sum::<f64>()
    }
}

/// Point-in-region and distance-to-boundary queries over a set of polygons.
struct Shape {
    segs: Vec<(P, P)>,
    bbox: BBox,
}

impl Shape {
    fn new(polys: &[Poly]) -> Shape {
        let mut segs = Vec::new();
        for poly in polys {
            for ring in std::iter::once(&poly.ext).chain(poly.holes.iter()) {
                let n = ring.len();
                for i in 0..n {
                    segs.push((ring[i], ring[(i + 1) % n]));
                }
            }
        }
        let bbox = BBox::of(polys.iter().flat_map(|p| p.ext.iter().copied()));
        Shape { segs, bbox }
    }

    /// Distance to the nearest boundary, positive inside, negative outside.
    fn clearance(&self, p: P) -> f64 {
        let mut inside = false;
        let mut d2 = f64::INFINITY;
        for &(a, b) in &self.segs {
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if p.x < x {
                    inside = !inside;
                }
            }
            d2 = d2.min(seg_dist2(p, a, b));
        }
        if inside {
            d2.sqrt()
        } else {
            -d2.sqrt()
        }
    }
}

fn rect(c: P, angle: f64, l: f64, d: f64) -> [P; 4] {
    let e1 = pt(angle.cos(), angle.sin()) * (l / 2.0);
    let e2 = pt(-angle.sin(), angle.cos()) * (d / 2.0);
    [c - e1 - e2, c + e1 - e2, c + e1 + e2, c - e1 + e2]
}

fn half_diag(l: f64, d: f64) -> f64 {
    (l * l + d * d).sqrt() / 2.0
}

// ---------------------------------------------------------------------------------------------
// Layout: which cells form which village (deterministic, no randomness)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Town,
    Industrial,
    Rural,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Town => "town",
            Mode::Industrial => "industrial",
            Mode::Rural => "rural",
        }
    }
    fn index(self) -> usize {
        match self {
            Mode::Town => 0,
            Mode::Rural => 1,
            Mode::Industrial => 2,
        }
    }
}

/// A fine grid cell `(column, row)`, row 0 in the south.
type Cell = (usize, usize);

/// A village as a set of fine cells.
#[derive(Debug, Clone)]
struct VillagePlan {
    cells: Vec<Cell>,
    mode: Mode,
    enclave: bool,
}

impl VillagePlan {
    fn new(cells: Vec<Cell>, mode: Mode) -> VillagePlan {
        VillagePlan {
            cells,
            mode,
            enclave: false,
        }
    }
}

/// Villages per cell of the fine grid: blocks of `BLOCK × BLOCK` cells are rural villages, the
/// blocks nearest the centre hold the communities (one cell each), parks sit next to them.
struct Layout {
    cols: usize,
    rows: usize,
    villages: Vec<VillagePlan>,
    /// Per cell (`row * cols + col`): mode of the village it belongs to.
    mode: Vec<Mode>,
    river_row: usize,
    trib_col: Option<usize>,
    county_col: usize,
    county_row: usize,
}

/// Households of a one-cell community at the nominal density.
fn community_hh() -> f64 {
    TOWN_DENSITY * CELL * CELL / 1e6
}

/// Households of one rural cell at the nominal density.
fn rural_cell_hh() -> f64 {
    RURAL_DENSITY * CELL * CELL / 1e6
}

fn block_dims(blocks: usize, odd_shapes: bool) -> (usize, usize) {
    let bc = ((blocks as f64).sqrt().ceil() as usize).max(1);
    let br = blocks.div_ceil(bc).max(1);
    if odd_shapes {
        (bc.max(3), br.max(3))
    } else {
        (bc, br)
    }
}

impl Layout {
    fn new(bc: usize, br: usize, communities: usize, odd_shapes: bool) -> Layout {
        let (cols, rows) = (bc * BLOCK, br * BLOCK);
        let b = BLOCK as f64;
        let centre = (bc as f64 * b / 2.0, br as f64 * b / 2.0); // in cells
        let d2 = |x: f64, y: f64| (x - centre.0).powi(2) + (y - centre.1).powi(2);
        let corner_kind = |i: usize, j: usize| -> Option<u8> {
            if !odd_shapes || bc < 3 || br < 3 {
                return None;
            }
            match (i, j) {
                (0, 0) => Some(0),
                (x, 0) if x == bc - 1 => Some(1),
                (x, y) if x == bc - 1 && y == br - 1 => Some(2),
                (0, y) if y == br - 1 => Some(3),
                _ => None,
            }
        };
        let mut order: Vec<(usize, usize)> = (0..br)
            .flat_map(|j| (0..bc).map(move |i| (i, j)))
            .filter(|&(i, j)| corner_kind(i, j).is_none())
            .collect();
        let block_d2 = |&(i, j): &(usize, usize)| d2((i as f64 + 0.5) * b, (j as f64 + 0.5) * b);
        order.sort_by(|p, q| {
            block_d2(p)
                .total_cmp(&block_d2(q))
                .then((p.1, p.0).cmp(&(q.1, q.0)))
        });

        // 0 = rural, 1..=9 = communities in the block, 10 = industrial.
        let mut kind = vec![0usize; bc * br];
        let full = BLOCK * BLOCK;
        let communities = communities.min(full * order.len());
        let k = communities.div_ceil(full);
        for (idx, &(i, j)) in order.iter().take(k).enumerate() {
            let mut n = communities / k + usize::from(idx < communities % k);
            if full - n <= 2 {
                n = full;
            }
            kind[j * bc + i] = n;
        }
        let n_ind = if k > 0 && bc * br >= 4 {
            (bc * br / 40).max(1)
        } else {
            0
        };
        let is_core = |i: usize, j: usize| (1..=full).contains(&kind[j * bc + i]);
        let near_core = |i: usize, j: usize| {
            (i > 0 && is_core(i - 1, j))
                || (i + 1 < bc && is_core(i + 1, j))
                || (j > 0 && is_core(i, j - 1))
                || (j + 1 < br && is_core(i, j + 1))
        };
        let parks: Vec<(usize, usize)> = order
            .iter()
            .copied()
            .filter(|&(i, j)| !is_core(i, j) && near_core(i, j))
            .take(n_ind)
            .collect();
        for (i, j) in parks {
            kind[j * bc + i] = full + 1;
        }

        let mut villages = Vec::new();
        for j in 0..br {
            for i in 0..bc {
                let at = |x: usize, y: usize| (i * BLOCK + x, j * BLOCK + y);
                let all: Vec<Cell> = (0..BLOCK)
                    .flat_map(|y| (0..BLOCK).map(move |x| (x, y)))
                    .map(|(x, y)| at(x, y))
                    .collect();
                let pick = |set: &[(usize, usize)]| -> Vec<Cell> {
                    set.iter().map(|&(x, y)| at(x, y)).collect()
                };
                let rest = |set: &[Cell]| -> Vec<Cell> {
                    all.iter().copied().filter(|c| !set.contains(c)).collect()
                };
                if let Some(corner) = corner_kind(i, j) {
                    match corner {
                        0 => {
                            // An L and the square it wraps.
                            let l = pick(&[(0, 0), (1, 0), (2, 0), (0, 1), (0, 2)]);
                            villages.push(VillagePlan::new(rest(&l), Mode::Rural));
                            villages.push(VillagePlan::new(l, Mode::Rural));
                        }
                        1 => {
                            // A village with an enclave community in its middle cell.
                            let hole = pick(&[(1, 1)]);
                            villages.push(VillagePlan::new(rest(&hole), Mode::Rural));
                            villages.push(VillagePlan {
                                cells: hole,
                                mode: Mode::Town,
                                enclave: true,
                            });
                        }
                        2 => {
                            // A U around a notch village.
                            let notch = pick(&[(1, 1), (1, 2)]);
                            villages.push(VillagePlan::new(rest(&notch), Mode::Rural));
                            villages.push(VillagePlan::new(notch, Mode::Rural));
                        }
                        _ => {
                            // Two strips of one village around a strip of another.
                            let middle = pick(&[(1, 0), (1, 1), (1, 2)]);
                            villages.push(VillagePlan::new(rest(&middle), Mode::Rural));
                            villages.push(VillagePlan::new(middle, Mode::Rural));
                        }
                    }
                    continue;
                }
                let n = kind[j * bc + i];
                if n == 0 {
                    villages.push(VillagePlan::new(all, Mode::Rural));
                } else if n <= full {
                    // Communities fill the block from its corner nearest the centre (a staircase,
                    // so the rural rest stays one piece without holes).
                    let corners = [(0, 0), (BLOCK, 0), (0, BLOCK), (BLOCK, BLOCK)];
                    let (cx, cy) = corners
                        .iter()
                        .map(|&(x, y)| ((i * BLOCK + x) as f64, (j * BLOCK + y) as f64))
                        .min_by(|p, q| d2(p.0, p.1).total_cmp(&d2(q.0, q.1)))
                        .expect("four corners");
                    let mut cells = all.clone();
                    let cd = |&(x, y): &Cell| {
                        (x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)
                    };
                    cells.sort_by(|p, q| cd(p).total_cmp(&cd(q)).then((p.1, p.0).cmp(&(q.1, q.0))));
                    for &c in &cells[..n] {
                        villages.push(VillagePlan::new(vec![c], Mode::Town));
                    }
                    if n < full {
                        villages.push(VillagePlan::new(cells[n..].to_vec(), Mode::Rural));
                    }
                } else {
                    // A park on the strip nearest the centre, the rest rural.
                    let strips: [Vec<(usize, usize)>; 4] = [
                        (0..BLOCK).map(|y| (0, y)).collect(),
                        (0..BLOCK).map(|y| (BLOCK - 1, y)).collect(),
                        (0..BLOCK).map(|x| (x, 0)).collect(),
                        (0..BLOCK).map(|x| (x, BLOCK - 1)).collect(),
                    ];
                    let strip_d2 = |s: &Vec<(usize, usize)>| {
                        let n = s.len() as f64;
                        let x = s.iter().map(|c| c.0 as f64 + 0.5).sum::<f64>() / n;
                        let y = s.iter().map(|c| c.1 as f64 + 0.5).sum::<f64>() / n;
                        d2((i * BLOCK) as f64 + x, (j * BLOCK) as f64 + y)
                    };
                    let strip = strips
                        .iter()
                        .min_by(|p, q| strip_d2(p).total_cmp(&strip_d2(q)))
                        .expect("four strips");
                    let park = pick(strip);
                    villages.push(VillagePlan::new(rest(&park), Mode::Rural));
                    villages.push(VillagePlan::new(park, Mode::Industrial));
                }
            }
        }
        let mut mode = vec![Mode::Rural; cols * rows];
        for v in &villages {
            for &(x, y) in &v.cells {
                mode[y * cols + x] = v.mode;
            }
        }
        let river_row = BLOCK * (br / 2) + BLOCK / 2;
        Layout {
            cols,
            rows,
            villages,
            mode,
            river_row,
            trib_col: (bc >= 3).then_some(BLOCK / 2),
            county_col: ((cols as f64) / 2.0).round() as usize,
            county_row: river_row + 1,
        }
    }

    /// Households the layout holds at the nominal densities.
    fn expected_households(&self) -> f64 {
        self.villages
            .iter()
            .map(|v| match v.mode {
                Mode::Town => community_hh() * v.cells.len() as f64,
                Mode::Rural => rural_cell_hh() * v.cells.len() as f64,
                Mode::Industrial => INDUSTRIAL_HH,
            })
            .sum()
    }

    /// Pick the number of blocks so the nominal capacity is closest to `households`.
    fn choose(households: u64, odd_shapes: bool) -> Layout {
        let h = households as f64;
        let communities = (URBAN_SHARE * h / community_hh()).round() as usize;
        let full = (BLOCK * BLOCK) as f64;
        let rural = (h - communities as f64 * community_hh()).max(0.0);
        let t0 = (communities as f64 / full).ceil() + rural / (full * rural_cell_hh());
        let lo = ((t0 * 0.7).floor() as usize).max(1);
        let hi = (t0 * 1.3).ceil() as usize + 3;
        let mut best: Option<(f64, Layout)> = None;
        let mut last = (0, 0);
        for t in lo..=hi {
            let (bc, br) = block_dims(t, odd_shapes);
            if (bc, br) == last {
                continue;
            }
            last = (bc, br);
            let layout = Layout::new(bc, br, communities, odd_shapes);
            let err = (layout.expected_households() - h).abs();
            if best.as_ref().is_none_or(|(e, _)| err < *e) {
                best = Some((err, layout));
            }
        }
        best.expect("at least one layout").1
    }
}

// ---------------------------------------------------------------------------------------------
// Grid: jittered nodes and wiggled shared edges

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EdgeId {
    H(usize, usize),
    V(usize, usize),
}

struct Grid {
    cols: usize,
    xs: Vec<f64>,
    ys: Vec<f64>,
    w: Vec<f64>,
    h: Vec<f64>,
    nodes: Vec<P>,
    hedges: Vec<Vec<P>>,
    vedges: Vec<Vec<P>>,
}

fn wiggle(a: P, b: P, amp: f64, rng: &mut ChaCha8Rng) -> Vec<P> {
    let k: usize = rng.random_range(2..=4);
    let d = b - a;
    let len = d.len();
    let n = pt(-d.y / len, d.x / len);
    let mut pts = Vec::with_capacity(k + 2);
    pts.push(a);
    for s in 0..k {
        let t = 0.15 + 0.7 * (s as f64 + rng.random_range(0.2..0.8)) / k as f64;
        let off = rng.random_range(-amp..=amp);
        pts.push(a + d * t + n * off);
    }
    pts.push(b);
    pts
}

impl Grid {
    fn build(layout: &Layout, rng: &mut ChaCha8Rng) -> Grid {
        let (cols, rows) = (layout.cols, layout.rows);
        let w: Vec<f64> = (0..cols)
            .map(|_| CELL * rng.random_range(0.92..1.08))
            .collect();
        let h: Vec<f64> = (0..rows)
            .map(|_| CELL * rng.random_range(0.92..1.08))
            .collect();
        let cumulate = |sizes: &[f64]| {
            let total: f64 = sizes.iter().sum();
            let mut v = vec![-total / 2.0];
            for s in sizes {
                v.push(v[v.len() - 1] + s);
            }
            v
        };
        let xs = cumulate(&w);
        let ys = cumulate(&h);
        // Smallest neighbouring size of a node line.
        let near = |sizes: &[f64], k: usize| {
            let a = if k > 0 { sizes[k - 1] } else { f64::INFINITY };
            let b = sizes.get(k).copied().unwrap_or(f64::INFINITY);
            a.min(b)
        };
        let mut nodes = Vec::with_capacity((cols + 1) * (rows + 1));
        for (j, &y) in ys.iter().enumerate() {
            for (i, &x) in xs.iter().enumerate() {
                let jx = 0.1 * near(&w, i);
                let jy = 0.1 * near(&h, j);
                nodes.push(pt(
                    x + rng.random_range(-jx..=jx),
                    y + rng.random_range(-jy..=jy),
                ));
            }
        }
        let node = |i: usize, j: usize| nodes[j * (cols + 1) + i];
        let mut hedges = Vec::with_capacity(cols * (rows + 1));
        for j in 0..=rows {
            for (i, &wi) in w.iter().enumerate() {
                let amp = 0.03 * wi.min(near(&h, j));
                hedges.push(wiggle(node(i, j), node(i + 1, j), amp, rng));
            }
        }
        let mut vedges = Vec::with_capacity((cols + 1) * rows);
        for (j, &hj) in h.iter().enumerate() {
            for i in 0..=cols {
                let amp = 0.03 * hj.min(near(&w, i));
                vedges.push(wiggle(node(i, j), node(i, j + 1), amp, rng));
            }
        }
        Grid {
            cols,
            xs,
            ys,
            w,
            h,
            nodes,
            hedges,
            vedges,
        }
    }

    fn node(&self, i: usize, j: usize) -> P {
        self.nodes[j * (self.cols + 1) + i]
    }

    fn edge(&self, e: EdgeId) -> &[P] {
        match e {
            EdgeId::H(i, j) => &self.hedges[j * self.cols + i],
            EdgeId::V(i, j) => &self.vedges[j * (self.cols + 1) + i],
        }
    }

    fn edge_ends(e: EdgeId) -> (Cell, Cell) {
        match e {
            EdgeId::H(i, j) => ((i, j), (i + 1, j)),
            EdgeId::V(i, j) => ((i, j), (i, j + 1)),
        }
    }

    /// The four edges of a cell, CCW, with their direction (true = as stored).
    fn cell_edges((i, j): Cell) -> [(EdgeId, bool); 4] {
        [
            (EdgeId::H(i, j), true),
            (EdgeId::V(i + 1, j), true),
            (EdgeId::H(i, j + 1), false),
            (EdgeId::V(i, j), false),
        ]
    }

    /// The boundary rings of an edge-connected set of cells without pinch points: interior
    /// edges cancel; the outer ring comes out CCW, the rings around holes CW.
    fn union_rings(&self, cells: &[Cell]) -> Vec<Vec<P>> {
        let mut count: BTreeMap<EdgeId, (u32, bool)> = BTreeMap::new();
        for &c in cells {
            for (e, fwd) in Grid::cell_edges(c) {
                count.entry(e).or_insert((0, fwd)).0 += 1;
            }
        }
        let boundary: Vec<(EdgeId, bool)> = count
            .into_iter()
            .filter(|(_, (n, _))| *n == 1)
            .map(|(e, (_, fwd))| (e, fwd))
            .collect();
        let mut by_start: BTreeMap<Cell, (EdgeId, bool)> = BTreeMap::new();
        for &(e, fwd) in &boundary {
            let (a, b) = Grid::edge_ends(e);
            let clash = by_start.insert(if fwd { a } else { b }, (e, fwd));
            debug_assert!(clash.is_none(), "pinch point in a village");
        }
        let mut used: BTreeMap<EdgeId, bool> = BTreeMap::new();
        let mut rings = Vec::new();
        for &first in &boundary {
            if used.contains_key(&first.0) {
                continue;
            }
            let mut cur = first;
            let mut ring = Vec::new();
            loop {
                used.insert(cur.0, true);
                let pts = self.edge(cur.0);
                if cur.1 {
                    ring.extend_from_slice(&pts[..pts.len() - 1]);
                } else {
                    ring.extend(pts.iter().rev().take(pts.len() - 1));
                }
                let (a, b) = Grid::edge_ends(cur.0);
                cur = by_start[&if cur.1 { b } else { a }];
                if cur == first {
                    break;
                }
            }
            rings.push(ring);
        }
        rings
    }

    fn bbox(&self) -> BBox {
        BBox::of(self.nodes.iter().copied()).grow(0.05 * CELL)
    }
}

// ---------------------------------------------------------------------------------------------
// Barriers

/// A meandering line `y = f(x)` (main river) or `x = f(y)` (tributary).
#[derive(Debug, Clone)]
struct Meander {
    base: f64,
    a1: f64,
    l1: f64,
    p1: f64,
    a2: f64,
    l2: f64,
    p2: f64,
    /// Lower bound of cos(slope angle): |offset| · cosf ≤ true distance.
    cosf: f64,
}

impl Meander {
    fn new(base: f64, band: f64, rng: &mut ChaCha8Rng) -> Meander {
        let a1 = (0.15 * band).min(200.0);
        let a2 = (0.05 * band).min(50.0);
        let l1 = rng.random_range(2500.0..4000.0);
        let l2 = rng.random_range(700.0..1100.0);
        let slope = 2.0 * PI * (a1 / l1 + a2 / l2);
        Meander {
            base,
            a1,
            l1,
            p1: rng.random_range(0.0..2.0 * PI),
            a2,
            l2,
            p2: rng.random_range(0.0..2.0 * PI),
            cosf: 1.0 / (1.0 + slope * slope).sqrt(),
        }
    }
    fn at(&self, t: f64) -> f64 {
        self.base
            + self.a1 * (2.0 * PI * t / self.l1 + self.p1).sin()
            + self.a2 * (2.0 * PI * t / self.l2 + self.p2).sin()
    }
}

#[derive(Debug, Clone)]
struct Line {
    pts: Vec<P>,
    hw: f64,
    class: &'static str,
    name: String,
    /// Axis-aligned road segment (rectangle tests use its corridor box).
    axis: bool,
    bbox: BBox,
}

impl Line {
    fn new(pts: Vec<P>, hw: f64, class: &'static str, name: String, axis: bool) -> Line {
        let bbox = BBox::of(pts.iter().copied());
        Line {
            pts,
            hw,
            class,
            name,
            axis,
            bbox,
        }
    }
}

struct Barriers {
    river: Meander,
    /// Tributary `x = f(y)`, active for `y >= trib_from`.
    trib: Option<(Meander, f64)>,
    /// All polylines in output order: river, tributary, rail, expressway, roads.
    lines: Vec<Line>,
}

fn ordinal_name(list: &[&str], k: usize, suffix: &str) -> String {
    let base = list[k % list.len()];
    let round = k / list.len();
    if round == 0 {
        format!("{base}{suffix}")
    } else if round < CN_ORDINAL.len() {
        format!("{base}{}{suffix}", CN_ORDINAL[round])
    } else {
        format!("{base}{}{suffix}", round + 1)
    }
}

impl Barriers {
    fn build(layout: &Layout, grid: &Grid, rng: &mut ChaCha8Rng) -> Barriers {
        let bb = grid.bbox();
        let (x_lo, x_hi) = (bb.min.x - 300.0, bb.max.x + 300.0);
        let (y_lo, y_hi) = (bb.min.y - 300.0, bb.max.y + 300.0);
        let mut lines = Vec::new();

        // Main river: inside one grid row, so it cuts every village of the row in two.
        let jr = layout.river_row;
        let band = grid.h[jr];
        let river = Meander::new((grid.ys[jr] + grid.ys[jr + 1]) / 2.0, band, rng);
        let steps = ((x_hi - x_lo) / 40.0).ceil() as usize;
        let pts: Vec<P> = (0..=steps)
            .map(|s| {
                let x = x_lo + (x_hi - x_lo) * s as f64 / steps as f64;
                pt(x, river.at(x))
            })
            .collect();
        let river_name = format!("{}{}河", NAME_A[rng.random_range(0..NAME_A.len())], "浦");
        lines.push(Line::new(pts, RIVER_HW, "river", river_name, false));

        // Tributary: flows south across the rows into the main river, in a rural column.
        let trib = layout.trib_col.map(|it| {
            let m = Meander::new((grid.xs[it] + grid.xs[it + 1]) / 2.0, grid.w[it], rng);
            let mut pts = Vec::new();
            let mut y = y_hi;
            loop {
                let x = m.at(y);
                pts.push(pt(x, y));
                if y <= river.at(x) || y < y_lo {
                    break;
                }
                y -= 40.0;
            }
            let from = y - 10.0;
            let name = format!("{}泾", NAME_B[rng.random_range(0..NAME_B.len())]);
            lines.push(Line::new(pts, TRIB_HW, "river", name, false));
            (m, from)
        });

        // Rail (north–south) and expressway (west–east) across the whole town.
        let (wx, wy) = (bb.max.x - bb.min.x, bb.max.y - bb.min.y);
        let xr = bb.min.x + 0.78 * wx;
        let rail = vec![
            pt(xr + rng.random_range(-150.0..150.0), y_lo),
            pt(xr + rng.random_range(-300.0..300.0), (y_lo + y_hi) / 2.0),
            pt(xr + rng.random_range(-150.0..150.0), y_hi),
        ];
        lines.push(Line::new(
            rail,
            RAIL_HW,
            "rail",
            "沿江城际铁路".into(),
            false,
        ));
        let expressway = vec![
            pt(x_lo, bb.min.y + wy * rng.random_range(0.22..0.28)),
            pt(
                (x_lo + x_hi) / 2.0,
                bb.min.y + wy * rng.random_range(0.16..0.22),
            ),
            pt(x_hi, bb.min.y + wy * rng.random_range(0.10..0.16)),
        ];
        lines.push(Line::new(
            expressway,
            EXPRESSWAY_HW,
            "expressway",
            "沪苏沿江高速".into(),
            false,
        ));

        // Roads of the built-up area: major roads along the cell lines that border a community
        // or park, minor roads through the middle of communities, and two county roads (the
        // cell lines nearest the centre) across the whole town.
        let (cols, rows) = (layout.cols, layout.rows);
        let built = |i: usize, j: usize| layout.mode[j * cols + i] != Mode::Rural;
        let community = |i: usize, j: usize| layout.mode[j * cols + i] == Mode::Town;
        let runs = |flags: Vec<bool>| -> Vec<(usize, usize)> {
            let mut out = Vec::new();
            let mut start = None;
            for (k, f) in flags.iter().chain(std::iter::once(&false)).enumerate() {
                match (f, start) {
                    (true, None) => start = Some(k),
                    (false, Some(s)) => {
                        out.push((s, k));
                        start = None;
                    }
                    _ => {}
                }
            }
            out
        };
        for i in 0..=cols {
            let x = grid.xs[i];
            let spans = if i == layout.county_col {
                vec![(y_lo, y_hi)]
            } else {
                let flags = (0..rows)
                    .map(|j| (i > 0 && built(i - 1, j)) || (i < cols && built(i, j)))
                    .collect();
                runs(flags)
                    .into_iter()
                    .map(|(a, b)| (grid.ys[a] - 50.0, grid.ys[b] + 50.0))
                    .collect()
            };
            let name = ordinal_name(&ROAD_NS, i, "路");
            for (a, b) in spans {
                let pts = vec![pt(x, a), pt(x, b)];
                lines.push(Line::new(pts, MAJOR_HW, "major_road", name.clone(), true));
            }
        }
        for j in 0..=rows {
            let y = grid.ys[j];
            let spans = if j == layout.county_row {
                vec![(x_lo, x_hi)]
            } else {
                let flags = (0..cols)
                    .map(|i| (j > 0 && built(i, j - 1)) || (j < rows && built(i, j)))
                    .collect();
                runs(flags)
                    .into_iter()
                    .map(|(a, b)| (grid.xs[a] - 50.0, grid.xs[b] + 50.0))
                    .collect()
            };
            let name = ordinal_name(&ROAD_EW, j, "路");
            for (a, b) in spans {
                let pts = vec![pt(a, y), pt(b, y)];
                lines.push(Line::new(pts, MAJOR_HW, "major_road", name.clone(), true));
            }
        }
        for i in 0..cols {
            let x = grid.xs[i] + grid.w[i] / 2.0;
            let name = ordinal_name(&ROAD_MINOR, i, "巷");
            for (a, b) in runs((0..rows).map(|j| community(i, j)).collect()) {
                let pts = vec![pt(x, grid.ys[a]), pt(x, grid.ys[b])];
                lines.push(Line::new(pts, MINOR_HW, "minor_road", name.clone(), true));
            }
        }
        for j in (0..rows).filter(|&j| j != layout.river_row) {
            let y = grid.ys[j] + grid.h[j] / 2.0;
            let name = ordinal_name(&ROAD_MINOR, j + 7, "街");
            for (a, b) in runs((0..cols).map(|i| community(i, j)).collect()) {
                let pts = vec![pt(grid.xs[a], y), pt(grid.xs[b], y)];
                lines.push(Line::new(pts, MINOR_HW, "minor_road", name.clone(), true));
            }
        }
        Barriers { river, trib, lines }
    }

    /// The barriers relevant to one village.
    fn local(&self, bbox: BBox) -> Local<'_> {
        let lines = self
            .lines
            .iter()
            .enumerate()
            .skip(if self.trib.is_some() { 2 } else { 1 })
            .filter(|(_, l)| l.bbox.grow(l.hw + 400.0).intersects(&bbox))
            .collect();
        Local { b: self, lines }
    }
}

struct Local<'a> {
    b: &'a Barriers,
    /// Nearby rail, expressway and roads, with their index in `Barriers::lines`.
    lines: Vec<(usize, &'a Line)>,
}

impl Local<'_> {
    /// Distance from `p` to the nearest barrier corridor (negative inside one).
    fn disk_clear(&self, p: P) -> f64 {
        let mut d = self.natural_clear(p);
        for (_, l) in &self.lines {
            d = d.min(polyline_dist(p, &l.pts) - l.hw);
        }
        d
    }

    fn natural_clear(&self, p: P) -> f64 {
        let r = &self.b.river;
        let mut d = (p.y - r.at(p.x)).abs() * r.cosf - RIVER_HW;
        if let Some((t, from)) = &self.b.trib {
            if p.y >= *from {
                d = d.min((p.x - t.at(p.y)).abs() * t.cosf - TRIB_HW);
            }
        }
        d
    }

    /// Whether a footprint whose corners lie in `aabb` and within `hd` of `c` keeps clear of all
    /// barriers (road corridors by box, everything else by disk).
    fn rect_ok(&self, c: P, aabb: BBox, hd: f64) -> bool {
        if self.natural_clear(c) < hd {
            return false;
        }
        self.lines.iter().all(|(_, l)| {
            if l.axis {
                !l.bbox.grow(l.hw).intersects(&aabb)
            } else {
                polyline_dist(c, &l.pts) - l.hw >= hd
            }
        })
    }

    /// The nearest road within 400 m: (index in `Barriers::lines`, name, along, side).
    fn nearest_road(&self, p: P) -> Option<(usize, &str, f64, u64)> {
        self.lines
            .iter()
            .filter(|(_, l)| l.axis)
            .map(|&(idx, l)| (polyline_dist(p, &l.pts), idx, l))
            .filter(|(d, _, _)| *d < 400.0)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, idx, l)| {
                let (a, b) = (l.pts[0], l.pts[1]);
                if (a.x - b.x).abs() < 1e-9 {
                    (
                        idx,
                        l.name.as_str(),
                        p.y - a.y.min(b.y),
                        u64::from(p.x > a.x),
                    )
                } else {
                    (
                        idx,
                        l.name.as_str(),
                        p.x - a.x.min(b.x),
                        u64::from(p.y > a.y),
                    )
                }
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Villages

struct VillageSpec {
    mode: Mode,
    polys: Vec<Poly>,
    theta: f64,
    enclave: bool,
    center: bool,
    weight: f64,
    households: u64,
    base: String,
    name: String,
    code: String,
}

fn make_villages(layout: &Layout, grid: &Grid, rng: &mut ChaCha8Rng) -> Vec<VillageSpec> {
    let theta_of = |(i, j): Cell| {
        let d = grid.node(i + 1, j) - grid.node(i, j);
        d.y.atan2(d.x)
    };
    // Reading order: north to south, west to east (by the centre of the village's cells).
    let key = |v: &VillagePlan| {
        let n = v.cells.len() as f64;
        let cx = v.cells.iter().map(|c| c.0 as f64 + 0.5).sum::<f64>() / n;
        let cy = v.cells.iter().map(|c| c.1 as f64 + 0.5).sum::<f64>() / n;
        (-cy.floor(), cx)
    };
    let mut plans: Vec<&VillagePlan> = layout.villages.iter().collect();
    plans.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let mut out = Vec::with_capacity(plans.len());
    for vp in plans {
        let polys = components(&vp.cells)
            .iter()
            .map(|comp| {
                let (mut ext, holes): (Vec<Vec<P>>, Vec<Vec<P>>) = grid
                    .union_rings(comp)
                    .into_iter()
                    .partition(|r| ring_area(r) > 0.0);
                debug_assert_eq!(ext.len(), 1, "one outer ring per piece");
                Poly {
                    ext: ext.swap_remove(0),
                    holes,
                }
            })
            .collect();
        let anchor = *vp
            .cells
            .iter()
            .min_by_key(|c| (c.1, c.0))
            .expect("a village has cells");
        out.push(VillageSpec {
            mode: vp.mode,
            polys,
            theta: theta_of(anchor),
            enclave: vp.enclave,
            center: false,
            weight: 0.0,
            households: 0,
            base: String::new(),
            name: String::new(),
            code: String::new(),
        });
    }
    for v in &mut out {
        let km2 = v.polys.iter().map(Poly::area).sum::<f64>() / 1e6;
        v.weight = match v.mode {
            Mode::Town => TOWN_DENSITY * km2 * rng.random_range(0.8..1.2),
            Mode::Rural => RURAL_DENSITY * km2 * rng.random_range(0.8..1.2),
            Mode::Industrial => INDUSTRIAL_HH * rng.random_range(0.6..1.4),
        };
    }
    // The central community hosts the town hospital.
    if let Some(k) = out
        .iter()
        .enumerate()
        .filter(|(_, v)| v.mode == Mode::Town && !v.enclave)
        .map(|(k, v)| (k, Shape::new(&v.polys).bbox.center().len()))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
        .map(|(k, _)| k)
    {
        out[k].center = true;
    }
    // Names: distinct two-character bases.
    let mut bases: Vec<String> = NAME_A
        .iter()
        .flat_map(|a| {
            NAME_B
                .iter()
                .filter(move |b| *b != a)
                .map(move |b| format!("{a}{b}"))
        })
        .collect();
    bases.shuffle(rng);
    let nb = bases.len();
    for (k, v) in out.iter_mut().enumerate() {
        let round = k / nb;
        v.base = if round == 0 {
            bases[k % nb].clone()
        } else {
            format!(
                "{}{}",
                bases[k % nb],
                CN_ORDINAL[round.min(CN_ORDINAL.len() - 1)]
            )
        };
        if round >= CN_ORDINAL.len() {
            v.base = format!("{}{}", bases[k % nb], round + 1);
        }
        v.name = match (v.mode, v.enclave) {
            (Mode::Town, true) => format!("{}农场社区", v.base),
            (Mode::Town, false) => format!("{}社区", v.base),
            (Mode::Rural, _) => format!("{}村", v.base),
            (Mode::Industrial, _) => format!("{}工业园社区", v.base),
        };
    }
    // Codes: reading order, a new township whenever a mode runs out of numbers.
    const CAPS: [u32; 3] = [199, 200, 100];
    const STARTS: [u32; 3] = [1, 200, 400];
    let mut township = FIRST_TOWNSHIP;
    let mut used = [0u32; 3];
    for v in &mut out {
        let m = v.mode.index();
        if used[m] >= CAPS[m] {
            township += 1;
            used = [0; 3];
        }
        v.code = format!("{COUNTY}{township:03}{:03}", STARTS[m] + used[m]);
        used[m] += 1;
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

/// Edge-connected components of a set of cells, each sorted.
fn components(cells: &[Cell]) -> Vec<Vec<Cell>> {
    let set: BTreeSet<Cell> = cells.iter().copied().collect();
    let mut seen: BTreeSet<Cell> = BTreeSet::new();
    let mut out = Vec::new();
    for &start in &set {
        if !seen.insert(start) {
            continue;
        }
        let mut comp = vec![start];
        let mut stack = vec![start];
        while let Some((x, y)) = stack.pop() {
            let mut next = vec![(x + 1, y), (x, y + 1)];
            if x > 0 {
                next.push((x - 1, y));
            }
            if y > 0 {
                next.push((x, y - 1));
            }
            for n in next {
                if set.contains(&n) && seen.insert(n) {
                    comp.push(n);
                    stack.push(n);
                }
            }
        }
        comp.sort_unstable();
        out.push(comp);
    }
    out
}

/// Apportion `total` over `weights` by largest remainder (sums exactly to `total`).
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum <= 0.0 {
        let mut v = vec![0; weights.len()];
        v[0] = total;
        return v;
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut out: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let assigned: u64 = out.iter().sum();
    let mut rest = total.saturating_sub(assigned);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &k in order.iter().cycle() {
        if rest == 0 {
            break;
        }
        out[k] += 1;
        rest -= 1;
    }
    out
}

/// Split `total` into parts of `lo..=hi` (about `avg` each), at most `max_parts` parts. If that
/// many parts cannot hold `total`, every part is `hi` (a shortfall).
fn split(
    total: u64,
    lo: u64,
    hi: u64,
    avg: f64,
    max_parts: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<u64> {
    if total == 0 || max_parts == 0 {
        return Vec::new();
    }
    if total < lo {
        return vec![total];
    }
    let min_parts = total.div_ceil(hi) as usize;
    let pref = ((total as f64 / avg).round() as usize).max(1);
    let most = ((total / lo) as usize).max(1);
    let g = pref.max(min_parts).min(most).min(max_parts);
    if g < min_parts {
        return vec![hi; g];
    }
    let extra = total - lo * g as u64;
    let cap = hi - lo;
    let weights: Vec<f64> = (0..g).map(|_| rng.random_range(0.2..1.0)).collect();
    let wsum: f64 = weights.iter().sum();
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|w| ((extra as f64 * w / wsum).floor() as u64).min(cap))
        .collect();
    let mut left = extra - parts.iter().sum::<u64>();
    for part in parts.iter_mut() {
        if left == 0 {
            break;
        }
        let add = (cap - *part).min(left);
        *part += add;
        left -= add;
    }
    parts.iter_mut().for_each(|x| *x += lo);
    parts
}

// ---------------------------------------------------------------------------------------------
// Buildings

#[derive(Debug, Clone)]
enum BGeom {
    Point(P),
    Rect([P; 4]),
}

#[derive(Debug, Clone)]
struct RawBuilding {
    geom: BGeom,
    kind: BuildingKind,
    households: u64,
    residents: u64,
    address: String,
    group: Option<String>,
    staff: Option<u64>,
    workshops: Option<u64>,
    name: Option<String>,
    students: Option<u64>,
    beds: Option<u64>,
}

impl RawBuilding {
    fn home(geom: BGeom, households: u64, residents: u64, address: String) -> RawBuilding {
        RawBuilding {
            geom,
            kind: BuildingKind::Residential,
            households,
            residents,
            address,
            group: None,
            staff: None,
            workshops: None,
            name: None,
            students: None,
            beds: None,
        }
    }

    fn dedicated(
        geom: BGeom,
        kind: BuildingKind,
        staff: u64,
        name: String,
        address: String,
    ) -> RawBuilding {
        RawBuilding {
            kind,
            staff: Some(staff),
            name: Some(name),
            ..RawBuilding::home(geom, 0, 0, address)
        }
    }
}

struct RawGroup {
    name: String,
    ring: Vec<P>,
}

#[derive(Default)]
struct VillageOut {
    buildings: Vec<RawBuilding>,
    groups: Vec<RawGroup>,
}

fn residents_for(households: u64, rng: &mut ChaCha8Rng) -> u64 {
    (households as f64 * rng.random_range(2.5..3.0)).round() as u64
}

fn rural_residents(rng: &mut ChaCha8Rng) -> u64 {
    const CUM: [f64; 6] = [0.10, 0.40, 0.73, 0.90, 0.97, 1.0];
    let r: f64 = rng.random();
    CUM.iter().position(|&c| r < c).unwrap_or(5) as u64 + 1
}

fn factory_staff(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> u64 {
    rng.random_range(lo.ln()..hi.ln()).exp().round() as u64
}

fn workshops_for(staff: u64) -> Option<u64> {
    (staff > 300).then(|| staff.div_ceil(250).clamp(2, 8))
}

/// A local frame aligned with the village: origin, unit axes.
struct Frame {
    c: P,
    e1: P,
    e2: P,
}

impl Frame {
    fn new(c: P, theta: f64) -> Frame {
        Frame {
            c,
            e1: pt(theta.cos(), theta.sin()),
            e2: pt(-theta.sin(), theta.cos()),
        }
    }
    fn to_world(&self, u: f64, v: f64) -> P {
        self.c + self.e1 * u + self.e2 * v
    }
    fn extent(&self, pts: impl Iterator<Item = P>) -> (f64, f64, f64, f64) {
        let (mut u0, mut u1, mut v0, mut v1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for p in pts {
            let u = (p - self.c).dot(self.e1);
            let v = (p - self.c).dot(self.e2);
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
        (u0, u1, v0, v1)
    }
}

/// Slot centres of a rotated lattice that can hold an `l × d` footprint (rotated up to `dtheta`).
fn slots(
    v: &VillageSpec,
    shape: &Shape,
    local: &Local,
    pitch: (f64, f64),
    fp: (f64, f64),
    dtheta: f64,
) -> Vec<P> {
    let frame = Frame::new(shape.bbox.center(), v.theta);
    let (u0, u1, v0, v1) = frame.extent(v.polys.iter().flat_map(|p| p.ext.iter().copied()));
    let hd = half_diag(fp.0, fp.1);
    let mut out = Vec::new();
    let mut vv = v0 + pitch.1 / 2.0;
    while vv < v1 {
        let mut uu = u0 + pitch.0 / 2.0;
        while uu < u1 {
            let c = frame.to_world(uu, vv);
            if shape.clearance(c) >= hd + 2.0 {
                let corners = rect(c, v.theta - dtheta, fp.0, fp.1)
                    .into_iter()
                    .chain(rect(c, v.theta + dtheta, fp.0, fp.1));
                let aabb = BBox::of(corners).grow(1.0);
                if local.rect_ok(c, aabb, hd) {
                    out.push(c);
                }
            }
            uu += pitch.0;
        }
        vv += pitch.1;
    }
    out
}

/// Order slots from the centre outward, with noise.
fn centre_out(slots: &[P], c: P, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = slots
        .iter()
        .enumerate()
        .map(|(k, s)| ((*s - c).len() * rng.random_range(0.7..1.3), k))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, k)| k).collect()
}

/// Order slots compound by compound (小区): the slots of one `size × size` square of the
/// village frame stay together, the squares come in random order.
fn compound_order(slots: &[P], frame: &Frame, size: f64, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut rank: BTreeMap<(i64, i64), u64> = BTreeMap::new();
    let mut keyed: Vec<(u64, f64, f64, usize)> = slots
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let u = (*s - frame.c).dot(frame.e1);
            let v = (*s - frame.c).dot(frame.e2);
            let cell = ((u / size).floor() as i64, (v / size).floor() as i64);
            let r = *rank.entry(cell).or_insert_with(|| rng.random());
            (r, -v, u, k)
        })
        .collect();
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    keyed.into_iter().map(|x| x.3).collect()
}

/// Street addresses "<road><no>号" near roads, unique per village via a per-number counter.
struct Addresser<'a> {
    local: &'a Local<'a>,
    fallback: String,
    frame: Frame,
    counters: BTreeMap<(usize, u64), u32>,
}

impl<'a> Addresser<'a> {
    fn new(local: &'a Local<'a>, v: &VillageSpec, c: P) -> Addresser<'a> {
        Addresser {
            local,
            fallback: format!("{}路", v.base),
            frame: Frame::new(c, v.theta),
            counters: BTreeMap::new(),
        }
    }

    /// (road name, house number, building counter starting at 1).
    fn next(&mut self, p: P) -> (String, u64, u32) {
        let (idx, road, along, side) = match self.local.nearest_road(p) {
            Some((idx, name, along, side)) => (idx, name.to_string(), along, side),
            None => {
                let u = (p - self.frame.c).dot(self.frame.e1) + 5000.0;
                let v = (p - self.frame.c).dot(self.frame.e2);
                (usize::MAX, self.fallback.clone(), u, u64::from(v > 0.0))
            }
        };
        let no = (along.max(0.0) / 40.0).floor() as u64 * 2 + 1 + side;
        let k = self.counters.entry((idx, no)).or_insert(0);
        *k += 1;
        (road, no, *k)
    }
}

fn gen_town(v: &VillageSpec, shape: &Shape, local: &Local, rng: &mut ChaCha8Rng) -> VillageOut {
    let hh = v.households;
    let slots = slots(v, shape, local, (72.0, 46.0), (62.0, 34.0), 0.06);
    let c = shape.bbox.center();
    let order = compound_order(&slots, &Frame::new(c, v.theta), 200.0, rng);
    let base = &v.base;
    // Dedicated buildings: (kind, length, depth, staff, name, extra).
    let mut specials: Vec<(BuildingKind, f64, f64, u64, String, Option<u64>)> = Vec::new();
    specials.push((
        BuildingKind::Office,
        30.0,
        15.0,
        rng.random_range(10..=30),
        format!("{}社区居民委员会", base),
        None,
    ));
    if hh >= 1500 || rng.random_bool(0.4) {
        let students = rng.random_range(400..=2000);
        specials.push((
            BuildingKind::School,
            60.0,
            30.0,
            students / 15 + rng.random_range(5..=20),
            format!("{base}实验小学"),
            Some(students),
        ));
    }
    if hh > 4500 {
        let students = rng.random_range(800..=2500);
        specials.push((
            BuildingKind::School,
            60.0,
            30.0,
            students / 13,
            format!("{base}中学"),
            Some(students),
        ));
    }
    if v.center {
        specials.push((
            BuildingKind::Hospital,
            62.0,
            34.0,
            rng.random_range(300..=900),
            format!("{base}人民医院"),
            Some(rng.random_range(200..=600)),
        ));
    } else if rng.random_bool(0.25) {
        specials.push((
            BuildingKind::Hospital,
            50.0,
            28.0,
            rng.random_range(40..=200),
            format!("{base}社区卫生服务中心"),
            Some(rng.random_range(20..=80)),
        ));
    }
    specials.push((
        BuildingKind::Commercial,
        62.0,
        34.0,
        rng.random_range(200..=1500),
        format!("{base}商业广场"),
        None,
    ));
    if rng.random_bool(0.5) {
        specials.push((
            BuildingKind::Commercial,
            50.0,
            30.0,
            rng.random_range(60..=300),
            format!("{base}农贸市场"),
            None,
        ));
    }
    if rng.random_bool(0.4) {
        specials.push((
            BuildingKind::Office,
            40.0,
            24.0,
            rng.random_range(100..=600),
            format!("{base}商务大厦"),
            None,
        ));
    }
    if hh == 0 {
        specials.clear();
    }
    specials.truncate(slots.len());
    let blocks = split(hh, 40, 200, 110.0, slots.len() - specials.len(), rng);

    let mut addr = Addresser::new(local, v, c);
    let mut out = VillageOut::default();
    for (k, (kind, l, d, staff, name, extra)) in specials.into_iter().enumerate() {
        let s = slots[order[blocks.len() + k]];
        let angle = v.theta + rng.random_range(-0.05..0.05);
        let (road, no, n) = addr.next(s);
        let address = if n == 1 {
            format!("{}{road}{no}号", v.name)
        } else {
            format!("{}{road}{no}号{n}栋", v.name)
        };
        let mut b = RawBuilding::dedicated(
            BGeom::Rect(rect(s, angle, l, d)),
            kind,
            staff,
            name,
            address,
        );
        match kind {
            BuildingKind::School => b.students = extra,
            BuildingKind::Hospital => b.beds = extra,
            _ => {}
        }
        out.buildings.push(b);
    }
    let mut homes = Vec::with_capacity(blocks.len());
    for (k, &size) in blocks.iter().enumerate() {
        let s = slots[order[k]];
        let l = (30.0 + 32.0 * (size.saturating_sub(40)) as f64 / 160.0
            - rng.random_range(0.0..3.0))
        .clamp(28.0, 62.0);
        let d = rng.random_range(12.0..16.0);
        let angle = v.theta + rng.random_range(-0.05..0.05);
        let (road, no, n) = addr.next(s);
        let address = format!("{}{road}{no}号{n}栋", v.name);
        let residents = residents_for(size, rng);
        homes.push(RawBuilding::home(
            BGeom::Rect(rect(s, angle, l, d)),
            size,
            residents,
            address,
        ));
    }
    out.buildings.extend(homes);
    out
}

fn gen_industrial(
    v: &VillageSpec,
    shape: &Shape,
    local: &Local,
    rng: &mut ChaCha8Rng,
) -> VillageOut {
    let mut out = VillageOut::default();
    let slots = slots(v, shape, local, (240.0, 160.0), (200.0, 120.0), 0.04);
    if slots.is_empty() {
        return out;
    }
    let c = shape.bbox.center();
    let order = centre_out(&slots, c, rng);
    let mut addr = Addresser::new(local, v, c);
    let mut next = order.iter().map(|&k| slots[k]);
    // Park office.
    let s = next.next().expect("non-empty");
    let (road, no, _) = addr.next(s);
    out.buildings.push(RawBuilding::dedicated(
        BGeom::Rect(rect(s, v.theta + rng.random_range(-0.03..0.03), 40.0, 20.0)),
        BuildingKind::Office,
        rng.random_range(50..=150),
        format!("{}工业园管理委员会", v.base),
        format!("{}{road}{no}号", v.name),
    ));
    // Dormitories, three blocks per slot, at most half the remaining slots.
    let rest = slots.len() - 1;
    let dorm_slots_max = (rest / 2).max(usize::from(rest > 0));
    let dorms = split(v.households, 40, 200, 120.0, 3 * dorm_slots_max, rng);
    for chunk in dorms.chunks(3) {
        let s = next.next().expect("enough slots");
        let across = Frame::new(s, v.theta);
        for (k, &size) in chunk.iter().enumerate() {
            let centre = across.to_world(0.0, (k as f64 - 1.0) * 40.0);
            let angle = v.theta + rng.random_range(-0.03..0.03);
            let (road, no, n) = addr.next(s);
            let mut b = RawBuilding::home(
                BGeom::Rect(rect(centre, angle, 60.0, 14.0)),
                size,
                residents_for(size, rng),
                format!("{}{road}{no}号{n}栋", v.name),
            );
            b.name = Some(format!("{}工业园宿舍", v.base));
            out.buildings.push(b);
        }
    }
    // Factories on most of what is left.
    let left: Vec<P> = next.collect();
    let n_fact = ((left.len() as f64 * 0.85).round() as usize).max(usize::from(!left.is_empty()));
    for &s in left.iter().take(n_fact) {
        let staff = factory_staff(rng, 50.0, 2000.0);
        let l = (60.0 + staff as f64 * 0.07).min(200.0);
        let d = (40.0 + staff as f64 * 0.04).min(120.0);
        let angle = v.theta + rng.random_range(-0.03..0.03);
        let (road, no, n) = addr.next(s);
        let address = if n == 1 {
            format!("{}{road}{no}号", v.name)
        } else {
            format!("{}{road}{no}号{n}栋", v.name)
        };
        let name = format!(
            "{}{}{}有限公司",
            NAME_A[rng.random_range(0..NAME_A.len())],
            NAME_B[rng.random_range(0..NAME_B.len())],
            INDUSTRIES[rng.random_range(0..INDUSTRIES.len())]
        );
        let mut b = RawBuilding::dedicated(
            BGeom::Rect(rect(s, angle, l, d)),
            BuildingKind::Factory,
            staff,
            name,
            address,
        );
        b.workshops = workshops_for(staff);
        out.buildings.push(b);
    }
    out
}

/// A rural item to place: a villager group (houses relative to its centre) or a facility.
enum Item {
    Group {
        houses: Vec<P>,
        radius: f64,
        ring: Vec<P>,
    },
    Facility {
        kind: BuildingKind,
        l: f64,
        d: f64,
        staff: u64,
        name: String,
        extra: Option<u64>,
    },
}

impl Item {
    fn radius(&self) -> f64 {
        match self {
            Item::Group { radius, .. } => *radius,
            Item::Facility { l, d, .. } => half_diag(*l, *d) + 2.0,
        }
    }
}

fn group_item(n: u64, rng: &mut ChaCha8Rng) -> Item {
    let k = ((n as f64 / PI).sqrt() + 2.0).ceil() as i64;
    let mut lattice: Vec<(i64, i64)> = (-k..=k)
        .flat_map(|a| (-k..=k).map(move |b| (a, b)))
        .collect();
    lattice.sort_by_key(|&(a, b)| (a * a + b * b, a, b));
    let phi: f64 = rng.random_range(0.0..PI);
    let (s, c) = phi.sin_cos();
    let houses: Vec<P> = lattice
        .iter()
        .take(n as usize)
        .map(|&(a, b)| {
            let x = a as f64 * HOUSE_SPACING + rng.random_range(-3.0..3.0);
            let y = b as f64 * HOUSE_SPACING + rng.random_range(-3.0..3.0);
            pt(x * c - y * s, x * s + y * c)
        })
        .collect();
    let max_r = houses.iter().map(|h| h.len()).fold(0.0, f64::max);
    let radius = (max_r + 4.0) / HOUSE_FRACTION;
    // 16-gon with vertex radii ≥ 0.95 R and gaps ≤ 28.5°: contains the disk of 0.92 R.
    let start: f64 = rng.random_range(0.0..2.0 * PI);
    let ring = (0..16)
        .map(|k| {
            let a = start + (k as f64 + rng.random_range(-0.13..0.13)) * PI / 8.0;
            let r = radius * rng.random_range(0.95..1.0);
            pt(r * a.cos(), r * a.sin())
        })
        .collect();
    Item::Group {
        houses,
        radius,
        ring,
    }
}

/// Place disks of the given radii without overlap inside `shape`; returns centres (None = no room).
fn place_disks(radii: &[f64], cand: &[(P, f64)], order: &[usize], bbox: BBox) -> Vec<Option<P>> {
    const BUCKET: f64 = 300.0;
    let nx = ((bbox.max.x - bbox.min.x) / BUCKET).ceil().max(1.0) as usize;
    let ny = ((bbox.max.y - bbox.min.y) / BUCKET).ceil().max(1.0) as usize;
    let bucket_of = |p: P| {
        let bx = (((p.x - bbox.min.x) / BUCKET).floor().max(0.0) as usize).min(nx - 1);
        let by = (((p.y - bbox.min.y) / BUCKET).floor().max(0.0) as usize).min(ny - 1);
        (bx, by)
    };
    let mut buckets: Vec<Vec<(P, f64)>> = vec![Vec::new(); nx * ny];
    let mut out = Vec::with_capacity(radii.len());
    for &r in radii {
        let mut found = None;
        for &k in order {
            let (p, cl) = cand[k];
            if cl < r + 3.0 {
                continue;
            }
            let (bx, by) = bucket_of(p);
            let mut ok = true;
            'scan: for yy in by.saturating_sub(1)..=(by + 1).min(ny - 1) {
                for xx in bx.saturating_sub(1)..=(bx + 1).min(nx - 1) {
                    for &(q, rq) in &buckets[yy * nx + xx] {
                        if (p - q).len() < r + rq + GROUP_GAP {
                            ok = false;
                            break 'scan;
                        }
                    }
                }
            }
            if ok {
                found = Some(p);
                break;
            }
        }
        if let Some(p) = found {
            let (bx, by) = bucket_of(p);
            buckets[by * nx + bx].push((p, r));
        }
        out.push(found);
    }
    out
}

fn gen_rural(v: &VillageSpec, local: &Local, rng: &mut ChaCha8Rng) -> VillageOut {
    let mut out = VillageOut::default();
    if v.households == 0 {
        return out;
    }
    // Households per piece, by area.
    let areas: Vec<f64> = v.polys.iter().map(Poly::area).collect();
    let per_piece = apportion(v.households, &areas);
    let mut placed_groups: Vec<(P, Vec<P>, Vec<P>)> = Vec::new(); // centre, houses, ring
    let mut facilities: Vec<(P, Item)> = Vec::new();
    for (pi, poly) in v.polys.iter().enumerate() {
        let shape = Shape::new(std::slice::from_ref(poly));
        let sizes = split(per_piece[pi], 20, 120, 75.0, usize::MAX, rng);
        let mut items: Vec<Item> = sizes.iter().map(|&n| group_item(n, rng)).collect();
        items.sort_by(|a, b| b.radius().total_cmp(&a.radius()));
        if pi == 0 {
            items.push(Item::Facility {
                kind: BuildingKind::Office,
                l: 30.0,
                d: 15.0,
                staff: rng.random_range(8..=20),
                name: format!("{}村民委员会", v.base),
                extra: None,
            });
            if rng.random_bool(0.35) {
                let students = rng.random_range(200..=800);
                items.push(Item::Facility {
                    kind: BuildingKind::School,
                    l: 50.0,
                    d: 25.0,
                    staff: students / 15 + 5,
                    name: format!("{}小学", v.base),
                    extra: Some(students),
                });
            }
            for _ in 0..rng.random_range(0..=2) {
                let staff = factory_staff(rng, 50.0, 400.0);
                items.push(Item::Facility {
                    kind: BuildingKind::Factory,
                    l: rng.random_range(40.0..70.0),
                    d: rng.random_range(25.0..45.0),
                    staff,
                    name: format!(
                        "{}{}{}厂",
                        v.base,
                        INDUSTRIES[rng.random_range(0..INDUSTRIES.len())],
                        CN_ORDINAL[1..][rng.random_range(0..3)]
                    ),
                    extra: None,
                });
            }
        }
        // Candidate centres: a jittered hexagonal lattice, with their clearance.
        let bbox = shape.bbox;
        let mut cand: Vec<(P, f64)> = Vec::new();
        let (pitch, row) = (45.0, 39.0);
        let mut y = bbox.min.y + row / 2.0;
        let mut odd = false;
        while y < bbox.max.y {
            let mut x = bbox.min.x + if odd { pitch / 2.0 } else { pitch / 4.0 };
            while x < bbox.max.x {
                let p = pt(
                    x + rng.random_range(-8.0..8.0),
                    y + rng.random_range(-8.0..8.0),
                );
                let cl = shape.clearance(p);
                if cl > 20.0 {
                    let cl = cl.min(local.disk_clear(p));
                    if cl > 20.0 {
                        cand.push((p, cl));
                    }
                }
                x += pitch;
            }
            y += row;
            odd = !odd;
        }
        let radii: Vec<f64> = items.iter().map(Item::radius).collect();
        let n_groups = sizes.len();
        // Scattered placement first; if a group finds no room, pack densely instead.
        let mut order: Vec<usize> = (0..cand.len()).collect();
        order.shuffle(rng);
        let mut centres = place_disks(&radii, &cand, &order, bbox);
        if centres[..n_groups].iter().any(Option::is_none) {
            let dense: Vec<usize> = (0..cand.len()).collect();
            let packed = place_disks(&radii, &cand, &dense, bbox);
            let count = |c: &[Option<P>]| c[..n_groups].iter().filter(|x| x.is_some()).count();
            if count(&packed) > count(&centres) {
                centres = packed;
            }
        }
        for (item, centre) in items.into_iter().zip(centres) {
            let Some(c) = centre else { continue };
            match item {
                Item::Group { houses, ring, .. } => {
                    let houses = houses.into_iter().map(|h| h + c).collect();
                    let ring = ring.into_iter().map(|h| h + c).collect();
                    placed_groups.push((c, houses, ring));
                }
                f @ Item::Facility { .. } => facilities.push((c, f)),
            }
        }
    }
    // Number groups in reading order (north to south, west to east).
    placed_groups.sort_by(|a, b| {
        let ka = ((-a.0.y / 100.0).floor(), a.0.x);
        let kb = ((-b.0.y / 100.0).floor(), b.0.x);
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let mut next_no: Vec<u64> = Vec::with_capacity(placed_groups.len());
    for (g, (_, mut houses, ring)) in placed_groups.into_iter().enumerate() {
        let gname = format!("第{}村民小组", g + 1);
        houses.sort_by(|a, b| {
            let ka = ((-a.y / 12.0).round(), a.x);
            let kb = ((-b.y / 12.0).round(), b.x);
            ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
        });
        for (k, h) in houses.iter().enumerate() {
            let residents = rural_residents(rng);
            let mut b = RawBuilding::home(
                BGeom::Point(*h),
                1,
                residents,
                format!("{}{gname}{}号", v.name, k + 1),
            );
            b.group = Some(gname.clone());
            out.buildings.push(b);
        }
        next_no.push(houses.len() as u64 + 1);
        out.groups.push(RawGroup { name: gname, ring });
    }
    for (c, item) in facilities {
        let Item::Facility {
            kind,
            l,
            d,
            staff,
            name,
            extra,
        } = item
        else {
            continue;
        };
        let address = match next_no.is_empty() {
            true => format!("{}1号", v.name),
            false => {
                let g = (0..out.groups.len())
                    .min_by(|&a, &b| {
                        let da = (out.groups[a].ring[0] - c).len();
                        let db = (out.groups[b].ring[0] - c).len();
                        da.total_cmp(&db).then(a.cmp(&b))
                    })
                    .unwrap_or(0);
                let no = next_no[g];
                next_no[g] += 1;
                format!("{}{}{no}号", v.name, out.groups[g].name)
            }
        };
        let angle = rng.random_range(-0.3..0.3);
        let mut b = RawBuilding::dedicated(
            BGeom::Rect(rect(c, angle, l, d)),
            kind,
            staff,
            name,
            address,
        );
        match kind {
            BuildingKind::School => b.students = extra,
            BuildingKind::Factory => b.workshops = workshops_for(staff),
            _ => {}
        }
        out.buildings.push(b);
    }
    out
}

fn gen_village(
    v: &VillageSpec,
    barriers: &Barriers,
    seed: u64,
    stream: u64,
    empty: bool,
) -> VillageOut {
    if empty {
        return VillageOut::default();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let shape = Shape::new(&v.polys);
    let local = barriers.local(shape.bbox);
    match v.mode {
        Mode::Town => gen_town(v, &shape, &local, &mut rng),
        Mode::Industrial => gen_industrial(v, &shape, &local, &mut rng),
        Mode::Rural => gen_rural(v, &local, &mut rng),
    }
}

// ---------------------------------------------------------------------------------------------
// GeoJSON output

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

fn to_pos(p: P) -> Position {
    let m_per_deg_lon = M_PER_DEG_LON_EQUATOR * LAT0.to_radians().cos();
    Position::from([
        round7(LON0 + p.x / m_per_deg_lon),
        round7(LAT0 + p.y / M_PER_DEG_LAT),
    ])
}

fn ring_positions(ring: &[P]) -> Vec<Position> {
    let mut v: Vec<Position> = ring.iter().map(|&p| to_pos(p)).collect();
    v.push(to_pos(ring[0]));
    v
}

fn poly_positions(poly: &Poly) -> Vec<Vec<Position>> {
    std::iter::once(ring_positions(&poly.ext))
        .chain(poly.holes.iter().map(|h| ring_positions(h)))
        .collect()
}

fn feature(geometry: GeometryValue, properties: JsonObject) -> Feature {
    Feature {
        bbox: None,
        geometry: Some(Geometry::new(geometry)),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    }
}

fn village_feature(v: &VillageSpec) -> Feature {
    let geometry = if v.polys.len() == 1 {
        GeometryValue::Polygon {
            coordinates: poly_positions(&v.polys[0]),
        }
    } else {
        GeometryValue::MultiPolygon {
            coordinates: v.polys.iter().map(poly_positions).collect(),
        }
    };
    let mut props = JsonObject::new();
    props.insert("code".into(), v.code.clone().into());
    props.insert("name".into(), v.name.clone().into());
    props.insert("mode".into(), v.mode.as_str().into());
    feature(geometry, props)
}

fn building_feature(b: RawBuilding, id: usize) -> Feature {
    let geometry = match b.geom {
        BGeom::Point(p) => GeometryValue::Point {
            coordinates: to_pos(p),
        },
        BGeom::Rect(r) => GeometryValue::Polygon {
            coordinates: vec![ring_positions(&r)],
        },
    };
    let mut props = JsonObject::new();
    props.insert("id".into(), format!("B{id:07}").into());
    props.insert("kind".into(), b.kind.as_str().into());
    props.insert("households".into(), b.households.into());
    props.insert("residents".into(), b.residents.into());
    props.insert("address".into(), b.address.into());
    let optional: [(&str, Option<JsonValue>); 6] = [
        ("group", b.group.map(Into::into)),
        ("staff", b.staff.map(Into::into)),
        ("workshops", b.workshops.map(Into::into)),
        ("name", b.name.map(Into::into)),
        ("students", b.students.map(Into::into)),
        ("beds", b.beds.map(Into::into)),
    ];
    for (k, val) in optional {
        if let Some(val) = val {
            props.insert(k.into(), val);
        }
    }
    feature(geometry, props)
}

fn barrier_feature(l: &Line) -> Feature {
    let mut props = JsonObject::new();
    props.insert("class".into(), l.class.into());
    props.insert("name".into(), l.name.clone().into());
    feature(
        GeometryValue::LineString {
            coordinates: l.pts.iter().map(|&p| to_pos(p)).collect(),
        },
        props,
    )
}

/// Generate a town for `cfg` (see the [module docs](self) for what it contains).
///
/// Deterministic: the same config always gives identical collections.
pub fn synth_town(cfg: &SynthConfig) -> SynthTown {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let layout = Layout::choose(cfg.households, cfg.odd_shapes);
    let grid = Grid::build(&layout, &mut rng);
    let mut villages = make_villages(&layout, &grid, &mut rng);
    let barriers = Barriers::build(&layout, &grid, &mut rng);
    let weights: Vec<f64> = villages.iter().map(|v| v.weight).collect();
    for (v, hh) in villages.iter_mut().zip(apportion(cfg.households, &weights)) {
        v.households = hh;
    }
    let empty = cfg.households == 0;
    let mut outs: Vec<VillageOut> = villages
        .par_iter()
        .enumerate()
        .map(|(k, v)| gen_village(v, &barriers, cfg.seed, k as u64 + 1, empty))
        .collect();

    let mut offsets = Vec::with_capacity(outs.len());
    let mut acc = 0usize;
    for o in &outs {
        offsets.push(acc);
        acc += o.buildings.len();
    }
    let groups: Vec<Feature> = outs
        .iter_mut()
        .zip(&villages)
        .flat_map(|(o, v)| {
            std::mem::take(&mut o.groups).into_iter().map(move |g| {
                let mut props = JsonObject::new();
                props.insert("id".into(), g.name.into());
                props.insert("village".into(), v.code.clone().into());
                feature(
                    GeometryValue::Polygon {
                        coordinates: vec![ring_positions(&g.ring)],
                    },
                    props,
                )
            })
        })
        .collect();
    let buildings: Vec<Feature> = outs
        .into_par_iter()
        .zip(offsets.into_par_iter())
        .flat_map_iter(|(o, off)| {
            o.buildings
                .into_iter()
                .enumerate()
                .map(move |(i, b)| building_feature(b, off + i + 1))
        })
        .collect();
    SynthTown {
        villages: FeatureCollection::new(villages.iter().map(village_feature)),
        buildings: FeatureCollection::new(buildings),
        groups: FeatureCollection::new(groups),
        barriers: FeatureCollection::new(barriers.lines.iter().map(barrier_feature)),
    }
}
