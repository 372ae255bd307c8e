//! Grid fill colours: an index into a shared five-colour palette, neighbours never alike.
//!
//! The engine is getting a stored `color` per grid with the same palette
//! (`wangge::partition::colour::PALETTE`); until it lands, [`colour_fallback`] colours the
//! printed grids greedily from their adjacency. Swapping it for the stored colour is one change
//! in [`super::sheet::Sheet::new`] (the call of `colour_fallback`) and the palette below.

/// The five fill colours (ColorBrewer Set2), shared with the map's style.
// TEMPORARY until `wangge::partition::colour::PALETTE` is merged: use that instead.
pub const PALETTE: [&str; 5] = ["#66c2a5", "#fc8d62", "#8da0cb", "#ffd92f", "#e78ac3"];

/// TEMPORARY FALLBACK, to be replaced by the grids' stored `color` once the engine writes it:
/// a colour index (into [`PALETTE`]) per node of `adjacency` (node → its neighbours), chosen
/// greedily in smallest-last order (a planar map needs at most six that way, almost always
/// five or fewer); where all five are taken by neighbours, the one least used among them.
///
/// ```
/// use wangge::print::colour_fallback;
/// // a wheel: a hub touching a ring of five
/// let adj = vec![vec![1, 2, 3, 4, 5], vec![0, 2, 5], vec![0, 1, 3], vec![0, 2, 4], vec![0, 3, 5], vec![0, 4, 1]];
/// let c = colour_fallback(&adj);
/// for (i, ns) in adj.iter().enumerate() {
///     for &j in ns {
///         assert_ne!(c[i], c[j]);
///     }
/// }
/// ```
pub fn colour_fallback(adjacency: &[Vec<usize>]) -> Vec<u8> {
    let n = adjacency.len();
    // smallest-last order: repeatedly remove a node of least remaining degree
    let mut degree: Vec<usize> = adjacency.iter().map(|a| a.len()).collect();
    let mut removed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        let Some(v) = (0..n)
            .filter(|&i| !removed[i])
            .min_by_key(|&i| (degree[i], i))
        else {
            break;
        };
        removed[v] = true;
        order.push(v);
        for &u in &adjacency[v] {
            if !removed[u] {
                degree[u] = degree[u].saturating_sub(1);
            }
        }
    }
    let mut colour: Vec<Option<u8>> = vec![None; n];
    for &v in order.iter().rev() {
        let mut used = [0usize; PALETTE.len()];
        for &u in &adjacency[v] {
            if let Some(c) = colour[u] {
                used[c as usize] += 1;
            }
        }
        let c = (0..PALETTE.len())
            .find(|&c| used[c] == 0)
            .unwrap_or_else(|| {
                (0..PALETTE.len())
                    .min_by_key(|&c| (used[c], c))
                    .unwrap_or(0)
            });
        colour[v] = Some(c as u8);
    }
    colour.into_iter().map(|c| c.unwrap_or(0)).collect()
}
