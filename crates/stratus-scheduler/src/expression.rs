//! Schedule expressions (`at(...)`, `rate(...)`, `cron(...)`) and the pure
//! computation of a schedule's next occurrence.
//!
//! Times are epoch milliseconds. `at` and `cron` are evaluated in the
//! schedule's IANA time zone; `rate` is a fixed duration (a `day` is 24 hours,
//! whatever daylight saving time does), counted from the schedule's anchor —
//! its StartDate, or the moment it was created or last updated.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::cron::{self, CronSpec};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expression {
    /// One-time: a local date and time.
    At(NaiveDateTime),
    /// Every `millis` milliseconds.
    Rate {
        millis: i64,
    },
    Cron(CronSpec),
}

impl Expression {
    pub(crate) fn is_one_time(&self) -> bool {
        matches!(self, Expression::At(_))
    }
}

/// Parse a schedule expression; `None` when it is not valid.
pub(crate) fn parse(expr: &str) -> Option<Expression> {
    let expr = expr.trim();
    if let Some(inner) = wrapped(expr, "at") {
        // Exactly yyyy-mm-ddThh:mm:ss.
        if inner.len() != 19 {
            return None;
        }
        return NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .map(Expression::At);
    }
    if let Some(inner) = wrapped(expr, "rate") {
        let mut parts = inner.split_whitespace();
        let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: i64 = value.parse().ok().filter(|v| *v > 0)?;
        let unit_ms: i64 = match unit {
            "minute" | "minutes" => 60_000,
            "hour" | "hours" => 3_600_000,
            "day" | "days" => 86_400_000,
            _ => return None,
        };
        return value
            .checked_mul(unit_ms)
            .map(|millis| Expression::Rate { millis });
    }
    if let Some(inner) = wrapped(expr, "cron") {
        return cron::parse(inner).map(Expression::Cron);
    }
    None
}

fn wrapped<'a>(expr: &'a str, name: &str) -> Option<&'a str> {
    expr.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// Parse an IANA time zone name.
pub(crate) fn parse_tz(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

fn to_utc(t: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(t)
}

/// The local `at` time as an instant. A time inside a spring-forward gap is
/// moved forward by the gap (02:30 on the changeover night becomes 03:30).
pub(crate) fn at_instant(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_millis()),
        LocalResult::None => {
            let later = local.checked_add_signed(chrono::Duration::hours(1))?;
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.timestamp_millis())
        }
    }
}

/// What decides a schedule's occurrences.
#[derive(Clone, Debug)]
pub(crate) struct Timing<'a> {
    pub expr: &'a Expression,
    pub tz: Tz,
    /// StartDate (recurring schedules only).
    pub start: Option<i64>,
    /// EndDate (recurring schedules only).
    pub end: Option<i64>,
    /// Where a rate without StartDate counts from.
    pub anchor: i64,
}

impl Timing<'_> {
    /// The first occurrence strictly after `after`, or `None` when there are no more.
    pub(crate) fn next_after(&self, after: i64) -> Option<i64> {
        let next = match self.expr {
            Expression::At(local) => {
                let t = at_instant(*local, self.tz)?;
                return (t > after).then_some(t);
            }
            Expression::Rate { millis } => {
                let anchor = self.start.unwrap_or(self.anchor);
                if after < anchor {
                    anchor
                } else {
                    let k = (after - anchor) / millis + 1;
                    anchor.checked_add(k.checked_mul(*millis)?)?
                }
            }
            Expression::Cron(spec) => {
                // Occurrences at or after StartDate: search from just before it.
                let from = match self.start {
                    Some(s) if s - 1 > after => s - 1,
                    _ => after,
                };
                spec.next_after(self.tz, to_utc(from)?)?.timestamp_millis()
            }
        };
        match self.end {
            Some(end) if next >= end => None,
            _ => Some(next),
        }
    }
}

