//! Who may call what (权限): one rule per HTTP route and method, and the finer rules a route
//! applies to what it reads or writes.
//!
//! | rule | who |
//! |---|---|
//! | [`Access::Asset`] | anyone, always (pages, styles, fonts, logging in) |
//! | [`Access::Public`] | anyone, unless the server is private (`wangge serve --private`) |
//! | [`Access::Roles`] | a caller of one of the roles (401 without credentials, 403 with another role) |
//!
//! Anonymous callers get the map, tiles, locate and each grid's leader name and phone (what a
//! notice board, 公示牌, shows), never workers' tracks or figures or the people of a grid.
//!
//! ```
//! use wangge::accounts::policy::{rule, Access};
//! use wangge::accounts::Role;
//! assert_eq!(rule("GET", "/api/locate"), Some(Access::Public));
//! assert!(matches!(rule("POST", "/api/patrol/points"), Some(Access::Roles(r)) if r.contains(&Role::Worker)));
//! assert_eq!(rule("PUT", "/api/locate"), None);
//! ```

use super::{Caller, Role, Scope};
use crate::events::{flow, Action, Event};
use crate::patrol::coverage::{Coverage, GridCoverage, WorkerCoverage};

/// The rule of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, even on a private server: page assets and logging in.
    Asset,
    /// Anyone unless the server is private.
    Public,
    /// Callers of these roles.
    Roles(&'static [Role]),
}

use Role::{Admin, Leader, Planner, Screen, Worker};

const EVERYONE: &[Role] = &[Admin, Planner, Leader, Worker, Screen];
const READERS: &[Role] = &[Admin, Planner, Leader];
const PLANNERS: &[Role] = &[Admin, Planner];
const PATROLLERS: &[Role] = &[Admin, Worker];
const TRACKS: &[Role] = &[Admin, Planner, Leader, Worker];
const ADMINS: &[Role] = &[Admin];
// -- events (issue 15) --
/// Who reports events and acts on them (workers and leaders within their rights, see
/// [`may_act_on_event`]).
const EVENT_ACTORS: &[Role] = &[Admin, Leader, Worker];
/// Who reads events (a worker only their own, a leader their area, see [`event_view`]).
const EVENT_READERS: &[Role] = &[Admin, Planner, Leader, Worker];
// -- end events --
/// The big screen's figures: wall screens, and the admins and leaders who watch them.
const SCREENS: &[Role] = &[Admin, Leader, Screen];
// -- field (issue 18)
const VISITORS: &[Role] = &[Admin, Leader, Worker];
const VISIT_FIGURES: &[Role] = &[Admin, Planner, Leader, Screen];
const TAGGERS: &[Role] = &[Admin, Leader];
// -- end field

