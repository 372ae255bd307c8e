//! Atoms: faces that must move together (one unit, one villager group), as a [`Graph`].

use super::cells::Cells;
use super::regions::{Band, Graph, Link};
use crate::topology::EdgeClass;
use std::collections::BTreeMap;

/// How much more a border costs where it parts one villager group or unit (a group too heavy to
/// keep whole, or released to reach the band) than the same border elsewhere: such a group is cut
/// along as few lines as the band needs.
const INSIDE_GROUP_COST: f64 = 3.0;

/// A graph of atoms over a subset of faces.
pub struct Atoms {
    /// The atoms' figures and links.
    pub graph: Graph,
    /// Faces of each atom.
    pub faces: Vec<Vec<u32>>,
    /// Per link: the part of its border that is a hard barrier (river, rail, expressway), metres.
    pub hard: Vec<Vec<f64>>,
}

/// Arcs of each face.
pub fn face_arcs(cells: &Cells) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); cells.topo.faces.len()];
    for (i, a) in cells.topo.arcs.iter().enumerate() {
        for f in [a.left, a.right].into_iter().flatten() {
            out[f as usize].push(i as u32);
        }
    }
    for v in &mut out {
        v.dedup();
    }
    out
}

/// Groups `faces` into atoms: faces sharing a key (and a border) form one atom, unless their
/// weight together exceeds `split_over`; other faces are atoms of their own.
pub fn build(
    cells: &Cells,
    arcs_of: &[Vec<u32>],
    faces: &[u32],
    weight: &[f64],
    split_over: f64,
) -> Atoms {
    let nf = cells.topo.faces.len();
    let mut member = vec![false; nf];
    for &f in faces {
        member[f as usize] = true;
    }
    let other = |arc: u32, f: u32| -> Option<u32> {
        let a = &cells.topo.arcs[arc as usize];
        let o = if a.left == Some(f) { a.right } else { a.left };
        o.filter(|&o| member[o as usize])
    };
    // Components of same-key faces.
    let mut atom_of = vec![u32::MAX; nf];
    let mut atom_faces: Vec<Vec<u32>> = Vec::new();
    for &f in faces {
        if atom_of[f as usize] != u32::MAX {
            continue;
        }
        let id = atom_faces.len() as u32;
        let mut comp = vec![f];
        atom_of[f as usize] = id;
        if let Some(k) = cells.key[f as usize] {
            let mut i = 0;
            while i < comp.len() {
                let g = comp[i];
                i += 1;
                for &arc in &arcs_of[g as usize] {
                    if let Some(h) = other(arc, g) {
                        if atom_of[h as usize] == u32::MAX && cells.key[h as usize] == Some(k) {
                            atom_of[h as usize] = id;
                            comp.push(h);
                        }
                    }
                }
            }
            let w: f64 = comp.iter().map(|&g| weight[g as usize]).sum();
            if w > split_over && comp.len() > 1 {
                // too heavy to keep whole: its faces go one by one
                for &g in &comp[1..] {
                    atom_of[g as usize] = u32::MAX;
                }
                comp.truncate(1);
                atom_faces.push(comp);
                continue;
            }
        }
        atom_faces.push(comp);
    }
    // Faces that were released from a heavy group get atoms of their own.
    for &f in faces {
        if atom_of[f as usize] == u32::MAX {
            atom_of[f as usize] = atom_faces.len() as u32;
            atom_faces.push(vec![f]);
        }
    }
    let n = atom_faces.len();
    let mut g = Graph {
        w: vec![0.0; n],
        res: vec![0.0; n],
        area: vec![0.0; n],
        xy: vec![[0.0; 2]; n],
        adj: vec![Vec::new(); n],
        outer: vec![(0.0, 0.0); n],
    };
    let mut links: Vec<BTreeMap<u32, (f64, f64, f64)>> = vec![BTreeMap::new(); n];
    for (a, fs) in atom_faces.iter().enumerate() {
        let (mut sx, mut sy) = (0.0, 0.0);
        for &f in fs {
            let f = f as usize;
            g.w[a] += weight[f];
            g.res[a] += cells.residents[f];
            g.area[a] += cells.area[f];
            sx += cells.xy[f][0] * cells.area[f].max(1e-9);
            sy += cells.xy[f][1] * cells.area[f].max(1e-9);
        }
        let tot: f64 = fs.iter().map(|&f| cells.area[f as usize].max(1e-9)).sum();
        g.xy[a] = [sx / tot, sy / tot];
        for &f in fs {
            let key = cells.key[f as usize];
            for &arc in &arcs_of[f as usize] {
                let ar = &cells.topo.arcs[arc as usize];
                let len = cells.arc_len[arc as usize];
                let cost = len * ar.class.border_cost();
                match other(arc, f) {
                    Some(h) if atom_of[h as usize] as usize != a => {
                        let e = links[a].entry(atom_of[h as usize]).or_default();
                        e.0 += len;
                        e.1 += if key.is_some() && cells.key[h as usize] == key {
                            cost * INSIDE_GROUP_COST
                        } else {
                            cost
                        };
                        if ar.class.intersects(EdgeClass::HARD) {
                            e.2 += len;
                        }
                    }
                    Some(_) => {}
                    None => {
                        // an arc with this face on both sides never occurs; outside or not in the subset
                        g.outer[a].0 += len;
                        g.outer[a].1 += len;
                    }
                }
            }
        }
    }
    let mut hard = vec![Vec::new(); n];
    for (a, ls) in links.into_iter().enumerate() {
        for (b, (len, cost, h)) in ls {
            g.adj[a].push(Link { to: b, len, cost });
            hard[a].push(h);
        }
    }
    Atoms {
        graph: g,
        faces: atom_faces,
        hard,
    }
}

