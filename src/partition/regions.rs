//! Dividing a connected set of atoms into `k` contiguous, balanced, compact regions.
//!
//! 1. **Cut**: recursive bisection by straight sweeps. Each cut tries eight directions, splits the
//!    atoms at the weight share the two halves need, and keeps the direction whose cut is cheapest
//!    (border length × [`EdgeClass::border_cost`](crate::topology::EdgeClass::border_cost), so cuts
//!    run along rivers and roads when they can).
//! 2. **Repair**: every region keeps its heaviest connected piece; stray pieces join the neighbour
//!    they share most border with.
//! 3. **Refine**: atoms on a border move to a neighbouring region while that lowers the cost:
//!    band violations first, then residents off target, area unevenness and the shape term
//!    P²/(4πA) (the inverse of Polsby–Popper, with cheap borders on barriers). A move never
//!    disconnects a region.
//! 4. **Balance**: a region still outside the band passes weight along a chain of neighbouring
//!    regions to one with room (an ejection chain): each region of the chain hands atoms on its
//!    border to the next until it is back in the band. A chain is kept only when it lowers the
//!    total band violation; refinement then smooths the borders it moved, keeping the band.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// An inclusive band of weights, e.g. 300..500 households.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// Least weight a region should have.
    pub min: f64,
    /// Most weight a region should have.
    pub max: f64,
}

impl Band {
    /// How far `w` lies outside the band (0 inside).
    pub fn violation(&self, w: f64) -> f64 {
        (w - self.max).max(0.0) + (self.min - w).max(0.0)
    }
    /// Whether some whole number of regions can each hold a share of `w` within the band.
    ///
    /// ```
    /// use wangge::partition::Band;
    /// let b = Band { min: 300.0, max: 500.0 };
    /// assert!(!b.divides(250.0));
    /// assert!(!b.divides(550.0)); // one region is over, two are under
    /// assert!(b.divides(700.0));
    /// assert!(b.divides(400.0));
    /// ```
    pub fn divides(&self, w: f64) -> bool {
        let kmin = (w / self.max).ceil().max(1.0);
        kmin * self.min <= w + 1e-9
    }
    fn scale(&self) -> f64 {
        (self.max - self.min).max(self.max * 0.1).max(1e-9)
    }
}

/// A link between two atoms.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// The other atom.
    pub to: u32,
    /// Shared border length in metres.
    pub len: f64,
    /// Shared border length × its border cost.
    pub cost: f64,
}

/// Atoms with their figures and adjacency.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Band weight.
    pub w: Vec<f64>,
    /// Residents.
    pub res: Vec<f64>,
    /// Area, m².
    pub area: Vec<f64>,
    /// Centroid in metres.
    pub xy: Vec<[f64; 2]>,
    /// Links to neighbouring atoms.
    pub adj: Vec<Vec<Link>>,
    /// Border to the outside of the area: (length, cost-weighted length).
    pub outer: Vec<(f64, f64)>,
}

impl Graph {
    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.w.len()
    }
    /// Whether there are no atoms.
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }
}

/// What the regions aim at.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The weight band.
    pub band: Band,
    /// Residents per region to aim for, as a second aim, if any.
    pub residents: Option<f64>,
}

/// Divides the atoms `subset` of `g` (a connected set) into `k` regions. Returns the region of each
/// atom of `subset`, in order. Links to atoms outside `subset` count as outer border.
///
/// When `k` regions leave some outside the band (whole atoms may not add up), one region fewer and
/// one more are tried too, where the band's arithmetic still allows that many, and the division
/// with the fewest regions outside the band is kept (then the least band violation, the lower
/// cost, and `k`).
pub fn partition(g: &Graph, subset: &[u32], k: usize, target: Target, seed: u64) -> Vec<u32> {
    let n = subset.len();
    if n <= 1 {
        return vec![0; n];
    }
    let local = Local::new(g, subset);
    let band = target.band;
    let judged = |(part, (v, c)): (Vec<u32>, (f64, f64))| {
        let outside = local.outside(&part, band);
        (part, (outside, v, c))
    };
    let mut best = judged(local.divide(k, target, seed));
    let total: f64 = local.w.iter().sum();
    if best.1 .0 == 0 || !band.divides(total) {
        return best.0;
    }
    for other in [k.saturating_sub(1), k + 1] {
        let fits =
            other as f64 * band.min <= total + 1e-9 && total <= other as f64 * band.max + 1e-9;
        if other == 0 || other > n || other == k || !fits {
            continue;
        }
        let tried = judged(local.divide(other, target, seed));
        let (a, b) = (tried.1, best.1);
        if a.0 < b.0
            || (a.0 == b.0 && (a.1 < b.1 - 1e-9 || (a.1 <= b.1 + 1e-9 && a.2 < b.2 - 1e-9)))
        {
            best = tried;
        }
    }
    best.0
}

