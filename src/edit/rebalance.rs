//! Rebalance (一键均衡): move the fewest cells between unlocked grids so that every unlocked grid
//! is in the band where the data allows, keeping each grid in one piece and never carrying a cell
//! across a river, railway or expressway into its new grid.
//!
//! A greedy descent on Σ over unlocked grids of (distance of the grid's weight outside the band)²:
//! each step moves one cell, with buildings, from a grid to a neighbouring unlocked grid, the move
//! that lowers the sum most for the grid furthest outside the band (ties: the longer shared
//! border, then the lower cell). The square lets an excess flow through full neighbours to a grid
//! with room; a step that keeps the sum is taken only when the grid it feeds reaches a grid with
//! room through unlocked grids, and such steps are bounded, so it ends. Grids in band are touched only to
//! pass weight on. Codes stay: a grid that gains or loses a few cells is the same grid.

use super::EditVillage;
use crate::partition::Band;

/// A rebalance proposal.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The grid of every face.
    pub grid: Vec<Option<u32>>,
    /// Faces moved (each at most once counted).
    pub moved_faces: usize,
}

fn cost(x: f64, band: Band) -> f64 {
    band.violation(x).powi(2)
}

/// Proposes new face grids for `grid` (every face's grid of `n` grids), with the grids in `locked`
/// unchanged, counting `weight` per face (the band's weight) against `band`.
pub fn rebalance(
    ev: &EditVillage,
    grid: &[Option<u32>],
    n: usize,
    locked: &[bool],
    weight: &[f64],
    band: Band,
) -> Proposal {
    let mut g: Vec<Option<u32>> = grid.to_vec();
    let mut w = vec![0.0; n];
    let mut size = vec![0usize; n];
    for (f, x) in g.iter().enumerate() {
        if let Some(x) = x {
            w[*x as usize] += weight[f];
            size[*x as usize] += 1;
        }
    }
    let free = |x: u32| !locked.get(x as usize).copied().unwrap_or(false);
    let mut moved = vec![false; g.len()];
    let max_steps = 4 * g.len() + 16;
    let mut flat = 0;
    for _ in 0..max_steps {
        let mut order: Vec<usize> = (0..n)
            .filter(|&x| free(x as u32) && band.violation(w[x]) > 0.0)
            .collect();
        order.sort_by(|a, b| {
            band.violation(w[*b])
                .total_cmp(&band.violation(w[*a]))
                .then(a.cmp(b))
        });
        let mut step = None;
        for &x in &order {
            step = best_move(ev, &g, &w, &size, x as u32, weight, band, &free);
            if step.is_some() {
                break;
            }
        }
        let Some((gain, f, from, to)) = step else {
            break;
        };
        // Steps that only pass weight on are bounded, so a plateau cannot go round for ever.
        if gain <= 1e-9 {
            flat += 1;
            if flat > 2 * g.len() + 16 {
                break;
            }
        }
        g[f] = Some(to);
        w[from as usize] -= weight[f];
        w[to as usize] += weight[f];
        size[from as usize] -= 1;
        size[to as usize] += 1;
        moved[f] = true;
    }
    let moved_faces = g
        .iter()
        .zip(grid)
        .zip(&moved)
        .filter(|((a, b), m)| **m && a != b)
        .count();
    Proposal {
        grid: g,
        moved_faces,
    }
}