/// Every route (method, path as the router writes it) and its rule.
pub const RULES: &[(&str, &str, Access)] = &[
    ("GET", "/", Access::Asset),
    ("GET", "/planner", Access::Asset),
    ("GET", "/tiles/style.json", Access::Asset),
    ("GET", "/tiles/fonts/{fontstack}/{range}.pbf", Access::Asset),
    ("GET", "/api/openapi.json", Access::Asset),
    ("GET", "/api/session", Access::Asset),
    ("POST", "/api/session", Access::Asset),
    ("DELETE", "/api/session", Access::Asset),
    // ops (issue 20): loopback, or the config file's metrics token (checked by the route)
    ("GET", "/metrics", Access::Asset),
    // a phone installs the intranet CA before it can log in over HTTPS
    ("GET", "/ca.pem", Access::Asset),
    ("GET", "/api/health", Access::Public),
    ("GET", "/api/towns", Access::Public),
    ("GET", "/api/villages", Access::Public),
    ("GET", "/api/grids", Access::Public),
    ("GET", "/api/grids/{code}", Access::Public),
    ("GET", "/api/micro_grids", Access::Public),
    ("GET", "/api/micro_grids/{code}", Access::Public),
    ("GET", "/api/buildings", Access::Public),
    ("GET", "/api/locate", Access::Public),
    ("GET", "/tiles/{layer}.json", Access::Public),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt", Access::Public),
    ("GET", "/api/patrol/points", Access::Roles(TRACKS)),
    ("POST", "/api/patrol/points", Access::Roles(PATROLLERS)),
    ("GET", "/api/patrol/coverage", Access::Roles(EVERYONE)),
    ("GET", "/api/patrol/report", Access::Roles(EVERYONE)),
    ("GET", "/api/heat", Access::Roles(EVERYONE)),
    // A printed map or notice board lists grid workers and their phones.
    ("GET", "/api/print", Access::Roles(EVERYONE)),
    ("GET", "/tiles/heat.json", Access::Roles(EVERYONE)),
    (
        "GET",
        "/tiles/heat/{z}/{x}/{y}.mvt",
        Access::Roles(EVERYONE),
    ),
    ("GET", "/api/planner/villages", Access::Roles(READERS)),
    ("POST", "/api/planner/layers", Access::Roles(PLANNERS)),
    ("POST", "/api/planner/geopackage", Access::Roles(PLANNERS)),
    ("GET", "/api/villages/{code}/edit", Access::Roles(READERS)),
    ("GET", "/api/villages/{code}/plans", Access::Roles(READERS)),
    (
        "POST",
        "/api/villages/{code}/plans",
        Access::Roles(PLANNERS),
    ),
    (
        "POST",
        "/api/villages/{code}/rebalance",
        Access::Roles(PLANNERS),
    ),
    ("GET", "/api/villages/{code}/diff", Access::Roles(READERS)),
    (
        "POST",
        "/api/villages/{code}/activate",
        Access::Roles(PLANNERS),
    ),
    ("GET", "/api/audit", Access::Roles(ADMINS)),
    // -- events (issue 15) --
    ("POST", "/api/events", Access::Roles(EVENT_ACTORS)),
    ("GET", "/api/events", Access::Roles(EVENT_READERS)),
    ("GET", "/api/events/categories", Access::Roles(EVERYONE)),
    ("PUT", "/api/events/categories", Access::Roles(ADMINS)),
    ("GET", "/api/events/limits", Access::Roles(EVENT_READERS)),
    ("PUT", "/api/events/limits", Access::Roles(ADMINS)),
    ("GET", "/api/events/figures", Access::Roles(EVERYONE)),
    ("GET", "/api/events/geojson", Access::Roles(EVERYONE)),
    ("GET", "/api/events/{id}", Access::Roles(EVENT_READERS)),
    (
        "POST",
        "/api/events/{id}/actions",
        Access::Roles(EVENT_ACTORS),
    ),
    (
        "GET",
        "/api/events/{id}/photos/{photo}",
        Access::Roles(EVENT_READERS),
    ),
    ("GET", "/events", Access::Asset),
    ("GET", "/tiles/events.json", Access::Roles(EVENT_READERS)),
    (
        "GET",
        "/tiles/events/{z}/{x}/{y}.mvt",
        Access::Roles(EVENT_READERS),
    ),
    // -- end events --
    // -- screen (issue 16) --
    ("GET", "/screen", Access::Asset),
    ("GET", "/api/screen/summary", Access::Roles(SCREENS)),
    ("GET", "/api/screen/stream", Access::Roles(SCREENS)),
    // -- end screen --
    // -- field (issue 18): the phone page, visits, household tags
    ("GET", "/field", Access::Asset),
    ("GET", "/api/field/me", Access::Roles(EVERYONE)),
    ("GET", "/api/field/today", Access::Roles(VISITORS)),
    ("POST", "/api/visits", Access::Roles(VISITORS)),
    ("GET", "/api/visits/due", Access::Roles(VISITORS)),
    ("GET", "/api/visits/figures", Access::Roles(VISIT_FIGURES)),
    ("POST", "/api/households/tags", Access::Roles(TAGGERS)),
    // -- end field
];

/// The rule of `method` on a documented `route` (`HEAD` is `GET`'s), `None` if there is none.
pub fn rule(method: &str, route: &str) -> Option<Access> {
    let method = if method == "HEAD" { "GET" } else { method };
    RULES
        .iter()
        .find(|(m, r, _)| *m == method && *r == route)
        .map(|(_, _, a)| *a)
}

/// The route of a request to the router's catch-all `/tiles/{*path}`: `/tiles/style.json`,
/// `/tiles/fonts/{fontstack}/{range}.pbf`, `/tiles/{layer}.json` or
/// `/tiles/{layer}/{z}/{x}/{y}.mvt`.
pub fn tiles_route(path: &str) -> &'static str {
    let rest = path.strip_prefix("/tiles/").unwrap_or(path);
    if rest == "style.json" {
        "/tiles/style.json"
    } else if rest.starts_with("fonts/") {
        "/tiles/fonts/{fontstack}/{range}.pbf"
    } else if rest.contains('/') {
        "/tiles/{layer}/{z}/{x}/{y}.mvt"
    } else {
        "/tiles/{layer}.json"
    }
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Credentials are needed (401).
    #[error("log in (or send Authorization: Bearer TOKEN) to {0}")]
    NeedLogin(String),
    /// The caller's role or area does not allow it (403).
    #[error("{0}")]
    Forbidden(String),
}

