//! A merchant site's configuration, and the part of it the widget may see.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{category::Category, locale::Locale};

/// Everything the Worker knows about one merchant site (kept in KV).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Site identifier used in URLs and the script tag's `data-site`.
    pub id: String,
    /// The business name every notice shows.
    pub business_name: String,
    /// Origins allowed to post consents (scheme://host[:port]).
    pub allowed_origins: Vec<String>,
    /// Privacy-policy URL linked from every surface.
    pub privacy_policy_url: String,
    /// Language when neither the page nor the browser asks for a supported one.
    pub default_locale: Locale,
    /// Calling code assumed for numbers typed without one (62 for Indonesia).
    pub default_calling_code: u16,
    /// Categories offered, in display order.
    pub categories: Vec<Category>,
    /// Version of the notice wording; bump it when the wording changes.
    pub notice_version: u32,
    /// How confirmations are sent.
    pub whatsapp: WhatsAppConfig,
    /// The chat widget, if the site offers one (absent in older configs).
    #[serde(default)]
    pub chat: Option<ChatConfig>,
}

/// The chat widget: the greeting, and where it hands the visitor over to WhatsApp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// The business's WhatsApp number as `https://wa.me/<number>` wants it: digits with country code.
    pub number: String,
    /// Greeting shown in the bubble; default: the visitor's locale's greeting.
    #[serde(default)]
    pub greeting: Option<String>,
    /// Message prefilled in WhatsApp; default: the visitor's locale's.
    #[serde(default)]
    pub prefilled: Option<String>,
}

/// The site's WhatsApp Business sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// Cloud API phone-number id that sends.
    pub phone_number_id: String,
    /// Name of the approved confirmation template.
    pub template_name: String,
    /// Languages the template is approved in (WhatsApp codes); the first is the fallback.
    pub template_languages: Vec<String>,
    /// Name of the Worker secret holding the access token.
    pub token_secret: String,
}

/// What the widget is told about a site: nothing secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicConfig {
    /// Site identifier.
    pub site: String,
    /// Business name to show.
    pub business_name: String,
    /// Privacy-policy URL to link.
    pub privacy_policy_url: String,
    /// Fallback language.
    pub default_locale: Locale,
    /// Calling code preselected in the phone input.
    pub default_calling_code: u16,
    /// Categories to offer, in order.
    pub categories: Vec<Category>,
    /// Notice version the widget must echo back.
    pub notice_version: u32,
    /// The chat widget, if the site offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatConfig>,
}

impl SiteConfig {
    /// The public projection served to widgets.
    pub fn public(&self) -> PublicConfig {
        PublicConfig {
            site: self.id.clone(),
            business_name: self.business_name.clone(),
            privacy_policy_url: self.privacy_policy_url.clone(),
            default_locale: self.default_locale,
            default_calling_code: self.default_calling_code,
            categories: self.categories.clone(),
            notice_version: self.notice_version,
            chat: self.chat.clone(),
        }
    }

    /// Whether a browser origin may post consents for this site.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }

    /// The template language for a person's locale: theirs if approved, else the first.
    pub fn template_language(&self, locale: Locale) -> &str {
        let wanted = locale.whatsapp_code();
        let langs = &self.whatsapp.template_languages;
        langs
            .iter()
            .find(|l| l.as_str() == wanted)
            .or_else(|| langs.first())
            .map(String::as_str)
            .unwrap_or("en")
    }
}

/// Whether `id` is a well-formed site id: 1–64 of `a-z 0-9 -`.
pub fn is_valid_site_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteConfig {
        SiteConfig {
            id: "acme".into(),
            business_name: "Toko Acme".into(),
            allowed_origins: vec!["https://acme.example".into()],
            privacy_policy_url: "https://acme.example/privacy".into(),
            default_locale: Locale::Id,
            default_calling_code: 62,
            categories: vec![Category::OrderUpdates, Category::Delivery],
            notice_version: 1,
            whatsapp: WhatsAppConfig {
                phone_number_id: "1".into(),
                template_name: "optin_confirmation".into(),
                template_languages: vec!["id".into(), "en".into()],
                token_secret: "WA_TOKEN_ACME".into(),
            },
            chat: None,
        }
    }

    #[test]
    fn origin_must_match_exactly() {
        let s = site();
        assert!(s.allows_origin("https://acme.example"));
        assert!(!s.allows_origin("https://acme.example.evil.test"));
        assert!(!s.allows_origin("http://acme.example"));
        assert!(!s.allows_origin("null"));
    }

    #[test]
    fn template_language_falls_back_to_the_first_approved() {
        let s = site();
        assert_eq!(s.template_language(Locale::En), "en");
        assert_eq!(s.template_language(Locale::De), "id");
    }

    #[test]
    fn public_config_carries_no_secrets_or_origins() {
        let json = serde_json::to_string(&site().public()).unwrap();
        assert!(!json.contains("WA_TOKEN"));
        assert!(!json.contains("phone_number_id"));
        assert!(json.contains("Toko Acme"));
    }

    #[test]
    fn configs_without_chat_still_parse_and_chat_reaches_the_widget() {
        let mut json = serde_json::to_value(site()).unwrap();
        json.as_object_mut().unwrap().remove("chat");
        let parsed: SiteConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(parsed.chat, None);
        assert!(!serde_json::to_string(&parsed.public())
            .unwrap()
            .contains("chat"));
        json["chat"] = serde_json::json!({"number": "6281234567890"});
        let with_chat: SiteConfig = serde_json::from_value(json).unwrap();
        let public = with_chat.public();
        assert_eq!(public.chat.unwrap().number, "6281234567890");
    }

    #[test]
    fn site_ids_are_url_safe() {
        assert!(is_valid_site_id("demo-2"));
        assert!(!is_valid_site_id(""));
        assert!(!is_valid_site_id("Demo"));
        assert!(!is_valid_site_id("../etc"));
    }
}
