//! Plan versions (方案版本): which codes a new plan's grids carry, and what changed between two plans.
//!
//! Codes are how people, wall maps and events refer to a grid, so they outlive plan versions:
//!
//! - a grid of the new plan that holds the majority of an old grid's buildings, and whose own
//!   majority came from it, is the *same grid* and keeps its code (and with it its people);
//! - any other new grid keeps the code the partitioner proposed (numbered west→east,
//!   north→south) if that code was never issued, or else gets the next never-issued sequence number;
//! - an old code no grid keeps is retired, and a retired code is never handed out again.
//!
//! The same rule numbers the micro-grids inside each grid.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One grid (or micro-grid) as the rule sees it: its code and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its code.
    pub code: String,
    /// What it holds: building/unit ids (or, for an empty grid, a key of its geometry), sorted.
    pub items: Vec<String>,
}

/// Sequence numbers ran out: a village (or grid) has used all 999 codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no code left under {prefix}: all 999 sequence numbers have been issued")]
pub struct CodesExhausted {
    /// The village or grid code.
    pub prefix: String,
}

/// The codes for `new` (in order), given the previous active plan's members `old` and every code
/// ever issued under `prefix` (`issued`, 3-digit sequences after the prefix).
///
/// ```
/// use wangge::store::versioning::{recode, Member};
/// use std::collections::BTreeSet;
/// let m = |c: &str, items: &[&str]| Member { code: c.into(), items: items.iter().map(|s| s.to_string()).collect() };
/// let old = [m("P001", &["a", "b", "c"]), m("P002", &["d", "e"])];
/// // The partitioner proposes new codes from 001 again; the grid holding a, b keeps P001,
/// // the grid holding d, e, f keeps P002, and a brand-new grid gets P003, never issued before.
/// let new = [m("P001", &["d", "e", "f"]), m("P002", &["a", "b"]), m("P003", &["c", "x"])];
/// let issued: BTreeSet<String> = ["P001", "P002"].iter().map(|s| s.to_string()).collect();
/// assert_eq!(recode("P", &new, &old, &issued).unwrap(), ["P002", "P001", "P003"]);
/// ```
pub fn recode(
    prefix: &str,
    new: &[Member],
    old: &[Member],
    issued: &BTreeSet<String>,
) -> Result<Vec<String>, CodesExhausted> {
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (j, o) in old.iter().enumerate() {
        for it in &o.items {
            owner.insert(it, j);
        }
    }
    // Shared items per (new, old) pair, in a sorted map so ties break the same way every run.
    let mut shared: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (i, n) in new.iter().enumerate() {
        for it in &n.items {
            if let Some(&j) = owner.get(it.as_str()) {
                *shared.entry((i, j)).or_default() += 1;
            }
        }
    }
    let mut pairs: Vec<((usize, usize), usize)> = shared.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut code: Vec<Option<String>> = vec![None; new.len()];
    let mut old_taken = vec![false; old.len()];
    for ((i, j), s) in pairs {
        if code[i].is_some() || old_taken[j] {
            continue;
        }
        if 2 * s > new[i].items.len().max(old[j].items.len()) {
            code[i] = Some(old[j].code.clone());
            old_taken[j] = true;
        }
    }
    let mut used: BTreeSet<String> = code.iter().flatten().cloned().collect();
    let mut next = issued
        .iter()
        .chain(used.iter())
        .filter_map(|c| c.strip_prefix(prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    for (i, n) in new.iter().enumerate() {
        if code[i].is_some() {
            continue;
        }
        let c = if !issued.contains(&n.code) && !used.contains(&n.code) {
            n.code.clone()
        } else {
            loop {
                next += 1;
                if next > 999 {
                    return Err(CodesExhausted {
                        prefix: prefix.to_string(),
                    });
                }
                let c = format!("{prefix}{next:03}");
                if !issued.contains(&c) && !used.contains(&c) {
                    break c;
                }
            }
        };
        used.insert(c.clone());
        code[i] = Some(c);
    }
    Ok(code
        .into_iter()
        .map(|c| c.expect("every grid coded"))
        .collect())
}

/// How the grid codes of a plan being saved were chosen, which decides how [`save`] keeps them.
///
/// [`save`]: crate::store::Store::save_plans
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CodeRule {
    /// Proposed by the partitioner, which numbers from 001 every run: a grid is recognised by what
    /// it holds ([`recode`]).
    #[default]
    Matched,
    /// Written by a planner (an edited assignment): they are the planner's word ([`recode_named`]).
    Named,
}

/// The codes for `new` (in order) when a planner wrote them: a code in `reusable` (the previous
/// active plan's, or one this village reserved for a version never activated) or one never issued
/// stays as written; any other code issued before (retired) is never handed out again, so that grid
/// gets the next never-issued number.
///
/// ```
/// use wangge::store::versioning::{recode_named, Member};
/// use std::collections::BTreeSet;
/// let m = |c: &str, items: &[&str]| Member { code: c.into(), items: items.iter().map(|s| s.to_string()).collect() };
/// let set = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
/// // P001 is split: the planner keeps P001 for one half (a minority of it) and names P900 for
/// // the other; P002 was retired long ago and is not given out again.
/// let new = [m("P001", &["a"]), m("P900", &["b", "c"]), m("P002", &["d"])];
/// let issued = set(&["P001", "P002", "P003"]);
/// let reusable = set(&["P001", "P003"]);
/// assert_eq!(recode_named("P", &new, &reusable, &issued).unwrap(), ["P001", "P900", "P901"]);
/// ```
pub fn recode_named(
    prefix: &str,
    new: &[Member],
    reusable: &BTreeSet<String>,
    issued: &BTreeSet<String>,
) -> Result<Vec<String>, CodesExhausted> {
    let keep = |c: &String| reusable.contains(c) || !issued.contains(c);
    let mut used: BTreeSet<String> = new
        .iter()
        .map(|n| &n.code)
        .filter(|c| keep(c))
        .cloned()
        .collect();
    let mut next = issued
        .iter()
        .chain(used.iter())
        .filter_map(|c| c.strip_prefix(prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let mut out = Vec::with_capacity(new.len());
    for n in new {
        if keep(&n.code) {
            out.push(n.code.clone());
            continue;
        }
        let c = loop {
            next += 1;
            if next > 999 {
                return Err(CodesExhausted {
                    prefix: prefix.to_string(),
                });
            }
            let c = format!("{prefix}{next:03}");
            if !issued.contains(&c) && !used.contains(&c) {
                break c;
            }
        };
        used.insert(c.clone());
        out.push(c);
    }
    Ok(out)
}

/// A building or unit that is in another grid in the second plan.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    /// `building` or `unit`.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Grid in the first plan.
    pub from: Option<String>,
    /// Grid in the second plan.
    pub to: Option<String>,
}

/// What changed from one plan version to another.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct PlanDiff {
    /// Village code.
    pub village: String,
    /// The first version.
    pub from: i64,
    /// The second version.
    pub to: i64,
    /// Grid codes only in the second plan.
    pub added: Vec<String>,
    /// Grid codes only in the first plan.
    pub removed: Vec<String>,
    /// Grid codes in both whose outline or members differ.
    pub changed: Vec<String>,
    /// Grid codes in both, identical.
    pub unchanged: Vec<String>,
    /// Buildings and units whose grid differs.
    pub moved: Vec<Moved>,
}

/// A plan as the diff sees it: per grid code, its geometry key and members; per item, its grid.
#[derive(Clone, Debug, Default)]
pub struct PlanShape {
    /// Grid code → (geometry bytes, sorted members).
    pub grids: BTreeMap<String, (Vec<u8>, Vec<String>)>,
    /// (kind, id) → grid code.
    pub items: BTreeMap<(String, String), Option<String>>,
}

/// Compares two plans of one village.
pub fn diff(village: &str, from: i64, a: &PlanShape, to: i64, b: &PlanShape) -> PlanDiff {
    let mut d = PlanDiff {
        village: village.to_string(),
        from,
        to,
        ..PlanDiff::default()
    };
    for (code, ga) in &a.grids {
        match b.grids.get(code) {
            None => d.removed.push(code.clone()),
            Some(gb) if gb != ga => d.changed.push(code.clone()),
            Some(_) => d.unchanged.push(code.clone()),
        }
    }
    d.added = b
        .grids
        .keys()
        .filter(|c| !a.grids.contains_key(*c))
        .cloned()
        .collect();
    let keys: BTreeSet<&(String, String)> = a.items.keys().chain(b.items.keys()).collect();
    for k in keys {
        let ga = a.items.get(k).cloned().flatten();
        let gb = b.items.get(k).cloned().flatten();
        if ga != gb {
            d.moved.push(Moved {
                kind: k.0.clone(),
                id: k.1.clone(),
                from: ga,
                to: gb,
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: &str, items: &[&str]) -> Member {
        Member {
            code: c.into(),
            items: items.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_retired_code_is_never_reissued() {
        // P001 and P002 were issued; P002 was retired by an earlier plan (not in `old`).
        let issued: BTreeSet<String> = ["P001", "P002"].iter().map(|s| s.to_string()).collect();
        let old = [m("P001", &["a", "b"])];
        let new = [m("P001", &["a", "b"]), m("P002", &["z"])];
        assert_eq!(recode("P", &new, &old, &issued).unwrap(), ["P001", "P003"]);
    }

    #[test]
    fn a_minority_overlap_is_a_new_grid() {
        let issued: BTreeSet<String> = ["P001"].iter().map(|s| s.to_string()).collect();
        let old = [m("P001", &["a", "b", "c", "d"])];
        // Holds only 1 of the old grid's 4 buildings: not the same grid.
        let new = [m("P001", &["a", "x", "y"]), m("P002", &["b", "c", "d"])];
        assert_eq!(recode("P", &new, &old, &issued).unwrap(), ["P002", "P001"]);
    }

    #[test]
    fn codes_run_out_at_999() {
        let issued: BTreeSet<String> = (1..=999).map(|i| format!("P{i:03}")).collect();
        let err = recode("P", &[m("P001", &["q"])], &[], &issued).unwrap_err();
        assert_eq!(err.prefix, "P");
    }

    #[test]
    fn diff_names_added_removed_changed_and_moved() {
        let shape = |grids: &[(&str, &[u8], &[&str])]| {
            let mut s = PlanShape::default();
            for (c, g, items) in grids {
                s.grids.insert(
                    c.to_string(),
                    (g.to_vec(), items.iter().map(|s| s.to_string()).collect()),
                );
                for it in *items {
                    s.items
                        .insert(("building".into(), it.to_string()), Some(c.to_string()));
                }
            }
            s
        };
        let a = shape(&[
            ("G1", b"x", &["a", "b"]),
            ("G2", b"y", &["c"]),
            ("G3", b"z", &["d"]),
        ]);
        let b = shape(&[
            ("G1", b"x", &["a", "b"]),
            ("G2", b"y2", &["c", "d"]),
            ("G4", b"w", &[]),
        ]);
        let d = diff("V", 1, &a, 2, &b);
        assert_eq!(d.added, ["G4"]);
        assert_eq!(d.removed, ["G3"]);
        assert_eq!(d.changed, ["G2"]);
        assert_eq!(d.unchanged, ["G1"]);
        assert_eq!(d.moved.len(), 1);
        assert_eq!(d.moved[0].id, "d");
        assert_eq!(d.moved[0].from.as_deref(), Some("G3"));
        assert_eq!(d.moved[0].to.as_deref(), Some("G2"));
    }
}