/// How far a chain of regions may reach from the region it mends.
const CHAIN_DEPTH: usize = 10;
/// How many chains are tried for one region before giving up on it this round.
const CHAIN_TRIES: usize = 24;

/// Annealing: steps per atom, at most this many steps, and the first and last temperature (in
/// units of the refinement cost, where one region's shape term is about 1.5–3).
const ANNEAL_ROUNDS: usize = 4;
const ANNEAL_STEPS_PER_ATOM: usize = 150;
const ANNEAL_STEPS_MAX: usize = 30_000;
const ANNEAL_T0: f64 = 2.0;
const ANNEAL_T1: f64 = 0.02;

/// Two regions with at most this many atoms between them are divided afresh by trying every
/// split (2^n of them), rather than atom by atom.
const RESPLIT_ATOMS: usize = 14;

/// Weights and sizes of the regions while atoms move between them.
struct Tally {
    w: Vec<f64>,
    size: Vec<usize>,
    /// Moves made by the chain being tried: (atom, from, to).
    log: Vec<(u32, u32, u32)>,
}

impl Tally {
    fn shift(&mut self, l: &Local, part: &mut [u32], a: u32, to: u32) {
        let from = part[a as usize];
        self.w[from as usize] -= l.w[a as usize];
        self.w[to as usize] += l.w[a as usize];
        self.size[from as usize] -= 1;
        self.size[to as usize] += 1;
        part[a as usize] = to;
        self.log.push((a, from, to));
    }

    fn undo(&mut self, l: &Local, part: &mut [u32]) {
        while let Some((a, from, to)) = self.log.pop() {
            self.w[to as usize] -= l.w[a as usize];
            self.w[from as usize] += l.w[a as usize];
            self.size[to as usize] -= 1;
            self.size[from as usize] += 1;
            part[a as usize] = from;
        }
    }
}

/// The subset as a graph of its own.
struct Local {
    w: Vec<f64>,
    res: Vec<f64>,
    area: Vec<f64>,
    xy: Vec<[f64; 2]>,
    adj: Vec<Vec<(u32, f64, f64)>>,
    /// (len, cost) to outside the subset.
    outer: Vec<(f64, f64)>,
}

const DIRECTIONS: usize = 8;

impl Local {
    /// One division into `k` regions (fewer when atoms are few or weightless), with its band
    /// violation and cost.
    fn divide(&self, k: usize, target: Target, seed: u64) -> (Vec<u32>, (f64, f64)) {
        let n = self.w.len();
        let mut part = vec![0u32; n];
        if k <= 1 {
            return (part.clone(), self.score(&part, 1, target));
        }
        let all: Vec<u32> = (0..n as u32).collect();
        let mut next = 0u32;
        self.bisect(&all, k.min(n), &mut part, &mut next);
        let k = next as usize;
        self.repair(&mut part, k);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.refine(&mut part, k, target, &mut rng);
        if self.balance(&mut part, k, target.band) {
            self.refine(&mut part, k, target, &mut rng);
            self.balance(&mut part, k, target.band);
        }
        let divides = target.band.divides(self.w.iter().sum());
        let mut left = self.score(&part, k, target).0;
        for _ in 0..ANNEAL_ROUNDS {
            if !divides || left <= 1e-9 {
                break;
            }
            self.anneal(&mut part, k, target, &mut rng);
            let now = self.score(&part, k, target).0;
            if now >= left - 1e-9 {
                break; // a round that gains nothing ends the search
            }
            left = now;
        }
        let score = self.score(&part, k, target);
        self.absorb_empty(&mut part, k);
        (part, score)
    }

    /// How many regions of a division (numbered `0..`) lie outside the band.
    fn outside(&self, part: &[u32], band: Band) -> usize {
        let k = part.iter().map(|&p| p as usize + 1).max().unwrap_or(0);
        let mut w = vec![0.0; k];
        for (a, &p) in part.iter().enumerate() {
            w[p as usize] += self.w[a];
        }
        w.iter().filter(|&&x| band.violation(x) > 1e-9).count()
    }

    /// Band violation and cost of a division into `k` regions.
    fn score(&self, part: &[u32], k: usize, target: Target) -> (f64, f64) {
        State::new(self, part, k, target).score()
    }

