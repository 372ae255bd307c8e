//! Deadlines (时限): each step of an event's flow has a time limit per category × priority. An
//! event past its step's limit is overdue (red); in the last fifth of it, amber.
//!
//! Default limits by priority (accept / dispatch / handle / verify / archive):
//!
//! | priority | accept | dispatch | handle | verify | archive |
//! |---|---|---|---|---|---|
//! | urgent | 30 min | 30 min | 4 h | 4 h | 24 h |
//! | high | 1 h | 1 h | 24 h | 24 h | 24 h |
//! | normal | 2 h | 2 h | 72 h | 24 h | 48 h |
//! | low | 4 h | 4 h | 7 d | 48 h | 72 h |
//!
//! Safety hazards (`safety…`) are handled twice as fast. A deployment may override any category
//! (a code or a code prefix) × priority × step. Limits run on the clock: working hours and
//! holidays are ignored for now.
//!
//! ```
//! use wangge::events::deadline::{Limits, Step};
//! use wangge::events::Priority;
//! let l = Limits::default();
//! assert_eq!(l.limit("sanitation.rubbish", Priority::Normal, Step::Accept).as_secs(), 2 * 3600);
//! assert_eq!(l.limit("sanitation.rubbish", Priority::Normal, Step::Handle).as_secs(), 72 * 3600);
//! assert_eq!(l.limit("safety.fire", Priority::Normal, Step::Handle).as_secs(), 36 * 3600);
//! ```

use super::category::CategoryTree;
use super::{named, EventError, Priority};
use chrono::{DateTime, Utc};
use std::time::Duration;

named!(
    /// A step of the flow with a time limit.
    Step, "step", [
        /// Reported → accepted.
        Accept = "accept" / "受理",
        /// Accepted → dispatched.
        Dispatch = "dispatch" / "派遣",
        /// Dispatched → handled.
        Handle = "handle" / "处置",
        /// Handled → verified.
        Verify = "verify" / "核查",
        /// Verified → archived.
        Archive = "archive" / "归档",
    ]
);

named!(
    /// An event's deadline status.
    DueStatus, "due", [
        /// No running step (closed or returned).
        None = "none" / "—",
        /// In time.
        Ok = "ok" / "正常",
        /// In the last fifth of its limit (黄灯).
        Amber = "amber" / "临期",
        /// Past its limit (红灯).
        Overdue = "overdue" / "超期",
    ]
);

/// The share of a limit left under which an event is amber.
pub const AMBER_SHARE: f64 = 0.2;

const H: u64 = 3600;

/// One override: category code or prefix, priority, step, limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// A category code; `safety` covers `safety.fire` too.
    pub category: String,
    /// The priority it applies to (`None`: all).
    pub priority: Option<Priority>,
    /// The step (`None`: all).
    pub step: Option<Step>,
    /// Multiply the default by this instead of replacing it (when `limit` is `None`).
    pub factor: f64,
    /// The limit.
    pub limit: Option<Duration>,
}

/// The time limits of a deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Overrides, the longest matching category first wins.
    pub overrides: Vec<Override>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            overrides: vec![Override {
                category: "safety".into(),
                priority: None,
                step: Some(Step::Handle),
                factor: 0.5,
                limit: None,
            }],
        }
    }
}

/// A duration in hours as JSON: a whole number when it is one (`2`, not `2.0`).
fn hours_json(d: Duration) -> serde_json::Value {
    let h = d.as_secs_f64() / 3600.0;
    if h.fract() == 0.0 && h < i64::MAX as f64 {
        (h as i64).into()
    } else {
        h.into()
    }
}

/// The default limit of a priority and step.
pub fn default_limit(p: Priority, s: Step) -> Duration {
    let secs = match (p, s) {
        (Priority::Urgent, Step::Accept | Step::Dispatch) => H / 2,
        (Priority::Urgent, Step::Handle | Step::Verify) => 4 * H,
        (Priority::High, Step::Accept | Step::Dispatch) => H,
        (Priority::High, _) => 24 * H,
        (Priority::Normal, Step::Accept | Step::Dispatch) => 2 * H,
        (Priority::Normal, Step::Handle) => 72 * H,
        (Priority::Normal, Step::Verify) => 24 * H,
        (Priority::Normal | Priority::Urgent, Step::Archive) => 48 * H,
        (Priority::Low, Step::Accept | Step::Dispatch) => 4 * H,
        (Priority::Low, Step::Handle) => 7 * 24 * H,
        (Priority::Low, Step::Verify) => 48 * H,
        (Priority::Low, Step::Archive) => 72 * H,
    };
    Duration::from_secs(secs)
}

