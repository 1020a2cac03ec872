//! Schedule expressions of EventBridge rules: `rate(value unit)` and
//! `cron(minutes hours day-of-month month day-of-week year)`, evaluated in UTC.
//!
//! Pure: parsing and "when does it fire next" only; the scheduler task lives in
//! `scheduler.rs`. AWS's rules: six cron fields; exactly one of day-of-month
//! and day-of-week is `?`; `L` (last day of month / last given weekday of the
//! month), `W` (weekday nearest a day of month), `LW`, `#` (nth weekday of the
//! month); month and weekday names; `rate` units `minute(s)`, `hour(s)`,
//! `day(s)` with the singular form for 1 and the plural otherwise.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Fires every `period_secs`, counting from the rule's creation.
    Rate {
        period_secs: i64,
    },
    Cron(Box<Cron>),
}

/// Why an expression was rejected (the service answers with AWS's generic message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError(pub String);

const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;

#[derive(Debug, Clone, PartialEq)]
enum DayOfMonth {
    Any,
    Days([bool; 32]),
    /// `L` or `L-n`: the last day of the month minus `n`.
    Last(u32),
    /// `nW`: the weekday nearest day `n` (within the month).
    NearestWeekday(u32),
    /// `LW`: the last weekday of the month.
    LastWeekday,
}

#[derive(Debug, Clone, PartialEq)]
enum DayOfWeek {
    Any,
    /// Index 1 = Sunday ... 7 = Saturday.
    Days([bool; 8]),
    /// `dL`: the last given weekday of the month.
    Last(u32),
    /// `d#n`: the n-th given weekday of the month.
    Nth(u32, u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: [bool; 60],
    hours: [bool; 24],
    dom: DayOfMonth,
    months: [bool; 13],
    dow: DayOfWeek,
    years: Vec<bool>,
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, ScheduleError> {
        let e = expr.trim();
        if let Some(inner) = e.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
            return parse_rate(inner);
        }
        if let Some(inner) = e.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
            return Cron::parse(inner).map(|c| Schedule::Cron(Box::new(c)));
        }
        Err(ScheduleError(
            "expression must be rate(...) or cron(...)".into(),
        ))
    }

    /// The first firing time strictly after `after_ms` (epoch millis), for a
    /// rule created at `created_ms`. `None` when the schedule never fires again.
    pub fn next_after(&self, created_ms: i64, after_ms: i64) -> Option<i64> {
        match self {
            Schedule::Rate { period_secs } => {
                let p = period_secs * 1000;
                if after_ms < created_ms + p {
                    return Some(created_ms + p);
                }
                let n = (after_ms - created_ms) / p + 1;
                Some(created_ms + n * p)
            }
            Schedule::Cron(c) => c.next_after(after_ms),
        }
    }
}

fn parse_rate(inner: &str) -> Result<Schedule, ScheduleError> {
    let mut parts = inner.split_whitespace();
    let (Some(v), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ScheduleError("rate needs a value and a unit".into()));
    };
    let value: i64 = v
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ScheduleError("rate value must be a positive integer".into()))?;
    let (singular, secs) = match unit {
        "minute" => (true, 60),
        "minutes" => (false, 60),
        "hour" => (true, 3600),
        "hours" => (false, 3600),
        "day" => (true, 86400),
        "days" => (false, 86400),
        _ => return Err(ScheduleError(format!("unknown rate unit {unit}"))),
    };
    if singular != (value == 1) {
        return Err(ScheduleError(
            "rate unit must be singular for 1 and plural otherwise".into(),
        ));
    }
    Ok(Schedule::Rate {
        period_secs: value * secs,
    })
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(token: &str, names: Option<&[&str]>, min: u32, max: u32) -> Result<u32, ScheduleError> {
    let upper = token.to_ascii_uppercase();
    if let Some(names) = names
        && let Some(i) = names.iter().position(|n| *n == upper)
    {
        return Ok(i as u32 + min);
    }
    let n: u32 = token
        .parse()
        .map_err(|_| ScheduleError(format!("bad value {token}")))?;
    if n < min || n > max {
        return Err(ScheduleError(format!("value {n} out of range {min}-{max}")));
    }
    Ok(n)
}

