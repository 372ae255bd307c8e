//! Loosely written Chinese addresses (地址匹配): normalising them and matching them to buildings.
//!
//! People type an address as they say it: with or without the province, city, district and village
//! (上海市浦东新区…), with full-width digits (１２号), with 号楼/栋/幢/座/# for "building", with
//! Chinese numerals (十二号) and with spaces or punctuation. [`normalize`] brings every spelling to one
//! form (ASCII digits, `<n>栋` for a building, no spaces or punctuation); [`AddressIndex`] matches a
//! normalised query against the buildings' normalised addresses, first exactly on the address's
//! *core* (the address without its village's name, which must end the query), then loosely on the
//! house numbers and the road name before them, and says whether it is sure. The same rules run
//! over a store's indexed columns ([`key`] is what it keeps, [`lookup_with`] the lookup), so the
//! map service need not hold a million addresses in memory.

use std::collections::BTreeMap;

/// The unit characters a number may carry in an address.
const UNITS: &[char] = &[
    '号', '栋', '幢', '座', '楼', '单', '室', '层', '弄', '巷', '组',
];

/// Value of a Chinese numeral character, if it is one.
fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// Value of a run of Chinese numerals (十二 = 12, 一百零五 = 105, 二〇三 = 203), if it parses.
fn cn_number(s: &[char]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    if !s.iter().any(|&c| c == '十' || c == '百' || c == '千') {
        // digit by digit: 二〇三
        let mut v = 0u32;
        for &c in s {
            v = v.checked_mul(10)?.checked_add(cn_digit(c)?)?;
        }
        return Some(v);
    }
    let (mut total, mut cur) = (0u32, 0u32);
    for &c in s {
        match c {
            '十' | '百' | '千' => {
                let m = match c {
                    '十' => 10,
                    '百' => 100,
                    _ => 1000,
                };
                total += if cur == 0 { 1 } else { cur } * m;
                cur = 0;
            }
            _ => cur = cn_digit(c)?,
        }
    }
    Some(total + cur)
}

fn is_cn_numeral(c: char) -> bool {
    cn_digit(c).is_some() || matches!(c, '十' | '百' | '千')
}

/// Brings a loosely written address to one form.
///
/// Full-width characters become ASCII, Chinese numerals before a unit (号, 栋, 楼, …) become digits,
/// spaces and punctuation go, and every way of writing "building n" (`n号楼`, `n幢`, `n座`, `n#`,
/// `n#楼`, `n号栋`) becomes `n栋`. A number written `12-3` becomes `12号3栋`.
///
/// ```
/// use wangge::address::normalize;
/// assert_eq!(normalize("人民路１２号 3号楼"), "人民路12号3栋");
/// assert_eq!(normalize("人民路十二号三幢"), "人民路12号3栋");
/// assert_eq!(normalize("人民路12-3"), "人民路12号3栋");
/// assert_eq!(normalize("人民路12号3#楼"), "人民路12号3栋");
/// ```
pub fn normalize(s: &str) -> String {
    // 1. full-width → ASCII, drop spaces and punctuation (keep '#' and '-', which carry meaning)
    let mut chars: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        let c = match c {
            '－' | '—' | '–' | '‐' | '_' => '-',
            '＃' | '№' => '#',
            c => c.to_ascii_lowercase(),
        };
        if c.is_alphanumeric() || c == '#' || c == '-' {
            chars.push(c);
        }
    }
    // 2. Chinese numerals right before a unit → digits
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if is_cn_numeral(chars[i]) {
            let mut j = i;
            while j < chars.len() && is_cn_numeral(chars[j]) {
                j += 1;
            }
            let before_unit = chars
                .get(j)
                .is_some_and(|c| UNITS.contains(c) && *c != '组' && *c != '层');
            match cn_number(&chars[i..j]).filter(|_| before_unit) {
                Some(v) => out.extend(v.to_string().chars()),
                None => out.extend_from_slice(&chars[i..j]),
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    // 3. building spellings → `n栋`; `a-b` → `a号b栋`
    let s: String = out.into_iter().collect();
    let mut r = String::with_capacity(s.len());
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let after_digit = r.chars().last().is_some_and(|p| p.is_ascii_digit());
        let rest = |k: usize| cs.get(i + k).copied();
        if after_digit {
            // n号楼 / n号栋 / n号幢 / n号座 → n栋
            if c == '号' && matches!(rest(1), Some('楼' | '栋' | '幢' | '座')) {
                r.push('栋');
                i += 2;
                continue;
            }
            // n#楼 / n# → n栋 (n# alone is a building number in estates)
            if c == '#' {
                r.push('栋');
                i += if rest(1) == Some('楼') { 2 } else { 1 };
                continue;
            }
            if c == '幢' || c == '座' {
                r.push('栋');
                i += 1;
                continue;
            }
            if c == '-' && rest(1).is_some_and(|d| d.is_ascii_digit()) {
                // 12-3 → 12号3栋 (unless a unit follows the second number)
                let mut j = i + 1;
                while j < cs.len() && cs[j].is_ascii_digit() {
                    j += 1;
                }
                if cs.get(j).is_none_or(|u| !UNITS.contains(u)) {
                    r.push('号');
                    r.extend(&cs[i + 1..j]);
                    r.push('栋');
                    i = j;
                    continue;
                }
                r.push('号');
                i += 1;
                continue;
            }
        }
        if c != '#' && c != '-' {
            r.push(c);
        }
        i += 1;
    }
    r
}