    fn new(g: &Graph, subset: &[u32]) -> Local {
        let mut idx = std::collections::HashMap::with_capacity(subset.len());
        for (i, &a) in subset.iter().enumerate() {
            idx.insert(a, i as u32);
        }
        let mut adj = Vec::with_capacity(subset.len());
        let mut outer = Vec::with_capacity(subset.len());
        for &a in subset {
            let (mut ol, mut oc) = g.outer[a as usize];
            let mut links = Vec::new();
            for l in &g.adj[a as usize] {
                match idx.get(&l.to) {
                    Some(&j) => links.push((j, l.len, l.cost)),
                    None => {
                        ol += l.len;
                        oc += l.cost;
                    }
                }
            }
            adj.push(links);
            outer.push((ol, oc));
        }
        let pick = |v: &Vec<f64>| subset.iter().map(|&a| v[a as usize]).collect::<Vec<_>>();
        Local {
            w: pick(&g.w),
            res: pick(&g.res),
            area: pick(&g.area),
            xy: subset.iter().map(|&a| g.xy[a as usize]).collect(),
            adj,
            outer,
        }
    }

    /// Splits `atoms` into `k` regions numbered from `*next`.
    fn bisect(&self, atoms: &[u32], k: usize, part: &mut [u32], next: &mut u32) {
        if k <= 1 || atoms.len() <= 1 {
            for &a in atoms {
                part[a as usize] = *next;
            }
            *next += 1;
            return;
        }
        let k1 = k / 2;
        let total_w: f64 = atoms.iter().map(|&a| self.w[a as usize]).sum();
        let total_a: f64 = atoms.iter().map(|&a| self.area[a as usize]).sum();
        // Split what matters: weight if there is any, else area.
        let share = |a: u32| {
            if total_w > 0.0 {
                self.w[a as usize]
            } else if total_a > 0.0 {
                self.area[a as usize]
            } else {
                1.0
            }
        };
        let total: f64 = atoms.iter().map(|&a| share(a)).sum();
        let want = total * k1 as f64 / k as f64;
        let mut side = vec![false; self.w.len()];
        let mut best: Option<(f64, Vec<u32>, usize)> = None;
        for d in 0..DIRECTIONS {
            let t = d as f64 * std::f64::consts::PI / DIRECTIONS as f64;
            let (c, s) = (t.cos(), t.sin());
            let mut order: Vec<u32> = atoms.to_vec();
            let proj = |a: u32| self.xy[a as usize][0] * c + self.xy[a as usize][1] * s;
            order.sort_by(|&a, &b| proj(a).total_cmp(&proj(b)).then(a.cmp(&b)));
            // the prefix whose share is nearest the wanted share (at least one atom each side)
            let mut acc = 0.0;
            let mut cut = 1;
            let mut err = f64::INFINITY;
            for (i, &a) in order.iter().enumerate().take(order.len() - 1) {
                acc += share(a);
                let e = (acc - want).abs();
                if e < err {
                    err = e;
                    cut = i + 1;
                }
            }
            for &a in &order[..cut] {
                side[a as usize] = true;
            }
            let mut cost = 0.0;
            for &a in &order[..cut] {
                for &(b, _, c) in &self.adj[a as usize] {
                    if !side[b as usize] {
                        cost += c;
                    }
                }
            }
            for &a in &order[..cut] {
                side[a as usize] = false;
            }
            // Balance first (to a few percent of the share), then the cheapest cut.
            let tol = 0.03 * want.max(1e-9);
            let score = cost * (1.0 + 10.0 * ((err - tol).max(0.0) / want.max(1e-9)));
            if best.as_ref().is_none_or(|b| score < b.0) {
                best = Some((score, order, cut));
            }
        }
        let (_, order, cut) = best.expect("at least one direction");
        let (left, right) = order.split_at(cut);
        self.bisect(left, k1, part, next);
        self.bisect(right, k - k1, part, next);
    }