/// Connected components of the atoms of `subset`, following only links `keep` accepts.
pub fn components(g: &Graph, subset: &[u32], keep: impl Fn(u32, usize) -> bool) -> Vec<Vec<u32>> {
    let mut in_set = vec![false; g.len()];
    for &a in subset {
        in_set[a as usize] = true;
    }
    let mut seen = vec![false; g.len()];
    let mut out = Vec::new();
    for &s in subset {
        if seen[s as usize] {
            continue;
        }
        seen[s as usize] = true;
        let mut comp = vec![s];
        let mut i = 0;
        while i < comp.len() {
            let a = comp[i];
            i += 1;
            for (li, l) in g.adj[a as usize].iter().enumerate() {
                if in_set[l.to as usize] && !seen[l.to as usize] && keep(a, li) {
                    seen[l.to as usize] = true;
                    comp.push(l.to);
                }
            }
        }
        comp.sort_unstable();
        out.push(comp);
    }
    out
}

/// Moves each small piece of a parted villager group whole into a neighbouring region that holds
/// another piece of the same group, where both regions stay as near the band as they were and
/// the one it leaves stays in one piece; smallest pieces first, until no move is left.
/// `labels` is each face's region (grid or micro-grid); an atom's faces share a key, so a piece
/// moves with its atoms whole.
pub fn gather_groups(
    cells: &Cells,
    arcs_of: &[Vec<u32>],
    mw: &[f64],
    band: Band,
    labels: &mut [(u32, u32)],
) {
    use std::collections::{BTreeMap, HashMap};
    let mut part_of: HashMap<u32, u32> = labels.iter().copied().collect();
    let neighbours = |f: u32| {
        arcs_of[f as usize].iter().filter_map(move |&arc| {
            let a = &cells.topo.arcs[arc as usize];
            if a.left == Some(f) {
                a.right
            } else {
                a.left
            }
        })
    };
    let mut held: BTreeMap<u32, f64> = BTreeMap::new();
    for &(f, p) in labels.iter() {
        *held.entry(p).or_default() += mw[f as usize];
    }
    loop {
        // pieces: (group, micro-grid) → faces
        let mut pieces: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
        for &(f, p) in labels.iter() {
            if let Some(k) = cells.key[f as usize] {
                pieces.entry((k, p)).or_default().push(f);
            }
        }
        let mut order: Vec<(f64, (u32, u32))> = pieces
            .iter()
            .map(|(&kp, fs)| (fs.iter().map(|&f| mw[f as usize]).sum(), kp))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let moved = order.iter().find_map(|&(w, (k, p))| {
            let fs = &pieces[&(k, p)];
            let to = fs
                .iter()
                .flat_map(|&f| neighbours(f))
                .filter_map(|h| part_of.get(&h).copied())
                .filter(|&q| q != p && pieces.contains_key(&(k, q)))
                .find(|&q| {
                    let (hp, hq) = (held[&p], held[&q]);
                    band.violation(hp - w) + band.violation(hq + w)
                        <= band.violation(hp) + band.violation(hq) + 1e-9
                        && hp - w > 0.0
                })?;
            let rest: Vec<u32> = labels
                .iter()
                .filter(|&&(f, q)| q == p && cells.key[f as usize] != Some(k))
                .map(|&(f, _)| f)
                .collect();
            let joined: Vec<u32> = labels
                .iter()
                .filter(|&&(f, q)| q == to || (q == p && cells.key[f as usize] == Some(k)))
                .map(|&(f, _)| f)
                .collect();
            (connected(&rest, neighbours) && connected(&joined, neighbours))
                .then_some((k, p, to, w))
        });
        let Some((k, p, to, w)) = moved else { break };
        for l in labels.iter_mut() {
            if l.1 == p && cells.key[l.0 as usize] == Some(k) {
                l.1 = to;
                part_of.insert(l.0, to);
            }
        }
        *held.get_mut(&p).expect("held") -= w;
        *held.get_mut(&to).expect("held") += w;
    }
}

