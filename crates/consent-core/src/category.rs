//! Message categories a person can opt in to, one consent per category as Meta
//! recommends: our five built-in utility kinds (labelled in every locale) and the
//! merchant's own (`offers`, `back_in_stock`), which a site config defines with
//! their labels ([`SiteCategory`]).

use alloc::{borrow::Cow, collections::BTreeMap};
use core::cmp::Ordering;

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::locale::Locale;

/// A category id: `[a-z0-9_]{1,32}`. Unknown strings are rejected, never guessed;
/// whether a site offers it is the site's to say ([`crate::SiteConfig::offers`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(Cow<'static, str>);

const BUILT_IN: [&str; 5] = [
    "order_updates",
    "delivery",
    "appointment_reminders",
    "payment_alerts",
    "account_updates",
];

impl Category {
    /// Order confirmations and changes.
    pub const ORDER_UPDATES: Category = Category(Cow::Borrowed(BUILT_IN[0]));
    /// Shipping and delivery notifications.
    pub const DELIVERY: Category = Category(Cow::Borrowed(BUILT_IN[1]));
    /// Appointment reminders.
    pub const APPOINTMENT_REMINDERS: Category = Category(Cow::Borrowed(BUILT_IN[2]));
    /// Payment alerts and receipts.
    pub const PAYMENT_ALERTS: Category = Category(Cow::Borrowed(BUILT_IN[3]));
    /// Account status updates.
    pub const ACCOUNT_UPDATES: Category = Category(Cow::Borrowed(BUILT_IN[4]));

    /// The built-in categories, in display order.
    pub const ALL: [Category; 5] = [
        Category::ORDER_UPDATES,
        Category::DELIVERY,
        Category::APPOINTMENT_REMINDERS,
        Category::PAYMENT_ALERTS,
        Category::ACCOUNT_UPDATES,
    ];

    /// The stable wire identifier (`order_updates`, `offers`, …).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a wire identifier: any well-formed id.
    pub fn parse(s: &str) -> Option<Category> {
        if let Some(i) = BUILT_IN.iter().position(|b| *b == s) {
            return Some(Category::ALL[i].clone());
        }
        is_category_id(s).then(|| Category(Cow::Owned(s.to_owned())))
    }

    /// Its place among the built-ins, if it is one.
    pub fn built_in(&self) -> Option<usize> {
        BUILT_IN.iter().position(|b| *b == self.as_str())
    }

    /// Our label for a built-in category, in the person's language.
    pub fn label(&self, locale: Locale) -> Option<&'static str> {
        self.built_in().map(|i| locale.strings().categories[i])
    }

    /// A built-in's default for "only critical": alerts about the person's money
    /// and account get through; a site may say otherwise.
    pub fn critical_by_default(&self) -> bool {
        matches!(self.built_in(), Some(3 | 4))
    }
}

/// Built-ins in their display order first, then the merchant's own by id.
impl Ord for Category {
    fn cmp(&self, other: &Self) -> Ordering {
        let rank = |c: &Category| c.built_in().unwrap_or(BUILT_IN.len());
        rank(self)
            .cmp(&rank(other))
            .then_with(|| self.as_str().cmp(other.as_str()))
    }
}

impl PartialOrd for Category {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for Category {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Category::parse(&s).ok_or("a category id is 1-32 of a-z, 0-9 and _")
    }
}

impl From<Category> for String {
    fn from(c: Category) -> String {
        c.0.into_owned()
    }
}

/// `[a-z0-9_]{1,32}`.
pub fn is_category_id(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What kind of messages a category carries, as Meta bills and governs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// Transactional: order, delivery, account.
    #[default]
    Utility,
    /// Offers and recommendations: consented to one by one, listed last, and
    /// stopped by WhatsApp's own "stop promotions".
    Marketing,
}

/// One category a site offers. In the config a built-in may be given by its
/// id alone (`"delivery"`); the merchant's own need an object with a label in
/// the site's default locale (others fall back to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Wire", into = "Wire")]
pub struct SiteCategory {
    /// The id.
    pub id: Category,
    /// Utility or marketing.
    pub kind: CategoryKind,
    /// Whether "only critical" lets it through (and the weekly digest never holds it back).
    pub critical: bool,
    /// Labels by locale (for a built-in, overrides of ours).
    pub labels: BTreeMap<Locale, String>,
}

