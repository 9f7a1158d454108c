//! A consent as the widget submits it, and its validation against the site.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{
    category::Category,
    locale::Locale,
    notice::{notice_hash, Notice},
    phone::{normalize_phone, PhoneError, E164},
    site::SiteConfig,
};

/// Where a consent was given: on the merchant's site (modal, checkout, chat),
/// or off it, recorded by the merchant with a `capture` API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// Modal pop-up.
    Modal,
    /// Embedded checkout or registration form.
    Checkout,
    /// Chat widget.
    Chat,
    /// Face to face: a shop counter, a service desk, an event stand.
    InPerson,
    /// The merchant's own mobile app.
    InApp,
    /// A signed paper form.
    Paper,
    /// A phone call's voice menu.
    Ivr,
    /// A text message.
    Sms,
}

impl Surface {
    /// Every surface, the web's first.
    pub const ALL: [Surface; 8] = [
        Surface::Modal,
        Surface::Checkout,
        Surface::Chat,
        Surface::InPerson,
        Surface::InApp,
        Surface::Paper,
        Surface::Ivr,
        Surface::Sms,
    ];

    /// A web surface by its wire name (what a browser may send).
    pub(crate) fn parse(s: &str) -> Option<Surface> {
        Surface::parse_any(s).filter(|s| !s.is_capture())
    }

    /// Any surface by its wire name.
    pub fn parse_any(s: &str) -> Option<Surface> {
        Surface::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether consents here are captured off the website (with a `capture` key).
    pub fn is_capture(self) -> bool {
        !matches!(self, Surface::Modal | Surface::Checkout | Surface::Chat)
    }

    /// The wire name (`modal`, `checkout`, `chat`, `in_person`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Modal => "modal",
            Surface::Checkout => "checkout",
            Surface::Chat => "chat",
            Surface::InPerson => "in_person",
            Surface::InApp => "in_app",
            Surface::Paper => "paper",
            Surface::Ivr => "ivr",
            Surface::Sms => "sms",
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
    /// The A/B variant of the surface's wording that was shown, if the site has variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
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
    /// The A/B variant shown, if any (one the site defines for the surface).
    #[serde(default)]
    pub variant: Option<String>,
    /// For a consent captured off the website: who took it, where, and whether
    /// the person must confirm in WhatsApp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::capture::CaptureEvidence>,
}

/// Why a consent was refused; each names the offending field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConsentError {
    /// The phone number cannot be a WhatsApp number.
    #[error("{0}")]
    InvalidPhone(#[from] PhoneError),
    /// A number of a country the site does not take sign-ups from
    /// ([`SiteConfig::allowed_calling_codes`]); names the calling code, never the number.
    #[error("numbers with the calling code +{0} cannot sign up on this site")]
    CountryNotAllowed(u16),
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
    /// A variant the site does not define for the surface.
    #[error("variant '{0}' is not one of this surface's variants")]
    UnknownVariant(String),
    /// The text does not match what the site's notice renders to.
    #[error("notice_text is not the notice this site shows in that locale")]
    NoticeMismatch,
    /// A web surface sent with a capture key, or a capture surface without one.
    #[error("surface '{0}' is not one of in_person, in_app, paper, ivr, sms")]
    NotCaptureSurface(String),
    /// A field the request must carry is absent or blank.
    #[error("{0} is required")]
    Required(&'static str),
    /// A field only one surface takes.
    #[error("{field} is only for surface {surface}")]
    OnlyFor {
        /// Field name.
        field: &'static str,
        /// The surface that takes it.
        surface: &'static str,
    },
    /// A free-text field with control characters.
    #[error("{0} must not contain control characters")]
    ControlCharacters(&'static str),
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
            ConsentError::InvalidPhone(_) | ConsentError::CountryNotAllowed(_) => "phone",
            ConsentError::NoCategory | ConsentError::UnknownCategory(_) => "categories",
            ConsentError::UnsupportedLocale(_) => "locale",
            ConsentError::UnknownSurface(_) | ConsentError::NotCaptureSurface(_) => "surface",
            ConsentError::Required(field)
            | ConsentError::ControlCharacters(field)
            | ConsentError::OnlyFor { field, .. } => field,
            ConsentError::StaleNotice { .. } => "notice_version",
            ConsentError::NoticeMismatch => "notice_text",
            ConsentError::UnknownVariant(_) => "variant",
            ConsentError::TooLong { field, .. } => field,
        }
    }

    /// Stable machine-readable slug (used in problem `type` URIs).
    pub fn slug(&self) -> &'static str {
        match self {
            ConsentError::InvalidPhone(_) => "invalid-phone",
            ConsentError::CountryNotAllowed(_) => "country-not-allowed",
            ConsentError::NoCategory => "no-category",
            ConsentError::UnknownCategory(_) => "unknown-category",
            ConsentError::UnsupportedLocale(_) => "unsupported-locale",
            ConsentError::UnknownSurface(_) => "unknown-surface",
            ConsentError::StaleNotice { .. } => "stale-notice",
            ConsentError::NoticeMismatch => "notice-mismatch",
            ConsentError::UnknownVariant(_) => "unknown-variant",
            ConsentError::TooLong { .. } => "field-too-long",
            ConsentError::NotCaptureSurface(_) => "not-capture-surface",
            ConsentError::Required(_) => "field-required",
            ConsentError::OnlyFor { .. } => "field-not-for-surface",
            ConsentError::ControlCharacters(_) => "control-characters",
        }
    }
}