/// The numbers of a normalised address with the unit after each (`12号3栋` → `[(12,'号'), (3,'栋')]`).
fn numbers(s: &str) -> Vec<(u64, char)> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i].is_ascii_digit() {
            let mut v: u64 = 0;
            while i < cs.len() && cs[i].is_ascii_digit() {
                v = v
                    .saturating_mul(10)
                    .saturating_add(cs[i].to_digit(10).unwrap_or(0) as u64);
                i += 1;
            }
            out.push((v, cs.get(i).copied().unwrap_or('号')));
        } else {
            i += 1;
        }
    }
    out
}

/// The text right before the first number (the road, for a street address).
fn text_before_number(s: &str) -> &str {
    match s.char_indices().find(|(_, c)| c.is_ascii_digit()) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Characters the two strings share at their ends.
fn common_suffix_chars(a: &str, b: &str) -> usize {
    a.chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// A building whose address may be the one asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The caller's index (or key) of the building.
    pub building: usize,
    /// How well it matches, 0..=1 (1: the whole address matches).
    pub score: f64,
}

/// What a lookup found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Match {
    /// The best candidates, best first (ties in building order).
    pub candidates: Vec<Candidate>,
    /// Whether the first candidate is surely the one: a full match that no other building shares.
    pub sure: bool,
}

/// What is kept of a building's address to find it again (a store indexes both fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressKey {
    /// The normalised address without its village's name in front: what an exact lookup
    /// matches (it must end the query).
    pub core: String,
    /// Its first house number: a loose lookup's candidates share the query's.
    pub number: Option<u64>,
}

/// The key of `address` of a building in village `village` (its name); `None` when nothing is
/// left of it.
///
/// ```
/// use wangge::address::key;
/// let k = key("东风村人民路１２号3号楼", "东风村").unwrap();
/// assert_eq!((k.core.as_str(), k.number), ("人民路12号3栋", Some(12)));
/// ```
pub fn key(address: &str, village: &str) -> Option<AddressKey> {
    let full = normalize(address);
    let village = normalize(village);
    let core = match full.strip_prefix(village.as_str()) {
        Some(c) if !village.is_empty() && !c.is_empty() => c.to_string(),
        _ => full,
    };
    if core.is_empty() {
        return None;
    }
    Some(AddressKey {
        number: numbers(&core).first().map(|n| n.0),
        core,
    })
}

/// An indexed address as a lookup scores it: the caller's key of the building, its address's
/// core ([`AddressKey::core`]) and its village's name, normalised.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The caller's key of the building.
    pub building: usize,
    /// [`AddressKey::core`].
    pub core: &'a str,
    /// The village's name, normalised.
    pub village: &'a str,
}

/// A query, normalised, with what it may match: the cores an exact match must have (every end of
/// the query holding a number), else the first house number (a loose match shares it), or for a
/// query without a number the road names it may start with.
#[derive(Clone, Debug)]
pub struct Query {
    q: String,
    nums: Vec<(u64, char)>,
}