    /// Connected pieces of region `p`, heaviest first.
    fn pieces(&self, part: &[u32], p: u32, members: &[u32]) -> Vec<Vec<u32>> {
        let mut seen = std::collections::HashSet::new();
        let mut pieces = Vec::new();
        for &s in members {
            if !seen.insert(s) {
                continue;
            }
            let mut piece = vec![s];
            let mut i = 0;
            while i < piece.len() {
                let a = piece[i];
                i += 1;
                for &(b, _, _) in &self.adj[a as usize] {
                    if part[b as usize] == p && seen.insert(b) {
                        piece.push(b);
                    }
                }
            }
            pieces.push(piece);
        }
        let weight = |pc: &Vec<u32>| -> (f64, f64) {
            (
                pc.iter().map(|&a| self.w[a as usize]).sum(),
                pc.iter().map(|&a| self.area[a as usize]).sum(),
            )
        };
        pieces.sort_by(|a, b| {
            let (wa, aa) = weight(a);
            let (wb, ab) = weight(b);
            wb.total_cmp(&wa)
                .then(ab.total_cmp(&aa))
                .then(a[0].cmp(&b[0]))
        });
        pieces
    }

    /// Makes every region connected.
    fn repair(&self, part: &mut [u32], k: usize) {
        for _ in 0..4 * k + 8 {
            let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
            for (a, &p) in part.iter().enumerate() {
                members[p as usize].push(a as u32);
            }
            let mut moved = false;
            for p in 0..k as u32 {
                let pieces = self.pieces(part, p, &members[p as usize]);
                for piece in pieces.into_iter().skip(1) {
                    // neighbour region sharing most border
                    let mut border: std::collections::BTreeMap<u32, f64> = Default::default();
                    for &a in &piece {
                        for &(b, len, _) in &self.adj[a as usize] {
                            let q = part[b as usize];
                            if q != p {
                                *border.entry(q).or_default() += len;
                            }
                        }
                    }
                    if let Some((&q, _)) = border
                        .iter()
                        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
                    {
                        for &a in &piece {
                            part[a as usize] = q;
                        }
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Simulated annealing over single-atom moves that keep regions connected, from the cost of
    /// [`refine`](Self::refine) with the temperature falling from [`ANNEAL_T0`] to
    /// [`ANNEAL_T1`]; ends on the best state seen, judged by band violation first and cost
    /// second, so it never leaves the regions further from the band. Used only when refinement
    /// and balancing leave a region outside the band: lone moves that each raise the cost can
    /// together reach a division that fits.
    fn anneal(&self, part: &mut [u32], k: usize, target: Target, rng: &mut ChaCha8Rng) {
        use rand::Rng;
        let n = part.len();
        let band = target.band;
        let mut st = State::new(self, part, k, target);
        let mut size = vec![0usize; k];
        for &p in part.iter() {
            size[p as usize] += 1;
        }
        let mut now = st.score();
        let mut best = now;
        let mut best_part = part.to_vec();
        // moves since the best state, replayed onto `best_part` when a better one is reached
        let mut since: Vec<(u32, u32)> = Vec::new();
        let steps = (ANNEAL_STEPS_PER_ATOM * n).min(ANNEAL_STEPS_MAX);
        let mut mark = vec![0u32; n];
        let mut stamp = 0u32;
        for step in 0..steps {
            let temp = ANNEAL_T0 * (ANNEAL_T1 / ANNEAL_T0).powf(step as f64 / steps as f64);
            let a = rng.random_range(0..n as u32);
            let links = &self.adj[a as usize];
            if links.is_empty() {
                continue;
            }
            let p = part[a as usize];
            let q = part[links[rng.random_range(0..links.len())].0 as usize];
            if q == p || size[p as usize] <= 1 {
                continue;
            }
            let d = st.delta(self, part, a, q);
            if d > 0.0 && rng.random::<f64>() >= (-d / temp).exp() {
                continue;
            }
            stamp += 1;
            if !self.stays_connected(part, a, &mut mark, stamp) {
                continue;
            }
            let (wp, wq, wa) = (st.w[p as usize], st.w[q as usize], self.w[a as usize]);
            now.0 += band.violation(wp - wa) + band.violation(wq + wa)
                - band.violation(wp)
                - band.violation(wq);
            now.1 += d;
            st.apply(self, part, a, q);
            size[p as usize] -= 1;
            size[q as usize] += 1;
            since.push((a, q));
            if now.0 < best.0 - 1e-9 || (now.0 <= best.0 + 1e-9 && now.1 < best.1 - 1e-9) {
                best = now;
                for (a, q) in since.drain(..) {
                    best_part[a as usize] = q;
                }
            }
        }
        part.copy_from_slice(&best_part);
    }

    fn refine(&self, part: &mut [u32], k: usize, target: Target, rng: &mut ChaCha8Rng) {
        let n = part.len();
        let mut st = State::new(self, part, k, target);
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut size = vec![0usize; k];
        for &p in part.iter() {
            size[p as usize] += 1;
        }
        let mut mark = vec![0u32; n];
        let mut stamp = 0u32;
        for _pass in 0..60 {
            order.shuffle(rng);
            let mut improved = 0usize;
            for &a in &order {
                let p = part[a as usize];
                if size[p as usize] <= 1 {
                    continue;
                }
                let mut best: Option<(f64, u32)> = None;
                for &(b, _, _) in &self.adj[a as usize] {
                    let q = part[b as usize];
                    if q == p || best.is_some_and(|(_, bq)| bq == q) {
                        continue;
                    }
                    let d = st.delta(self, part, a, q);
                    if d < -1e-9 && best.is_none_or(|(bd, bq)| d < bd || (d == bd && q < bq)) {
                        best = Some((d, q));
                    }
                }
                let Some((_, q)) = best else { continue };
                stamp += 1;
                if !self.stays_connected(part, a, &mut mark, stamp) {
                    continue;
                }
                st.apply(self, part, a, q);
                size[p as usize] -= 1;
                size[q as usize] += 1;
                improved += 1;
            }
            if improved == 0 {
                break;
            }
        }
    }

    /// Brings regions outside the band into it by ejection chains, worst first; returns whether
    /// any atom moved.
    fn balance(&self, part: &mut [u32], k: usize, band: Band) -> bool {
        let mut t = Tally {
            w: vec![0.0; k],
            size: vec![0; k],
            log: Vec::new(),
        };
        for (a, &p) in part.iter().enumerate() {
            t.w[p as usize] += self.w[a];
            t.size[p as usize] += 1;
        }
        let mut mark = vec![0u32; part.len()];
        let mut stamp = 0u32;
        let mut changed = false;
        for _round in 0..2 * k + 4 {
            let mut bad: Vec<u32> = (0..k as u32)
                .filter(|&p| t.size[p as usize] > 0 && band.violation(t.w[p as usize]) > 1e-9)
                .collect();
            bad.sort_by(|&a, &b| {
                band.violation(t.w[b as usize])
                    .total_cmp(&band.violation(t.w[a as usize]))
                    .then(a.cmp(&b))
            });
            let mut any = false;
            for p in bad {
                if band.violation(t.w[p as usize]) > 1e-9
                    && self.chain(part, k, &mut t, p, band, &mut mark, &mut stamp)
                {
                    any = true;
                }
            }
            if !any {
                break;
            }
            changed = true;
        }
        changed
    }

    /// Tries chains from region `p` to the nearest regions with room (if `p` is over the band)
    /// or to spare (if under); keeps the first that lowers the band violation of its regions.
    #[allow(clippy::too_many_arguments)]
    fn chain(
        &self,
        part: &mut [u32],
        k: usize,
        t: &mut Tally,
        p: u32,
        band: Band,
        mark: &mut [u32],
        stamp: &mut u32,
    ) -> bool {
        let over = t.w[p as usize] > band.max;
        let next = self.region_links(part, k);
        // breadth-first over neighbouring regions, nearest first
        let mut parent = vec![u32::MAX; k];
        parent[p as usize] = p;
        let mut queue = std::collections::VecDeque::from([(p, 0usize)]);
        let mut tries = 0;
        while let Some((r, depth)) = queue.pop_front() {
            let ends = if over {
                t.w[r as usize] < band.max - 1e-9
            } else {
                t.w[r as usize] > band.min + 1e-9
            };
            if r != p && ends {
                let mut path = vec![r];
                while *path.last().expect("non-empty") != p {
                    path.push(parent[*path.last().expect("non-empty") as usize]);
                }
                path.reverse();
                if self.try_path(part, t, &path, over, band, mark, stamp) {
                    return true;
                }
                tries += 1;
                if tries >= CHAIN_TRIES {
                    return false;
                }
            }
            if depth < CHAIN_DEPTH {
                for &q in &next[r as usize] {
                    if parent[q as usize] == u32::MAX && t.size[q as usize] > 0 {
                        parent[q as usize] = r;
                        queue.push_back((q, depth + 1));
                    }
                }
            }
        }
        false
    }

    /// Neighbouring regions of each region, in order.
    fn region_links(&self, part: &[u32], k: usize) -> Vec<Vec<u32>> {
        let mut next: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); k];
        for (a, &p) in part.iter().enumerate() {
            for &(b, _, _) in &self.adj[a] {
                let q = part[b as usize];
                if q != p {
                    next[p as usize].insert(q);
                }
            }
        }
        next.into_iter().map(|s| s.into_iter().collect()).collect()
    }

    /// Moves weight along `path` (out of `path[0]` if `over`, into it otherwise); keeps the
    /// moves when the regions of the path end closer to the band, else undoes them.
    #[allow(clippy::too_many_arguments)]
    fn try_path(
        &self,
        part: &mut [u32],
        t: &mut Tally,
        path: &[u32],
        over: bool,
        band: Band,
        mark: &mut [u32],
        stamp: &mut u32,
    ) -> bool {
        let violation =
            |t: &Tally| -> f64 { path.iter().map(|&r| band.violation(t.w[r as usize])).sum() };
        let before = violation(t);
        t.log.clear();
        for i in 0..path.len() - 1 {
            let r = path[i];
            let need = if over {
                t.w[r as usize] - band.max
            } else {
                band.min - t.w[r as usize]
            };
            if need <= 1e-9 {
                break;
            }
            let last = i + 2 == path.len();
            let pair = t.size[r as usize] + t.size[path[i + 1] as usize];
            if pair <= RESPLIT_ATOMS {
                if !self.resplit(part, t, (r, path[i + 1]), last, band) {
                    break;
                }
                continue;
            }
            let (from, to) = if over {
                (r, path[i + 1])
            } else {
                (path[i + 1], r)
            };
            // the last region of a chain that takes weight must stay within the band
            let cap = if over && last {
                band.max - t.w[to as usize]
            } else {
                f64::INFINITY
            };
            if !self.hand_over(part, t, (from, to), need, cap, band, mark, stamp) {
                break;
            }
        }
        if violation(t) < before - 1e-9 {
            t.log.clear();
            true
        } else {
            t.undo(self, part);
            false
        }
    }

    /// Divides the atoms of regions `r` and `s` (few, see [`RESPLIT_ATOMS`]) afresh, trying every
    /// split: `r` must end in the band and both stay connected; `s` must end in the band too when
    /// it is the `last` of a chain, and otherwise ends as near the band as it can. Among those, the
    /// shortest border between them wins. Returns whether such a split exists (and was made).
    fn resplit(
        &self,
        part: &mut [u32],
        t: &mut Tally,
        (r, s): (u32, u32),
        last: bool,
        band: Band,
    ) -> bool {
        let atoms: Vec<u32> = (0..part.len() as u32)
            .filter(|&a| part[a as usize] == r || part[a as usize] == s)
            .collect();
        let m = atoms.len();
        let pos = |a: u32| atoms.binary_search(&a).ok();
        let mut nbr = vec![0u32; m];
        let mut cost = vec![Vec::new(); m];
        for (i, &a) in atoms.iter().enumerate() {
            for &(b, _, c) in &self.adj[a as usize] {
                if let Some(j) = pos(b) {
                    nbr[i] |= 1 << j;
                    cost[i].push((j, c));
                }
            }
        }
        let full: u32 = if m == 32 { u32::MAX } else { (1u32 << m) - 1 };
        let connected = |set: u32| -> bool {
            if set == 0 {
                return false;
            }
            let mut reach = set & set.wrapping_neg();
            loop {
                let mut grow = reach;
                let mut bits = reach;
                while bits != 0 {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    grow |= nbr[i] & set;
                }
                if grow == reach {
                    return reach == set;
                }
                reach = grow;
            }
        };
        let weight = |set: u32| -> f64 {
            let mut w = 0.0;
            let mut bits = set;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                w += self.w[atoms[i] as usize];
            }
            w
        };
        let total = weight(full);
        let mut best: Option<(f64, f64, u32)> = None;
        for set in 1..full {
            let wr = weight(set);
            let ws = total - wr;
            if band.violation(wr) > 1e-9 || (last && band.violation(ws) > 1e-9) {
                continue;
            }
            if !connected(set) || !connected(full ^ set) {
                continue;
            }
            let mut cut = 0.0;
            let mut bits = set;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                cut += cost[i]
                    .iter()
                    .filter(|&&(j, _)| set & (1 << j) == 0)
                    .map(|&(_, c)| c)
                    .sum::<f64>();
            }
            let key = (band.violation(ws), cut, set);
            if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                best = Some(key);
            }
        }
        let Some((_, _, set)) = best else {
            return false;
        };
        for (i, &a) in atoms.iter().enumerate() {
            let want = if set & (1 << i) != 0 { r } else { s };
            if part[a as usize] != want {
                t.shift(self, part, a, want);
            }
        }
        true
    }

