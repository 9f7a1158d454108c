//! Consents captured off the website (a service desk, the merchant's app, a
//! paper form, a voice menu, a text message), recorded by the merchant's
//! systems with a `capture` API key.
//!
//! Someone other than the number's owner may have typed it, so the person
//! confirms in WhatsApp before it counts (double opt-in), unless the site
//! turns that off for the surface; either way the choice is in the evidence.

use alloc::collections::BTreeMap;

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    consent::{check_len, known_categories, ConsentError, Surface, ValidConsent},
    locale::Locale,
    notice::{check_overrides, fill, notice_hash, Notice, Overrides},
    phone::normalize_phone,
    site::SiteConfig,
};

/// The site's setting for one capture surface (`SiteConfig::capture`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSurface {
    /// Whether the person must confirm in WhatsApp (default: yes). Off only
    /// where the number cannot have been typed by someone else.
    #[serde(default = "yes")]
    pub double_opt_in: bool,
    /// The notice as worded for this surface, per locale (`{business}` filled);
    /// a locale not listed shows the site's notice.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notice: BTreeMap<Locale, String>,
}

fn yes() -> bool {
    true
}

/// Whether a captured consent waits for the person's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureDoubleOptIn {
    /// The default: pending until confirmed in WhatsApp.
    Required,
    /// The site turned it off for this surface: active at once.
    OffBySite,
}

/// What the evidence keeps of a captured consent, besides the notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureEvidence {
    /// Staff member or device that took it.
    pub collected_by: String,
    /// Where (a shop, a stand, a call centre).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// For paper: the signed form's reference in the merchant's archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_ref: Option<String>,
    /// Whether the person must confirm in WhatsApp.
    pub double_opt_in: CaptureDoubleOptIn,
    /// The id of the API key that recorded it (set by the Worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// The body of `POST /v1/sites/{site}/consents` with a `capture` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// The number as typed.
    pub phone: String,
    /// Categories the person chose (wire names).
    pub categories: Vec<String>,
    /// Locale the notice was shown (or read out) in.
    pub locale: String,
    /// The site's notice version.
    pub notice_version: u32,
    /// The exact notice text shown.
    pub notice_text: String,
    /// `in_person`, `in_app`, `paper`, `ivr` or `sms`.
    pub surface: String,
    /// Staff member or device id (1-128 characters).
    pub collected_by: String,
    /// Where it was taken (at most 128 characters).
    #[serde(default)]
    pub location: Option<String>,
    /// The signed form's reference; required for `paper`, only for `paper`.
    #[serde(default)]
    pub form_ref: Option<String>,
}

/// Longest `collected_by` and `location`.
pub const MAX_COLLECTED_BY: usize = 128;
/// Longest `form_ref`.
pub const MAX_FORM_REF: usize = 256;

impl SiteConfig {
    /// The notice a capture surface shows in `locale`: the site's wording for
    /// that surface, else its notice.
    pub fn capture_notice(&self, surface: Surface, locale: Locale) -> Notice {
        let own = self
            .capture
            .get(&surface)
            .and_then(|c| c.notice.get(&locale));
        match own {
            Some(text) => Notice {
                locale,
                version: self.notice_version,
                text: fill(text, &self.business_name),
            },
            None => self.notice(locale, None),
        }
    }

    /// Whether consents captured on `surface` wait for a confirmation.
    pub fn capture_double_opt_in(&self, surface: Surface) -> CaptureDoubleOptIn {
        match self.capture.get(&surface) {
            Some(c) if !c.double_opt_in => CaptureDoubleOptIn::OffBySite,
            _ => CaptureDoubleOptIn::Required,
        }
    }

    /// Checks `capture` (called by [`SiteConfig::check`]).
    pub(crate) fn check_capture(&self) -> Result<(), (&'static str, &'static str)> {
        for (surface, c) in &self.capture {
            if !surface.is_capture() {
                return Err((
                    "capture",
                    "keys must be in_person, in_app, paper, ivr or sms",
                ));
            }
            let as_overrides: Overrides = c
                .notice
                .iter()
                .map(|(l, t)| (*l, [("notice".to_owned(), t.clone())].into()))
                .collect();
            check_overrides(&as_overrides).map_err(|m| ("capture", m))?;
        }
        Ok(())
    }
}

impl CaptureRequest {
    /// Checks the request against the site, field by field, in form order.
    pub fn validate(&self, site: &SiteConfig) -> Result<ValidConsent, ConsentError> {
        let phone = normalize_phone(&self.phone, site.default_calling_code)?;
        if !site.allows_calling_code(phone.calling_code()) {
            return Err(ConsentError::CountryNotAllowed(phone.calling_code()));
        }
        let categories = known_categories(site, &self.categories)?;
        let locale = Locale::from_tag(&self.locale)
            .ok_or_else(|| ConsentError::UnsupportedLocale(self.locale.clone()))?;
        let surface = Surface::parse_any(&self.surface)
            .filter(|s| s.is_capture())
            .ok_or_else(|| ConsentError::NotCaptureSurface(short(&self.surface)))?;
        if self.notice_version != site.notice_version {
            return Err(ConsentError::StaleNotice {
                expected: site.notice_version,
                got: self.notice_version,
            });
        }
        let notice = site.capture_notice(surface, locale);
        if notice.text != self.notice_text {
            return Err(ConsentError::NoticeMismatch);
        }
        let capture = self.evidence(site, surface)?;
        Ok(ValidConsent {
            phone,
            categories,
            notice_hash: notice_hash(&notice.text),
            notice,
            surface,
            page_url: None,
            client_ts: None,
            widget_version: None,
            variant: None,
            capture: Some(capture),
        })
    }

