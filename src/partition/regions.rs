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
//! 4. **Balance** (`regions/balance.rs`), only where regions are still outside the band: a region passes
//!    weight along a chain of neighbouring regions to one with room (an ejection chain), each
//!    region of the chain handing atoms on its border to the next until it is back in the band; a
//!    chain is kept only when it lowers the total band violation, and refinement then smooths the
//!    borders it moved. Then seeded simulated annealing, and one region fewer or more.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod balance;
use balance::ANNEAL_ROUNDS;

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
