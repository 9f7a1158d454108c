//! When the modal opens by itself: which pages, after which page view, and
//! how often (frequency caps). Pure: the widget supplies the page path, the
//! clock and what the browser remembers ([`Memory`]); the triggers (delay,
//! scroll depth, exit intent) are armed by the widget.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

const DAY: u64 = 86_400;

/// A site's rules for opening the modal without being asked. `open()` from
/// the JS API ignores them. Every condition set must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targeting {
    /// Path patterns (`location.pathname`, `*` = any characters) where it may
    /// open; empty: every page.
    pub include: Vec<String>,
    /// Path patterns where it never opens (wins over `include`).
    pub exclude: Vec<String>,
    /// Seconds to wait after the page (or single-page-app route) loads.
    pub delay_seconds: u32,
    /// How far down the page (0–100 % of what can be scrolled) the visitor must be.
    pub scroll_percent: u32,
    /// On desktop (a pointer that hovers), wait until the mouse leaves through
    /// the top of the window. Ignored on touch devices.
    pub exit_intent: bool,
    /// Opens from this page view on (1: the first); route changes count.
    pub from_page_view: u32,
    /// Days it stays away after the visitor closed it (0: only the session cap).
    pub days_after_close: u32,
    /// Days it stays away after the visitor opted in.
    pub days_after_consent: u32,
    /// Times it may open by itself per browser session (0: no limit).
    pub per_session: u32,
}

impl Default for Targeting {
    fn default() -> Self {
        Targeting {
            include: Vec::new(),
            exclude: Vec::new(),
            delay_seconds: 0,
            scroll_percent: 0,
            exit_intent: false,
            from_page_view: 1,
            days_after_close: 30,
            days_after_consent: 365,
            per_session: 1,
        }
    }
}

/// What one browser remembers for a site (kept in `localStorage`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    /// Page views so far, this one included.
    pub views: u32,
    /// When the modal was last closed (seconds since the epoch; 0: never).
    pub closed_at: u32,
    /// When the visitor last opted in (seconds since the epoch; 0: never).
    pub consented_at: u32,
}

/// Up to three space-separated decimals (saturating); all zero when `s` holds
/// anything else. Hand-rolled: `str::parse` would cost the widget more.
pub fn decimals(s: &str) -> [u32; 3] {
    let mut n = [0u32; 3];
    let mut i = 0;
    for b in s.bytes() {
        match (b, n.get_mut(i)) {
            (b'0'..=b'9', Some(v)) => *v = v.saturating_mul(10).saturating_add(u32::from(b - b'0')),
            (b'0'..=b'9', None) => {}
            (b' ', _) => i += 1,
            _ => return [0; 3],
        }
    }
    n
}

impl Memory {
    /// Reads [`Memory::encode`]'s form; anything unreadable counts as nothing remembered.
    pub fn parse(s: &str) -> Memory {
        let [views, closed_at, consented_at] = decimals(s);
        Memory {
            views,
            closed_at,
            consented_at,
        }
    }

    /// `"<views> <closed_at> <consented_at>"`, decimal.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(24);
        for n in [self.views, self.closed_at, self.consented_at] {
            if !out.is_empty() {
                out.push(' ');
            }
            crate::phone::push_decimal(&mut out, n);
        }
        out
    }
}

impl Targeting {
    /// Whether `path` is one of the pages the modal may open on.
    pub fn allows_path(&self, path: &str) -> bool {
        let hit =
            |patterns: &[String]| patterns.iter().any(|p| glob(p.as_bytes(), path.as_bytes()));
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }

    /// Whether the modal may open by itself now on `path`, given what the
    /// browser remembers and how often it opened by itself this session
    /// (`now` in seconds since the epoch).
    pub fn may_open(&self, path: &str, memory: &Memory, shown_this_session: u32, now: u32) -> bool {
        self.allows_path(path)
            && memory.views >= self.from_page_view
            && !within_days(memory.closed_at, self.days_after_close, now)
            && !within_days(memory.consented_at, self.days_after_consent, now)
            && (self.per_session == 0 || shown_this_session < self.per_session)
    }

    /// Checks the bounds serde cannot; names the offending field.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let pattern_ok =
            |p: &String| (1..=200).contains(&p.len()) && (p.starts_with('/') || p.starts_with('*'));
        for (field, list) in [
            ("targeting.include", &self.include),
            ("targeting.exclude", &self.exclude),
        ] {
            if list.len() > 50 || !list.iter().all(pattern_ok) {
                return Err((field, "must list at most 50 path patterns starting with / or *, each at most 200 characters"));
            }
        }
        if self.delay_seconds > 3600 {
            return Err(("targeting.delay_seconds", "must be 0 to 3600"));
        }
        if self.scroll_percent > 100 {
            return Err(("targeting.scroll_percent", "must be 0 to 100"));
        }
        if !(1..=1000).contains(&self.from_page_view) {
            return Err(("targeting.from_page_view", "must be 1 to 1000"));
        }
        if self.days_after_close > 3650 {
            return Err(("targeting.days_after_close", "must be 0 to 3650"));
        }
        if self.days_after_consent > 3650 {
            return Err(("targeting.days_after_consent", "must be 0 to 3650"));
        }
        if self.per_session > 100 {
            return Err(("targeting.per_session", "must be 0 to 100"));
        }
        Ok(())
    }
}

/// Whether `at` (0: never) is less than `days` days before `now`. A time in the
/// future (a clock set back) counts as recent.
fn within_days(at: u32, days: u32, now: u32) -> bool {
    at > 0 && u64::from(now) < u64::from(at) + u64::from(days) * DAY
}