/// Whether `caller` may call a route whose rule is `access` (on a private server everything but
/// assets needs a login); `what` names the route in the message.
pub fn allow(
    access: Access,
    caller: Option<&Caller>,
    private: bool,
    what: &str,
) -> Result<(), Denied> {
    match (access, caller) {
        (Access::Asset, _) => Ok(()),
        (Access::Public, Some(_)) => Ok(()),
        (Access::Public, None) if !private => Ok(()),
        (Access::Public, None) => Err(Denied::NeedLogin(format!(
            "use {what} (this server is private)"
        ))),
        (Access::Roles(_), None) => Err(Denied::NeedLogin(format!("use {what}"))),
        (Access::Roles(roles), Some(c)) if roles.contains(&c.role) => Ok(()),
        (Access::Roles(roles), Some(c)) => Err(Denied::Forbidden(format!(
            "{} is {}; {what} is for {}",
            c.name,
            c.role,
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Whether `caller` may change plans of village `code`: admins anywhere, planners in their area.
pub fn may_edit_village(caller: &Caller, code: &str) -> Result<(), Denied> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Planner if caller.scope.covers(code) => Ok(()),
        _ => Err(Denied::Forbidden(format!(
            "{} ({}) may not change plans of village {code}: not in their towns or villages",
            caller.name, caller.role
        ))),
    }
}

/// Whether every point of a batch is the caller's own: a worker posts only as themselves (their
/// phone), so a batch naming anyone else is refused whole, naming the first such record.
/// Admins may post for anyone.
pub fn may_post_as<'a>(
    caller: &Caller,
    workers: impl IntoIterator<Item = &'a str>,
) -> Result<(), Denied> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    let me = caller.phone.as_deref().unwrap_or(caller.name.as_str());
    for (i, w) in workers.into_iter().enumerate() {
        if w != me {
            return Err(Denied::Forbidden(format!(
                "record #{i}: worker `{w}` is not {} (`{me}`); a worker posts only as themselves; nothing stored",
                caller.name
            )));
        }
    }
    Ok(())
}

/// Whose patrol points (workers' tracks, personal information under PIPL) a caller may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackScope<'a> {
    /// Every point (admins).
    All,
    /// The caller's own points only (a worker: the key their points are posted under).
    Own(&'a str),
    /// Points lying in the caller's towns and villages (planners and leaders).
    Area(&'a super::Scope),
}

impl TrackScope<'_> {
    /// Whether a point of `worker` lying in village `village` (`None`: outside every village)
    /// may be read.
    ///
    /// ```
    /// use wangge::accounts::policy::TrackScope;
    /// use wangge::accounts::Scope;
    /// let area = Scope::new(&["110101001".into()], &[]).unwrap();
    /// assert!(TrackScope::Area(&area).allows("w1", Some("110101001002")));
    /// assert!(!TrackScope::Area(&area).allows("w1", Some("110101002002")));
    /// assert!(!TrackScope::Area(&area).allows("w1", None));
    /// assert!(TrackScope::Own("w1").allows("w1", None));
    /// assert!(!TrackScope::Own("w1").allows("w2", Some("110101001002")));
    /// ```
    pub fn allows(&self, worker: &str, village: Option<&str>) -> bool {
        match self {
            TrackScope::All => true,
            TrackScope::Own(me) => worker == *me,
            TrackScope::Area(scope) => village.is_some_and(|v| scope.covers(v)),
        }
    }
}

/// Whose patrol points a caller may read: admins all, workers their own, planners and leaders
/// those lying in their towns and villages.
pub fn track_scope(caller: &Caller) -> TrackScope<'_> {
    match caller.role {
        Role::Admin => TrackScope::All,
        Role::Planner | Role::Leader => TrackScope::Area(&caller.scope),
        Role::Worker | Role::Screen => {
            TrackScope::Own(caller.phone.as_deref().unwrap_or(caller.name.as_str()))
        }
    }
}

/// Whose patrol coverage figures a caller may read: with no accounts (an open server) and for
/// admins all; planners and leaders the grids of their towns and villages and the workers
/// registered there; a worker their own row and grids; a screen its token's area (all when the
/// token names none).
pub fn coverage_scope(caller: Option<&Caller>) -> TrackScope<'_> {
    let Some(c) = caller else {
        return TrackScope::All;
    };
    match c.role {
        Role::Admin => TrackScope::All,
        Role::Screen if c.scope.towns.is_empty() && c.scope.villages.is_empty() => TrackScope::All,
        Role::Worker => track_scope(c),
        Role::Planner | Role::Leader | Role::Screen => TrackScope::Area(&c.scope),
    }
}