impl Query {
    /// Normalises `query`.
    pub fn new(query: &str) -> Query {
        let q = normalize(query);
        Query {
            nums: numbers(&q),
            q,
        }
    }

    /// The normalised query.
    pub fn normalized(&self) -> &str {
        &self.q
    }

    /// Whether nothing is left of the query.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// The ends of the query that hold a number, longest first: an address whose core is one of
    /// them matches exactly.
    pub fn exact_cores(&self) -> Vec<&str> {
        self.q
            .char_indices()
            .map(|(i, _)| &self.q[i..])
            .filter(|s| s.chars().any(|c| c.is_ascii_digit()))
            .collect()
    }

    /// The first house number: loose candidates are the addresses whose first number it is.
    pub fn number(&self) -> Option<u64> {
        self.nums.first().map(|n| n.0)
    }

    /// For a query without a number: the ends of the query an address's core may start with
    /// (a road named at the end of the query), longest first.
    pub fn road_prefixes(&self) -> Vec<&str> {
        if self.number().is_some() {
            return Vec::new();
        }
        self.q.char_indices().map(|(i, _)| &self.q[i..]).collect()
    }

    /// Scores the entries whose core is one of [`exact_cores`](Query::exact_cores): 1 when the
    /// query names nothing before the core or names the entry's village, else 0.95.
    pub fn exact<'a>(&self, entries: impl IntoIterator<Item = Entry<'a>>) -> Vec<Candidate> {
        entries
            .into_iter()
            .filter_map(|e| {
                let prefix = self.q.strip_suffix(e.core)?;
                if !e.core.chars().any(|c| c.is_ascii_digit()) {
                    return None;
                }
                let named = !e.village.is_empty() && prefix.contains(e.village);
                Some(Candidate {
                    building: e.building,
                    score: if named || prefix.is_empty() {
                        1.0
                    } else {
                        0.95
                    },
                })
            })
            .collect()
    }

    /// Scores entries loosely, by house numbers and the road name before them (a typo in the
    /// road still finds it); those under 0.3 are left out. The entries should share the query's
    /// [`number`](Query::number), or for a query without one start with one of its
    /// [`road_prefixes`](Query::road_prefixes).
    pub fn loose<'a>(&self, entries: impl IntoIterator<Item = Entry<'a>>) -> Vec<Candidate> {
        let qroad = text_before_number(&self.q);
        entries
            .into_iter()
            .filter_map(|e| {
                let num = number_score(&self.nums, &numbers(e.core));
                let road = text_before_number(e.core);
                let road_len = road.chars().count().max(1);
                let road = (common_suffix_chars(qroad, road) as f64 / road_len as f64)
                    .max(dice(qroad, road));
                let score = 0.85 * (0.55 * num + 0.45 * road);
                (score >= 0.3).then_some(Candidate {
                    building: e.building,
                    score,
                })
            })
            .collect()
    }
}

/// Looks `query` up among entries fetched by `exact(cores)`, `by_number(n)` and
/// `by_prefix(prefixes)` (each returning the entries whose core is one of `cores`, whose first
/// number is `n`, or whose core starts with one of `prefixes`): exact matches when any, else the
/// loose ones. What [`AddressIndex::lookup`] and a store's lookup share.
pub fn lookup_with<'a, E, N, P>(query: &Query, exact: E, by_number: N, by_prefix: P) -> Match
where
    E: FnOnce(&[&str]) -> Vec<Entry<'a>>,
    N: FnOnce(u64) -> Vec<Entry<'a>>,
    P: FnOnce(&[&str]) -> Vec<Entry<'a>>,
{
    if query.is_empty() {
        return Match::default();
    }
    let cores = query.exact_cores();
    if !cores.is_empty() {
        let found = query.exact(exact(&cores));
        if !found.is_empty() {
            return finish(found);
        }
    }
    let pool = match query.number() {
        Some(n) => by_number(n),
        None => by_prefix(&query.road_prefixes()),
    };
    finish(query.loose(pool))
}

struct Indexed {
    building: usize,
    /// Normalised village name.
    village: String,
    core: String,
}

