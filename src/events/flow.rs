//! The flow of an event (事件流转): a state machine of the six steps 发现上报 → 受理派遣 → 处置反馈 →
//! 任务核查 → 事件归档 → 考核评价 and their real side-turns.
//!
//! | action | from | to | needs |
//! |---|---|---|---|
//! | `accept` 受理 | reported | accepted | |
//! | `dispatch` 派遣 | accepted | dispatched | `assignee` |
//! | `reassign` 改派 | dispatched | dispatched | another `assignee` |
//! | `return` 退回 | reported, accepted | returned (to the reporter) | `reason` |
//! | `return` 退回 | dispatched | accepted (to the dispatcher) | `reason` |
//! | `resubmit` 重新上报 | returned | reported | |
//! | `escalate` 上报 | reported, accepted, dispatched | reported, one level up (grid → village → town) | |
//! | `handle_in_grid` 就地处置 | reported at grid level | handled (小事不出网格) | |
//! | `reply` 处置反馈 | dispatched | handled | |
//! | `verify` 核查通过 | handled | verified | |
//! | `reopen` 核查不通过 | handled | dispatched again (re-opened) | `reason` |
//! | `archive` 归档 | verified | archived | |
//! | `evaluate` 评价 | archived | evaluated | `rating` 1–5 |
//!
//! Anything else is refused with a message naming the state and the action.
//!
//! ```
//! use chrono::Utc;
//! use wangge::events::deadline::Limits;
//! use wangge::events::flow::{next, Action, Current, Level, Request, State};
//! use wangge::events::Priority;
//! let cur = Current { state: State::Reported, level: Level::Grid, assignee: None,
//!     category: "sanitation.rubbish", priority: Priority::Normal, due_at: None, step_limit_s: None };
//! let ch = next(&cur, &Request::new(Action::Accept, 1), "leader1", &Limits::default(), Utc::now()).unwrap();
//! assert_eq!(ch.state, State::Accepted);
//! let e = next(&cur, &Request::new(Action::Verify, 1), "leader1", &Limits::default(), Utc::now()).unwrap_err();
//! assert_eq!(e.to_string(), "an event that is reported (待受理) cannot be verified (verify)");
//! ```

use super::deadline::{Limits, Step};
use super::{named, EventError, Photo, Priority};
use chrono::{DateTime, Utc};

named!(
    /// Where an event is in its flow.
    State, "state", [
        /// Reported, waiting to be accepted (发现上报).
        Reported = "reported" / "待受理",
        /// Accepted, waiting to be dispatched (受理).
        Accepted = "accepted" / "已受理",
        /// Dispatched to someone who handles it (派遣).
        Dispatched = "dispatched" / "处置中",
        /// Handled, the handler replied (处置反馈), waiting for verification.
        Handled = "handled" / "待核查",
        /// Verified (任务核查).
        Verified = "verified" / "已核查",
        /// Archived: closed (事件归档).
        Archived = "archived" / "已结案",
        /// Evaluated (考核评价).
        Evaluated = "evaluated" / "已评价",
        /// Returned to its reporter with a reason (退回).
        Returned = "returned" / "已退回",
    ]
);

named!(
    /// What someone does to an event.
    Action, "action", [
        /// 受理.
        Accept = "accept" / "受理",
        /// 派遣.
        Dispatch = "dispatch" / "派遣",
        /// 改派.
        Reassign = "reassign" / "改派",
        /// 退回.
        Return = "return" / "退回",
        /// 重新上报.
        Resubmit = "resubmit" / "重新上报",
        /// 上报 (one level up).
        Escalate = "escalate" / "上报",
        /// 就地处置 (the grid's own worker, inner loop).
        HandleInGrid = "handle_in_grid" / "就地处置",
        /// 处置反馈.
        Reply = "reply" / "处置反馈",
        /// 核查通过.
        Verify = "verify" / "核查通过",
        /// 核查不通过, re-opened.
        Reopen = "reopen" / "核查不通过",
        /// 归档 (结案).
        Archive = "archive" / "结案归档",
        /// 评价.
        Evaluate = "evaluate" / "考核评价",
    ]
);

