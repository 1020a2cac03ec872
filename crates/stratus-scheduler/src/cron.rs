//! Cron expressions of EventBridge Scheduler: six fields
//! `minutes hours day-of-month month day-of-week year`, parsed into sets and
//! evaluated in a time zone.
//!
//! Field syntax follows the Scheduler user guide: minutes `0-59`, hours `0-23`,
//! day-of-month `1-31` (with `?`, `L`, `LW` and `nW`), month `1-12` or
//! `JAN-DEC`, day-of-week `1-7` or `SUN-SAT` with Sunday = 1 (with `?`, `L`,
//! `nL` and `n#k`), year `1970-2199`. Every field takes `*`, lists (`,`),
//! ranges (`-`) and increments (`/`). Exactly one of day-of-month and
//! day-of-week must be `?`.
//!
//! Evaluation walks local calendar days in the schedule's zone. Local times that
//! do not exist (spring-forward gap) are skipped and times that occur twice
//! (fall-back overlap) fire once, at their first occurrence — what the
//! Scheduler guide documents for daylight saving time.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

pub(crate) const MIN_YEAR: i32 = 1970;
pub(crate) const MAX_YEAR: i32 = 2199;

/// A bit set over small integers (0..128).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Bits(u128);

impl Bits {
    fn set(&mut self, i: u32) {
        self.0 |= 1u128 << i;
    }
    pub(crate) fn has(self, i: u32) -> bool {
        i < 128 && self.0 & (1u128 << i) != 0
    }
    fn iter(self, lo: u32, hi: u32) -> impl Iterator<Item = u32> {
        (lo..=hi).filter(move |i| self.has(*i))
    }
}

/// Years 1970..=2199 as offsets from 1970 (230 values, two words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct YearBits([u128; 2]);

impl YearBits {
    fn set(&mut self, year: u32) {
        let i = year - MIN_YEAR as u32;
        self.0[(i / 128) as usize] |= 1u128 << (i % 128);
    }
    fn has(&self, year: i32) -> bool {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return false;
        }
        let i = (year - MIN_YEAR) as u32;
        self.0[(i / 128) as usize] & (1u128 << (i % 128)) != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DayOfMonth {
    /// `?`: day-of-week decides.
    Unspecified,
    Days(Bits),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday–Friday) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest to day n, within the same month.
    NearestWeekday(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DayOfWeek {
    /// `?`: day-of-month decides.
    Unspecified,
    /// Days with Sunday = 1 … Saturday = 7.
    Days(Bits),
    /// `nL`: the last given weekday of the month.
    Last(u32),
    /// `n#k`: the k-th given weekday of the month.
    Nth(u32, u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CronSpec {
    minutes: Bits,
    hours: Bits,
    dom: DayOfMonth,
    months: Bits,
    dow: DayOfWeek,
    years: YearBits,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parse the inside of `cron(...)`. `None` when invalid.
pub(crate) fn parse(fields: &str) -> Option<CronSpec> {
    let parts: Vec<&str> = fields.split_whitespace().collect();
    let [min, hour, dom, month, dow, year] = parts.as_slice() else {
        return None;
    };
    let minutes = parse_set(min, 0, 59, None)?;
    let hours = parse_set(hour, 0, 23, None)?;
    let months = parse_set(month, 1, 12, Some(&MONTHS))?;
    let dom = parse_dom(dom)?;
    let dow = parse_dow(dow)?;
    // Exactly one of the two day fields must be `?`.
    let dom_q = dom == DayOfMonth::Unspecified;
    let dow_q = dow == DayOfWeek::Unspecified;
    if dom_q == dow_q {
        return None;
    }
    let years = parse_years(year)?;
    Some(CronSpec {
        minutes,
        hours,
        dom,
        months,
        dow,
        years,
    })
}

fn parse_value(text: &str, lo: u32, hi: u32, names: Option<&[&str]>) -> Option<u32> {
    let v = if let Ok(n) = text.parse::<u32>() {
        n
    } else {
        let names = names?;
        let upper = text.to_ascii_uppercase();
        let idx = names.iter().position(|n| *n == upper)?;
        idx as u32 + lo
    };
    (lo..=hi).contains(&v).then_some(v)
}

/// A list of `*`, `a`, `a-b`, with optional `/step`; ranges may wrap around
/// (`FRI-MON`, `22-2`).
fn parse_set(field: &str, lo: u32, hi: u32, names: Option<&[&str]>) -> Option<Bits> {
    let mut bits = Bits::default();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step = s.parse::<u32>().ok().filter(|s| *s > 0)?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value(a, lo, hi, names)?,
                parse_value(b, lo, hi, names)?,
            )
        } else {
            let a = parse_value(range, lo, hi, names)?;
            // `a/step` runs from a to the end of the field.
            (a, if step.is_some() { hi } else { a })
        };
        let step = step.unwrap_or(1);
        let span = hi - lo + 1;
        // Walk forward from start, wrapping at the top of the field.
        let len = if end >= start {
            end - start
        } else {
            end + span - start
        };
        let mut off = 0;
        while off <= len {
            let v = lo + (start - lo + off) % span;
            bits.set(v);
            off += step;
        }
    }
    Some(bits)
}

fn parse_years(field: &str) -> Option<YearBits> {
    let mut years = YearBits::default();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (lo, hi) = (MIN_YEAR as u32, MAX_YEAR as u32);
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (parse_value(a, lo, hi, None)?, parse_value(b, lo, hi, None)?)
        } else {
            let a = parse_value(range, lo, hi, None)?;
            (a, if item.contains('/') { hi } else { a })
        };
        if end < start {
            return None;
        }
        let mut y = start;
        while y <= end {
            years.set(y);
            y += step;
        }
    }
    Some(years)
}