/// `*` matches any run of bytes (slashes too); everything else matches itself.
/// Iterative with one backtrack point: linear in practice, never recursive.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if text.get(t) == Some(&c) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u32 = 1_800_000_000;

    fn rules() -> Targeting {
        Targeting::default()
    }

    fn seen(views: u32) -> Memory {
        Memory {
            views,
            ..Memory::default()
        }
    }

    #[test]
    fn glob_matches_stars_anywhere() {
        let m = |p: &str, t: &str| glob(p.as_bytes(), t.as_bytes());
        assert!(m("/products/*", "/products/42"));
        assert!(m("/products/*", "/products/"));
        assert!(!m("/products/*", "/products"));
        assert!(m("*/checkout*", "/en/checkout/step-2"));
        assert!(m("/", "/"));
        assert!(!m("/", "/about"));
        assert!(m("/a*b*c", "/axxbyybzc"));
        assert!(!m("/a*b*c", "/axxbyy"));
        assert!(m("*", ""));
        assert!(!m("/blog", "/blog/"));
    }

    #[test]
    fn exclude_wins_over_include_and_empty_include_means_everywhere() {
        let mut t = rules();
        assert!(t.allows_path("/anything"));
        t.include = vec!["/shop/*".into(), "/".into()];
        t.exclude = vec!["/shop/checkout*".into()];
        assert!(t.allows_path("/"));
        assert!(t.allows_path("/shop/shoes"));
        assert!(!t.allows_path("/shop/checkout"));
        assert!(!t.allows_path("/about"));
    }

    #[test]
    fn nth_page_view() {
        let t = Targeting {
            from_page_view: 3,
            ..rules()
        };
        assert!(!t.may_open("/", &seen(2), 0, NOW));
        assert!(t.may_open("/", &seen(3), 0, NOW));
        assert!(t.may_open("/", &seen(9), 0, NOW));
    }

    #[test]
    fn frequency_caps_after_close_and_consent() {
        let t = Targeting {
            days_after_close: 7,
            days_after_consent: 90,
            per_session: 0,
            ..rules()
        };
        let closed = |days_ago: f64| Memory {
            closed_at: (f64::from(NOW) - days_ago * DAY as f64) as u32,
            ..seen(1)
        };
        assert!(!t.may_open("/", &closed(0.0), 0, NOW));
        assert!(!t.may_open("/", &closed(6.9), 0, NOW));
        assert!(t.may_open("/", &closed(7.0), 0, NOW));
        assert!(
            !t.may_open("/", &closed(-1.0), 0, NOW),
            "a clock set back still caps"
        );
        let consented = |days_ago: f64| Memory {
            consented_at: (f64::from(NOW) - days_ago * DAY as f64) as u32,
            ..seen(1)
        };
        assert!(!t.may_open("/", &consented(89.0), 0, NOW));
        assert!(t.may_open("/", &consented(90.5), 0, NOW));
        let no_days = Targeting {
            days_after_close: 0,
            ..t
        };
        assert!(
            no_days.may_open("/", &closed(0.0), 0, NOW),
            "0 days: no cap after a close"
        );
    }

    #[test]
    fn per_session_cap() {
        let t = Targeting {
            per_session: 2,
            ..rules()
        };
        assert!(t.may_open("/", &seen(1), 1, NOW));
        assert!(!t.may_open("/", &seen(1), 2, NOW));
        let unlimited = Targeting {
            per_session: 0,
            ..rules()
        };
        assert!(unlimited.may_open("/", &seen(1), 1000, NOW));
    }

    #[test]
    fn memory_round_trips_and_tolerates_garbage() {
        let m = Memory {
            views: 12,
            closed_at: NOW,
            consented_at: 0,
        };
        assert_eq!(m.encode(), "12 1800000000 0");
        assert_eq!(Memory::parse(&m.encode()), m);
        assert_eq!(Memory::parse(""), Memory::default());
        assert_eq!(Memory::parse("closed"), Memory::default());
        assert_eq!(Memory::parse("3 x"), Memory::default());
        assert_eq!(Memory::parse("3"), seen(3));
        assert_eq!(Memory::parse("1 2 3 4").consented_at, 3);
        assert_eq!(Memory::parse("99999999999").views, u32::MAX);
    }

    #[test]
    fn defaults_and_bounds() {
        let t: Targeting = serde_json::from_str("{}").unwrap();
        assert_eq!(t, rules());
        assert!(t.may_open("/", &seen(1), 0, NOW));
        assert!(
            !t.may_open("/", &seen(1), 1, NOW),
            "once per session by default"
        );
        assert_eq!(t.check(), Ok(()));
        let bad = |t: Targeting| t.check().unwrap_err().0;
        assert_eq!(
            bad(Targeting {
                include: vec!["shop".into()],
                ..rules()
            }),
            "targeting.include"
        );
        assert_eq!(
            bad(Targeting {
                exclude: vec![String::new()],
                ..rules()
            }),
            "targeting.exclude"
        );
        assert_eq!(
            bad(Targeting {
                scroll_percent: 101,
                ..rules()
            }),
            "targeting.scroll_percent"
        );
        assert_eq!(
            bad(Targeting {
                from_page_view: 0,
                ..rules()
            }),
            "targeting.from_page_view"
        );
        assert_eq!(
            bad(Targeting {
                delay_seconds: 3601,
                ..rules()
            }),
            "targeting.delay_seconds"
        );
        assert_eq!(
            bad(Targeting {
                per_session: 101,
                ..rules()
            }),
            "targeting.per_session"
        );
        assert!(
            serde_json::from_str::<Targeting>(r#"{"delay":5}"#).is_err(),
            "unknown fields are refused"
        );
    }
}