const MAX_URL: usize = 2048;
const MAX_VERSION: usize = 32;

impl ConsentRequest {
    /// Checks the request against the site, field by field, in form order.
    pub fn validate(&self, site: &SiteConfig) -> Result<ValidConsent, ConsentError> {
        let phone = normalize_phone(&self.phone, site.default_calling_code)?;
        // Before anything else is looked at: a number from elsewhere costs a
        // template and reaches a stranger, whatever the rest says.
        if !site.allows_calling_code(phone.calling_code()) {
            return Err(ConsentError::CountryNotAllowed(phone.calling_code()));
        }
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
        let variant = match self.variant.as_deref() {
            None => None,
            Some(id) => Some(
                site.variant(surface, id)
                    .ok_or_else(|| ConsentError::UnknownVariant(id.chars().take(32).collect()))?,
            ),
        };
        // The text the site shows there (overrides and variant applied), so the
        // hash recorded is of exactly what the widget was told to show.
        let notice = site.notice(locale, variant);
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
            variant: variant.map(|v| v.id.clone()),
            capture: None,
        })
    }

    fn known_categories(&self, site: &SiteConfig) -> Result<Vec<Category>, ConsentError> {
        known_categories(site, &self.categories)
    }
}

/// The ticked categories, each one the site offers; sorted, no duplicates.
pub(crate) fn known_categories(
    site: &SiteConfig,
    names: &[String],
) -> Result<Vec<Category>, ConsentError> {
    if names.is_empty() {
        return Err(ConsentError::NoCategory);
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let c = Category::parse(name)
            .filter(|c| site.offers(c))
            .ok_or_else(|| ConsentError::UnknownCategory(name.clone()))?;
        out.push(c);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) fn check_len(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<(), ConsentError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ConsentError::TooLong { field, max }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteConfig {
        let mut s = crate::site::sample::site();
        s.allowed_origins = vec![];
        s.notice_version = 2;
        s.whatsapp.template_languages = vec!["id".into()];
        s
    }

    fn request() -> ConsentRequest {
        ConsentRequest {
            phone: "0812 3456 7890".into(),
            categories: vec!["delivery".into(), "order_updates".into(), "delivery".into()],
            locale: "id".into(),
            notice_version: 2,
            notice_text: crate::render_notice(Locale::Id, "Toko Acme", 2).text,
            surface: "modal".into(),
            page_url: Some("https://acme.example/".into()),
            client_ts: Some(1.0),
            widget_version: Some("0.1.0".into()),
            turnstile_token: None,
            variant: None,
        }
    }

    #[test]
    fn a_good_request_becomes_evidence() {
        let v = request().validate(&site()).unwrap();
        assert_eq!(v.phone.as_str(), "+6281234567890");
        assert_eq!(
            v.categories,
            vec![Category::ORDER_UPDATES, Category::DELIVERY]
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
    fn only_numbers_of_the_allowed_calling_codes_may_consent() {
        // No list: the default calling code alone.
        let mut s = site();
        assert!(s.allowed_calling_codes.is_empty());
        let with_phone = |phone: &str| ConsentRequest {
            phone: phone.into(),
            ..request()
        };
        assert!(with_phone("0812 3456 7890").validate(&s).is_ok());
        assert!(with_phone("+62 812 3456 7890").validate(&s).is_ok());
        for (phone, cc) in [
            ("+880 1712 345678", 880),
            ("+234 803 123 4567", 234),
            ("+964 770 123 4567", 964),
            ("00601 2345 6789", 60),
        ] {
            let err = with_phone(phone).validate(&s).unwrap_err();
            assert_eq!(err, ConsentError::CountryNotAllowed(cc), "{phone}");
            assert_eq!((err.field(), err.slug()), ("phone", "country-not-allowed"));
            let detail = err.to_string();
            assert!(detail.contains(&format!("+{cc} ")), "{detail}");
            assert!(
                !detail.contains("345"),
                "the number is not echoed: {detail}"
            );
        }
        // An impossible number is still an impossible number, wherever it is from.
        assert_eq!(
            with_phone("+234 80").validate(&s).unwrap_err().slug(),
            "invalid-phone"
        );
        // A site serving two countries.
        s.allowed_calling_codes = vec![62, 60];
        assert!(with_phone("+60 12 345 6789").validate(&s).is_ok());
        assert!(with_phone("0812 3456 7890").validate(&s).is_ok());
        assert_eq!(
            with_phone("+234 803 123 4567").validate(&s).unwrap_err(),
            ConsentError::CountryNotAllowed(234)
        );
        // Checked before the rest of the form: a foreign number with a bad
        // notice is refused for its country.
        let mut r = with_phone("+880 1712 345678");
        r.notice_text.push('!');
        assert_eq!(r.validate(&s).unwrap_err().slug(), "country-not-allowed");
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
