//! Dissolving faces into groups by dropping the arcs inside each group.

use super::{ring_area2, ring_contains, DirArc, FaceId, Pt, Topology};

/// Polygons of one group: each polygon is a list of closed rings, the outer ring first
/// (counter-clockwise), then its holes (clockwise).
pub type RingSet = Vec<Vec<Vec<Pt>>>;

impl Topology {
    /// Traces the outline of every group of faces. `group[f]` is the group of face `f`
    /// (`None` leaves the face out); groups are numbered `0..n_groups`.
    ///
    /// The result is built from the shared arcs themselves, so two groups that touch share the
    /// very same points along their border: no gap, no overlap, no sliver.
    pub fn dissolve(&self, group: &[Option<u32>], n_groups: usize) -> Vec<RingSet> {
        let g_of = |f: Option<FaceId>| f.and_then(|f| group[f as usize]);
        let mut out: Vec<RingSet> = vec![Vec::new(); n_groups];
        // Directed arcs on a group's border, with the group on their left.
        let mut start: Vec<DirArc> = Vec::new();
        for (i, a) in self.arcs.iter().enumerate() {
            let (gl, gr) = (g_of(a.left), g_of(a.right));
            if gl == gr {
                continue;
            }
            if gl.is_some() {
                start.push(DirArc {
                    arc: i as u32,
                    forward: true,
                });
            }
            if gr.is_some() {
                start.push(DirArc {
                    arc: i as u32,
                    forward: false,
                });
            }
        }
        let slot = |d: DirArc| 2 * d.arc as usize + usize::from(!d.forward);
        let mut seen = vec![false; self.arcs.len() * 2];
        let mut rings: Vec<Vec<(i128, Vec<Pt>)>> = vec![Vec::new(); n_groups];
        for &d0 in &start {
            if seen[slot(d0)] {
                continue;
            }
            let g = g_of(self.left_of(d0)).expect("border arc has its group on the left");
            let mut ring: Vec<DirArc> = Vec::new();
            let mut d = d0;
            loop {
                seen[slot(d)] = true;
                ring.push(d);
                d = self.next_on_border(d, g, &g_of);
                if d == d0 {
                    break;
                }
            }
            let pts = self.ring_points(&ring);
            rings[g as usize].push((ring_area2(&pts), pts));
        }
        for (g, rs) in rings.into_iter().enumerate() {
            let (mut outers, holes): (Vec<_>, Vec<_>) = rs.into_iter().partition(|(a, _)| *a > 0);
            // Deterministic order: largest outer ring first.
            outers.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let mut polys: Vec<Vec<Vec<Pt>>> =
                outers.iter().map(|(_, r)| vec![r.clone()]).collect();
            let mut holes = holes;
            holes.sort_by(|a, b| a.1.cmp(&b.1));
            for (_, h) in holes {
                // the smallest outer ring around the hole (holes touch their outer ring at most at a point)
                let probe = h
                    .iter()
                    .copied()
                    .find(|p| outers.iter().all(|(_, o)| !o.contains(p)))
                    .unwrap_or(h[0]);
                let best = outers
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, o))| ring_contains(o, probe))
                    .min_by_key(|(_, (a, _))| *a)
                    .map(|(i, _)| i);
                match best {
                    Some(i) => polys[i].push(h),
                    None => {
                        if let Some(p) = polys.first_mut() {
                            p.push(h)
                        }
                    }
                }
            }
            out[g] = polys;
        }
        out
    }

    /// The next directed arc along the border of group `g`, after `d`.
    fn next_on_border(
        &self,
        d: DirArc,
        g: u32,
        g_of: &impl Fn(Option<FaceId>) -> Option<u32>,
    ) -> DirArc {
        let end = self.dir_points(d).next_back().expect("arc has points");
        let around = &self.junctions[&end];
        let back = DirArc {
            arc: d.arc,
            forward: !d.forward,
        };
        let i = around
            .iter()
            .position(|&x| x == back)
            .expect("arc at its junction");
        let n = around.len();
        for k in 1..=n {
            let c = around[(i + n - k) % n];
            if g_of(self.left_of(c)) == Some(g) && g_of(self.right_of(c)) != Some(g) {
                return c;
            }
        }
        unreachable!("a group border always continues")
    }
}