named!(
    /// Whose queue an event is in.
    Level, "level", [
        /// The grid (网格).
        Grid = "grid" / "网格",
        /// The village or community (村/社区).
        Village = "village" / "村/社区",
        /// The town or subdistrict (镇/街道) and its departments.
        Town = "town" / "镇/街道",
    ]
);

impl State {
    /// Whether the event is closed.
    pub fn is_closed(self) -> bool {
        matches!(self, State::Archived | State::Evaluated)
    }
    /// Whether the event is still open (neither closed nor returned).
    pub fn is_open(self) -> bool {
        !self.is_closed() && self != State::Returned
    }
    /// The deadline step running in this state.
    pub fn step(self) -> Option<Step> {
        match self {
            State::Reported => Some(Step::Accept),
            State::Accepted => Some(Step::Dispatch),
            State::Dispatched => Some(Step::Handle),
            State::Handled => Some(Step::Verify),
            State::Verified => Some(Step::Archive),
            _ => None,
        }
    }
}

/// An action refused by the flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// Not allowed in this state.
    #[error("an event that is {} ({}) cannot be {} ({})", .state.as_str(), .state.label(), past(*.action), .action.as_str())]
    Illegal {
        /// The state.
        state: State,
        /// The action.
        action: Action,
    },
    /// The action lacks a field or has a bad one.
    #[error("{action}: {error}")]
    Field {
        /// The action.
        action: Action,
        /// What is wrong.
        error: EventError,
    },
    /// Escalated past the town.
    #[error("escalate: the event is already at town level; nothing above it here")]
    TopLevel,
}

/// The past participle of an action, for messages.
fn past(a: Action) -> &'static str {
    match a {
        Action::Accept => "accepted",
        Action::Dispatch => "dispatched",
        Action::Reassign => "reassigned",
        Action::Return => "returned",
        Action::Resubmit => "resubmitted",
        Action::Escalate => "escalated",
        Action::HandleInGrid => "handled in its grid",
        Action::Reply => "replied to",
        Action::Verify => "verified",
        Action::Reopen => "re-opened",
        Action::Archive => "archived",
        Action::Evaluate => "evaluated",
    }
}

/// An action as asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// The action.
    pub action: Action,
    /// The version of the event the actor saw; another version now is a conflict.
    pub expected_version: i64,
    /// A note.
    pub note: String,
    /// Who is to handle it (`dispatch`, `reassign`).
    pub assignee: Option<String>,
    /// Why (`return`, `reopen`).
    pub reason: Option<String>,
    /// The evaluation 1–5 (`evaluate`).
    pub rating: Option<i64>,
    /// Attached photos.
    pub photos: Vec<Photo>,
}

impl Request {
    /// A request with no note, assignee, reason, rating or photos.
    pub fn new(action: Action, expected_version: i64) -> Request {
        Request {
            action,
            expected_version,
            note: String::new(),
            assignee: None,
            reason: None,
            rating: None,
            photos: Vec::new(),
        }
    }
}

/// What the flow needs to know of an event.
#[derive(Clone, Debug)]
pub struct Current<'a> {
    /// Its state.
    pub state: State,
    /// Its level.
    pub level: Level,
    /// Who holds it.
    pub assignee: Option<&'a str>,
    /// Its category code.
    pub category: &'a str,
    /// Its priority.
    pub priority: Priority,
    /// When its current step is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Its current step's limit.
    pub step_limit_s: Option<i64>,
}

