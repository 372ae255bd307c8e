//! Who patrols which grid (网格员名册): the grid workers registered for each grid, and how the worker
//! id a terminal sends is matched to one of them.
//!
//! The register is the people of each grid (`wangge people`: `grid_code,role,name,phone`), role
//! `grid_worker`. A registered worker is one person: the entries with the same phone number, or,
//! for entries without a phone, the same name; a person listed for several grids patrols all of
//! them.
//!
//! **Matching** a worker id `w` sent with patrol points (leading and trailing spaces ignored):
//! 1. `w` equals a registered worker's phone number → that worker;
//! 2. else `w` equals the name of exactly one registered worker → that worker;
//! 3. else `w` equals the name of several (namesakes with different phones) → *ambiguous*;
//! 4. else → *unregistered*.
//!
//! Terminals should send the phone number (unique); a name works while it is unique. Points of an
//! ambiguous or unregistered id still count for the grids they fall in; the id is listed in the
//! per-worker figures with its status and no grid, so the command room sees the terminals to fix.

use crate::snapshot::{Person, Role};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A registered grid worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterWorker {
    /// Name.
    pub name: String,
    /// Phone, if registered.
    pub phone: Option<String>,
    /// The grids (indexes, ascending) they are registered for.
    pub grids: Vec<usize>,
}

/// What a worker id matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// A registered worker (index in [`Roster::workers`]).
    Worker(usize),
    /// The name of several registered workers.
    Ambiguous,
    /// No registered worker.
    Unregistered,
}

/// How a worker in the per-worker figures was matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Registered for one or more grids.
    Registered,
    /// The id names several registered workers.
    Ambiguous,
    /// The id matches no registered worker.
    Unregistered,
}

/// The registered grid workers.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    workers: Vec<RosterWorker>,
    by_phone: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Roster {
    /// The register from `(grid index, person)` pairs; people other than grid workers are left
    /// out. Workers in order of (name, phone).
    pub fn new<'a>(people: impl IntoIterator<Item = (usize, &'a Person)>) -> Roster {
        let mut by_key: BTreeMap<(String, Option<String>), Vec<usize>> = BTreeMap::new();
        let mut key_of_phone: HashMap<String, (String, Option<String>)> = HashMap::new();
        for (g, p) in people {
            if p.role != Role::GridWorker {
                continue;
            }
            let name = p.name.trim().to_string();
            let phone = p
                .phone
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            // One person per phone: the first name seen for it.
            let key = match &phone {
                Some(ph) => key_of_phone
                    .entry(ph.clone())
                    .or_insert_with(|| (name.clone(), phone.clone()))
                    .clone(),
                None => (name, None),
            };
            by_key.entry(key).or_default().push(g);
        }
        let mut r = Roster::default();
        for ((name, phone), mut grids) in by_key {
            grids.sort_unstable();
            grids.dedup();
            let i = r.workers.len();
            if let Some(ph) = &phone {
                r.by_phone.insert(ph.clone(), i);
            }
            r.by_name.entry(name.clone()).or_default().push(i);
            r.workers.push(RosterWorker { name, phone, grids });
        }
        r
    }

    /// The register of a snapshot's grids (their people).
    pub fn from_snapshot(snap: &crate::snapshot::Snapshot) -> Roster {
        Roster::new(
            snap.grids
                .iter()
                .enumerate()
                .flat_map(|(g, v)| v.people.iter().map(move |p| (g, p))),
        )
    }

    /// The registered workers.
    pub fn workers(&self) -> &[RosterWorker] {
        &self.workers
    }

    /// Matches a worker id (see the [module docs](self)).
    pub fn resolve(&self, id: &str) -> Match {
        let id = id.trim();
        if let Some(&i) = self.by_phone.get(id) {
            return Match::Worker(i);
        }
        match self.by_name.get(id).map(Vec::as_slice) {
            Some([i]) => Match::Worker(*i),
            Some(_) => Match::Ambiguous,
            None => Match::Unregistered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str, phone: Option<&str>) -> Person {
        Person {
            role: Role::GridWorker,
            name: name.into(),
            phone: phone.map(Into::into),
        }
    }

    #[test]
    fn ids_match_by_phone_then_unique_name() {
        let leader = Person {
            role: Role::GridLeader,
            name: "李队".into(),
            phone: None,
        };
        let people = [
            (0, w("王伟", Some("13800000001"))),
            (1, w("王伟", Some("13800000002"))),
            (2, w("张敏", None)),
            (3, w("张敏", None)),
            (4, w("刘洋", Some("13800000003"))),
            (5, w("刘洋", Some(" 13800000003 "))),
            (6, leader),
        ];
        let r = Roster::new(people.iter().map(|(g, p)| (*g, p)));
        assert_eq!(r.workers().len(), 4, "{:?}", r.workers());
        let by = |id: &str| match r.resolve(id) {
            Match::Worker(i) => Some(r.workers()[i].grids.clone()),
            _ => None,
        };
        assert_eq!(by("13800000001"), Some(vec![0]));
        assert_eq!(by(" 13800000002"), Some(vec![1]));
        // The same name without phones is one person with two grids.
        assert_eq!(by("张敏"), Some(vec![2, 3]));
        // The same phone twice is one person.
        assert_eq!(by("刘洋"), Some(vec![4, 5]));
        assert_eq!(r.resolve("王伟"), Match::Ambiguous);
        assert_eq!(
            r.resolve("李队"),
            Match::Unregistered,
            "leaders do not patrol here"
        );
        assert_eq!(r.resolve("nobody"), Match::Unregistered);
    }
}
