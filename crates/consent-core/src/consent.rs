//! A consent as the widget submits it, and its validation against the site.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    category::Category,
    locale::Locale,
    notice::{notice_hash, render_notice, Notice},
    phone::{normalize_phone, PhoneError, E164},
    site::SiteConfig,
};

/// Where on the merchant's site a consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// Modal pop-up.
    Modal,
    /// Embedded checkout or registration form.
    Checkout,
    /// Chat widget.
    Chat,
}

impl Surface {
    pub(crate) fn parse(s: &str) -> Option<Surface> {
        match s {
            "modal" => Some(Surface::Modal),
            "checkout" => Some(Surface::Checkout),
            "chat" => Some(Surface::Chat),
            _ => None,
        }
    }
}

/// The body of `POST /v1/sites/{site}/consents`. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The number as typed.
    pub phone: String,
    /// Categories ticked (wire names).
    pub categories: Vec<String>,
    /// Locale the notice was shown in.
    pub locale: String,
    /// Notice version the widget rendered.
    pub notice_version: u32,
    /// The exact notice text shown.
    pub notice_text: String,
    /// Surface: `modal`, `checkout` or `chat`.
    pub surface: String,
    /// Page the person was on.
    #[serde(default)]
    pub page_url: Option<String>,
    /// Client clock, ms since the epoch (informative; the server clock is authoritative).
    #[serde(default)]
    pub client_ts: Option<f64>,
    /// Widget build that showed the notice.
    #[serde(default)]
    pub widget_version: Option<String>,
    /// Cloudflare Turnstile response, for sites that require one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnstile_token: Option<String>,
}

/// A consent that passed every check, ready for the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidConsent {
    /// Normalised phone.
    pub phone: E164,
    /// Categories granted, sorted, no duplicates.
    pub categories: Vec<Category>,
    /// The notice shown.
    pub notice: Notice,
    /// SHA-256 of the notice text.
    pub notice_hash: String,
    /// Surface.
    pub surface: Surface,
    /// Page URL, if given.
    pub page_url: Option<String>,
    /// Client timestamp, if given.
    pub client_ts: Option<f64>,
    /// Widget version, if given.
    pub widget_version: Option<String>,
}

/// Why a consent was refused; each names the offending field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConsentError {
    /// The phone number cannot be a WhatsApp number.
    #[error("{0}")]
    InvalidPhone(#[from] PhoneError),
    /// No category ticked.
    #[error("at least one category must be chosen")]
    NoCategory,
    /// A category the site does not offer.
    #[error("category '{0}' is not offered by this site")]
    UnknownCategory(String),
    /// A locale we do not speak.
    #[error("locale '{0}' is not supported")]
    UnsupportedLocale(String),
    /// A surface we do not know.
    #[error("surface '{0}' is not one of modal, checkout, chat")]
    UnknownSurface(String),
    /// The widget showed an older or newer notice than the site's.
    #[error("notice version {got} is not the site's current version {expected}")]
    StaleNotice {
        /// Site's version.
        expected: u32,
        /// Version sent.
        got: u32,
    },
    /// The text does not match what the site's notice renders to.
    #[error("notice_text is not the notice this site shows in that locale")]
    NoticeMismatch,
    /// A free-text field is longer than allowed.
    #[error("{field} is longer than {max} characters")]
    TooLong {
        /// Field name.
        field: &'static str,
        /// Limit.
        max: usize,
    },
}

impl ConsentError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ConsentError::InvalidPhone(_) => "phone",
            ConsentError::NoCategory | ConsentError::UnknownCategory(_) => "categories",
            ConsentError::UnsupportedLocale(_) => "locale",
            ConsentError::UnknownSurface(_) => "surface",
            ConsentError::StaleNotice { .. } => "notice_version",
            ConsentError::NoticeMismatch => "notice_text",
            ConsentError::TooLong { field, .. } => field,
        }
    }

    /// Stable machine-readable slug (used in problem `type` URIs).
    pub fn slug(&self) -> &'static str {
        match self {
            ConsentError::InvalidPhone(_) => "invalid-phone",
            ConsentError::NoCategory => "no-category",
            ConsentError::UnknownCategory(_) => "unknown-category",
            ConsentError::UnsupportedLocale(_) => "unsupported-locale",
            ConsentError::UnknownSurface(_) => "unknown-surface",
            ConsentError::StaleNotice { .. } => "stale-notice",
            ConsentError::NoticeMismatch => "notice-mismatch",
            ConsentError::TooLong { .. } => "field-too-long",
        }
    }
}

const MAX_URL: usize = 2048;
const MAX_VERSION: usize = 32;

