//! The chat's opening hours: outside them the chat says "we reply later" but
//! still hands over to WhatsApp. A fixed UTC offset, no time-zone database
//! (the widget must stay small); a merchant in a zone with daylight saving
//! updates the offset twice a year.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

/// When the business answers chats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// The business's clock: minutes east of UTC (420 for Jakarta, -180 for São Paulo).
    pub utc_offset_minutes: i16,
    /// Days it opens (`"mon"` … `"sun"`); default: every day.
    #[serde(default = "every_day")]
    pub days: Days,
    /// Opening time, `"HH:MM"`.
    pub from: ClockTime,
    /// Closing time, `"HH:MM"` (`"24:00"` = midnight). Earlier than `from`: open
    /// past midnight, and the night belongs to the day it started.
    pub to: ClockTime,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

const DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// A set of weekdays (bit 0 = Monday), written as a list of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Weekday>", into = "Vec<Weekday>")]
pub struct Days(pub u8);

impl Days {
    /// Whether day `index` (0 = Monday) is in the set.
    pub fn has(self, index: usize) -> bool {
        index < 7 && self.0 & (1 << index) != 0
    }
}

impl From<Vec<Weekday>> for Days {
    fn from(days: Vec<Weekday>) -> Days {
        Days(days.into_iter().fold(0, |set, d| set | 1 << d as u8))
    }
}

impl From<Days> for Vec<Weekday> {
    fn from(days: Days) -> Vec<Weekday> {
        (0..7)
            .filter(|&i| days.has(i))
            .filter_map(|i| DAYS.get(i).copied())
            .collect()
    }
}

fn every_day() -> Days {
    Days(0x7f)
}

impl Weekday {
    /// `"mon"` … `"sun"`, as in the site config.
    pub fn parse(s: &str) -> Option<Weekday> {
        let i = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|d| *d == s)?;
        DAYS.get(i).copied()
    }
}

/// Minutes after midnight, 0–1440, written `"HH:MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(pub u16);

impl ClockTime {
    /// `"HH:MM"` with HH 00–24 and MM 00–59 (`"24:00"` at most).
    pub fn parse(s: &str) -> Option<ClockTime> {
        let b = s.as_bytes();
        let digit = |i: usize| match b.get(i) {
            Some(d @ b'0'..=b'9') => Some(u16::from(d - b'0')),
            _ => None,
        };
        if b.len() != 5 || b.get(2) != Some(&b':') {
            return None;
        }
        let (h, m) = (digit(0)? * 10 + digit(1)?, digit(3)? * 10 + digit(4)?);
        (m < 60 && h * 60 + m <= 1440).then_some(ClockTime(h * 60 + m))
    }
}

impl TryFrom<String> for ClockTime {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClockTime::parse(&s).ok_or("a time must be \"HH:MM\", 00:00 to 24:00")
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        let (h, m) = (t.0 / 60, t.0 % 60);
        [h / 10, h % 10, 10, m / 10, m % 10]
            .iter()
            .map(|&d| {
                if d == 10 {
                    ':'
                } else {
                    char::from(b'0' + d as u8)
                }
            })
            .collect()
    }
}

impl OpeningHours {
    /// Whether the business is open at `now` (ms since the Unix epoch).
    pub fn is_open(&self, now: f64) -> bool {
        let local = (now / 60_000.0) as i64 + i64::from(self.utc_offset_minutes);
        let minute = local.rem_euclid(1440) as u16;
        // 1 January 1970 was a Thursday (index 3 from Monday).
        let day = (local.div_euclid(1440) + 3).rem_euclid(7) as usize;
        let open_on = |d: usize| self.days.has(d);
        let (from, to) = (self.from.0, self.to.0);
        if from < to {
            open_on(day) && from <= minute && minute < to
        } else {
            (open_on(day) && minute >= from) || (open_on((day + 6) % 7) && minute < to)
        }
    }

