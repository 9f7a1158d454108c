//! Pure-Rust heart of the WhatsApp opt-in product.
//!
//! Compiled natively for fast tests and to wasm for both the widget and the
//! Worker, so the Worker can re-render and check exactly the notice the widget
//! showed.
#![deny(missing_docs)]
// No std: the widget links only `core` and `alloc` (no std panic and formatting machinery).
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// `alloc`'s owned types, as std's prelude would bring them.
mod prelude {
    #[allow(unused_imports)]
    pub use alloc::{
        borrow::ToOwned,
        format,
        string::{String, ToString},
        vec,
        vec::Vec,
    };
}

pub mod capture;
pub mod category;
pub mod chain;
pub mod consent;
pub mod funnel;
pub mod hours;
pub mod ids;
pub mod keywords;
pub mod locale;
pub mod notice;
pub mod phone;
pub mod privacy;
pub mod site;
pub mod states;
pub mod stats;
pub mod targeting;
pub mod token;

pub use capture::{CaptureDoubleOptIn, CaptureEvidence, CaptureRequest, CaptureSurface};
pub use category::{Category, CategoryKind, SiteCategory};
pub use consent::{ConsentError, ConsentRequest, Surface, ValidConsent};
pub use hours::OpeningHours;
pub use keywords::Keyword;
pub use locale::Locale;
pub use notice::{notice_hash, pick_variant, render_notice, Notice, PublicVariant, Variant};
pub use phone::{normalize_phone, PhoneError, E164};
pub use site::{
    Breaker, ChatConfig, DoubleOptIn, IpPolicy, Jurisdiction, Limits, PublicConfig, Retention,
    SiteConfig, TurnstileWhen, WhatsAppConfig,
};
pub use states::{
    ButtonPayload, Channel, DeliveryStatus, DoubleOptInStatus, EventKind, EvidenceMethod,
    EvidenceSource, Frequency, InboundAction, MarketingChoice, OptOutSource, OutboxKind,
    OutboxStatus, SubscriberSummary, SubscriptionStatus, SuppressionReason,
};
pub use targeting::Targeting;