    /// Moves atoms of `from` bordering `to` into `to` until `need` weight has moved, keeping
    /// `from` connected; prefers atoms that move just enough without taking `from` under the
    /// band or `to` over `cap` more. Returns whether `need` was met.
    #[allow(clippy::too_many_arguments)]
    fn hand_over(
        &self,
        part: &mut [u32],
        t: &mut Tally,
        (from, to): (u32, u32),
        need: f64,
        cap: f64,
        band: Band,
        mark: &mut [u32],
        stamp: &mut u32,
    ) -> bool {
        let mut moved = 0.0;
        while moved < need - 1e-9 {
            let rest = need - moved;
            let spare = t.w[from as usize] - band.min;
            let mut best: Option<(u8, f64, u32)> = None;
            for (a, &pa) in part.iter().enumerate() {
                let x = self.w[a];
                if pa != from
                    || x <= 0.0
                    || !self.adj[a].iter().any(|&(b, _, _)| part[b as usize] == to)
                {
                    continue;
                }
                // 0: moves enough and leaves `from` in the band (smallest first);
                // 1: moves less than enough (largest first); 2: too much (smallest first).
                let room = cap - moved;
                let key = if x >= rest - 1e-9 && x <= spare.min(room) + 1e-9 {
                    (0, x)
                } else if x < rest {
                    (1, -x)
                } else {
                    (2, x)
                };
                if best.is_none_or(|(c, v, b)| (key.0, key.1, a as u32) < (c, v, b)) {
                    *stamp += 1;
                    if t.size[from as usize] > 1
                        && self.stays_connected(part, a as u32, mark, *stamp)
                    {
                        best = Some((key.0, key.1, a as u32));
                    }
                }
            }
            let Some((_, _, a)) = best else {
                return false;
            };
            moved += self.w[a as usize];
            t.shift(self, part, a, to);
        }
        true
    }

