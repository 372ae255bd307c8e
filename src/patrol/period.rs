//! Periods of whole local days (统计周期): a day, a week, a month or any run of days, and the time
//! window they cover. Coverage and the daily report are always about whole local days, since "twice a
//! day" (一日双巡) is a property of a day.
//!
//! - a **day**: `2026-11-20`;
//! - a **week**: Monday to Sunday (ISO 8601, as weeks are counted in China, 周一至周日), named by
//!   any day in it (`2026-11-18`) or as an ISO week (`2026-W47`);
//! - a **month**: a calendar month, `2026-11`;
//! - **from / to**: the days from one date to another, both included.

use super::coverage::{Coverage, CoverageIndex, GridCoverage, Window};
use super::point::PatrolPoint;
use super::roster::Roster;
use chrono::{Datelike, Days, FixedOffset, NaiveDate, Weekday};

/// `days` local days from `first` in `zone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub first: NaiveDate,
    /// How many days (at least 1).
    pub days: u32,
    /// The zone of local days.
    pub zone: FixedOffset,
}

fn date(s: &str, what: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{what} `{s}` is not a date like 2026-11-20"))
}

/// The zone of local days when a request does not name one: China Standard Time.
pub fn default_zone() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Parses a zone like `+08:00`, `-05:30` or `Z`.
pub fn parse_zone(s: &str) -> Result<FixedOffset, ZoneError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("z") || t == "UTC" {
        return Ok(FixedOffset::east_opt(0).expect("UTC is a valid offset"));
    }
    t.parse::<FixedOffset>()
        .map_err(|_| ZoneError(s.to_string()))
}

/// A zone that is not an offset like `+08:00`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("zone `{0}` is not an offset like +08:00")]
pub struct ZoneError(pub String);

impl Period {
    /// `period` (its label), `from`, `to`, `days`, `zone` (and `day` for a single day): the period
    /// as answers and reports give it.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let p = self;
        let mut m = serde_json::Map::new();
        if p.days == 1 {
            m.insert("day".into(), p.first.to_string().into());
        }
        m.insert("period".into(), p.label().into());
        m.insert("from".into(), p.first.to_string().into());
        m.insert("to".into(), p.last().to_string().into());
        m.insert("days".into(), p.days.into());
        m.insert("zone".into(), p.zone.to_string().into());
        m
    }

    /// One day.
    pub fn day(day: NaiveDate, zone: FixedOffset) -> Period {
        Period {
            first: day,
            days: 1,
            zone,
        }
    }

    /// The Monday-to-Sunday week holding `day`.
    pub fn week(day: NaiveDate, zone: FixedOffset) -> Period {
        let monday = day.week(Weekday::Mon).first_day();
        Period {
            first: monday,
            days: 7,
            zone,
        }
    }

    /// A calendar month; `None` if `month` is not 1..=12.
    pub fn month(year: i32, month: u32, zone: FixedOffset) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = first.checked_add_months(chrono::Months::new(1))?;
        Some(Period {
            first,
            days: (next - first).num_days() as u32,
            zone,
        })
    }

    /// From `first` to `last`, both included.
    pub fn between(first: NaiveDate, last: NaiveDate, zone: FixedOffset) -> Result<Period, String> {
        if last < first {
            return Err(format!("the last day {last} is before the first {first}"));
        }
        Ok(Period {
            first,
            days: (last - first).num_days() as u32 + 1,
            zone,
        })
    }

    /// A week named by a date (`2026-11-18`) or an ISO week (`2026-W47`).
    pub fn parse_week(s: &str, zone: FixedOffset) -> Result<Period, String> {
        let t = s.trim();
        if let Some((y, w)) = t.split_once(['W', 'w']) {
            let y: i32 = y
                .trim_end_matches('-')
                .parse()
                .map_err(|_| format!("week `{s}` is not like 2026-W47 or 2026-11-18"))?;
            let w: u32 = w
                .parse()
                .map_err(|_| format!("week `{s}` is not like 2026-W47 or 2026-11-18"))?;
            let monday = NaiveDate::from_isoywd_opt(y, w, Weekday::Mon)
                .ok_or_else(|| format!("week `{s}`: {y} has no ISO week {w}"))?;
            return Ok(Period::week(monday, zone));
        }
        Ok(Period::week(date(t, "week")?, zone))
    }

    /// A month like `2026-11`.
    pub fn parse_month(s: &str, zone: FixedOffset) -> Result<Period, String> {
        let bad = || format!("month `{s}` is not like 2026-11");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Period::month(y, m, zone).ok_or_else(bad)
    }

    /// The period named by exactly one of `day`, `week`, `month` or the pair `from`/`to`
    /// (dates, both included), or `today` when none is given.
    pub fn choose(
        day: Option<&str>,
        week: Option<&str>,
        month: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        zone: FixedOffset,
        today: NaiveDate,
    ) -> Result<Period, String> {
        let given = [
            day.is_some(),
            week.is_some(),
            month.is_some(),
            from.is_some() || to.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given > 1 {
            return Err("give one of day, week, month or from/to".into());
        }
        match (day, week, month, from, to) {
            (Some(d), ..) => Ok(Period::day(date(d, "day")?, zone)),
            (_, Some(w), ..) => Period::parse_week(w, zone),
            (_, _, Some(m), ..) => Period::parse_month(m, zone),
            (_, _, _, Some(f), Some(t)) => Period::between(date(f, "from")?, date(t, "to")?, zone),
            (_, _, _, Some(_), None) => Err("from needs to (the last day, included)".into()),
            (_, _, _, None, Some(_)) => Err("to needs from (the first day)".into()),
            _ => Ok(Period::day(today, zone)),
        }
    }

    /// The last day.
    pub fn last(&self) -> NaiveDate {
        self.first + Days::new(self.days.saturating_sub(1) as u64)
    }

    /// The days, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        (0..self.days).map(|i| self.first + Days::new(i as u64))
    }

    /// The window of the whole period.
    pub fn window(&self) -> Window {
        Window::days(self.first, self.days, self.zone)
    }

    /// The window of one of its days.
    pub fn day_window(&self, day: NaiveDate) -> Window {
        Window::day(day, self.zone)
    }

    /// `2026-11-20`, or `2026-11-16/2026-11-22` for several days.
    pub fn label(&self) -> String {
        if self.days == 1 {
            self.first.to_string()
        } else {
            format!("{}/{}", self.first, self.last())
        }
    }

    /// Whether `day` is one of its days.
    pub fn contains(&self, day: NaiveDate) -> bool {
        day >= self.first && day <= self.last()
    }

    /// The ISO weekday of the first day (for messages).
    pub fn first_weekday(&self) -> Weekday {
        self.first.weekday()
    }
}