/// A list field (`a,b-c,d/e,*`) as the set of values in `min..=max`.
fn list(
    field: &str,
    min: u32,
    max: u32,
    names: Option<&[&str]>,
) -> Result<Vec<u32>, ScheduleError> {
    let mut out = Vec::new();
    for item in field.split(',') {
        if item.is_empty() {
            return Err(ScheduleError("empty list item".into()));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s
                    .parse()
                    .map_err(|_| ScheduleError(format!("bad step {s}")))?;
                if s == 0 {
                    return Err(ScheduleError("step must be positive".into()));
                }
                (r, Some(s))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, names, min, max)?, value(b, names, min, max)?)
        } else {
            let v = value(range, names, min, max)?;
            // `a/n` means from a to the end in steps of n.
            (v, if step.is_some() { max } else { v })
        };
        let step = step.unwrap_or(1);
        if lo <= hi {
            let mut v = lo;
            while v <= hi {
                out.push(v);
                v += step;
            }
        } else {
            // A wrapping range such as FRI-MON or 22-2.
            let span = (max - lo + 1) + (hi - min + 1);
            let mut i = 0;
            while i < span {
                let v = lo + i;
                out.push(if v > max { v - max - 1 + min } else { v });
                i += step;
            }
        }
    }
    Ok(out)
}

fn flags<const N: usize>(values: &[u32]) -> [bool; N] {
    let mut f = [false; N];
    for &v in values {
        if (v as usize) < N {
            f[v as usize] = true;
        }
    }
    f
}

impl Cron {
    pub fn parse(inner: &str) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(ScheduleError("cron needs six fields".into()));
        }
        let minutes = flags::<60>(&list(fields[0], 0, 59, None)?);
        let hours = flags::<24>(&list(fields[1], 0, 23, None)?);
        let months = flags::<13>(&list(fields[3], 1, 12, Some(&MONTHS))?);
        let year_values = list(fields[5], FIRST_YEAR as u32, LAST_YEAR as u32, None)?;
        let mut years = vec![false; (LAST_YEAR - FIRST_YEAR + 1) as usize];
        for y in year_values {
            years[(y - FIRST_YEAR as u32) as usize] = true;
        }
        let dom = parse_dom(fields[2])?;
        let dow = parse_dow(fields[4])?;
        // AWS: one of the two day fields must be `?`, and only one.
        match (&dom, &dow) {
            (DayOfMonth::Any, DayOfWeek::Any) => {
                return Err(ScheduleError(
                    "day-of-month and day-of-week cannot both be ?".into(),
                ));
            }
            (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
            _ => {
                return Err(ScheduleError(
                    "one of day-of-month and day-of-week must be ?".into(),
                ));
            }
        }
        Ok(Cron {
            minutes,
            hours,
            dom,
            months,
            dow,
            years,
        })
    }

    fn year_ok(&self, y: i32) -> bool {
        (FIRST_YEAR..=LAST_YEAR).contains(&y) && self.years[(y - FIRST_YEAR) as usize]
    }

    fn day_ok(&self, d: NaiveDate) -> bool {
        let last = last_day(d.year(), d.month());
        let dom_ok = match &self.dom {
            DayOfMonth::Any => true,
            DayOfMonth::Days(f) => f[d.day() as usize],
            DayOfMonth::Last(off) => last > *off && d.day() == last - off,
            DayOfMonth::NearestWeekday(n) => {
                nearest_weekday(d.year(), d.month(), *n) == Some(d.day())
            }
            DayOfMonth::LastWeekday => {
                nearest_weekday_back(d.year(), d.month(), last) == Some(d.day())
            }
        };
        if !dom_ok {
            return false;
        }
        let wd = d.weekday().num_days_from_sunday() + 1;
        match &self.dow {
            DayOfWeek::Any => true,
            DayOfWeek::Days(f) => f[wd as usize],
            DayOfWeek::Last(day) => wd == *day && d.day() + 7 > last,
            DayOfWeek::Nth(day, n) => wd == *day && (d.day() - 1) / 7 + 1 == *n,
        }
    }

    /// First matching minute strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        // Start at the next whole minute.
        let start_min = after_ms.div_euclid(60_000) + 1;
        let start = Utc.timestamp_opt(start_min * 60, 0).single()?.naive_utc();
        let mut day = start.date();
        let mut first_day = true;
        while day.year() <= LAST_YEAR {
            if !self.year_ok(day.year()) {
                day = NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)?;
                first_day = false;
                continue;
            }
            if !self.months[day.month() as usize] {
                day = first_of_next_month(day)?;
                first_day = false;
                continue;
            }
            if self.day_ok(day) {
                let (h0, m0) = if first_day {
                    (start.hour(), start.minute())
                } else {
                    (0, 0)
                };
                for h in h0..24 {
                    if !self.hours[h as usize] {
                        continue;
                    }
                    let mstart = if h == h0 { m0 } else { 0 };
                    for m in mstart..60 {
                        if self.minutes[m as usize] {
                            let t =
                                NaiveDateTime::new(day, chrono::NaiveTime::from_hms_opt(h, m, 0)?);
                            return Some(t.and_utc().timestamp() * 1000);
                        }
                    }
                }
            }
            day = day.succ_opt()?;
            first_day = false;
        }
        None
    }
}