    /// Regions left with no weight (water, fields) join the neighbour they share most border
    /// with, when the whole has weight; regions are then numbered `0..` without gaps.
    fn absorb_empty(&self, part: &mut [u32], k: usize) {
        if self.w.iter().sum::<f64>() > 0.0 {
            loop {
                let mut w = vec![0.0; k];
                let mut present = vec![false; k];
                for (a, &p) in part.iter().enumerate() {
                    w[p as usize] += self.w[a];
                    present[p as usize] = true;
                }
                let Some(empty) = (0..k).find(|&p| present[p] && w[p] <= 0.0) else {
                    break;
                };
                let mut border: std::collections::BTreeMap<u32, f64> = Default::default();
                for (a, &p) in part.iter().enumerate() {
                    if p as usize == empty {
                        for &(b, len, _) in &self.adj[a] {
                            let q = part[b as usize];
                            if q as usize != empty {
                                *border.entry(q).or_default() += len;
                            }
                        }
                    }
                }
                let Some((&q, _)) = border
                    .iter()
                    .max_by(|x, y| x.1.total_cmp(y.1).then(y.0.cmp(x.0)))
                else {
                    break;
                };
                for p in part.iter_mut() {
                    if *p as usize == empty {
                        *p = q;
                    }
                }
            }
        }
        let mut map = vec![u32::MAX; k];
        let mut next = 0;
        for p in part.iter_mut() {
            if map[*p as usize] == u32::MAX {
                map[*p as usize] = next;
                next += 1;
            }
            *p = map[*p as usize];
        }
    }