fn covers(prefix: &str, code: &str) -> bool {
    code == prefix
        || code
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl Limits {
    /// The limit of `step` for an event of `category` and `priority`.
    pub fn limit(&self, category: &str, priority: Priority, step: Step) -> Duration {
        let base = default_limit(priority, step);
        let best = self
            .overrides
            .iter()
            .filter(|o| covers(&o.category, category))
            .filter(|o| o.priority.is_none_or(|p| p == priority))
            .filter(|o| o.step.is_none_or(|s| s == step))
            .max_by_key(|o| o.category.len());
        match best {
            Some(Override { limit: Some(l), .. }) => *l,
            Some(o) => Duration::from_secs_f64(base.as_secs_f64() * o.factor),
            None => base,
        }
    }

    /// Reads overrides from JSON: `[{"category":"safety","priority":"high","step":"handle",
    /// "hours":12}]` (priority and step optional), or `"factor":0.5` instead of `hours` to scale
    /// the default limits. [`to_json`](Limits::to_json) writes the same shape.
    ///
    /// ```
    /// use wangge::events::deadline::{Limits, Step};
    /// use wangge::events::Priority;
    /// let l = Limits::from_json(r#"[{"category":"water","step":"accept","hours":1},
    ///     {"category":"safety","step":"handle","factor":0.5}]"#).unwrap();
    /// assert_eq!(l.limit("water.pipe", Priority::Low, Step::Accept).as_secs(), 3600);
    /// assert_eq!(l.limit("safety.fire", Priority::Normal, Step::Handle).as_secs(), 36 * 3600);
    /// assert_eq!(Limits::from_json(&l.to_json().to_string()).unwrap(), l);
    /// assert!(Limits::from_json(r#"[{"category":"water","hours":1,"factor":2}]"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Limits, EventError> {
        let bad = |why: String| EventError::Invalid {
            field: "limits",
            why,
        };
        let v: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut overrides = Vec::new();
        for (i, o) in v.iter().enumerate() {
            let category = o["category"]
                .as_str()
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| bad(format!("#{i}: category missing")))?;
            let positive = |k: &str| match &o[k] {
                serde_json::Value::Null => Ok(None),
                x => x
                    .as_f64()
                    .filter(|h| h.is_finite() && *h > 0.0)
                    .map(Some)
                    .ok_or_else(|| bad(format!("#{i}: {k} must be a number above 0"))),
            };
            let (limit, factor) = match (positive("hours")?, positive("factor")?) {
                (Some(h), None) => (Some(Duration::from_secs_f64(h * 3600.0)), 1.0),
                (None, Some(f)) => (None, f),
                _ => return Err(bad(format!("#{i}: give either hours or factor"))),
            };
            let priority = o["priority"]
                .as_str()
                .map(str::parse::<Priority>)
                .transpose()?;
            let step = o["step"].as_str().map(str::parse::<Step>).transpose()?;
            overrides.push(Override {
                category: category.to_string(),
                priority,
                step,
                factor,
                limit,
            });
        }
        Ok(Limits { overrides })
    }

    /// The overrides as JSON, as [`from_json`](Limits::from_json) reads them.
    pub fn to_json(&self) -> serde_json::Value {
        let list = self.overrides.iter().map(|o| {
            let mut v = serde_json::json!({ "category": o.category });
            if let Some(p) = o.priority {
                v["priority"] = p.as_str().into();
            }
            if let Some(s) = o.step {
                v["step"] = s.as_str().into();
            }
            match o.limit {
                Some(l) => v["hours"] = hours_json(l),
                None => v["factor"] = o.factor.into(),
            }
            v
        });
        serde_json::Value::Array(list.collect())
    }

    /// The limits as `GET /api/events/limits` gives them: `defaults` ([`defaults_json`]) and the
    /// `overrides` ([`to_json`](Limits::to_json)).
    ///
    /// [`defaults_json`]: Limits::defaults_json
    pub fn table_json(&self) -> serde_json::Value {
        serde_json::json!({"defaults": Limits::defaults_json(), "overrides": self.to_json()})
    }

    /// The limits with no override: every priority × step, in hours, as pages show them.
    pub fn defaults_json() -> serde_json::Value {
        table_json(default_limit)
    }

    /// The limits that hold for events of `category`, overrides applied: every priority × step,
    /// in hours, in the shape of [`defaults_json`](Limits::defaults_json).
    ///
    /// ```
    /// use wangge::events::deadline::Limits;
    /// let l = Limits::from_json(r#"[{"category":"sanitation","step":"accept","hours":1}]"#).unwrap();
    /// let rows = l.effective_json("sanitation.rubbish");
    /// let accept = rows.as_array().unwrap().iter()
    ///     .find(|r| r["priority"] == "normal" && r["step"] == "accept").unwrap();
    /// assert_eq!(accept["hours"], 1);
    /// ```
    pub fn effective_json(&self, category: &str) -> serde_json::Value {
        table_json(|p, s| self.limit(category, p, s))
    }

    /// Checks that every override names a category of `tree` (a typo would silently apply to
    /// nothing).
    ///
    /// ```
    /// use wangge::events::category::CategoryTree;
    /// use wangge::events::deadline::Limits;
    /// let tree = CategoryTree::default();
    /// assert!(Limits::from_json(r#"[{"category":"safety","hours":2}]"#).unwrap().check_categories(&tree).is_ok());
    /// let typo = Limits::from_json(r#"[{"category":"safty","hours":2}]"#).unwrap();
    /// assert!(typo.check_categories(&tree).unwrap_err().to_string().contains("safty"));
    /// ```
    pub fn check_categories(&self, tree: &CategoryTree) -> Result<(), EventError> {
        match self.first_unknown(tree) {
            None => Ok(()),
            Some(i) => Err(EventError::Invalid {
                field: "limits",
                why: format!(
                    "#{i}: `{}` is not a category of this deployment",
                    self.overrides[i].category
                ),
            }),
        }
    }
}