/// Buildings' addresses, normalised and indexed for lookup in memory.
pub struct AddressIndex {
    entries: Vec<Indexed>,
    /// Core → entries with that core.
    by_core: BTreeMap<String, Vec<usize>>,
    /// First house number → entries.
    by_number: BTreeMap<u64, Vec<usize>>,
}

/// How many candidates a lookup returns at most.
pub const MAX_CANDIDATES: usize = 5;

impl AddressIndex {
    /// Indexes `(building index, address, village name)` triples.
    pub fn new<'a>(addresses: impl IntoIterator<Item = (usize, &'a str, &'a str)>) -> AddressIndex {
        let mut idx = AddressIndex {
            entries: Vec::new(),
            by_core: BTreeMap::new(),
            by_number: BTreeMap::new(),
        };
        for (building, address, village) in addresses {
            let Some(k) = key(address, village) else {
                continue;
            };
            let e = idx.entries.len();
            if let Some(n) = k.number {
                idx.by_number.entry(n).or_default().push(e);
            }
            idx.by_core.entry(k.core.clone()).or_default().push(e);
            idx.entries.push(Indexed {
                building,
                village: normalize(village),
                core: k.core,
            });
        }
        idx
    }

    /// Number of indexed addresses.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, e: usize) -> Entry<'_> {
        let x = &self.entries[e];
        Entry {
            building: x.building,
            core: &x.core,
            village: &x.village,
        }
    }

    /// Looks `query` up: buildings whose whole core address ends the query first (those whose
    /// village the query names before the others), else the closest by house numbers and road.
    pub fn lookup(&self, query: &str) -> Match {
        lookup_with(
            &Query::new(query),
            |cores| {
                cores
                    .iter()
                    .filter_map(|c| self.by_core.get(*c))
                    .flatten()
                    .map(|&e| self.entry(e))
                    .collect()
            },
            |n| {
                self.by_number
                    .get(&n)
                    .into_iter()
                    .flatten()
                    .map(|&e| self.entry(e))
                    .collect()
            },
            |prefixes| {
                let mut es: Vec<usize> = prefixes
                    .iter()
                    .flat_map(|p| {
                        self.by_core
                            .range::<str, _>((
                                std::ops::Bound::Included(*p),
                                std::ops::Bound::Unbounded,
                            ))
                            .take_while(move |(c, _)| c.starts_with(*p))
                            .flat_map(|(_, es)| es.iter().copied())
                    })
                    .collect();
                es.sort_unstable();
                es.dedup();
                es.into_iter().map(|e| self.entry(e)).collect()
            },
        )
    }
}

/// Sorts best first, keeps [`MAX_CANDIDATES`], decides whether the first is sure.
pub fn finish(mut cs: Vec<Candidate>) -> Match {
    cs.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.building.cmp(&b.building))
    });
    cs.dedup_by_key(|c| c.building);
    let sure = match cs.as_slice() {
        [] => false,
        [one] => one.score >= 0.95,
        [a, b, ..] => a.score >= 0.95 && b.score < a.score - 0.02,
    };
    cs.truncate(MAX_CANDIDATES);
    for c in &mut cs {
        c.score = (c.score * 1000.0).round() / 1000.0;
    }
    Match {
        candidates: cs,
        sure,
    }
}

/// How well house numbers agree: all the same 1; the query names fewer (no building number) 0.7;
/// the first (house number) only 0.5.
fn number_score(q: &[(u64, char)], b: &[(u64, char)]) -> f64 {
    let qv: Vec<u64> = q.iter().map(|x| x.0).collect();
    let bv: Vec<u64> = b.iter().map(|x| x.0).collect();
    if qv.is_empty() || bv.is_empty() {
        return 0.0;
    }
    if qv == bv {
        1.0
    } else if bv.starts_with(&qv) || qv.starts_with(&bv) {
        0.7
    } else if qv[0] == bv[0] {
        0.5
    } else {
        0.0
    }
}