/// The coverage of `period`, fed one day at a time (a month is never in memory at once):
/// `points_of(day)` gives a day's accepted points (from a store, a channel…), `each_day` gets each
/// day's figures per grid (for the daily reports); the whole period's figures are returned. The
/// first error of `points_of` stops the run.
pub fn coverage_by_day<E>(
    index: &CoverageIndex,
    period: &Period,
    roster: Option<&Roster>,
    mut points_of: impl FnMut(NaiveDate) -> Result<Vec<PatrolPoint>, E>,
    mut each_day: impl FnMut(NaiveDate, Vec<GridCoverage>),
) -> Result<Coverage, E> {
    let mut run = index.run(period.window(), roster);
    for d in period.dates() {
        let points = points_of(d)?;
        each_day(d, run.add(&points));
    }
    Ok(run.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weeks_run_monday_to_sunday_and_months_are_calendar_months() {
        // 2026-11-18 is a Wednesday.
        let w = Period::parse_week("2026-11-18", z()).unwrap();
        assert_eq!(
            (w.first, w.days, w.last()),
            (d("2026-11-16"), 7, d("2026-11-22"))
        );
        assert_eq!(w.first_weekday(), Weekday::Mon);
        assert_eq!(Period::parse_week("2026-W47", z()).unwrap(), w);
        assert_eq!(
            Period::week(d("2026-11-22"), z()),
            w,
            "Sunday ends the week"
        );
        assert!(Period::parse_week("2026-W54", z()).is_err());
        let m = Period::parse_month("2026-02", z()).unwrap();
        assert_eq!((m.first, m.days), (d("2026-02-01"), 28));
        assert_eq!(Period::parse_month("2024-02", z()).unwrap().days, 29);
        assert_eq!(Period::parse_month("2026-12", z()).unwrap().days, 31);
        assert!(Period::parse_month("2026-13", z()).is_err());
        assert!(Period::parse_month("Nov", z()).is_err());
        let w = m.window();
        assert_eq!(w.to - w.from, chrono::TimeDelta::days(28));
        assert_eq!(w.from.to_rfc3339(), "2026-02-01T00:00:00+08:00");
    }

    #[test]
    fn exactly_one_choice() {
        let today = d("2026-11-20");
        let c = |day, week, month, from, to| Period::choose(day, week, month, from, to, z(), today);
        assert_eq!(
            c(None, None, None, None, None).unwrap(),
            Period::day(today, z())
        );
        assert_eq!(
            c(Some("2026-11-01"), None, None, None, None).unwrap().days,
            1
        );
        let r = c(None, None, None, Some("2026-11-01"), Some("2026-11-03")).unwrap();
        assert_eq!(
            (r.days, r.label()),
            (3, "2026-11-01/2026-11-03".to_string())
        );
        assert!(c(Some("2026-11-01"), Some("2026-11-01"), None, None, None).is_err());
        assert!(c(None, None, None, Some("2026-11-01"), None).is_err());
        assert!(c(None, None, None, Some("2026-11-03"), Some("2026-11-01")).is_err());
        let e = c(Some("May 1"), None, None, None, None).unwrap_err();
        assert!(e.contains("May 1"), "{e}");
        assert_eq!(r.dates().count(), 3);
        assert!(r.contains(d("2026-11-03")) && !r.contains(d("2026-11-04")));
    }
}