fn parse_dom(f: &str) -> Result<DayOfMonth, ScheduleError> {
    let u = f.to_ascii_uppercase();
    if u == "?" {
        return Ok(DayOfMonth::Any);
    }
    if u == "L" {
        return Ok(DayOfMonth::Last(0));
    }
    if u == "LW" {
        return Ok(DayOfMonth::LastWeekday);
    }
    if let Some(off) = u.strip_prefix("L-") {
        let n = value(off, None, 1, 30)?;
        return Ok(DayOfMonth::Last(n));
    }
    if let Some(d) = u.strip_suffix('W') {
        return Ok(DayOfMonth::NearestWeekday(value(d, None, 1, 31)?));
    }
    Ok(DayOfMonth::Days(flags::<32>(&list(&u, 1, 31, None)?)))
}

fn parse_dow(f: &str) -> Result<DayOfWeek, ScheduleError> {
    let u = f.to_ascii_uppercase();
    if u == "?" {
        return Ok(DayOfWeek::Any);
    }
    if u == "L" {
        // Alone, L is the last day of the week: Saturday.
        return Ok(DayOfWeek::Days(flags::<8>(&[7])));
    }
    if let Some(d) = u.strip_suffix('L') {
        return Ok(DayOfWeek::Last(value(d, Some(&DAYS), 1, 7)?));
    }
    if let Some((d, n)) = u.split_once('#') {
        let day = value(d, Some(&DAYS), 1, 7)?;
        let nth = value(n, None, 1, 5)?;
        return Ok(DayOfWeek::Nth(day, nth));
    }
    Ok(DayOfWeek::Days(flags::<8>(&list(&u, 1, 7, Some(&DAYS))?)))
}

fn last_day(y: i32, m: u32) -> u32 {
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28)
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    }
}

/// The weekday nearest day `n` without leaving the month (Quartz `nW`).
fn nearest_weekday(y: i32, m: u32, n: u32) -> Option<u32> {
    let last = last_day(y, m);
    if n > last {
        return None;
    }
    let d = NaiveDate::from_ymd_opt(y, m, n)?;
    Some(match d.weekday() {
        Weekday::Sat if n == 1 => 3,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == last => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    })
}