impl<'a> Current<'a> {
    /// The flow's view of a stored event.
    pub fn of(e: &'a super::Event) -> Current<'a> {
        Current {
            state: e.state,
            level: e.level,
            assignee: e.assignee.as_deref(),
            category: &e.category,
            priority: e.priority,
            due_at: e.due_at,
            step_limit_s: e.step_limit_s,
        }
    }
}

/// An event after an action.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// New state.
    pub state: State,
    /// New level.
    pub level: Level,
    /// Who holds it now.
    pub assignee: Option<String>,
    /// When the new step is due.
    pub due_at: Option<DateTime<Utc>>,
    /// The new step's limit (seconds).
    pub step_limit_s: Option<i64>,
    /// Set when archived.
    pub closed: bool,
    /// Re-opened once more.
    pub reopened: bool,
    /// The rating given.
    pub rating: Option<i64>,
}

fn need(action: Action, v: &Option<String>, field: &'static str) -> Result<String, FlowError> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(FlowError::Field {
            action,
            error: EventError::Missing(field),
        }),
    }
}

/// The state and level an action leads to, or why it is refused.
fn target(cur: &Current, rq: &Request) -> Result<(State, Level), FlowError> {
    use Action as A;
    use State as S;
    let illegal = Err(FlowError::Illegal {
        state: cur.state,
        action: rq.action,
    });
    let to = match (rq.action, cur.state) {
        (A::Accept, S::Reported) => S::Accepted,
        (A::Dispatch, S::Accepted) => S::Dispatched,
        (A::Reassign, S::Dispatched) => S::Dispatched,
        (A::Return, S::Reported | S::Accepted) => S::Returned,
        (A::Return, S::Dispatched) => S::Accepted,
        (A::Resubmit, S::Returned) => S::Reported,
        (A::Escalate, S::Reported | S::Accepted | S::Dispatched) => {
            let up = match cur.level {
                Level::Grid => Level::Village,
                Level::Village => Level::Town,
                Level::Town => return Err(FlowError::TopLevel),
            };
            return Ok((S::Reported, up));
        }
        (A::HandleInGrid, S::Reported) if cur.level == Level::Grid => S::Handled,
        (A::Reply, S::Dispatched) => S::Handled,
        (A::Verify, S::Handled) => S::Verified,
        (A::Reopen, S::Handled) => S::Dispatched,
        (A::Archive, S::Verified) => S::Archived,
        (A::Evaluate, S::Archived) => S::Evaluated,
        _ => return illegal,
    };
    Ok((to, cur.level))
}

/// The actions the flow allows on an event as it is now (ignoring who asks and the fields an
/// action needs): what a page offers as buttons, without a second copy of the table above.
///
/// ```
/// use wangge::events::flow::{legal, Action, Current, Level, State};
/// use wangge::events::Priority;
/// let cur = Current { state: State::Reported, level: Level::Grid, assignee: None,
///     category: "sanitation.rubbish", priority: Priority::Normal, due_at: None, step_limit_s: None };
/// assert_eq!(legal(&cur), [Action::Accept, Action::Return, Action::Escalate, Action::HandleInGrid]);
/// ```
pub fn legal(cur: &Current) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|a| target(cur, &Request::new(*a, 0)).is_ok())
        .collect()
}

impl Action {
    /// The request fields this action needs besides its version (`assignee`, `reason`,
    /// `rating`).
    pub fn needs(self) -> &'static [&'static str] {
        match self {
            Action::Dispatch | Action::Reassign => &["assignee"],
            Action::Return | Action::Reopen => &["reason"],
            Action::Evaluate => &["rating"],
            _ => &[],
        }
    }
}

/// The history's name for an event's first step, its report (not an [`Action`]: nobody does it
/// to an event that exists).
pub const REPORT: &str = "report";

/// The Chinese label of a step in an event's history: [`REPORT`] or an action's name.
///
/// ```
/// use wangge::events::flow::{history_label, REPORT};
/// assert_eq!(history_label(REPORT), "发现上报");
/// assert_eq!(history_label("handle_in_grid"), "就地处置");
/// assert_eq!(history_label("teleport"), "teleport");
/// ```
pub fn history_label(step: &str) -> &str {
    if step == REPORT {
        return "发现上报";
    }
    match step.parse::<Action>() {
        Ok(a) => a.label(),
        Err(_) => step,
    }
}