    /// Whether region of `a` stays connected without `a`.
    fn stays_connected(&self, part: &[u32], a: u32, mark: &mut [u32], stamp: u32) -> bool {
        let p = part[a as usize];
        let nbrs: Vec<u32> = self.adj[a as usize]
            .iter()
            .filter(|&&(b, _, _)| part[b as usize] == p)
            .map(|&(b, _, _)| b)
            .collect();
        if nbrs.len() <= 1 {
            return true;
        }
        let mut targets: Vec<u32> = nbrs[1..]
            .iter()
            .copied()
            .filter(|&b| b != nbrs[0])
            .collect();
        targets.sort_unstable();
        targets.dedup();
        let mut remaining = targets.len();
        if remaining == 0 {
            return true;
        }
        mark[a as usize] = stamp;
        mark[nbrs[0] as usize] = stamp;
        let mut stack = vec![nbrs[0]];
        while let Some(x) = stack.pop() {
            for &(y, _, _) in &self.adj[x as usize] {
                if part[y as usize] == p && mark[y as usize] != stamp {
                    mark[y as usize] = stamp;
                    if targets.binary_search(&y).is_ok() {
                        remaining -= 1;
                        if remaining == 0 {
                            return true;
                        }
                    }
                    stack.push(y);
                }
            }
        }
        remaining == 0
    }
}

