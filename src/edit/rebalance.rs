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
//!
//! Moving cells cannot help when the unlocked grids are too few or too many for their weight
//! (after a merge, say: 1,600 households cannot fit three grids of at most 500). So first the
//! count is fitted: while the unlocked weight exceeds count × maximum, the heaviest unlocked grid
//! is split in two (grown from its end along its longer axis to half its weight, so both halves
//! are whole); while it is under count × minimum, the lightest unlocked grid joins its lightest
//! unlocked neighbour. [`Proposal::added`] and [`Proposal::merged`] say what was done.

use super::EditVillage;
use crate::partition::Band;

/// A rebalance proposal.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The grid of every face.
    pub grid: Vec<Option<u32>>,
    /// Faces moved (each at most once counted).
    pub moved_faces: usize,
    /// Grids in `grid` (at least the `n` given: grids `n..` are new ones the split made).
    pub grids: usize,
    /// How many grids were added (split off) so the band can be reached.
    pub added: usize,
    /// Grids emptied by joining a neighbour so the band can be reached.
    pub merged: Vec<u32>,
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
    let mut locked = locked.to_vec();
    locked.resize(n, false);
    let mut n = n;
    let (mut added, mut merged) = (0, Vec::new());
    let mut moved = vec![false; g.len()];
    // First the count the arithmetic needs; then, after each descent that leaves a group out of
    // band (big indivisible cells near a full band), one more split or join where the group's
    // weight allows it, a few times at most.
    let mut stuck = false;
    for _ in 0..64 {
        match fit_once(ev, &mut g, n, &locked, weight, band, stuck) {
            Some(Fit::Split) => {
                n += 1;
                locked.push(false);
                added += 1;
            }
            Some(Fit::Joined(x)) => merged.push(x),
            None if stuck => break,
            None => {
                descend(ev, &mut g, n, &locked, weight, band, &mut moved);
                stuck = true;
                continue;
            }
        }
        if stuck {
            descend(ev, &mut g, n, &locked, weight, band, &mut moved);
        }
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
        grids: n,
        added,
        merged,
    }
}