impl Limits {
    /// The index of the first override naming a category `tree` lacks.
    fn first_unknown(&self, tree: &CategoryTree) -> Option<usize> {
        let codes = tree.codes();
        self.overrides
            .iter()
            .position(|o| !codes.contains(&o.category.as_str()))
    }

    /// The categories overrides name that `tree` lacks, sorted, once each.
    pub fn unknown_categories(&self, tree: &CategoryTree) -> Vec<String> {
        let codes = tree.codes();
        let mut out: Vec<String> = self
            .overrides
            .iter()
            .filter(|o| !codes.contains(&o.category.as_str()))
            .map(|o| o.category.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Every priority × step with the hours `limit` gives it, as JSON rows.
fn table_json(limit: impl Fn(Priority, Step) -> Duration) -> serde_json::Value {
    let rows = Priority::ALL
        .iter()
        .flat_map(|&p| Step::ALL.iter().map(move |&s| (p, s)));
    let rows = rows.map(|(p, s)| {
        serde_json::json!({
            "priority": p.as_str(),
            "step": s.as_str(),
            "hours": hours_json(limit(p, s)),
        })
    });
    serde_json::Value::Array(rows.collect())
}

/// The deadline status of a step due at `due_at` whose limit is `limit_s`, at `now`.
///
/// ```
/// use chrono::{TimeDelta, Utc};
/// use wangge::events::deadline::{status, DueStatus};
/// let now = Utc::now();
/// assert_eq!(status(Some(now + TimeDelta::hours(10)), Some(72 * 3600), now), DueStatus::Amber);
/// assert_eq!(status(Some(now + TimeDelta::hours(30)), Some(72 * 3600), now), DueStatus::Ok);
/// assert_eq!(status(Some(now - TimeDelta::seconds(1)), Some(72 * 3600), now), DueStatus::Overdue);
/// assert_eq!(status(None, None, now), DueStatus::None);
/// ```
pub fn status(
    due_at: Option<DateTime<Utc>>,
    limit_s: Option<i64>,
    now: DateTime<Utc>,
) -> DueStatus {
    let Some(due) = due_at else {
        return DueStatus::None;
    };
    if now > due {
        return DueStatus::Overdue;
    }
    let left = (due - now).num_seconds() as f64;
    match limit_s {
        Some(l) if left < l as f64 * AMBER_SHARE => DueStatus::Amber,
        _ => DueStatus::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_or_scale_the_default() {
        let l = Limits::from_json(
            r#"[{"category":"dispute","priority":"high","step":"handle","hours":12}]"#,
        )
        .unwrap();
        assert_eq!(
            l.limit("dispute.family", Priority::High, Step::Handle),
            Duration::from_secs(12 * H)
        );
        assert_eq!(
            l.limit("dispute.family", Priority::Normal, Step::Handle),
            Duration::from_secs(72 * H)
        );
        // `dispute` does not cover `disputes`
        assert_eq!(
            l.limit("disputes", Priority::High, Step::Handle),
            Duration::from_secs(24 * H)
        );
        let e = Limits::from_json(r#"[{"category":"x","hours":1,"step":"lunch"}]"#).unwrap_err();
        assert!(e.to_string().contains("step"), "{e}");
        // every default is positive and accepting never takes longer than handling
        for p in Priority::ALL {
            assert!(default_limit(*p, Step::Accept) <= default_limit(*p, Step::Handle));
        }
    }
}