/// Dice coefficient of character bigrams (typos in a road name).
fn dice(a: &str, b: &str) -> f64 {
    let bi = |s: &str| -> Vec<(char, char)> {
        let cs: Vec<char> = s.chars().collect();
        let mut v: Vec<(char, char)> = cs.windows(2).map(|w| (w[0], w[1])).collect();
        v.sort_unstable();
        v
    };
    let (x, y) = (bi(a), bi(b));
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    2.0 * common as f64 / (x.len() + y.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_usual_variants() {
        for v in [
            "人民路12号3栋",
            "人民路12号3号楼",
            "人民路１２号３幢",
            "人民路 12 号 3 座",
            "人民路十二号三号楼",
            "人民路12号3#楼",
            "人民路12号3#",
            "人民路12-3",
            "人民路12号，3栋。",
        ] {
            assert_eq!(normalize(v), "人民路12号3栋", "{v}");
        }
        assert_eq!(normalize("世纪大道１００号"), "世纪大道100号");
        assert_eq!(normalize("一百零五号"), "105号");
        // numerals that are part of a name stay
        assert_eq!(normalize("三里屯路5号"), "三里屯路5号");
        assert_eq!(normalize("李家村一组12号"), "李家村一组12号");
    }

    fn index() -> AddressIndex {
        AddressIndex::new([
            (0, "东风村人民路12号3栋", "东风村"),
            (1, "东风村人民路12号4栋", "东风村"),
            (2, "红旗村人民路12号3栋", "红旗村"),
            (3, "东风村建设路7号", "东风村"),
            (4, "世纪大道100号", "陆家嘴社区"),
        ])
    }

    #[test]
    fn matches_with_or_without_prefixes() {
        let idx = index();
        let m = idx.lookup("上海市浦东新区东风村人民路１２号３号楼");
        assert!(m.sure, "{m:?}");
        assert_eq!(m.candidates[0].building, 0);
        let m = idx.lookup("东风村建设路七号");
        assert!(m.sure);
        assert_eq!(m.candidates[0].building, 3);
        let m = idx.lookup("上海市浦东新区世纪大道100号");
        assert!(m.sure);
        assert_eq!(m.candidates[0].building, 4);
    }

    #[test]
    fn same_address_in_two_villages_is_not_sure() {
        let m = index().lookup("人民路12号3幢");
        assert!(!m.sure, "{m:?}");
        let mut b: Vec<usize> = m.candidates.iter().map(|c| c.building).collect();
        b.sort_unstable();
        assert_eq!(b, vec![0, 2]);
    }

    #[test]
    fn missing_building_number_gives_ranked_candidates() {
        let m = index().lookup("东风村人民路12号");
        assert!(!m.sure);
        assert!(m.candidates.len() >= 2, "{m:?}");
        assert!(m.candidates[0].score < 0.95);
        assert!(m.candidates.iter().any(|c| c.building == 0));
        assert!(m
            .candidates
            .iter()
            .all(|c| c.building != 3 && c.building != 4));
    }

    #[test]
    fn a_typo_in_the_road_still_finds_it_but_not_surely() {
        let m = index().lookup("建没路7号");
        assert!(!m.sure);
        assert_eq!(m.candidates.first().map(|c| c.building), Some(3));
    }

    #[test]
    fn a_road_without_a_number_lists_the_buildings_on_it_not_surely() {
        let m = index().lookup("东风村人民路");
        assert!(!m.sure, "{m:?}");
        let mut b: Vec<usize> = m.candidates.iter().map(|c| c.building).collect();
        b.sort_unstable();
        assert_eq!(b, vec![0, 1, 2]);
    }

    #[test]
    fn keys_are_what_the_lookup_matches() {
        let k = key("东风村人民路十二号三幢", "东风村").unwrap();
        assert_eq!(k.core, "人民路12号3栋");
        assert_eq!(k.number, Some(12));
        let q = Query::new("浙江省东风村人民路12号3号楼");
        assert!(q.exact_cores().contains(&k.core.as_str()));
        assert_eq!(q.number(), Some(12));
        assert!(q.road_prefixes().is_empty());
        assert_eq!(
            key("东风村", "东风村").map(|k| k.core),
            Some("东风村".into())
        );
        assert_eq!(key(" ，", "东风村"), None);
    }

    #[test]
    fn nothing_like_it_finds_nothing() {
        assert!(index().lookup("火星大道999号").candidates.is_empty());
        assert!(index().lookup("，。 ").candidates.is_empty());
    }
}