fn parse_dom(field: &str) -> Option<DayOfMonth> {
    match field {
        "?" => return Some(DayOfMonth::Unspecified),
        "L" => return Some(DayOfMonth::Last),
        "LW" => return Some(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(day) = field.strip_suffix('W') {
        let d = parse_value(day, 1, 31, None)?;
        return Some(DayOfMonth::NearestWeekday(d));
    }
    parse_set(field, 1, 31, None).map(DayOfMonth::Days)
}

fn parse_dow(field: &str) -> Option<DayOfWeek> {
    match field {
        "?" => return Some(DayOfWeek::Unspecified),
        // A bare `L` is the last day of the week: Saturday.
        "L" => {
            let mut b = Bits::default();
            b.set(7);
            return Some(DayOfWeek::Days(b));
        }
        _ => {}
    }
    if let Some((day, nth)) = field.split_once('#') {
        let d = parse_value(day, 1, 7, Some(&DAYS))?;
        let n = nth.parse::<u32>().ok().filter(|n| (1..=5).contains(n))?;
        return Some(DayOfWeek::Nth(d, n));
    }
    if let Some(day) = field.strip_suffix('L') {
        let d = parse_value(day, 1, 7, Some(&DAYS))?;
        return Some(DayOfWeek::Last(d));
    }
    parse_set(field, 1, 7, Some(&DAYS)).map(DayOfWeek::Days)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

/// Sunday = 1 … Saturday = 7.
fn cron_weekday(date: NaiveDate) -> u32 {
    date.weekday().number_from_sunday()
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl CronSpec {
    fn day_matches(&self, date: NaiveDate) -> bool {
        if !self.years.has(date.year()) || !self.months.has(date.month()) {
            return false;
        }
        let day = date.day();
        let dim = days_in_month(date.year(), date.month());
        match &self.dom {
            DayOfMonth::Unspecified => {}
            DayOfMonth::Days(b) => return b.has(day),
            DayOfMonth::Last => return day == dim,
            DayOfMonth::LastWeekday => {
                let mut last = dim;
                while let Some(d) = date.with_day(last)
                    && is_weekend(d)
                {
                    last -= 1;
                }
                return day == last;
            }
            DayOfMonth::NearestWeekday(n) => {
                if *n > dim {
                    return false;
                }
                let Some(target) = date.with_day(*n) else {
                    return false;
                };
                // Nearest weekday without leaving the month.
                let nearest = match target.weekday() {
                    Weekday::Sat if *n == 1 => n + 2,
                    Weekday::Sat => n - 1,
                    Weekday::Sun if *n == dim => n - 2,
                    Weekday::Sun => n + 1,
                    _ => *n,
                };
                return day == nearest;
            }
        }
        let wd = cron_weekday(date);
        match &self.dow {
            DayOfWeek::Unspecified => false,
            DayOfWeek::Days(b) => b.has(wd),
            DayOfWeek::Last(w) => wd == *w && day + 7 > dim,
            DayOfWeek::Nth(w, n) => wd == *w && (day - 1) / 7 + 1 == *n,
        }
    }

    /// The first time strictly after `after` that matches, evaluated in `tz`.
    pub(crate) fn next_after(&self, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Start a day early: the local date of `after` may sit in a repeated hour.
        let mut date = after.with_timezone(&tz).date_naive().pred_opt()?;
        let end = NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31)?;
        while date <= end {
            if !self.years.has(date.year()) {
                date = NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?;
                continue;
            }
            if !self.months.has(date.month()) {
                let (y, m) = if date.month() == 12 {
                    (date.year() + 1, 1)
                } else {
                    (date.year(), date.month() + 1)
                };
                date = NaiveDate::from_ymd_opt(y, m, 1)?;
                continue;
            }
            if self.day_matches(date) {
                for h in self.hours.iter(0, 23) {
                    for m in self.minutes.iter(0, 59) {
                        let Some(local) = date.and_hms_opt(h, m, 0) else {
                            continue;
                        };
                        let instant = match tz.from_local_datetime(&local) {
                            LocalResult::Single(t) => t,
                            // Repeated local time: only its first occurrence fires.
                            LocalResult::Ambiguous(first, _) => first,
                            // Skipped by a spring-forward transition.
                            LocalResult::None => continue,
                        };
                        let utc = instant.with_timezone(&Utc);
                        if utc > after {
                            return Some(utc);
                        }
                    }
                }
            }
            date = date.checked_add_signed(Duration::days(1))?;
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, tz: &str, after: &str) -> Option<String> {
        let spec = parse(expr).unwrap_or_else(|| panic!("parse {expr}"));
        let tz: Tz = tz.parse().unwrap();
        spec.next_after(tz, utc(after))
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }

    #[test]
    fn rejects_bad_expressions() {
        for bad in [
            "* * * * *",
            "0 12 * * * *",   // both day fields given
            "0 12 ? * ? *",   // neither given
            "60 * * * ? *",   // minute out of range
            "0 24 * * ? *",   // hour out of range
            "0 0 32 * ? *",   // day out of range
            "0 0 * 13 ? *",   // month out of range
            "0 0 ? * 8 *",    // weekday out of range
            "0 0 * * ? 1969", // year out of range
            "0 0 * * ? 2200",
            "*/0 * * * ? *",
            "0 0 ? * MON#6 *",
            "a b c d e f",
        ] {
            assert!(parse(bad).is_none(), "{bad} should be invalid");
        }
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(
            next("* * * * ? *", "UTC", "2024-05-01T10:00:30Z").unwrap(),
            "2024-05-01T10:01:00Z"
        );
        assert_eq!(
            next("0/15 * * * ? *", "UTC", "2024-05-01T10:15:00Z").unwrap(),
            "2024-05-01T10:30:00Z"
        );
        assert_eq!(
            next("5,35 8-9 * * ? *", "UTC", "2024-05-01T09:40:00Z").unwrap(),
            "2024-05-02T08:05:00Z"
        );
    }

    #[test]
    fn weekdays_names_and_ranges() {
        // 2024-05-01 is a Wednesday.
        assert_eq!(
            next("0 12 ? * MON-FRI *", "UTC", "2024-05-03T12:00:00Z").unwrap(),
            "2024-05-06T12:00:00Z"
        );
        assert_eq!(
            next("0 12 ? * 1 *", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-05T12:00:00Z"
        );
        // Wrapping range FRI-MON.
        assert_eq!(
            next("0 0 ? * FRI-MON *", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-03T00:00:00Z"
        );
        assert_eq!(
            next("0 8 1 JAN,JUL ? *", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2024-07-01T08:00:00Z"
        );
    }

    #[test]
    fn last_and_nth_days() {
        assert_eq!(
            next("0 0 L * ? *", "UTC", "2024-02-01T00:00:00Z").unwrap(),
            "2024-02-29T00:00:00Z"
        );
        // Last weekday of June 2024 (the 30th is a Sunday).
        assert_eq!(
            next("0 0 LW * ? *", "UTC", "2024-06-01T00:00:00Z").unwrap(),
            "2024-06-28T00:00:00Z"
        );
        // 15W in June 2024: the 15th is a Saturday, so Friday the 14th.
        assert_eq!(
            next("0 0 15W * ? *", "UTC", "2024-06-01T00:00:00Z").unwrap(),
            "2024-06-14T00:00:00Z"
        );
        // 1W in June 2024: the 1st is a Saturday, so Monday the 3rd.
        assert_eq!(
            next("0 0 1W * ? *", "UTC", "2024-05-31T00:00:00Z").unwrap(),
            "2024-06-03T00:00:00Z"
        );
        // Second Tuesday of May 2024.
        assert_eq!(
            next("0 9 ? * 3#2 *", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-14T09:00:00Z"
        );
        // Last Friday of May 2024.
        assert_eq!(
            next("0 9 ? * 6L *", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-31T09:00:00Z"
        );
        // Bare L in day-of-week: Saturday.
        assert_eq!(
            next("0 9 ? * L *", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-04T09:00:00Z"
        );
        // February 29th only in leap years.
        assert_eq!(
            next("0 0 29 2 ? *", "UTC", "2024-03-01T00:00:00Z").unwrap(),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn years_bound_the_search() {
        assert_eq!(
            next("0 0 1 1 ? 2030", "UTC", "2024-05-01T00:00:00Z").unwrap(),
            "2030-01-01T00:00:00Z"
        );
        assert!(next("0 0 1 1 ? 2020", "UTC", "2024-05-01T00:00:00Z").is_none());
    }

    #[test]
    fn time_zones() {
        // 08:00 in New York (EDT, UTC-4) in May.
        assert_eq!(
            next("0 8 * * ? *", "America/New_York", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-01T12:00:00Z"
        );
        // 08:00 in Tokyo (UTC+9) is 23:00 UTC the day before.
        assert_eq!(
            next("0 8 * * ? *", "Asia/Tokyo", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-01T23:00:00Z"
        );
        // Day-of-week is evaluated on the local date: Monday 00:30 in Auckland
        // is Sunday 12:30 UTC.
        assert_eq!(
            next("30 0 ? * MON *", "Pacific/Auckland", "2024-05-01T00:00:00Z").unwrap(),
            "2024-05-05T12:30:00Z"
        );
    }

    #[test]
    fn spring_forward_skips_missing_times() {
        // 2024-03-10: New York clocks jump from 02:00 to 03:00.
        assert_eq!(
            next("30 2 * * ? *", "America/New_York", "2024-03-09T12:00:00Z").unwrap(),
            "2024-03-11T06:30:00Z",
            "02:30 does not exist on the 10th, so the next run is on the 11th"
        );
        // Hourly schedule: 01:00 EST then 03:00 EDT, no 02:00.
        assert_eq!(
            next("0 * * * ? *", "America/New_York", "2024-03-10T06:00:00Z").unwrap(),
            "2024-03-10T07:00:00Z"
        );
    }

    #[test]
    fn fall_back_runs_once() {
        // 2024-11-03: New York clocks go back from 02:00 to 01:00; 01:30 happens twice.
        let first = next("30 1 * * ? *", "America/New_York", "2024-11-03T00:00:00Z").unwrap();
        assert_eq!(first, "2024-11-03T05:30:00Z", "first 01:30 (EDT)");
        let again = next("30 1 * * ? *", "America/New_York", &first).unwrap();
        assert_eq!(
            again, "2024-11-04T06:30:00Z",
            "the repeated 01:30 (EST) does not fire"
        );
        // Every 30 minutes through the overlap: 01:00, 01:30 once each, then 02:00 EST.
        let t = next("0/30 * * * ? *", "America/New_York", "2024-11-03T05:30:00Z").unwrap();
        assert_eq!(t, "2024-11-03T07:00:00Z");
    }
}