    /// Checks what serde cannot; names the offending field.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(("chat.hours.utc_offset_minutes", "must be -720 to 840"));
        }
        if self.days.0 == 0 {
            return Err(("chat.hours.days", "must name at least one day"));
        }
        if self.from == self.to {
            return Err(("chat.hours.to", "must differ from from"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 2026-11-23 00:00 UTC, in ms.
    const MONDAY: f64 = 1_795_392_000_000.0;
    const H: f64 = 3_600_000.0;

    fn hours(json: &str) -> OpeningHours {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn weekdays_in_the_business_timezone() {
        // Jakarta (UTC+7), Mon–Fri 09:00–17:00.
        let h = hours(
            r#"{"utc_offset_minutes":420,"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"17:00"}"#,
        );
        assert!(!h.is_open(MONDAY + 1.9 * H), "08:54 in Jakarta");
        assert!(h.is_open(MONDAY + 2.0 * H), "09:00 in Jakarta");
        assert!(h.is_open(MONDAY + 9.99 * H));
        assert!(!h.is_open(MONDAY + 10.0 * H), "17:00 is closed");
        assert!(
            !h.is_open(MONDAY - 24.0 * H + 3.0 * H),
            "Sunday 10:00 in Jakarta"
        );
        assert!(!h.is_open(MONDAY + 5.0 * 24.0 * H + 3.0 * H), "Saturday");
    }

    #[test]
    fn negative_offsets_and_default_days() {
        // São Paulo (UTC-3), every day 08:00–20:00: Monday 00:00 UTC is Sunday 21:00 there.
        let h = hours(r#"{"utc_offset_minutes":-180,"from":"08:00","to":"20:00"}"#);
        assert_eq!(h.days, Days(0x7f));
        let names = serde_json::to_value(h.days).unwrap();
        assert_eq!(
            names,
            serde_json::json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
        );
        assert!(!h.is_open(MONDAY));
        assert!(h.is_open(MONDAY + 11.0 * H), "08:00 Monday in São Paulo");
    }

    #[test]
    fn overnight_spans_belong_to_the_day_they_start() {
        // Friday 22:00 to 02:00, UTC.
        let h = hours(r#"{"utc_offset_minutes":0,"days":["fri"],"from":"22:00","to":"02:00"}"#);
        let friday = MONDAY + 4.0 * 24.0 * H;
        assert!(h.is_open(friday + 23.0 * H));
        assert!(
            h.is_open(friday + 25.0 * H),
            "01:00 Saturday, still Friday's night"
        );
        assert!(
            !h.is_open(friday + 1.0 * H),
            "01:00 Friday belongs to Thursday"
        );
        assert!(!h.is_open(friday + 26.0 * H));
    }

    #[test]
    fn times_parse_strictly_and_print_back() {
        assert_eq!(ClockTime::parse("09:30"), Some(ClockTime(570)));
        assert_eq!(ClockTime::parse("24:00"), Some(ClockTime(1440)));
        for bad in ["24:01", "9:30", "09:60", "0930", "ab:cd", "09:30 "] {
            assert_eq!(ClockTime::parse(bad), None, "{bad}");
        }
        assert_eq!(String::from(ClockTime(570)), "09:30");
        assert_eq!(String::from(ClockTime(1440)), "24:00");
        assert!(serde_json::from_str::<OpeningHours>(
            r#"{"utc_offset_minutes":0,"from":"9","to":"17:00"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<OpeningHours>(
            r#"{"utc_offset_minutes":0,"days":["monday"],"from":"09:00","to":"17:00"}"#
        )
        .is_err());
    }

    #[test]
    fn weekday_names_match_serde() {
        for d in DAYS {
            let name = serde_json::to_string(&d).unwrap();
            assert_eq!(Weekday::parse(name.trim_matches('"')), Some(d));
        }
        assert_eq!(Weekday::parse("Mon"), None);
    }

    #[test]
    fn check_names_the_bad_field() {
        let ok = hours(r#"{"utc_offset_minutes":60,"from":"09:00","to":"17:00"}"#);
        assert_eq!(ok.check(), Ok(()));
        let bad = |h: OpeningHours| h.check().unwrap_err().0;
        assert_eq!(
            bad(OpeningHours {
                utc_offset_minutes: 900,
                ..ok
            }),
            "chat.hours.utc_offset_minutes"
        );
        assert_eq!(
            bad(OpeningHours {
                days: Days(0),
                ..ok
            }),
            "chat.hours.days"
        );
        assert_eq!(bad(OpeningHours { to: ok.from, ..ok }), "chat.hours.to");
    }
}