/// The last weekday on or before day `n`.
fn nearest_weekday_back(y: i32, m: u32, n: u32) -> Option<u32> {
    let d = NaiveDate::from_ymd_opt(y, m, n)?;
    Some(match d.weekday() {
        Weekday::Sat => n - 1,
        Weekday::Sun => n - 2,
        _ => n,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }
    fn iso(ms: i64) -> String {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }
    fn next(expr: &str, after: &str) -> String {
        iso(Schedule::parse(expr)
            .unwrap()
            .next_after(0, ms(after))
            .unwrap())
    }

    #[test]
    fn rates() {
        assert_eq!(
            Schedule::parse("rate(1 minute)").unwrap(),
            Schedule::Rate { period_secs: 60 }
        );
        assert_eq!(
            Schedule::parse("rate(5 minutes)").unwrap(),
            Schedule::Rate { period_secs: 300 }
        );
        assert_eq!(
            Schedule::parse("rate(2 hours)").unwrap(),
            Schedule::Rate { period_secs: 7200 }
        );
        assert_eq!(
            Schedule::parse("rate(1 day)").unwrap(),
            Schedule::Rate { period_secs: 86400 }
        );
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(1 second)",
            "rate(minute)",
            "rate 1 minute",
            "rate(1.5 hours)",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
        let r = Schedule::parse("rate(5 minutes)").unwrap();
        assert_eq!(r.next_after(1_000, 1_000), Some(301_000));
        assert_eq!(r.next_after(1_000, 301_000), Some(601_000));
        assert_eq!(r.next_after(1_000, 300_999), Some(301_000));
    }

    #[test]
    fn simple_crons() {
        assert_eq!(
            next("cron(0 10 * * ? *)", "2024-03-01T09:59:30Z"),
            "2024-03-01T10:00:00Z"
        );
        assert_eq!(
            next("cron(0 10 * * ? *)", "2024-03-01T10:00:00Z"),
            "2024-03-02T10:00:00Z"
        );
        assert_eq!(
            next("cron(15 12 * * ? *)", "2024-03-01T12:15:00Z"),
            "2024-03-02T12:15:00Z"
        );
        assert_eq!(
            next("cron(0/15 * * * ? *)", "2024-03-01T12:16:00Z"),
            "2024-03-01T12:30:00Z"
        );
        assert_eq!(
            next("cron(* * * * ? *)", "2024-03-01T12:16:10Z"),
            "2024-03-01T12:17:00Z"
        );
        assert_eq!(
            next("cron(0 18 ? * MON-FRI *)", "2024-03-01T18:00:00Z"),
            "2024-03-04T18:00:00Z"
        );
        assert_eq!(
            next("cron(0 8 1 * ? *)", "2024-03-01T08:00:00Z"),
            "2024-04-01T08:00:00Z"
        );
        assert_eq!(
            next("cron(0/10 * ? * MON-FRI *)", "2024-03-02T00:00:00Z"),
            "2024-03-04T00:00:00Z"
        );
        assert_eq!(
            next("cron(0/5 8-17 ? * MON-FRI *)", "2024-03-04T17:56:00Z"),
            "2024-03-05T08:00:00Z"
        );
        assert_eq!(
            next("cron(0 9 ? JAN,JUL MON *)", "2024-02-01T00:00:00Z"),
            "2024-07-01T09:00:00Z"
        );
        assert_eq!(
            next("cron(30 2 29 FEB ? *)", "2024-03-01T00:00:00Z"),
            "2028-02-29T02:30:00Z"
        );
        assert_eq!(
            next("cron(0 0 1 1 ? 2030)", "2024-03-01T00:00:00Z"),
            "2030-01-01T00:00:00Z"
        );
        assert!(
            Schedule::parse("cron(0 0 1 1 ? 2020)")
                .unwrap()
                .next_after(0, ms("2024-01-01T00:00:00Z"))
                .is_none()
        );
    }

    #[test]
    fn special_characters() {
        // Last day of the month.
        assert_eq!(
            next("cron(0 12 L * ? *)", "2024-02-10T00:00:00Z"),
            "2024-02-29T12:00:00Z"
        );
        assert_eq!(
            next("cron(0 12 L-2 * ? *)", "2024-04-10T00:00:00Z"),
            "2024-04-28T12:00:00Z"
        );
        // Last Friday of the month.
        assert_eq!(
            next("cron(0 12 ? * 6L *)", "2024-03-01T00:00:00Z"),
            "2024-03-29T12:00:00Z"
        );
        assert_eq!(
            next("cron(0 12 ? * FRIL *)", "2024-03-01T00:00:00Z"),
            "2024-03-29T12:00:00Z"
        );
        // Second Tuesday.
        assert_eq!(
            next("cron(0 12 ? * 3#2 *)", "2024-03-01T00:00:00Z"),
            "2024-03-12T12:00:00Z"
        );
        // Nearest weekday to the 1st: 2024-06-01 is a Saturday, so Monday the 3rd.
        assert_eq!(
            next("cron(0 12 1W * ? *)", "2024-05-31T13:00:00Z"),
            "2024-06-03T12:00:00Z"
        );
        // 15th of September 2024 is a Sunday: Monday the 16th.
        assert_eq!(
            next("cron(0 12 15W * ? *)", "2024-09-01T00:00:00Z"),
            "2024-09-16T12:00:00Z"
        );
        // Last weekday of August 2024 (31st is a Saturday): Friday the 30th.
        assert_eq!(
            next("cron(0 12 LW * ? *)", "2024-08-01T00:00:00Z"),
            "2024-08-30T12:00:00Z"
        );
        // L alone in day-of-week: Saturday.
        assert_eq!(
            next("cron(0 12 ? * L *)", "2024-03-01T00:00:00Z"),
            "2024-03-02T12:00:00Z"
        );
        // Wrapping weekday range.
        assert_eq!(
            next("cron(0 12 ? * FRI-MON *)", "2024-03-05T00:00:00Z"),
            "2024-03-08T12:00:00Z"
        );
    }

    #[test]
    fn invalid_crons() {
        for bad in [
            "cron(0 10 * * * *)",
            "cron(0 10 ? * ? *)",
            "cron(0 10 1 * 2 *)",
            "cron(0 10 * *)",
            "cron(60 10 * * ? *)",
            "cron(0 24 * * ? *)",
            "cron(0 0 32 * ? *)",
            "cron(0 0 ? 13 * *)",
            "cron(0 0 ? * 8 *)",
            "cron(0 0 ? * 2#6 *)",
            "cron(0/0 0 ? * * *)",
            "cron(0 0 ? * * 1969)",
            "cron(a 0 ? * * *)",
            "cron(0 0 ? * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }
}
