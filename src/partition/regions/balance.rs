//! Bringing regions into the band when refinement leaves some outside it (step 4 of
//! [`regions`](super)): ejection chains along neighbouring regions, small pairs divided afresh by
//! trying every split, and seeded simulated annealing. Every step keeps regions connected and is
//! kept only when it brings the regions nearer the band.

use super::{Band, Local, State, Target};
use rand_chacha::ChaCha8Rng;

/// How far a chain of regions may reach from the region it mends.
const CHAIN_DEPTH: usize = 10;
/// How many chains are tried for one region before giving up on it this round.
const CHAIN_TRIES: usize = 24;

/// Annealing: steps per atom, at most this many steps, and the first and last temperature (in
/// units of the refinement cost, where one region's shape term is about 1.5–3).
pub(super) const ANNEAL_ROUNDS: usize = 4;
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

impl Local {
    /// Simulated annealing over single-atom moves that keep regions connected, from the cost of
    /// [`refine`](Self::refine) with the temperature falling from [`ANNEAL_T0`] to
    /// [`ANNEAL_T1`]; ends on the best state seen, judged by band violation first and cost
    /// second, so it never leaves the regions further from the band. Used only when refinement
    /// and balancing leave a region outside the band: lone moves that each raise the cost can
    /// together reach a division that fits.
    pub(super) fn anneal(&self, part: &mut [u32], k: usize, target: Target, rng: &mut ChaCha8Rng) {
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

    /// Brings regions outside the band into it by ejection chains, worst first; returns whether
    /// any atom moved.
    pub(super) fn balance(&self, part: &mut [u32], k: usize, band: Band) -> bool {
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
}