    fn evidence(
        &self,
        site: &SiteConfig,
        surface: Surface,
    ) -> Result<CaptureEvidence, ConsentError> {
        let collected_by = text("collected_by", Some(&self.collected_by), MAX_COLLECTED_BY)?
            .ok_or(ConsentError::Required("collected_by"))?;
        let location = text("location", self.location.as_deref(), MAX_COLLECTED_BY)?;
        let form_ref = text("form_ref", self.form_ref.as_deref(), MAX_FORM_REF)?;
        match (surface, &form_ref) {
            (Surface::Paper, None) => return Err(ConsentError::Required("form_ref")),
            (Surface::Paper, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(ConsentError::OnlyFor {
                    field: "form_ref",
                    surface: "paper",
                })
            }
        }
        Ok(CaptureEvidence {
            collected_by,
            location,
            form_ref,
            double_opt_in: site.capture_double_opt_in(surface),
            key_id: None,
        })
    }
}

/// A free-text field trimmed: `None` when absent or blank; refused when too
/// long or with control characters.
fn text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ConsentError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    check_len(field, Some(v), max)?;
    if v.chars().any(char::is_control) {
        return Err(ConsentError::ControlCharacters(field));
    }
    Ok(Some(v.to_owned()))
}

fn short(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteConfig {
        let mut s = crate::site::sample::site();
        s.notice_version = 2;
        s
    }

    fn request(site: &SiteConfig) -> CaptureRequest {
        CaptureRequest {
            phone: "0812 3456 7890".into(),
            categories: vec!["order_updates".into()],
            locale: "en".into(),
            notice_version: 2,
            notice_text: site.capture_notice(Surface::InPerson, Locale::En).text,
            surface: "in_person".into(),
            collected_by: " desk-7 ".into(),
            location: Some("Jakarta, Grand Indonesia".into()),
            form_ref: None,
        }
    }

    #[test]
    fn a_desk_capture_is_evidence_that_waits_for_confirmation() {
        let s = site();
        let v = request(&s).validate(&s).unwrap();
        assert_eq!(v.surface, Surface::InPerson);
        let c = v.capture.unwrap();
        assert_eq!(c.collected_by, "desk-7");
        assert_eq!(c.double_opt_in, CaptureDoubleOptIn::Required);
        assert_eq!(c.location.as_deref(), Some("Jakarta, Grand Indonesia"));
    }

    #[test]
    fn the_site_may_word_the_notice_and_turn_double_opt_in_off_per_surface() {
        let mut s = site();
        let wording = "Staff at {business} asked you: WhatsApp messages? Reply STOP to end.";
        s.capture.insert(
            Surface::Paper,
            CaptureSurface {
                double_opt_in: false,
                notice: [(Locale::En, wording.into())].into(),
            },
        );
        assert!(s.check().is_ok());
        let mut r = request(&s);
        r.surface = "paper".into();
        r.form_ref = Some("FORM-2026-0042".into());
        // The site's web notice is not the paper one.
        assert_eq!(r.validate(&s).unwrap_err(), ConsentError::NoticeMismatch);
        r.notice_text = wording.replace("{business}", &s.business_name);
        let v = r.validate(&s).unwrap();
        assert_eq!(
            v.capture.unwrap().double_opt_in,
            CaptureDoubleOptIn::OffBySite
        );
        // Other surfaces keep both defaults.
        assert_eq!(
            s.capture_double_opt_in(Surface::InPerson),
            CaptureDoubleOptIn::Required
        );
        s.capture.insert(
            Surface::Modal,
            CaptureSurface {
                double_opt_in: false,
                notice: BTreeMap::new(),
            },
        );
        assert_eq!(s.check().unwrap_err().0, "capture");
    }

    #[test]
    fn each_bad_field_is_named() {
        let s = site();
        type Case = (fn(&mut CaptureRequest), &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                |r| r.surface = "modal".into(),
                "surface",
                "not-capture-surface",
            ),
            (
                |r| r.surface = "fax".into(),
                "surface",
                "not-capture-surface",
            ),
            (
                |r| r.collected_by = "x".repeat(129),
                "collected_by",
                "field-too-long",
            ),
            (
                |r| r.collected_by = "  ".into(),
                "collected_by",
                "field-required",
            ),
            (
                |r| r.collected_by = "a\u{0}b".into(),
                "collected_by",
                "control-characters",
            ),
            (
                |r| r.location = Some("y".repeat(129)),
                "location",
                "field-too-long",
            ),
            (
                |r| r.form_ref = Some("F-1".into()),
                "form_ref",
                "field-not-for-surface",
            ),
            (
                |r| r.notice_text.push('!'),
                "notice_text",
                "notice-mismatch",
            ),
        ];
        for (mutate, field, slug) in cases {
            let mut r = request(&s);
            mutate(&mut r);
            let err = r.validate(&s).unwrap_err();
            assert_eq!((err.field(), err.slug()), (field, slug), "{err}");
        }
        let mut paper = request(&s);
        paper.surface = "paper".into();
        let err = paper.validate(&s).unwrap_err();
        assert_eq!((err.field(), err.slug()), ("form_ref", "field-required"));
        // 128 is fine.
        let mut r = request(&s);
        r.collected_by = "x".repeat(128);
        assert!(r.validate(&s).is_ok());
    }

    #[test]
    fn a_browser_may_not_claim_a_capture_surface() {
        assert_eq!(Surface::parse("in_person"), None);
        assert_eq!(Surface::parse("modal"), Some(Surface::Modal));
        assert_eq!(Surface::parse_any("in_person"), Some(Surface::InPerson));
        for s in Surface::ALL {
            assert_eq!(Surface::parse_any(s.as_str()), Some(s));
        }
    }
}