impl SiteCategory {
    /// A built-in with our defaults.
    pub fn built_in(id: Category) -> SiteCategory {
        SiteCategory {
            critical: id.critical_by_default(),
            id,
            kind: CategoryKind::Utility,
            labels: BTreeMap::new(),
        }
    }

    /// Its label in `locale`: the merchant's, ours for a built-in, else the
    /// merchant's in `fallback` (the site's default locale).
    pub fn label(&self, locale: Locale, fallback: Locale) -> Option<&str> {
        self.labels
            .get(&locale)
            .map(String::as_str)
            .or_else(|| self.id.label(locale))
            .or_else(|| self.labels.get(&fallback).map(String::as_str))
    }

    /// Whether it is marketing.
    pub fn is_marketing(&self) -> bool {
        self.kind == CategoryKind::Marketing
    }

    fn is_plain_built_in(&self) -> bool {
        self.id.built_in().is_some()
            && self.kind == CategoryKind::Utility
            && self.critical == self.id.critical_by_default()
            && self.labels.is_empty()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Id(Category),
    Full(Full),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Full {
    id: Category,
    #[serde(default)]
    kind: CategoryKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    critical: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<Locale, String>,
}

impl From<Wire> for SiteCategory {
    fn from(w: Wire) -> SiteCategory {
        match w {
            Wire::Id(id) => SiteCategory::built_in(id),
            Wire::Full(f) => SiteCategory {
                critical: f.critical.unwrap_or_else(|| f.id.critical_by_default()),
                id: f.id,
                kind: f.kind,
                labels: f.labels,
            },
        }
    }
}

impl From<SiteCategory> for Wire {
    fn from(c: SiteCategory) -> Wire {
        if c.is_plain_built_in() {
            return Wire::Id(c.id);
        }
        Wire::Full(Full {
            critical: (c.critical != c.id.critical_by_default()).then_some(c.critical),
            id: c.id,
            kind: c.kind,
            labels: c.labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
        assert_eq!(
            Category::parse("back_in_stock").map(|c| c.built_in()),
            Some(None)
        );
        for bad in ["", "Offers", "a-b", "x y", &"a".repeat(33)] {
            assert_eq!(Category::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn built_ins_sort_in_display_order_before_the_merchants_own() {
        let mut v: Vec<Category> = [
            "offers",
            "delivery",
            "account_updates",
            "back_in_stock",
            "order_updates",
        ]
        .iter()
        .map(|s| Category::parse(s).unwrap())
        .collect();
        v.sort();
        let ids: Vec<&str> = v.iter().map(Category::as_str).collect();
        assert_eq!(
            ids,
            [
                "order_updates",
                "delivery",
                "account_updates",
                "back_in_stock",
                "offers"
            ]
        );
    }

    #[test]
    fn labels_follow_the_locale() {
        assert_eq!(
            Category::DELIVERY.label(Locale::En),
            Some("Shipping and delivery notifications")
        );
        assert_eq!(
            Category::ORDER_UPDATES.label(Locale::Id),
            Some("Konfirmasi pesanan")
        );
        assert_eq!(
            Category::PAYMENT_ALERTS.label(Locale::PtBr),
            Some("Alertas de pagamento")
        );
        let offers: SiteCategory = serde_json::from_str(
            r#"{"id":"offers","kind":"marketing","labels":{"en":"Offers","id":"Penawaran"}}"#,
        )
        .unwrap();
        assert_eq!(offers.label(Locale::Id, Locale::En), Some("Penawaran"));
        assert_eq!(offers.label(Locale::Da, Locale::En), Some("Offers"));
        assert!(offers.is_marketing() && !offers.critical);
    }

    #[test]
    fn a_plain_built_in_stays_a_plain_id_in_the_config() {
        let list: Vec<SiteCategory> = serde_json::from_str(
            r#"["delivery",{"id":"payment_alerts"},{"id":"offers","kind":"marketing","labels":{"en":"Offers"}},{"id":"order_updates","critical":true}]"#,
        )
        .unwrap();
        assert!(list[1].critical, "payment alerts are critical by default");
        assert!(list[3].critical);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["delivery","payment_alerts",{"id":"offers","kind":"marketing","labels":{"en":"Offers"}},{"id":"order_updates","kind":"utility","critical":true}]"#
        );
    }
}