/// An action offered to someone on an event: its name, its Chinese label and the fields it
/// needs (the `actions` of `GET /api/events/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Offer {
    /// The action.
    pub action: Action,
    /// Its label (受理, 派遣…).
    pub label: &'static str,
    /// The fields it needs.
    pub needs: &'static [&'static str],
}

impl Offer {
    /// The offer of `action`.
    pub fn of(action: Action) -> Offer {
        Offer {
            action,
            label: action.label(),
            needs: action.needs(),
        }
    }
}

/// The event after `rq` by `actor` at `now`, or why it is refused. Entering a state with a
/// deadline step starts its clock (a reassignment keeps the running one).
pub fn next(
    cur: &Current,
    rq: &Request,
    actor: &str,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<Change, FlowError> {
    let (state, level) = target(cur, rq)?;
    let mut assignee = cur.assignee.map(str::to_string);
    let mut rating = None;
    match rq.action {
        Action::Dispatch => assignee = Some(need(rq.action, &rq.assignee, "assignee")?),
        Action::Reassign => {
            let a = need(rq.action, &rq.assignee, "assignee")?;
            if cur.assignee == Some(a.as_str()) {
                return Err(FlowError::Field {
                    action: rq.action,
                    error: EventError::Invalid {
                        field: "assignee",
                        why: format!("`{a}` holds it already"),
                    },
                });
            }
            assignee = Some(a);
        }
        Action::Return | Action::Reopen => {
            need(rq.action, &rq.reason, "reason")?;
            if rq.action == Action::Return {
                assignee = None;
            }
        }
        Action::Escalate => assignee = None,
        Action::HandleInGrid => assignee = Some(actor.to_string()),
        Action::Evaluate => {
            let r = rq.rating.ok_or(FlowError::Field {
                action: rq.action,
                error: EventError::Missing("rating"),
            })?;
            if !(1..=5).contains(&r) {
                return Err(FlowError::Field {
                    action: rq.action,
                    error: EventError::Invalid {
                        field: "rating",
                        why: format!("{r} is not 1 to 5"),
                    },
                });
            }
            rating = Some(r);
        }
        _ => {}
    }
    let (due_at, step_limit_s) = if rq.action == Action::Reassign {
        (cur.due_at, cur.step_limit_s)
    } else {
        match state.step() {
            Some(step) => {
                let s = limits.limit(cur.category, cur.priority, step).as_secs() as i64;
                (Some(now + chrono::TimeDelta::seconds(s)), Some(s))
            }
            None => (None, None),
        }
    };
    Ok(Change {
        state,
        level,
        assignee,
        due_at,
        step_limit_s,
        closed: state == State::Archived,
        reopened: rq.action == Action::Reopen,
        rating,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(state: State, level: Level) -> Current<'static> {
        Current {
            state,
            level,
            assignee: Some("w1"),
            category: "safety.fire",
            priority: Priority::Normal,
            due_at: None,
            step_limit_s: None,
        }
    }

    fn full(action: Action) -> Request {
        Request {
            assignee: Some("w2".into()),
            reason: Some("不属实".into()),
            rating: Some(4),
            ..Request::new(action, 1)
        }
    }

    /// Every (state, action) pair: legal ones match the table in the module doc exactly.
    #[test]
    fn every_pair_is_legal_or_refused_naming_state_and_action() {
        let mut legal = 0;
        for s in State::ALL {
            for a in Action::ALL {
                let r = next(
                    &cur(*s, Level::Grid),
                    &full(*a),
                    "w1",
                    &Limits::default(),
                    Utc::now(),
                );
                match r {
                    Ok(_) => legal += 1,
                    Err(e) => {
                        let m = e.to_string();
                        assert!(m.contains(s.as_str()) && m.contains(a.as_str()), "{m}");
                    }
                }
            }
        }
        assert_eq!(legal, 16, "the table has 16 (action, from) pairs");
    }

    #[test]
    fn legal_actions_are_exactly_those_next_accepts() {
        for s in State::ALL {
            for l in Level::ALL {
                let c = cur(*s, *l);
                let by_next: Vec<Action> = Action::ALL
                    .iter()
                    .copied()
                    .filter(|a| next(&c, &full(*a), "w9", &Limits::default(), Utc::now()).is_ok())
                    .collect();
                assert_eq!(legal(&c), by_next, "{s} at {l}");
            }
        }
        assert!(legal(&cur(State::Archived, Level::Grid)) == [Action::Evaluate]);
        assert!(legal(&cur(State::Evaluated, Level::Grid)).is_empty());
    }

    #[test]
    fn escalation_climbs_to_the_town_and_stops() {
        let l = Limits::default();
        let now = Utc::now();
        let c = next(
            &cur(State::Accepted, Level::Grid),
            &full(Action::Escalate),
            "x",
            &l,
            now,
        )
        .unwrap();
        assert_eq!(
            (c.state, c.level, c.assignee),
            (State::Reported, Level::Village, None)
        );
        let c = next(
            &cur(State::Reported, Level::Village),
            &full(Action::Escalate),
            "x",
            &l,
            now,
        )
        .unwrap();
        assert_eq!(c.level, Level::Town);
        assert_eq!(
            next(
                &cur(State::Reported, Level::Town),
                &full(Action::Escalate),
                "x",
                &l,
                now
            ),
            Err(FlowError::TopLevel)
        );
        // handling in the grid is for grid-level events only
        assert!(next(
            &cur(State::Reported, Level::Village),
            &full(Action::HandleInGrid),
            "x",
            &l,
            now
        )
        .is_err());
    }

    #[test]
    fn missing_fields_are_named() {
        let l = Limits::default();
        let now = Utc::now();
        let e = next(
            &cur(State::Reported, Level::Grid),
            &Request::new(Action::Return, 1),
            "x",
            &l,
            now,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "return: reason: missing or empty");
        let e = next(
            &cur(State::Dispatched, Level::Grid),
            &Request {
                assignee: Some("w1".into()),
                ..Request::new(Action::Reassign, 1)
            },
            "x",
            &l,
            now,
        )
        .unwrap_err();
        assert!(e.to_string().contains("holds it already"), "{e}");
        let e = next(
            &cur(State::Archived, Level::Grid),
            &Request {
                rating: Some(9),
                ..Request::new(Action::Evaluate, 1)
            },
            "x",
            &l,
            now,
        )
        .unwrap_err();
        assert!(e.to_string().contains("rating"), "{e}");
    }

    #[test]
    fn clocks_start_on_entering_a_step_and_survive_a_reassignment() {
        let l = Limits::default();
        let now = Utc::now();
        let c = next(
            &cur(State::Accepted, Level::Grid),
            &full(Action::Dispatch),
            "x",
            &l,
            now,
        )
        .unwrap();
        assert_eq!(c.state, State::Dispatched);
        let handle = l
            .limit("safety.fire", Priority::Normal, Step::Handle)
            .as_secs() as i64;
        assert_eq!(c.step_limit_s, Some(handle));
        let mut d = cur(State::Dispatched, Level::Grid);
        d.due_at = c.due_at;
        d.step_limit_s = c.step_limit_s;
        let later = now + chrono::TimeDelta::hours(1);
        let r = next(&d, &full(Action::Reassign), "x", &l, later).unwrap();
        assert_eq!(r.due_at, c.due_at);
        let a = next(
            &cur(State::Verified, Level::Grid),
            &full(Action::Archive),
            "x",
            &l,
            now,
        )
        .unwrap();
        assert!(a.closed && a.due_at.is_none());
    }
}