/// Running figures of every region, for cheap move evaluation.
struct State {
    w: Vec<f64>,
    res: Vec<f64>,
    area: Vec<f64>,
    per: Vec<f64>,
    target: Target,
    w_mean: f64,
    a_mean: f64,
}

const LAMBDA_BAND: f64 = 60.0;
const LAMBDA_EVEN: f64 = 0.3;
const LAMBDA_RES: f64 = 0.5;
const LAMBDA_AREA: f64 = 0.15;
const LAMBDA_SHAPE: f64 = 1.0;

impl State {
    fn new(l: &Local, part: &[u32], k: usize, target: Target) -> State {
        let mut st = State {
            w: vec![0.0; k],
            res: vec![0.0; k],
            area: vec![0.0; k],
            per: vec![0.0; k],
            target,
            w_mean: 0.0,
            a_mean: 0.0,
        };
        for (a, &p) in part.iter().enumerate() {
            let p = p as usize;
            st.w[p] += l.w[a];
            st.res[p] += l.res[a];
            st.area[p] += l.area[a];
            st.per[p] += l.outer[a].1;
            for &(b, _, c) in &l.adj[a] {
                if part[b as usize] as usize != p {
                    st.per[p] += c;
                }
            }
        }
        st.w_mean = st.w.iter().sum::<f64>() / k as f64;
        st.a_mean = (st.area.iter().sum::<f64>() / k as f64).max(1e-9);
        st
    }

    /// Band violation and cost of all regions.
    fn score(&self) -> (f64, f64) {
        let band = self.target.band;
        let v = self.w.iter().map(|&x| band.violation(x)).sum();
        let c = (0..self.w.len())
            .map(|p| self.cost(self.w[p], self.res[p], self.area[p], self.per[p]))
            .sum();
        (v, c)
    }

    fn cost(&self, w: f64, res: f64, area: f64, per: f64) -> f64 {
        let band = self.target.band;
        let v = band.violation(w) / band.scale();
        let mut c = LAMBDA_BAND * (v + v * v);
        let e = (w - self.w_mean) / band.scale();
        c += LAMBDA_EVEN * e * e;
        if let Some(r) = self.target.residents {
            let e = (res - r) / r.max(1.0);
            c += LAMBDA_RES * e * e;
        }
        let e = (area - self.a_mean) / self.a_mean;
        c += LAMBDA_AREA * e * e;
        c += LAMBDA_SHAPE * per * per / (4.0 * std::f64::consts::PI * area.max(1e-6));
        c
    }

    fn moved(&self, l: &Local, part: &[u32], a: u32, q: u32) -> ([f64; 4], [f64; 4]) {
        let p = part[a as usize] as usize;
        let q = q as usize;
        let ai = a as usize;
        let (mut dp, mut dq) = (0.0, 0.0);
        for &(b, _, c) in &l.adj[ai] {
            let pb = part[b as usize] as usize;
            dp += if pb == p { c } else { -c };
            dq += if pb == q { -c } else { c };
        }
        dp -= l.outer[ai].1;
        dq += l.outer[ai].1;
        (
            [
                self.w[p] - l.w[ai],
                self.res[p] - l.res[ai],
                self.area[p] - l.area[ai],
                self.per[p] + dp,
            ],
            [
                self.w[q] + l.w[ai],
                self.res[q] + l.res[ai],
                self.area[q] + l.area[ai],
                self.per[q] + dq,
            ],
        )
    }

    fn delta(&self, l: &Local, part: &[u32], a: u32, q: u32) -> f64 {
        let p = part[a as usize] as usize;
        let (np, nq) = self.moved(l, part, a, q);
        let qi = q as usize;
        self.cost(np[0], np[1], np[2], np[3]) + self.cost(nq[0], nq[1], nq[2], nq[3])
            - self.cost(self.w[p], self.res[p], self.area[p], self.per[p])
            - self.cost(self.w[qi], self.res[qi], self.area[qi], self.per[qi])
    }

    fn apply(&mut self, l: &Local, part: &mut [u32], a: u32, q: u32) {
        let p = part[a as usize] as usize;
        let (np, nq) = self.moved(l, part, a, q);
        let qi = q as usize;
        [self.w[p], self.res[p], self.area[p], self.per[p]] = np;
        [self.w[qi], self.res[qi], self.area[qi], self.per[qi]] = nq;
        part[a as usize] = q;
    }
}