/// The best single move for grid `x` (out of band), with its gain: a cell of `x` to a neighbour
/// if it is over, a neighbour's cell into `x` if under; `None` if no move lowers the cost (or
/// keeps it while passing weight towards a grid with room).
#[allow(clippy::too_many_arguments)]
fn best_move(
    ev: &EditVillage,
    g: &[Option<u32>],
    w: &[f64],
    size: &[usize],
    x: u32,
    weight: &[f64],
    band: Band,
    free: &dyn Fn(u32) -> bool,
) -> Option<(f64, usize, u32, u32)> {
    let over = w[x as usize] > band.max;
    // A move that changes nothing now is still worth it if the grid it feeds can pass the
    // weight on to a grid with room (an excess flows through full grids): grid adjacency, built
    // only when asked.
    let adjacency = std::cell::OnceCell::new();
    let room_beyond = |to: u32, from: u32| {
        let adj: &Vec<std::collections::BTreeSet<u32>> = adjacency.get_or_init(|| {
            let mut adj = vec![std::collections::BTreeSet::new(); w.len()];
            for f in 0..g.len() {
                let Some(a) = g[f] else { continue };
                for (o, _, _) in ev.neighbours(f) {
                    if let Some(b) = g[o].filter(|&b| b != a) {
                        adj[a as usize].insert(b);
                    }
                }
            }
            adj
        });
        let room = |v: f64| if over { v < band.max } else { v > band.min };
        // Over: `to` passes weight on to a grid under its maximum. Under: `from` takes weight from
        // a grid above its minimum.
        let via = if over { to } else { from };
        let skip = if over { from } else { to };
        // Any grid with room reachable from `via` through free grids (not `skip`).
        let mut seen = vec![false; w.len()];
        seen[via as usize] = true;
        seen[skip as usize] = true;
        let mut stack = vec![via];
        while let Some(a) = stack.pop() {
            for &h in &adj[a as usize] {
                if seen[h as usize] || !free(h) {
                    continue;
                }
                if room(w[h as usize]) {
                    return true;
                }
                seen[h as usize] = true;
                stack.push(h);
            }
        }
        false
    };
    // (gain, shared border, face, from, to)
    let mut cands: Vec<(f64, f64, usize, u32, u32)> = Vec::new();
    for f in 0..g.len() {
        let Some(gf) = g[f] else { continue };
        if weight[f] <= 0.0 {
            continue;
        }
        // Over: f in x, to a neighbour grid. Under: f in a neighbour grid, into x.
        let mut shared: std::collections::BTreeMap<u32, (f64, f64)> = Default::default();
        if over && gf == x {
            for (o, len, hard) in ev.neighbours(f) {
                if let Some(h) = g[o].filter(|&h| h != x && free(h)) {
                    let e = shared.entry(h).or_default();
                    e.0 += len;
                    if !hard {
                        e.1 += len;
                    }
                }
            }
        } else if !over && gf != x && free(gf) {
            let mut touches = (0.0, 0.0);
            for (o, len, hard) in ev.neighbours(f) {
                if g[o] == Some(x) {
                    touches.0 += len;
                    if !hard {
                        touches.1 += len;
                    }
                }
            }
            if touches.0 > 0.0 {
                shared.insert(x, touches);
            }
        } else {
            continue;
        }
        for (to, (len, soft)) in shared {
            if soft <= 0.0 {
                continue;
            }
            let from = gf;
            let wf = weight[f];
            let before = cost(w[from as usize], band) + cost(w[to as usize], band);
            let after = cost(w[from as usize] - wf, band) + cost(w[to as usize] + wf, band);
            let gain = before - after;
            if gain > 1e-9 || (gain > -1e-9 && room_beyond(to, from)) {
                cands.push((gain, len, f, from, to));
            }
        }
    }
    cands.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.total_cmp(&a.1))
            .then(a.2.cmp(&b.2))
    });
    cands
        .into_iter()
        .find(|&(_, _, f, from, _)| size[from as usize] > 1 && stays_whole(ev, g, f, from))
        .map(|(gain, _, f, from, to)| (gain, f, from, to))
}

/// Whether grid `x` stays in one piece without face `f` (counting the pieces it had: a grid
/// already in pieces may lose a cell that does not add another).
fn stays_whole(ev: &EditVillage, g: &[Option<u32>], f: usize, x: u32) -> bool {
    let count = |skip: Option<usize>| {
        let mut seen = vec![false; g.len()];
        let mut pieces = 0;
        for s in 0..g.len() {
            if g[s] != Some(x) || seen[s] || Some(s) == skip {
                continue;
            }
            pieces += 1;
            seen[s] = true;
            let mut stack = vec![s];
            while let Some(h) = stack.pop() {
                for (o, _, _) in ev.neighbours(h) {
                    if !seen[o] && g[o] == Some(x) && Some(o) != skip {
                        seen[o] = true;
                        stack.push(o);
                    }
                }
            }
        }
        pieces
    };
    count(Some(f)) <= count(None)
}