/// The greedy descent: moves one cell at a time (see the module doc), marking moved faces.
fn descend(
    ev: &EditVillage,
    g: &mut [Option<u32>],
    n: usize,
    locked: &[bool],
    weight: &[f64],
    band: Band,
    moved: &mut [bool],
) {
    let mut w = vec![0.0; n];
    let mut size = vec![0usize; n];
    for (f, x) in g.iter().enumerate() {
        if let Some(x) = x {
            w[*x as usize] += weight[f];
            size[*x as usize] += 1;
        }
    }
    let free = |x: u32| !locked.get(x as usize).copied().unwrap_or(false);
    let max_steps = 4 * g.len() + 16;
    let mut flat = 0;
    for _ in 0..max_steps {
        let mut order: Vec<usize> = (0..n)
            .filter(|&x| free(x as u32) && size[x] > 0 && band.violation(w[x]) > 0.0)
            .collect();
        order.sort_by(|a, b| {
            band.violation(w[*b])
                .total_cmp(&band.violation(w[*a]))
                .then(a.cmp(b))
        });
        let mut step = None;
        for &x in &order {
            step = best_move(ev, g, &w, &size, x as u32, weight, band, &free);
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
}

/// A change to the count of grids.
enum Fit {
    /// The heaviest grid of a group was split; the new grid is the next index.
    Split,
    /// This grid joined its lightest neighbour.
    Joined(u32),
}

/// One split or join for the first group of unlocked grids (joined across soft borders) whose
/// count cannot hold its weight in the band: `total > k × max` or `total < k × min`; when
/// `stuck` (after a descent), for the first group with a grid still over (under) the band whose
/// weight allows one grid more (fewer).
fn fit_once(
    ev: &EditVillage,
    g: &mut [Option<u32>],
    n: usize,
    locked: &[bool],
    weight: &[f64],
    band: Band,
    stuck: bool,
) -> Option<Fit> {
    let mut w = vec![0.0; n];
    for (f, x) in g.iter().enumerate() {
        if let Some(x) = x {
            w[*x as usize] += weight[f];
        }
    }
    let live: Vec<usize> = (0..n).filter(|&x| !locked[x] && w[x] > 0.0).collect();
    let group = soft_groups(ev, g, n, locked);
    for &x in &live {
        let members: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&y| group[y] == group[x])
            .collect();
        if members[0] != x {
            continue; // each group once, from its first grid
        }
        let total: f64 = members.iter().map(|&y| w[y]).sum();
        let k = members.len() as f64;
        let by_weight = |a: &usize, b: &usize| w[*a].total_cmp(&w[*b]).then(b.cmp(a));
        let (too_few, too_many) = if stuck {
            (
                members.iter().any(|&y| w[y] > band.max) && total / (k + 1.0) >= band.min,
                members.iter().any(|&y| w[y] < band.min)
                    && k > 1.0
                    && total / (k - 1.0) <= band.max,
            )
        } else {
            (total > k * band.max, total < k * band.min && k > 1.0)
        };
        if too_few {
            let h = members.iter().copied().max_by(by_weight)?;
            if split_grid(ev, g, h as u32, n as u32, weight) {
                return Some(Fit::Split);
            }
        } else if too_many {
            let l = members.iter().copied().min_by(by_weight)?;
            let into = (0..g.len())
                .filter(|&f| g[f] == Some(l as u32))
                .flat_map(|f| {
                    ev.neighbours(f)
                        .filter(|nb| !nb.2)
                        .filter_map(|(o, _, _)| g[o])
                })
                .filter(|&y| y as usize != l && !locked[y as usize])
                .min_by(|a, b| w[*a as usize].total_cmp(&w[*b as usize]).then(a.cmp(b)))?;
            for c in g.iter_mut().filter(|c| **c == Some(l as u32)) {
                *c = Some(into);
            }
            return Some(Fit::Joined(l as u32));
        }
    }
    None
}

/// Per grid (of `n`): a group number, grids in one group when unlocked and joined through
/// unlocked grids across soft (crossable) borders.
fn soft_groups(ev: &EditVillage, g: &[Option<u32>], n: usize, locked: &[bool]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for f in 0..g.len() {
        let Some(a) = g[f] else { continue };
        for (o, _, hard) in ev.neighbours(f) {
            let Some(b) = g[o] else { continue };
            if hard || a == b || locked[a as usize] || locked[b as usize] {
                continue;
            }
            let (ra, rb) = (root(&mut parent, a as usize), root(&mut parent, b as usize));
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    (0..n).map(|x| root(&mut parent, x)).collect()
}

/// Splits grid `x` in two whole halves, the half grown from its low end along its longer axis
/// becoming grid `new`; `false` if it has fewer than two cells with weight.
fn split_grid(ev: &EditVillage, g: &mut [Option<u32>], x: u32, new: u32, weight: &[f64]) -> bool {
    let faces: Vec<usize> = (0..g.len()).filter(|&f| g[f] == Some(x)).collect();
    if faces.iter().filter(|&&f| weight[f] > 0.0).count() < 2 {
        return false;
    }
    let xy = &ev.cells.xy;
    let span = |i: usize| {
        let (lo, hi) = faces.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &f| {
            (lo.min(xy[f][i]), hi.max(xy[f][i]))
        });
        hi - lo
    };
    let axis = usize::from(span(1) > span(0));
    let key = |f: usize| xy[f][axis];
    let total: f64 = faces.iter().map(|&f| weight[f]).sum();
    let seed = *faces
        .iter()
        .min_by(|a, b| key(**a).total_cmp(&key(**b)).then(a.cmp(b)))
        .expect("a grid with cells");
    // Grow from the seed, always taking the frontier cell lowest along the axis.
    let mut taken = std::collections::BTreeSet::from([seed]);
    let mut acc = weight[seed];
    let mut frontier: std::collections::BTreeSet<usize> = Default::default();
    while acc < total / 2.0 {
        frontier.clear();
        for &f in &taken {
            frontier.extend(
                ev.neighbours(f)
                    .map(|(o, _, _)| o)
                    .filter(|&o| g[o] == Some(x) && !taken.contains(&o)),
            );
        }
        let Some(next) = frontier
            .iter()
            .copied()
            .min_by(|a, b| key(*a).total_cmp(&key(*b)).then(a.cmp(b)))
        else {
            break;
        };
        if acc > 0.0 && acc + weight[next] >= total {
            break; // the other half must keep some weight
        }
        taken.insert(next);
        acc += weight[next];
    }
    for &f in &taken {
        g[f] = Some(new);
    }
    // What is left may be in pieces: the heaviest piece stays `x`, the others (each touching the
    // grown half, since the grid was whole) join it.
    let n = (x.max(new) + 1) as usize;
    let mut rest = crate::partition::assign::grid_pieces(g, n, |f, out| {
        out.extend(ev.neighbours(f).map(|(o, _, _)| o));
    })
    .swap_remove(x as usize);
    rest.sort_by(|a, b| {
        let wa: f64 = a.iter().map(|&f| weight[f]).sum();
        let wb: f64 = b.iter().map(|&f| weight[f]).sum();
        wb.total_cmp(&wa).then(a[0].cmp(&b[0]))
    });
    for piece in rest.iter().skip(1) {
        for &f in piece {
            g[f] = Some(new);
        }
    }
    acc > 0.0 && acc < total
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
