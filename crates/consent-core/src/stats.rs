//! Statistics for the merchant's dashboard: conversion with a confidence
//! interval, and UTC calendar days as `YYYY-MM-DD`.

#[allow(unused_imports)]
use crate::prelude::*;

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A conversion rate and its Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// Successes over trials (0 when there were no trials).
    pub rate: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
}

/// Wilson score interval for `successes` out of `trials` at normal quantile `z`.
/// Unlike the normal approximation it stays inside [0, 1] and behaves at 0 and
/// n successes, which small A/B tests hit. Successes beyond the trials (consents
/// from visitors whose impressions were not counted) are capped at the trials;
/// no trials means nothing is known: rate 0, interval [0, 1].
pub fn wilson(successes: u64, trials: u64, z: f64) -> Conversion {
    if trials == 0 {
        return Conversion {
            rate: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
    Conversion {
        rate: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// Square root by Newton's method (`core` has no `f64::sqrt` without std).
fn sqrt(x: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return 0.0;
    }
    let mut r = if x > 1.0 { x } else { 1.0 };
    for _ in 0..200 {
        let next = 0.5 * (r + x / r);
        if next >= r {
            break;
        }
        r = next;
    }
    r
}

/// A UTC calendar day, counted from 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day(pub i64);

const MS_PER_DAY: i64 = 86_400_000;

impl Day {
    /// The day a Unix-millisecond instant falls on.
    pub fn from_unix_ms(ms: i64) -> Day {
        Day(ms.div_euclid(MS_PER_DAY))
    }

    /// First millisecond of the day.
    pub fn start_ms(self) -> i64 {
        self.0 * MS_PER_DAY
    }

    /// Parses exactly `YYYY-MM-DD` (a real date, years 2000–2999).
    pub fn parse(s: &str) -> Option<Day> {
        let day = Day::parse_any_year(s)?;
        let (y, _, _) = civil_from_days(day.0);
        (2000..=2999).contains(&y).then_some(day)
    }

    /// Parses exactly `YYYY-MM-DD`, any real date of a four-digit year.
    pub fn parse_any_year(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: core::ops::Range<usize>| -> Option<i64> {
            b[r].iter().try_fold(0i64, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
            })
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&m) || d < 1 || d > days_in(y, m) {
            return None;
        }
        Some(Day(days_from_civil(y, m, d)))
    }

    /// `YYYY-MM-DD`.
    pub fn format(self) -> String {
        let (y, m, d) = civil_from_days(self.0);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn days_in(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_matches_published_values() {
        // 81 of 263 at 95 %: 0.3080 [0.2553, 0.3662] (Newcombe 1998, Stat. Med. 17:857, method 3).
        let c = wilson(81, 263, Z95);
        assert!(close(c.rate, 0.30798), "{c:?}");
        assert!(close(c.low, 0.25528), "{c:?}");
        assert!(close(c.high, 0.36621), "{c:?}");
        // 15 of 148: [0.0624, 0.1605] (same paper).
        let c = wilson(15, 148, Z95);
        assert!(close(c.low, 0.06239) && close(c.high, 0.16049), "{c:?}");
    }

    #[test]
    fn wilson_stays_inside_zero_and_one_at_the_edges() {
        let none = wilson(0, 10, Z95);
        assert_eq!(none.low, 0.0);
        assert!(close(none.high, 0.27753), "{none:?}");
        let all = wilson(10, 10, Z95);
        assert!(close(all.low, 0.72247), "{all:?}");
        assert!(close(all.high, 1.0) && all.high <= 1.0, "{all:?}");
        assert_eq!(
            wilson(0, 0, Z95),
            Conversion {
                rate: 0.0,
                low: 0.0,
                high: 1.0
            }
        );
        assert_eq!(wilson(12, 10, Z95), all, "successes are capped at trials");
    }

    #[test]
    fn more_trials_narrow_the_interval() {
        let small = wilson(10, 100, Z95);
        let large = wilson(1000, 10_000, Z95);
        assert!(large.high - large.low < (small.high - small.low) / 5.0);
        assert!(large.low < 0.1 && 0.1 < large.high);
    }

    #[test]
    fn newton_sqrt_is_exact_enough() {
        for x in [1e-12, 0.25, 2.0, 1e6, 123_456.789] {
            let r = sqrt(x);
            assert!((r * r - x).abs() <= x * 1e-12, "{x}: {r}");
        }
        assert_eq!(sqrt(0.0), 0.0);
    }

    #[test]
    fn days_round_trip_and_parse_strictly() {
        assert_eq!(Day::parse("1970-01-01"), None, "before 2000 is refused");
        let d = Day::parse("2026-11-23").unwrap();
        assert_eq!(d.format(), "2026-11-23");
        assert_eq!(d.0, 20_780);
        assert_eq!(Day::from_unix_ms(d.start_ms() + 86_399_999), d);
        assert_eq!(Day::parse("2024-02-29").unwrap().format(), "2024-02-29");
        assert_eq!(
            Day(Day::parse("2024-02-28").unwrap().0 + 2).format(),
            "2024-03-01"
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-1-01",
            "26-11-23",
            "2026/11/23",
            "2026-11-2x",
            "",
            "2026-11-23T00:00",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        for z in (0..40_000).step_by(37) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