impl ConsentRequest {
    /// Checks the request against the site, field by field, in form order.
    pub fn validate(&self, site: &SiteConfig) -> Result<ValidConsent, ConsentError> {
        let phone = normalize_phone(&self.phone, site.default_calling_code)?;
        let categories = self.known_categories(site)?;
        let locale = Locale::from_tag(&self.locale)
            .ok_or_else(|| ConsentError::UnsupportedLocale(self.locale.clone()))?;
        let surface = Surface::parse(&self.surface)
            .ok_or_else(|| ConsentError::UnknownSurface(self.surface.clone()))?;
        if self.notice_version != site.notice_version {
            return Err(ConsentError::StaleNotice {
                expected: site.notice_version,
                got: self.notice_version,
            });
        }
        let notice = render_notice(locale, &site.business_name, site.notice_version);
        if notice.text != self.notice_text {
            return Err(ConsentError::NoticeMismatch);
        }
        check_len("page_url", self.page_url.as_deref(), MAX_URL)?;
        check_len(
            "widget_version",
            self.widget_version.as_deref(),
            MAX_VERSION,
        )?;
        Ok(ValidConsent {
            phone,
            categories,
            notice_hash: notice_hash(&notice.text),
            notice,
            surface,
            page_url: self.page_url.clone(),
            client_ts: self.client_ts.filter(|t| t.is_finite()),
            widget_version: self.widget_version.clone(),
        })
    }

    fn known_categories(&self, site: &SiteConfig) -> Result<Vec<Category>, ConsentError> {
        if self.categories.is_empty() {
            return Err(ConsentError::NoCategory);
        }
        let mut out = Vec::with_capacity(self.categories.len());
        for name in &self.categories {
            let c = Category::parse(name)
                .filter(|c| site.categories.contains(c))
                .ok_or_else(|| ConsentError::UnknownCategory(name.clone()))?;
            out.push(c);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn check_len(field: &'static str, value: Option<&str>, max: usize) -> Result<(), ConsentError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ConsentError::TooLong { field, max }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::WhatsAppConfig;

    fn site() -> SiteConfig {
        SiteConfig {
            id: "acme".into(),
            business_name: "Toko Acme".into(),
            allowed_origins: vec![],
            privacy_policy_url: "https://acme.example/privacy".into(),
            default_locale: Locale::Id,
            default_calling_code: 62,
            categories: vec![Category::OrderUpdates, Category::Delivery],
            notice_version: 2,
            whatsapp: WhatsAppConfig {
                phone_number_id: "1".into(),
                template_name: "optin_confirmation".into(),
                template_languages: vec!["id".into()],
                token_secret: "T".into(),
                display_phone_number: None,
            },
            limits: Default::default(),
            turnstile_secret: None,
            ip_policy: Default::default(),
            shards: 1,
            chat: None,
            targeting: None,
            double_opt_in: None,
            optin_keyword: None,
            respect_dnt: false,
        }
    }

    fn request() -> ConsentRequest {
        ConsentRequest {
            phone: "0812 3456 7890".into(),
            categories: vec!["delivery".into(), "order_updates".into(), "delivery".into()],
            locale: "id".into(),
            notice_version: 2,
            notice_text: render_notice(Locale::Id, "Toko Acme", 2).text,
            surface: "modal".into(),
            page_url: Some("https://acme.example/".into()),
            client_ts: Some(1.0),
            widget_version: Some("0.1.0".into()),
            turnstile_token: None,
        }
    }

    #[test]
    fn a_good_request_becomes_evidence() {
        let v = request().validate(&site()).unwrap();
        assert_eq!(v.phone.as_str(), "+6281234567890");
        assert_eq!(
            v.categories,
            vec![Category::OrderUpdates, Category::Delivery]
        );
        assert_eq!(v.notice_hash, notice_hash(&v.notice.text));
        assert_eq!(v.surface, Surface::Modal);
    }

    #[test]
    fn each_bad_field_is_named() {
        let s = site();
        type Case = (fn(&mut ConsentRequest), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (|r| r.phone = "12".into(), "phone", "invalid-phone"),
            (|r| r.categories.clear(), "categories", "no-category"),
            (
                |r| r.categories = vec!["payment_alerts".into()],
                "categories",
                "unknown-category",
            ),
            (
                |r| r.categories = vec!["spam".into()],
                "categories",
                "unknown-category",
            ),
            (|r| r.locale = "fr".into(), "locale", "unsupported-locale"),
            (
                |r| r.surface = "banner".into(),
                "surface",
                "unknown-surface",
            ),
            (|r| r.notice_version = 1, "notice_version", "stale-notice"),
            (
                |r| r.notice_text.push('!'),
                "notice_text",
                "notice-mismatch",
            ),
            (
                |r| r.page_url = Some("x".repeat(3000)),
                "page_url",
                "field-too-long",
            ),
        ];
        for (mutate, field, slug) in cases {
            let mut r = request();
            mutate(&mut r);
            let err = r.validate(&s).unwrap_err();
            assert_eq!((err.field(), err.slug()), (field, slug), "{err}");
        }
    }

    #[test]
    fn notice_in_another_language_than_declared_is_refused() {
        let mut r = request();
        r.locale = "en".into();
        assert_eq!(
            r.validate(&site()).unwrap_err(),
            ConsentError::NoticeMismatch
        );
    }

    #[test]
    fn unknown_fields_are_rejected_by_the_decoder() {
        let json = r#"{"phone":"1","categories":[],"locale":"en","notice_version":1,
            "notice_text":"","surface":"modal","admin":true}"#;
        let err = serde_json::from_str::<ConsentRequest>(json).unwrap_err();
        assert!(err.to_string().contains("unknown field `admin`"));
    }
}