/// Whether `faces` form one piece through the links `neighbours` gives.
fn connected<I: Iterator<Item = u32>>(faces: &[u32], neighbours: impl Fn(u32) -> I) -> bool {
    let Some(&first) = faces.first() else {
        return true;
    };
    let set: std::collections::HashSet<u32> = faces.iter().copied().collect();
    let mut seen = std::collections::HashSet::from([first]);
    let mut stack = vec![first];
    while let Some(f) = stack.pop() {
        for h in neighbours(f) {
            if set.contains(&h) && seen.insert(h) {
                stack.push(h);
            }
        }
    }
    seen.len() == set.len()
}

/// The atoms `subset` of `g` as a graph of their own in which each set of `whole` (disjoint sets
/// of atoms of `subset`) is one atom, so that a division keeps it in one region. Links to atoms
/// outside `subset` become outer border. Returns the graph and the atoms of `g` each of its atoms
/// holds: the sets of `whole` first, in order, then the other atoms of `subset` in order.
pub fn contract(g: &Graph, subset: &[u32], whole: &[&[u32]]) -> (Graph, Vec<Vec<u32>>) {
    let mut node_of: std::collections::HashMap<u32, u32> = Default::default();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for set in whole {
        for &a in *set {
            node_of.insert(a, members.len() as u32);
        }
        members.push(set.to_vec());
    }
    for &a in subset {
        if let std::collections::hash_map::Entry::Vacant(e) = node_of.entry(a) {
            e.insert(members.len() as u32);
            members.push(vec![a]);
        }
    }
    let n = members.len();
    let mut out = Graph {
        w: vec![0.0; n],
        res: vec![0.0; n],
        area: vec![0.0; n],
        xy: vec![[0.0; 2]; n],
        adj: vec![Vec::new(); n],
        outer: vec![(0.0, 0.0); n],
    };
    for (node, ms) in members.iter().enumerate() {
        let mut links: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
        let (mut sx, mut sy, mut sa) = (0.0, 0.0, 0.0);
        for &a in ms {
            let a = a as usize;
            out.w[node] += g.w[a];
            out.res[node] += g.res[a];
            out.area[node] += g.area[a];
            let wa = g.area[a].max(1e-9);
            (sx, sy, sa) = (sx + g.xy[a][0] * wa, sy + g.xy[a][1] * wa, sa + wa);
            out.outer[node].0 += g.outer[a].0;
            out.outer[node].1 += g.outer[a].1;
            for l in &g.adj[a] {
                match node_of.get(&l.to) {
                    Some(&m) if m as usize == node => {}
                    Some(&m) => {
                        let e = links.entry(m).or_default();
                        (e.0, e.1) = (e.0 + l.len, e.1 + l.cost);
                    }
                    None => {
                        out.outer[node].0 += l.len;
                        out.outer[node].1 += l.cost;
                    }
                }
            }
        }
        out.xy[node] = [sx / sa, sy / sa];
        out.adj[node] = links
            .into_iter()
            .map(|(to, (len, cost))| Link { to, len, cost })
            .collect();
    }
    (out, members)
}