/// `2022-03-22T18:59:43Z`: the form of `<aws.scheduler.scheduled-time>`.
pub(crate) fn format_scheduled_time(t: i64) -> String {
    to_utc(t)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn timing<'a>(expr: &'a Expression, tz: &str) -> Timing<'a> {
        Timing {
            expr,
            tz: parse_tz(tz).unwrap(),
            start: None,
            end: None,
            anchor: ms("2024-05-01T10:00:00Z"),
        }
    }

    #[test]
    fn parses_the_three_forms() {
        assert!(matches!(
            parse("at(2024-05-01T10:00:00)"),
            Some(Expression::At(_))
        ));
        assert_eq!(
            parse("rate(5 minutes)"),
            Some(Expression::Rate { millis: 300_000 })
        );
        assert_eq!(
            parse("rate(1 minute)"),
            Some(Expression::Rate { millis: 60_000 })
        );
        assert_eq!(
            parse("rate(2 hours)"),
            Some(Expression::Rate { millis: 7_200_000 })
        );
        assert_eq!(
            parse("rate(1 day)"),
            Some(Expression::Rate { millis: 86_400_000 })
        );
        assert!(matches!(
            parse("cron(0 12 * * ? *)"),
            Some(Expression::Cron(_))
        ));
        for bad in [
            "",
            "at(2024-05-01 10:00:00)",
            "at(2024-05-01T10:00)",
            "at(2024-13-01T10:00:00)",
            "at(2024-05-01T10:00:00Z)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(5 seconds)",
            "rate(5)",
            "rate(five minutes)",
            "cron(0 12 * * *)",
            "every(5 minutes)",
            "rate(5 minutes",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn at_in_a_zone() {
        let e = parse("at(2024-07-01T09:00:00)").unwrap();
        let t = timing(&e, "Europe/Paris");
        assert_eq!(t.next_after(0), Some(ms("2024-07-01T07:00:00Z")));
        // Once past, there is no further occurrence.
        assert_eq!(t.next_after(ms("2024-07-01T07:00:00Z")), None);
        // StartDate and EndDate do not apply to one-time schedules.
        let t = Timing {
            start: Some(ms("2025-01-01T00:00:00Z")),
            end: Some(ms("2024-01-01T00:00:00Z")),
            ..t
        };
        assert_eq!(t.next_after(0), Some(ms("2024-07-01T07:00:00Z")));
    }

    #[test]
    fn at_inside_a_gap_moves_forward() {
        let e = parse("at(2024-03-31T02:30:00)").unwrap();
        let t = timing(&e, "Europe/Berlin");
        // 02:30 does not exist in Berlin that night; 03:30 CEST = 01:30Z.
        assert_eq!(t.next_after(0), Some(ms("2024-03-31T01:30:00Z")));
    }

    #[test]
    fn rate_counts_from_the_anchor() {
        let e = parse("rate(5 minutes)").unwrap();
        let t = timing(&e, "UTC");
        let anchor = ms("2024-05-01T10:00:00Z");
        // Starts immediately (at the anchor).
        assert_eq!(t.next_after(anchor - 1), Some(anchor));
        assert_eq!(t.next_after(anchor), Some(anchor + 300_000));
        assert_eq!(t.next_after(anchor + 299_999), Some(anchor + 300_000));
        assert_eq!(t.next_after(anchor + 300_000), Some(anchor + 600_000));
    }

    #[test]
    fn rate_with_start_and_end() {
        let e = parse("rate(1 hour)").unwrap();
        let t = Timing {
            start: Some(ms("2024-06-01T00:00:00Z")),
            end: Some(ms("2024-06-01T02:30:00Z")),
            ..timing(&e, "UTC")
        };
        assert_eq!(t.next_after(0), Some(ms("2024-06-01T00:00:00Z")));
        assert_eq!(
            t.next_after(ms("2024-06-01T01:00:00Z")),
            Some(ms("2024-06-01T02:00:00Z"))
        );
        assert_eq!(t.next_after(ms("2024-06-01T02:00:00Z")), None);
    }

    #[test]
    fn rate_days_are_24_hours_across_dst() {
        let e = parse("rate(1 day)").unwrap();
        let t = Timing {
            anchor: ms("2024-03-09T12:00:00Z"),
            ..timing(&e, "America/New_York")
        };
        assert_eq!(
            t.next_after(ms("2024-03-09T12:00:00Z")),
            Some(ms("2024-03-10T12:00:00Z"))
        );
    }

    #[test]
    fn cron_respects_start_and_end() {
        let e = parse("cron(0 12 * * ? *)").unwrap();
        let t = Timing {
            start: Some(ms("2024-06-10T12:00:00Z")),
            end: Some(ms("2024-06-12T12:00:00Z")),
            ..timing(&e, "UTC")
        };
        // The StartDate itself is an occurrence.
        assert_eq!(t.next_after(0), Some(ms("2024-06-10T12:00:00Z")));
        assert_eq!(
            t.next_after(ms("2024-06-10T12:00:00Z")),
            Some(ms("2024-06-11T12:00:00Z"))
        );
        // EndDate is exclusive.
        assert_eq!(t.next_after(ms("2024-06-11T12:00:00Z")), None);
    }

    #[test]
    fn cron_in_a_zone_across_dst() {
        let e = parse("cron(0 9 * * ? *)").unwrap();
        let t = timing(&e, "Europe/London");
        // 09:00 GMT before the change, 09:00 BST (08:00Z) after it.
        assert_eq!(
            t.next_after(ms("2024-03-30T10:00:00Z")),
            Some(ms("2024-03-31T08:00:00Z"))
        );
        assert_eq!(
            t.next_after(ms("2024-03-29T10:00:00Z")),
            Some(ms("2024-03-30T09:00:00Z"))
        );
    }

    #[test]
    fn scheduled_time_format() {
        assert_eq!(
            format_scheduled_time(ms("2022-03-22T18:59:43Z")),
            "2022-03-22T18:59:43Z"
        );
    }
}