/// The rows of a [`Coverage`] one caller may read, in the coverage's order.
#[derive(Debug, Default)]
pub struct CoverageView<'c> {
    /// The grids' rows.
    pub grids: Vec<&'c GridCoverage>,
    /// The workers' rows.
    pub workers: Vec<&'c WorkerCoverage>,
}

/// The rows of `total` that `scope` lets a caller read ([`coverage_scope`]), in `village` when it
/// is `Some`: everything for [`TrackScope::All`]; a worker's own row and that row's grids for
/// [`TrackScope::Own`] (a worker is known by name, phone or any id their points came under); the
/// grids lying in the area and the workers registered to one of them for [`TrackScope::Area`].
/// `village_of` maps a grid code to its village's code.
///
/// ```
/// use wangge::accounts::policy::{coverage_view, TrackScope};
/// let total = wangge::patrol::coverage::Coverage::default();
/// let view = coverage_view(TrackScope::Own("w1"), &total, |_| None, None);
/// assert!(view.grids.is_empty() && view.workers.is_empty());
/// ```
pub fn coverage_view<'c, 'v>(
    scope: TrackScope<'_>,
    total: &'c Coverage,
    village_of: impl Fn(&str) -> Option<&'v str>,
    village: Option<&str>,
) -> CoverageView<'c> {
    let in_village = |code: &str| village.is_none_or(|v| village_of(code) == Some(v));
    let in_scope = |code: &str| scope.allows("", village_of(code));
    let is_me = |w: &WorkerCoverage| match scope {
        TrackScope::Own(me) => {
            w.worker == me || w.phone.as_deref() == Some(me) || w.ids.iter().any(|i| i == me)
        }
        _ => true,
    };
    let visible_worker = |w: &WorkerCoverage| match scope {
        TrackScope::Own(_) => is_me(w),
        TrackScope::All => true,
        TrackScope::Area(_) => w.grids.iter().any(|g| in_scope(g.as_str())),
    };
    let workers: Vec<&WorkerCoverage> = total
        .workers
        .iter()
        .filter(|w| visible_worker(w))
        .filter(|w| village.is_none() || w.grids.iter().any(|g| in_village(g.as_str())))
        .collect();
    let mine: Vec<&str> = workers
        .iter()
        .filter(|w| is_me(w))
        .flat_map(|w| w.grids.iter().map(|g| g.as_str()))
        .collect();
    let visible_grid = |code: &str| match scope {
        TrackScope::Own(_) => mine.contains(&code),
        _ => in_scope(code),
    };
    let grids = total
        .grids
        .iter()
        .filter(|c| in_village(c.code.as_str()) && visible_grid(c.code.as_str()))
        .collect();
    CoverageView { grids, workers }
}

/// Whether `caller` sees every person of a grid (workers too); anyone else sees only the grid
/// leader's name and phone, as a notice board shows them.
pub fn sees_people(caller: Option<&Caller>) -> bool {
    caller.is_some_and(|c| matches!(c.role, Role::Admin | Role::Planner | Role::Leader))
}

// -- events (issue 15) --
/// The keys a worker is known by in events (as reporter or assignee): their name and phone.
pub fn event_keys(caller: &Caller) -> Vec<String> {
    let mut k = vec![caller.name.clone()];
    k.extend(caller.phone.clone());
    k
}

/// Which events a caller may see: `(area, holder)` filters, `None` for no limit: admins and
/// planners all, leaders their area, workers the events they reported or hold, screens none
/// one by one (their figures and map only).
pub fn event_view(caller: &Caller) -> (Option<Scope>, Option<Vec<String>>) {
    match caller.role {
        Role::Admin | Role::Planner => (None, None),
        Role::Leader => (Some(caller.scope.clone()), None),
        Role::Worker | Role::Screen => (None, Some(event_keys(caller))),
    }
}

/// Whether `caller` may see event `e`.
pub fn may_see_event(caller: &Caller, e: &Event) -> Result<(), Denied> {
    let (area, holder) = event_view(caller);
    let in_area = area.is_none_or(|a| {
        e.location
            .village
            .as_ref()
            .is_some_and(|v| a.covers(v.as_str()))
    });
    let held = holder.is_none_or(|k| holds(&k, e));
    if in_area && held {
        Ok(())
    } else {
        Err(Denied::Forbidden(format!(
            "{} ({}) may not see event {}: not in their area and not theirs",
            caller.name, caller.role, e.number
        )))
    }
}

