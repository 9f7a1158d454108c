//! Message categories a person can opt in to, one consent per category as Meta recommends.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::locale::Locale;

/// A utility-message category. Unknown strings are rejected, never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Order confirmations and changes.
    OrderUpdates,
    /// Shipping and delivery notifications.
    Delivery,
    /// Appointment reminders.
    AppointmentReminders,
    /// Payment alerts and receipts.
    PaymentAlerts,
    /// Account status updates.
    AccountUpdates,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Category; 5] = [
        Category::OrderUpdates,
        Category::Delivery,
        Category::AppointmentReminders,
        Category::PaymentAlerts,
        Category::AccountUpdates,
    ];

    /// The stable wire identifier (`order_updates`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::OrderUpdates => "order_updates",
            Category::Delivery => "delivery",
            Category::AppointmentReminders => "appointment_reminders",
            Category::PaymentAlerts => "payment_alerts",
            Category::AccountUpdates => "account_updates",
        }
    }

    /// Parses a wire identifier.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether a person who asked for "only critical" messages still gets
    /// this category (and the weekly digest does not hold it back): alerts
    /// about their money and their account.
    pub fn is_critical(self) -> bool {
        matches!(self, Category::PaymentAlerts | Category::AccountUpdates)
    }

    /// The label a person reads, in their language.
    pub fn label(self, locale: Locale) -> &'static str {
        locale.strings().categories[self as usize]
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
        assert_eq!(Category::parse("marketing"), None);
    }

    #[test]
    fn labels_follow_the_locale() {
        assert_eq!(
            Category::Delivery.label(Locale::En),
            "Shipping and delivery notifications"
        );
        assert_eq!(
            Category::OrderUpdates.label(Locale::Id),
            "Konfirmasi pesanan"
        );
        assert_eq!(
            Category::PaymentAlerts.label(Locale::PtBr),
            "Alertas de pagamento"
        );
    }
}