fn holds(keys: &[String], e: &Event) -> bool {
    keys.iter()
        .any(|k| *k == e.reporter || e.assignee.as_deref() == Some(k.as_str()))
}

/// Whether `caller` may do `action` to event `e`: admins anything; leaders anything in their
/// area; workers only what they hold: handle in the grid or escalate what they reported,
/// reply to or escalate what they were given, resubmit what was returned to them.
pub fn may_act_on_event(caller: &Caller, action: Action, e: &Event) -> Result<(), Denied> {
    let me = event_keys(caller);
    let reported = me.contains(&e.reporter);
    let assigned = e.assignee.as_ref().is_some_and(|a| me.contains(a));
    let ok = match caller.role {
        Role::Admin => true,
        Role::Leader => e
            .location
            .village
            .as_ref()
            .is_some_and(|v| caller.scope.covers(v.as_str())),
        Role::Worker => match action {
            Action::HandleInGrid | Action::Resubmit => reported,
            Action::Reply => assigned,
            Action::Escalate => reported || assigned,
            _ => false,
        },
        Role::Planner | Role::Screen => false,
    };
    if ok {
        return Ok(());
    }
    let why = match caller.role {
        Role::Leader => "the event is not in their area".to_string(),
        Role::Worker => format!(
            "a worker may only handle in the grid, escalate or resubmit what they reported, and              reply to or escalate what they hold (held by {})",
            e.assignee.as_deref().unwrap_or("nobody")
        ),
        _ => "their role does not act on events".to_string(),
    };
    Err(Denied::Forbidden(format!(
        "{} ({}) may not {} event {}: {why}",
        caller.name, caller.role, action, e.number
    )))
}

/// The actions `caller` may do to event `e` now: those its flow allows ([`flow::legal`]) that
/// [`may_act_on_event`] lets this caller do, as a page offers them.
pub fn event_offers(caller: &Caller, e: &Event) -> Vec<flow::Offer> {
    flow::legal(&flow::Current::of(e))
        .into_iter()
        .filter(|a| may_act_on_event(caller, *a, e).is_ok())
        .map(flow::Offer::of)
        .collect()
}
// -- end events --
// -- field (issue 18)
/// Whether reads of `route` are audited like writes: they show households (residents' data).
pub fn audited_read(route: &str) -> bool {
    matches!(route, "/api/visits/due" | "/api/visits/figures")
}

/// Whether `caller` may tag households of village `code`: admins anywhere, leaders in their area.
pub fn may_tag_households(caller: &Caller, code: &str) -> Result<(), Denied> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Leader if caller.scope.covers(code) => Ok(()),
        _ => Err(Denied::Forbidden(format!(
            "{} ({}) may not tag households of village {code}: not in their towns or villages",
            caller.name, caller.role
        ))),
    }
}
// -- end field

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Scope, Via};

    fn caller(role: Role) -> Caller {
        Caller {
            name: "u".into(),
            role,
            scope: Scope::new(&["110101001".into()], &[]).unwrap(),
            phone: Some("138".into()),
            via: Via::Token,
        }
    }

    #[test]
    fn every_rule_is_once() {
        for (i, (m, r, _)) in RULES.iter().enumerate() {
            assert!(
                !RULES[..i].iter().any(|(m2, r2, _)| m2 == m && r2 == r),
                "{m} {r} twice"
            );
        }
    }

    #[test]
    fn roles_and_anonymous() {
        let post = rule("POST", "/api/villages/{code}/plans").unwrap();
        assert!(matches!(
            allow(post, None, false, "x"),
            Err(Denied::NeedLogin(_))
        ));
        assert!(matches!(
            allow(post, Some(&caller(Role::Worker)), false, "x"),
            Err(Denied::Forbidden(_))
        ));
        assert!(allow(post, Some(&caller(Role::Planner)), false, "x").is_ok());
        let public = rule("GET", "/api/grids").unwrap();
        assert!(allow(public, None, false, "x").is_ok());
        assert!(allow(public, None, true, "x").is_err());
    }

    #[test]
    fn area_and_own_points() {
        let p = caller(Role::Planner);
        assert!(may_edit_village(&p, "110101001200").is_ok());
        assert!(may_edit_village(&p, "110101002200").is_err());
        let w = caller(Role::Worker);
        assert!(may_post_as(&w, ["138", "138"]).is_ok());
        let e = may_post_as(&w, ["138", "139"]).unwrap_err();
        assert!(e.to_string().contains("record #1"), "{e}");
    }
}
