//! A merchant site's configuration, and the part of it the widget may see.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use alloc::collections::BTreeMap;

use crate::{
    category::{Category, SiteCategory},
    consent::Surface,
    hours::OpeningHours,
    locale::Locale,
    notice::{Overrides, PublicVariant, Variant},
    targeting::Targeting,
};

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
    /// Calling codes whose numbers may consent (the countries the site serves,
    /// e.g. `[62, 60]`); absent or empty: `default_calling_code` alone. A number
    /// from elsewhere is refused ([`crate::ConsentError::CountryNotAllowed`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_calling_codes: Vec<u16>,
    /// Categories offered: the built-ins by id, the merchant's own with their
    /// labels (see [`SiteCategory`]). Shown utility first, then marketing.
    pub categories: Vec<SiteCategory>,
    /// Version of the notice wording; bump it when the wording changes.
    pub notice_version: u32,
    /// How confirmations are sent.
    pub whatsapp: WhatsAppConfig,
    /// Abuse limits; defaults apply when absent.
    #[serde(default)]
    pub limits: Limits,
    /// How long a person's data is kept; five years by default.
    #[serde(default, skip_serializing_if = "Retention::is_default")]
    pub retention: Retention,
    /// When set, consents must carry a Cloudflare Turnstile token, verified
    /// with the secret of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnstile_secret: Option<String>,
    /// The Turnstile widget's public site key: with it, a consent that needs a
    /// challenge is answered `/problems/challenge-required` carrying the key, and
    /// the widget shows the challenge, then sends the consent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnstile_site_key: Option<String>,
    /// When a site with `turnstile_secret` asks for the challenge.
    #[serde(default, skip_serializing_if = "TurnstileWhen::is_always")]
    pub turnstile_when: TurnstileWhen,
    /// What the evidence keeps of the client IP.
    #[serde(default)]
    pub ip_policy: IpPolicy,
    /// Ledger shards (Durable Objects) for a very large site; fixed at creation.
    #[serde(default = "one")]
    pub shards: u32,
    /// Where the site's ledgers live (a Durable Objects jurisdiction); fixed at
    /// creation, none for anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
    /// The chat widget, if the site offers one (absent in older configs).
    #[serde(default)]
    pub chat: Option<ChatConfig>,
    /// The merchant's wording per locale and string key (see [`Overrides`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub strings: Overrides,
    /// A/B variants of the wording per surface, at most 4 each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<Surface, Vec<Variant>>,
    /// When the modal opens by itself; absent: [`Targeting::default`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting: Option<Targeting>,
    /// Send no funnel analytics from browsers that ask not to be tracked
    /// (Do Not Track or Global Privacy Control).
    #[serde(default)]
    pub respect_dnt: bool,
    /// Double opt-in: a consent from the web stays pending until the person
    /// confirms in WhatsApp (absent or `enabled: false`: a consent is active at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_opt_in: Option<DoubleOptIn>,
    /// Click-to-opt-in phrase (e.g. `JOIN ACME`): an inbound WhatsApp message that is
    /// exactly this (case, accents and spacing ignored) subscribes its sender to
    /// every category of the site. A wa.me link or QR code prefills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optin_keyword: Option<String>,
    /// The burst breaker: above this many web consents in 10 minutes their
    /// confirmations are held for an admin (absent: the derived default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<Breaker>,
    /// Consents captured off the website, per surface (`in_person`, `paper`, …):
    /// the notice's wording there and whether double opt-in applies (by
    /// default it does). A surface not listed shows the site's notice, with
    /// double opt-in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture: BTreeMap<Surface, crate::capture::CaptureSurface>,
}

/// The burst breaker's setting. When web consents in the last 10 minutes (in one
/// ledger shard) exceed the threshold, new consents are still recorded but their
/// confirmations are held, not sent, until an admin releases or drops them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breaker {
    /// Web consents per 10 minutes per ledger shard above which confirmations
    /// are held (1 to [`Breaker::MAX_THRESHOLD`]). Absent: derived from the
    /// shard's own rate, see `optin-worker`'s `ledger/breaker.rs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_per_10_min: Option<u32>,
}

impl Breaker {
    /// The largest threshold accepted: beyond it the breaker would never open.
    pub const MAX_THRESHOLD: u32 = 100_000;
}

/// When Turnstile is asked for, on a site with `turnstile_secret`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnstileWhen {
    /// Every consent carries a verified token.
    #[default]
    Always,
    /// Only while the burst breaker is open: instead of holding the
    /// confirmations of a burst, consents without a verified token are refused
    /// with `/problems/challenge-required` (nothing recorded) and those with one
    /// are recorded and confirmed as usual. Checkout opt-ins, whose page has
    /// already moved on to the order, are recorded and held as without Turnstile.
    BreakerOpen,
}

impl TurnstileWhen {
    fn is_always(&self) -> bool {
        *self == TurnstileWhen::Always
    }
}

/// The double opt-in setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleOptIn {
    /// Whether new consents wait for a confirmation.
    pub enabled: bool,
    /// Hours a pending consent waits for the confirmation before it expires (1–720).
    #[serde(default = "default_expiry_hours")]
    pub expiry_hours: u32,
    /// Approved template asking to confirm, with Confirm and Stop quick replies.
    #[serde(default = "default_double_opt_in_template")]
    pub template_name: String,
}

impl Default for DoubleOptIn {
    /// Switched off, with the default expiry and template.
    fn default() -> Self {
        DoubleOptIn {
            enabled: false,
            expiry_hours: default_expiry_hours(),
            template_name: default_double_opt_in_template(),
        }
    }
}

fn default_expiry_hours() -> u32 {
    48
}

fn default_double_opt_in_template() -> String {
    "optin_double_confirmation".into()
}

/// What the evidence keeps of the client IP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpPolicy {
    /// IPv4 /24, IPv6 /48.
    #[default]
    Truncate,
    /// Nothing.
    Drop,
}

fn one() -> u32 {
    1
}

/// Limits that stop message pumping: each breach is a 429 and nothing is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Consents per client IP per minute.
    pub per_ip_per_minute: u32,
    /// Consents per phone number per hour.
    pub per_phone_per_hour: u32,
    /// Confirmation templates queued per site per UTC day.
    pub daily_confirmations: u32,
    /// Hours after a withdrawal during which a new consent sends no template.
    pub resend_cooldown_hours: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_ip_per_minute: 30,
            per_phone_per_hour: 5,
            daily_confirmations: 1000,
            resend_cooldown_hours: 24,
        }
    }
}

/// How long the ledger keeps a person's personal data before erasing it as the
/// erasure endpoint does (the chain keeps verifying, the suppression hash stays).
/// Five years by default: TCPA's limitation period is four; GDPR asks for no
/// longer than needed, so a site may shorten it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days after a person's last withdrawal, once they hold nothing.
    pub after_withdrawal_days: u32,
    /// Days after a person's last recorded event of any kind.
    pub after_last_activity_days: u32,
}

impl Retention {
    /// Five years.
    pub const DEFAULT_DAYS: u32 = 1826;
    /// The longest a site may ask for (100 years).
    pub const MAX_DAYS: u32 = 36_525;

    fn is_default(&self) -> bool {
        *self == Retention::default()
    }

    fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let ok = |d: u32| (1..=Retention::MAX_DAYS).contains(&d);
        if !ok(self.after_withdrawal_days) {
            return Err(("retention.after_withdrawal_days", "must be 1 to 36525"));
        }
        if !ok(self.after_last_activity_days) {
            return Err(("retention.after_last_activity_days", "must be 1 to 36525"));
        }
        Ok(())
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            after_withdrawal_days: Retention::DEFAULT_DAYS,
            after_last_activity_days: Retention::DEFAULT_DAYS,
        }
    }
}

/// The chat widget: the greeting, and where it hands the visitor over to WhatsApp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// The business's WhatsApp number as `https://wa.me/<number>` wants it: digits with country code.
    pub number: String,
    /// Greeting shown in the bubble; default: the visitor's locale's greeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// Message prefilled in WhatsApp; default: the visitor's locale's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefilled: Option<String>,
    /// When the business answers; outside them the chat says it replies later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<OpeningHours>,
}

/// A Durable Objects jurisdiction: the site's ledgers are created, stored and
/// run only inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    /// The European Union.
    Eu,
    /// FedRAMP-compliant data centres.
    Fedramp,
}

impl Jurisdiction {
    /// The name Cloudflare knows it by (and our ledger names' prefix).
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Eu => "eu",
            Jurisdiction::Fedramp => "fedramp",
        }
    }

    /// The jurisdiction a ledger name (`eu:acme/3`) places its ledger in.
    pub fn of_ledger(name: &str) -> Option<Jurisdiction> {
        match name.split_once(':')?.0 {
            "eu" => Some(Jurisdiction::Eu),
            "fedramp" => Some(Jurisdiction::Fedramp),
            _ => None,
        }
    }

    /// The site id in a ledger name (`eu:acme/3` → `acme`).
    pub fn site_of_ledger(name: &str) -> &str {
        let rest = match Jurisdiction::of_ledger(name) {
            Some(_) => name.split_once(':').map_or(name, |(_, r)| r),
            None => name,
        };
        rest.split('/').next().unwrap_or(rest)
    }
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
    /// Name of the Worker secret holding the access token; a token stored
    /// through the admin API (`PUT /admin/sites/{site}/graph-token`) wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<String>,
    /// The business number as people dial it (digits with country code), for
    /// wa.me links; the chat widget's `number` is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// The WhatsApp Business Account id (digits): where templates are created
    /// and read back (`POST /admin/sites/{site}/templates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
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
    /// The language `strings` are in (the one asked for, else the default).
    pub locale: Locale,
    /// Every widget string in `locale`, the merchant's overrides applied.
    #[serde(default)]
    pub strings: BTreeMap<String, String>,
    /// Per surface, the A/B variants' differing strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<Surface, Vec<PublicVariant>>,
    /// Calling code preselected in the phone input.
    pub default_calling_code: u16,
    /// The calling codes the site takes sign-ups from, when more than its
    /// default (absent: the default alone), so the widget refuses a number
    /// from elsewhere before sending it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_calling_codes: Vec<u16>,
    /// Categories to offer, in order.
    pub categories: Vec<Category>,
    /// Notice version the widget must echo back.
    pub notice_version: u32,
    /// The chat widget, if the site offers one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatConfig>,
    /// When the modal opens by itself (absent: the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting: Option<Targeting>,
}

impl PublicConfig {
    /// Without the chat widget's setting, strings and variants: what a page
    /// that shows no chat widget downloads before its prompt (about a fifth of
    /// the strings).
    pub fn without_chat(mut self) -> PublicConfig {
        self.chat = None;
        self.strings.retain(|k, _| !k.starts_with("chat_"));
        self.variants.remove(&Surface::Chat);
        self
    }
}

impl SiteConfig {
    /// The public projection served to widgets, in the site's default locale.
    pub fn public(&self) -> PublicConfig {
        self.public_in(self.default_locale)
    }

    /// The public projection with the widget's strings in `locale`.
    pub fn public_in(&self, locale: Locale) -> PublicConfig {
        PublicConfig {
            site: self.id.clone(),
            business_name: self.business_name.clone(),
            privacy_policy_url: self.privacy_policy_url.clone(),
            locale,
            strings: self.widget_strings(locale),
            variants: self.public_variants(locale),
            default_calling_code: self.default_calling_code,
            allowed_calling_codes: match self.calling_codes() {
                [only] if *only == self.default_calling_code => Vec::new(),
                codes => codes.to_vec(),
            },
            categories: self.category_ids(),
            notice_version: self.notice_version,
            chat: self.chat.clone(),
            targeting: self.targeting.clone(),
        }
    }

    /// Checks what serde cannot: names present, origins well-formed, categories unique.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !is_valid_site_id(&self.id) {
            return Err(("id", "must be 1-64 of a-z, 0-9 and -"));
        }
        let name = self.business_name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(("business_name", "must be 1-100 characters"));
        }
        if self.allowed_origins.is_empty() || !self.allowed_origins.iter().all(|o| is_origin(o)) {
            return Err((
                "allowed_origins",
                "must list origins like https://shop.example",
            ));
        }
        if !(self.privacy_policy_url.starts_with("https://")
            || self.privacy_policy_url.starts_with("http://"))
        {
            return Err(("privacy_policy_url", "must be an http(s) URL"));
        }
        self.check_calling_codes()?;
        self.check_categories()?;
        self.retention.check()?;
        if self.whatsapp.phone_number_id.is_empty()
            || !self
                .whatsapp
                .phone_number_id
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Err(("whatsapp.phone_number_id", "must be digits"));
        }
        if !(1..=64).contains(&self.shards) {
            return Err(("shards", "must be 1 to 64"));
        }
        if self.whatsapp.template_languages.is_empty() {
            return Err((
                "whatsapp.template_languages",
                "must name at least one language",
            ));
        }
        if let Some(t) = &self.targeting {
            t.check()?;
        }
        if let Some(h) = self.chat.as_ref().and_then(|c| c.hours.as_ref()) {
            h.check()?;
        }
        if let Some(n) = &self.whatsapp.display_phone_number {
            if !(8..=15).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err((
                    "whatsapp.display_phone_number",
                    "must be 8 to 15 digits with the country code",
                ));
            }
        }
        if let Some(w) = &self.whatsapp.waba_id {
            if w.is_empty() || w.len() > 32 || !w.bytes().all(|b| b.is_ascii_digit()) {
                return Err(("whatsapp.waba_id", "must be digits"));
            }
        }
        if let Some(d) = &self.double_opt_in {
            if !(1..=720).contains(&d.expiry_hours) {
                return Err(("double_opt_in.expiry_hours", "must be 1 to 720"));
            }
            let name_ok = (1..=512).contains(&d.template_name.len())
                && d.template_name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err((
                    "double_opt_in.template_name",
                    "must be a template name: a-z, 0-9 and _",
                ));
            }
        }
        if let Some(k) = &self.optin_keyword {
            crate::keywords::check_phrase(k).map_err(|detail| ("optin_keyword", detail))?;
        }
        self.check_turnstile()?;
        self.check_capture()?;
        if let Some(n) = self.breaker.as_ref().and_then(|b| b.threshold_per_10_min) {
            if !(1..=Breaker::MAX_THRESHOLD).contains(&n) {
                return Err(("breaker.threshold_per_10_min", "must be 1 to 100000"));
            }
        }
        self.check_texts()
    }

    /// The ids of the categories offered, in display order: utility ones as
    /// listed, then marketing ones as listed.
    pub fn category_ids(&self) -> Vec<Category> {
        let (utility, marketing): (Vec<&SiteCategory>, Vec<&SiteCategory>) =
            self.categories.iter().partition(|c| !c.is_marketing());
        utility
            .into_iter()
            .chain(marketing)
            .map(|c| c.id.clone())
            .collect()
    }

    /// The site's definition of `id`, if it offers it.
    pub fn category(&self, id: &Category) -> Option<&SiteCategory> {
        self.categories.iter().find(|c| c.id == *id)
    }

    /// Whether the site offers `id`.
    pub fn offers(&self, id: &Category) -> bool {
        self.category(id).is_some()
    }

    /// The label of category `key` in `locale` (falling back to the site's
    /// default locale for the merchant's own); `None` if not offered.
    pub fn category_label(&self, key: &str, locale: Locale) -> Option<String> {
        // By string: every widget string (`notice`, `title`, …) asks, on the consent's hot path.
        let c = self.categories.iter().find(|c| c.id.as_str() == key)?;
        c.label(locale, self.default_locale).map(str::to_owned)
    }

    /// Ids well-formed and unique, at most 20; the merchant's own labelled in
    /// the default locale; labels 1-80 characters.
    fn check_categories(&self) -> Result<(), (&'static str, &'static str)> {
        let mut ids: Vec<&Category> = self.categories.iter().map(|c| &c.id).collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() || ids.len() != self.categories.len() || ids.len() > 20 {
            return Err((
                "categories",
                "must be 1 to 20 categories without duplicate ids",
            ));
        }
        for c in &self.categories {
            if c.id.built_in().is_none() && !c.labels.contains_key(&self.default_locale) {
                return Err((
                    "categories",
                    "a category of the site's own needs a label in its default_locale",
                ));
            }
            let bad = |l: &String| {
                let n = l.trim().chars().count();
                n == 0 || n > 80 || l.chars().any(char::is_control)
            };
            if c.labels.values().any(bad) {
                return Err(("categories", "labels must be 1-80 characters of text"));
            }
        }
        Ok(())
    }

    /// A site key or a mode only with a secret to verify by; a key of Turnstile's alphabet.
    fn check_turnstile(&self) -> Result<(), (&'static str, &'static str)> {
        if self.turnstile_secret.is_none() {
            if self.turnstile_site_key.is_some() {
                return Err(("turnstile_site_key", "needs turnstile_secret too"));
            }
            if self.turnstile_when != TurnstileWhen::Always {
                return Err(("turnstile_when", "needs turnstile_secret too"));
            }
        }
        if self.turnstile_when == TurnstileWhen::BreakerOpen && self.turnstile_site_key.is_none() {
            return Err((
                "turnstile_site_key",
                "is needed for breaker_open: the widget shows the challenge with it",
            ));
        }
        if let Some(key) = &self.turnstile_site_key {
            let ok = (1..=100).contains(&key.len())
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err((
                    "turnstile_site_key",
                    "must be 1-100 of A-Z, a-z, 0-9, _ and -",
                ));
            }
        }
        Ok(())
    }

    /// At most [`MAX_CALLING_CODES`] known calling codes, none twice, the default among them.
    fn check_calling_codes(&self) -> Result<(), (&'static str, &'static str)> {
        const FIELD: &str = "allowed_calling_codes";
        let list = &self.allowed_calling_codes;
        if list.is_empty() {
            return Ok(());
        }
        if list.len() > MAX_CALLING_CODES {
            return Err((FIELD, "must list at most 50 calling codes"));
        }
        if !list.iter().all(|&cc| crate::phone::is_calling_code(cc)) {
            return Err((
                FIELD,
                "must list country calling codes (62, 60, 1, 880, ...)",
            ));
        }
        let mut unique = list.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != list.len() {
            return Err((FIELD, "must not list a calling code twice"));
        }
        if !list.contains(&self.default_calling_code) {
            return Err((FIELD, "must include default_calling_code"));
        }
        Ok(())
    }

    /// The calling codes whose numbers may consent: the list, else the default code alone.
    pub fn calling_codes(&self) -> &[u16] {
        if self.allowed_calling_codes.is_empty() {
            core::slice::from_ref(&self.default_calling_code)
        } else {
            &self.allowed_calling_codes
        }
    }

    /// Whether numbers with calling code `cc` may consent on this site.
    pub fn allows_calling_code(&self, cc: u16) -> bool {
        self.calling_codes().contains(&cc)
    }

    /// The double opt-in setting, when it is switched on.
    pub fn double_opt_in(&self) -> Option<&DoubleOptIn> {
        self.double_opt_in.as_ref().filter(|d| d.enabled)
    }

    /// Whether an inbound text is the site's click-to-opt-in phrase.
    pub fn is_optin_keyword(&self, text: &str) -> bool {
        self.optin_keyword
            .as_deref()
            .is_some_and(|k| crate::keywords::matches_phrase(text, k))
    }

    /// `https://wa.me/<number>?text=<phrase>`: the click-to-opt-in link (and QR
    /// code content), when the site has a phrase and a number to dial.
    pub fn wa_me_url(&self) -> Option<String> {
        let phrase = self.optin_keyword.as_deref()?.trim();
        let number = self
            .whatsapp
            .display_phone_number
            .as_deref()
            .or(self.chat.as_ref().map(|c| c.number.as_str()))?;
        Some(format!(
            "https://wa.me/{number}?text={}",
            percent_encode(phrase)
        ))
    }

    /// The ledger holding `phone`'s events: one per site, or the phone's hash shard.
    pub fn shard_for(&self, phone: &str) -> u32 {
        if self.shards <= 1 {
            return 0;
        }
        let digest = Sha256::digest(phone.as_bytes());
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % self.shards
    }

    /// Durable Object name of shard `index` (the bare site id when unsharded,
    /// so a site's first ledger never moves).
    pub fn shard_name(&self, index: u32) -> String {
        let place = self
            .jurisdiction
            .map(|j| format!("{}:", j.as_str()))
            .unwrap_or_default();
        if self.shards <= 1 {
            format!("{place}{}", self.id)
        } else {
            format!("{place}{}/{index}", self.id)
        }
    }

    /// Every shard's Durable Object name, in order.
    pub fn shard_names(&self) -> Vec<String> {
        (0..self.shards.max(1))
            .map(|i| self.shard_name(i))
            .collect()
    }

    /// Whether a browser origin may post consents for this site.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }

    /// The template language for a person's locale: theirs if approved, else the first.
    pub fn template_language(&self, locale: Locale) -> &str {
        self.template_language_among(locale, &[])
    }

    /// As [`Self::template_language`], but once Meta has approved some of the
    /// languages (`approved`, as last read back), only those are candidates: a
    /// person never gets a language whose template is pending, rejected or paused
    /// while an approved one exists. No approved language known: as before.
    pub fn template_language_among(&self, locale: Locale, approved: &[String]) -> &str {
        let wanted = locale.whatsapp_code();
        let langs: Vec<&String> = self
            .whatsapp
            .template_languages
            .iter()
            .filter(|l| approved.is_empty() || approved.contains(l))
            .collect();
        let langs = if langs.is_empty() {
            self.whatsapp.template_languages.iter().collect()
        } else {
            langs
        };
        langs
            .iter()
            .find(|l| l.as_str() == wanted)
            .or_else(|| langs.first())
            .map(|l| l.as_str())
            .unwrap_or("en")
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), as a query value.
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// Most calling codes a site may list in `allowed_calling_codes`.
pub const MAX_CALLING_CODES: usize = 50;

/// `scheme://host[:port]` with nothing after it.
fn is_origin(o: &str) -> bool {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    matches!(rest, Some(h) if !h.is_empty() && !h.contains(['/', '?', '#', '@', ' ']))
}

/// Whether `id` is a well-formed site id: 1–64 of `a-z 0-9 -`.
pub fn is_valid_site_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One valid site for the crate's tests: each test changes what it is about,
/// so a new field is added here once.
#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    pub fn site() -> SiteConfig {
        SiteConfig {
            id: "acme".into(),
            business_name: "Toko Acme".into(),
            allowed_origins: vec!["https://acme.example".into()],
            privacy_policy_url: "https://acme.example/privacy".into(),
            default_locale: Locale::Id,
            default_calling_code: 62,
            allowed_calling_codes: vec![],
            categories: vec![
                SiteCategory::built_in(Category::ORDER_UPDATES),
                SiteCategory::built_in(Category::DELIVERY),
            ],
            notice_version: 1,
            whatsapp: WhatsAppConfig {
                phone_number_id: "1".into(),
                template_name: "optin_confirmation".into(),
                template_languages: vec!["id".into(), "en".into()],
                token_secret: Some("WA_TOKEN_ACME".into()),
                display_phone_number: None,
                waba_id: None,
            },
            limits: Limits::default(),
            retention: Retention::default(),
            turnstile_secret: None,
            turnstile_site_key: None,
            turnstile_when: TurnstileWhen::Always,
            ip_policy: IpPolicy::Truncate,
            shards: 1,
            jurisdiction: None,
            chat: None,
            targeting: None,
            double_opt_in: None,
            capture: BTreeMap::new(),
            optin_keyword: None,
            breaker: None,
            strings: Default::default(),
            variants: Default::default(),
            respect_dnt: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::sample::site;

    #[test]
    fn origin_must_match_exactly() {
        let s = site();
        assert!(s.allows_origin("https://acme.example"));
        assert!(!s.allows_origin("https://acme.example.evil.test"));
        assert!(!s.allows_origin("http://acme.example"));
        assert!(!s.allows_origin("null"));
    }

    #[test]
    fn template_language_skips_languages_meta_has_not_approved() {
        let s = site(); // id, en
        let approved = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // en rejected, id approved: an English speaker gets id.
        assert_eq!(
            s.template_language_among(Locale::En, &approved(&["id"])),
            "id"
        );
        assert_eq!(
            s.template_language_among(Locale::En, &approved(&["en", "id"])),
            "en"
        );
        // Only en approved: the fallback is en, not the first listed.
        assert_eq!(
            s.template_language_among(Locale::De, &approved(&["en"])),
            "en"
        );
        // Nothing approved known, or approved only outside the site's list: as today.
        assert_eq!(s.template_language_among(Locale::En, &[]), "en");
        assert_eq!(
            s.template_language_among(Locale::De, &approved(&["tr"])),
            "id"
        );
    }

    #[test]
    fn waba_id_must_be_digits() {
        let mut s = site();
        s.whatsapp.waba_id = Some("1029384756".into());
        assert_eq!(s.check(), Ok(()));
        for bad in ["", "12a4", "-1"] {
            s.whatsapp.waba_id = Some(bad.into());
            assert_eq!(s.check().unwrap_err().0, "whatsapp.waba_id");
        }
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
    fn check_names_the_bad_field() {
        assert_eq!(site().check(), Ok(()));
        let mut s = site();
        s.allowed_origins = vec!["https://acme.example/path".into()];
        assert_eq!(s.check().unwrap_err().0, "allowed_origins");
        let mut s = site();
        s.categories
            .push(SiteCategory::built_in(Category::DELIVERY));
        assert_eq!(s.check().unwrap_err().0, "categories");
        let mut s = site();
        s.business_name = "  ".into();
        assert_eq!(s.check().unwrap_err().0, "business_name");
    }

    #[test]
    fn the_widget_is_told_the_calling_codes_when_more_than_the_default() {
        let mut s = site();
        assert!(s.public().allowed_calling_codes.is_empty());
        assert!(serde_json::to_value(s.public())
            .unwrap()
            .get("allowed_calling_codes")
            .is_none());
        s.allowed_calling_codes = vec![62];
        assert!(s.public().allowed_calling_codes.is_empty());
        s.allowed_calling_codes = vec![60, 62, 65];
        assert_eq!(s.public().allowed_calling_codes, [60, 62, 65]);
    }

    #[test]
    fn allowed_calling_codes_default_to_the_default_code() {
        let mut v = serde_json::to_value(site()).unwrap();
        assert!(
            v.get("allowed_calling_codes").is_none(),
            "absent when not set"
        );
        let s: SiteConfig = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(s.calling_codes(), [62]);
        assert!(s.allows_calling_code(62) && !s.allows_calling_code(234));
        v["allowed_calling_codes"] = serde_json::json!([]);
        let empty: SiteConfig = serde_json::from_value(v.clone()).unwrap();
        assert_eq!((empty.calling_codes(), empty.check()), (&[62][..], Ok(())));
        v["allowed_calling_codes"] = serde_json::json!([62, 60]);
        let two: SiteConfig = serde_json::from_value(v).unwrap();
        assert_eq!(two.check(), Ok(()));
        assert!(two.allows_calling_code(60) && !two.allows_calling_code(65));
        // The widget refuses other numbers before sending: it is told the list.
        let public = serde_json::to_value(two.public()).unwrap();
        assert_eq!(public["allowed_calling_codes"], serde_json::json!([62, 60]));
    }

    #[test]
    fn allowed_calling_codes_are_checked() {
        let with = |codes: Vec<u16>| SiteConfig {
            allowed_calling_codes: codes,
            ..site()
        };
        assert_eq!(with(vec![62, 60, 1, 880, 234, 964]).check(), Ok(()));
        let known: Vec<u16> = (1..1000)
            .filter(|&cc| crate::phone::is_calling_code(cc))
            .collect();
        assert!(known.len() > 150, "{}", known.len());
        let mut fifty: Vec<u16> = known
            .iter()
            .copied()
            .filter(|&cc| cc != 62)
            .take(49)
            .collect();
        fifty.push(62);
        assert_eq!(with(fifty.clone()).check(), Ok(()), "50 is the most");
        fifty.push(known[60]);
        for (codes, why) in [
            (vec![62, 28], "28 is no country's code"),
            (vec![62, 6], "6 only starts codes"),
            (vec![62, 0], "0 is none"),
            (vec![62, 1000], "four digits"),
            (vec![62, 2200], "a code and a digit more"),
            (fifty, "51 codes"),
            (vec![62, 60, 62], "a duplicate"),
            (vec![60], "the default is missing"),
        ] {
            let err = with(codes).check().unwrap_err();
            assert_eq!(err.0, "allowed_calling_codes", "{why}: {err:?}");
        }
        assert!(crate::phone::is_calling_code(880) && crate::phone::is_calling_code(1));
    }

    #[test]
    fn turnstile_settings_are_checked() {
        let with = |secret: Option<&str>, key: Option<&str>, when| {
            let mut s = site();
            s.turnstile_secret = secret.map(Into::into);
            s.turnstile_site_key = key.map(Into::into);
            s.turnstile_when = when;
            s.check()
        };
        use TurnstileWhen::*;
        assert_eq!(with(Some("TS"), None, Always), Ok(()));
        assert_eq!(with(Some("TS"), Some("0x4AAA-b_c"), BreakerOpen), Ok(()));
        assert_eq!(
            with(None, Some("0x4AAA"), Always).unwrap_err().0,
            "turnstile_site_key"
        );
        assert_eq!(
            with(None, None, BreakerOpen).unwrap_err().0,
            "turnstile_when"
        );
        assert_eq!(
            with(Some("TS"), None, BreakerOpen).unwrap_err().0,
            "turnstile_site_key"
        );
        for bad in ["", "a b", "<script>", &"k".repeat(101)] {
            assert_eq!(
                with(Some("TS"), Some(bad), Always).unwrap_err().0,
                "turnstile_site_key"
            );
        }
        let json = serde_json::json!("sometimes");
        assert!(serde_json::from_value::<TurnstileWhen>(json).is_err());
    }

    #[test]
    fn the_breaker_threshold_is_checked() {
        let with = |n| {
            let mut s = site();
            s.breaker = Some(Breaker {
                threshold_per_10_min: n,
            });
            s.check()
        };
        assert_eq!(with(None), Ok(()));
        assert_eq!(with(Some(20)), Ok(()));
        assert_eq!(with(Some(Breaker::MAX_THRESHOLD)), Ok(()));
        for bad in [0, Breaker::MAX_THRESHOLD + 1, u32::MAX] {
            assert_eq!(
                with(Some(bad)).unwrap_err().0,
                "breaker.threshold_per_10_min"
            );
        }
        let json = serde_json::json!({ "threshold_per_10_min": 5, "typo": 1 });
        assert!(serde_json::from_value::<Breaker>(json).is_err());
    }

    #[test]
    fn phones_spread_over_shards_deterministically() {
        let mut s = site();
        assert_eq!(s.shard_names(), vec!["acme"]);
        assert_eq!(s.shard_for("+6281234567890"), 0);
        s.shards = 4;
        assert_eq!(
            s.shard_names(),
            vec!["acme/0", "acme/1", "acme/2", "acme/3"]
        );
        let mut used = [0; 4];
        for n in 0..400 {
            let phone = format!("+62812{n:08}");
            let shard = s.shard_for(&phone);
            assert_eq!(shard, s.shard_for(&phone));
            used[shard as usize] += 1;
        }
        assert!(used.iter().all(|&n| n > 60), "{used:?}");
    }

    #[test]
    fn limits_default_when_absent() {
        let mut v = serde_json::to_value(site()).unwrap();
        v.as_object_mut().unwrap().remove("limits");
        let s: SiteConfig = serde_json::from_value(v).unwrap();
        assert_eq!(s.limits, Limits::default());
    }

    #[test]
    fn a_page_without_the_chat_widget_gets_no_chat_strings() {
        let mut json = serde_json::to_value(site()).unwrap();
        json["chat"] = serde_json::json!({"number": "6281234567890"});
        let s: SiteConfig = serde_json::from_value(json).unwrap();
        let with = s.public_in(Locale::Id);
        assert!(with.chat.is_some() && with.strings.contains_key("chat_open"));
        let without = with.clone().without_chat();
        assert!(without.chat.is_none());
        assert!(!without.strings.keys().any(|k| k.starts_with("chat_")));
        assert_eq!(without.strings["submit"], with.strings["submit"]);
        assert_eq!(without.strings.len() + 5, with.strings.len());
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
    fn targeting_and_opening_hours_are_validated_and_reach_the_widget() {
        let mut json = serde_json::to_value(site()).unwrap();
        json["targeting"] =
            serde_json::json!({"include": ["/shop/*"], "delay_seconds": 5, "per_session": 2});
        json["chat"] = serde_json::json!({"number": "62812", "hours": {"utc_offset_minutes": 420, "days": ["mon"], "from": "09:00", "to": "17:00"}});
        let s: SiteConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(s.check(), Ok(()));
        let public = serde_json::to_value(s.public()).unwrap();
        assert_eq!(public["targeting"]["include"][0], "/shop/*");
        assert_eq!(
            public["targeting"]["days_after_close"], 30,
            "defaults are filled in"
        );
        assert_eq!(public["chat"]["hours"]["from"], "09:00");
        assert_eq!(
            public["strings"]["chat_later"],
            Locale::Id.strings().chat_later,
            "the reply-later text comes with opening hours"
        );
        let mut no_hours = s.clone();
        no_hours.chat.as_mut().unwrap().hours = None;
        assert!(
            !no_hours.public().strings.contains_key("chat_later"),
            "and only with them"
        );
        json["targeting"]["scroll_percent"] = 150.into();
        let s: SiteConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(s.check().unwrap_err().0, "targeting.scroll_percent");
        json["targeting"]["scroll_percent"] = 50.into();
        json["chat"]["hours"]["to"] = "09:00".into();
        let s: SiteConfig = serde_json::from_value(json).unwrap();
        assert_eq!(s.check().unwrap_err().0, "chat.hours.to");
        assert!(!serde_json::to_string(&site().public())
            .unwrap()
            .contains("targeting"));
    }

    #[test]
    fn double_opt_in_is_off_by_default_and_checked() {
        let mut json = serde_json::to_value(site()).unwrap();
        assert!(json.get("double_opt_in").is_none(), "absent when off");
        json["double_opt_in"] = serde_json::json!({"enabled": true});
        let on: SiteConfig = serde_json::from_value(json.clone()).unwrap();
        let d = on.double_opt_in().unwrap();
        assert_eq!(
            (d.expiry_hours, d.template_name.as_str()),
            (48, "optin_double_confirmation")
        );
        assert_eq!(on.check(), Ok(()));
        json["double_opt_in"] = serde_json::json!({"enabled": false, "expiry_hours": 2});
        let off: SiteConfig = serde_json::from_value(json.clone()).unwrap();
        assert!(off.double_opt_in().is_none());
        for (bad, field) in [
            (
                serde_json::json!({"enabled": true, "expiry_hours": 0}),
                "double_opt_in.expiry_hours",
            ),
            (
                serde_json::json!({"enabled": true, "expiry_hours": 721}),
                "double_opt_in.expiry_hours",
            ),
            (
                serde_json::json!({"enabled": true, "template_name": "Bad Name"}),
                "double_opt_in.template_name",
            ),
        ] {
            json["double_opt_in"] = bad;
            let s: SiteConfig = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(s.check().unwrap_err().0, field);
        }
        json["double_opt_in"] = serde_json::json!({"enabled": true, "expiry": 3});
        assert!(
            serde_json::from_value::<SiteConfig>(json).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn the_opt_in_keyword_is_checked_matched_and_linked() {
        let mut s = site();
        assert_eq!(s.wa_me_url(), None);
        assert!(!s.is_optin_keyword("JOIN ACME"));
        s.optin_keyword = Some("JOIN ACME".into());
        assert_eq!(s.check(), Ok(()));
        assert!(s.is_optin_keyword("join  acmé!"));
        assert!(!s.is_optin_keyword("join"));
        assert_eq!(s.wa_me_url(), None, "no number to dial yet");
        s.chat = Some(ChatConfig {
            number: "6281234500000".into(),
            greeting: None,
            prefilled: None,
            hours: None,
        });
        assert_eq!(
            s.wa_me_url().unwrap(),
            "https://wa.me/6281234500000?text=JOIN%20ACME"
        );
        s.whatsapp.display_phone_number = Some("4520123456".into());
        s.optin_keyword = Some("Tilmeld Æble".into());
        assert_eq!(s.check(), Ok(()));
        assert_eq!(
            s.wa_me_url().unwrap(),
            "https://wa.me/4520123456?text=Tilmeld%20%C3%86ble"
        );
        s.whatsapp.display_phone_number = Some("+45 20".into());
        assert_eq!(s.check().unwrap_err().0, "whatsapp.display_phone_number");
        s.whatsapp.display_phone_number = None;
        for bad in ["STOP", "x", "join <acme>"] {
            s.optin_keyword = Some(bad.into());
            assert_eq!(s.check().unwrap_err().0, "optin_keyword", "{bad}");
        }
    }

    #[test]
    fn a_site_in_a_jurisdiction_names_its_ledgers_there_and_back() {
        let mut s = sample::site();
        assert_eq!(s.shard_name(0), "acme");
        s.jurisdiction = Some(Jurisdiction::Eu);
        s.shards = 4;
        assert_eq!(s.shard_name(3), "eu:acme/3");
        assert_eq!(Jurisdiction::of_ledger("eu:acme/3"), Some(Jurisdiction::Eu));
        assert_eq!(Jurisdiction::of_ledger("acme/3"), None);
        assert_eq!(Jurisdiction::site_of_ledger("eu:acme/3"), "acme");
        assert_eq!(Jurisdiction::site_of_ledger("acme"), "acme");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["jurisdiction"], "eu");
        let mut bad = json.clone();
        bad["jurisdiction"] = "mars".into();
        assert!(serde_json::from_value::<SiteConfig>(bad).is_err());
    }

    fn with_offers() -> SiteConfig {
        let mut s = site();
        s.default_locale = Locale::En;
        s.categories.insert(
            0,
            serde_json::from_str(
                r#"{"id":"offers","kind":"marketing","labels":{"en":"Offers and new arrivals","id":"Penawaran"}}"#,
            )
            .unwrap(),
        );
        s
    }

    #[test]
    fn the_merchants_own_categories_are_listed_after_utility_and_labelled_with_a_fallback() {
        let s = with_offers();
        assert_eq!(s.check(), Ok(()));
        let ids: Vec<String> = s.category_ids().into_iter().map(String::from).collect();
        assert_eq!(
            ids,
            ["order_updates", "delivery", "offers"],
            "marketing last"
        );
        let public = s.public_in(Locale::Id);
        assert_eq!(public.categories, s.category_ids());
        assert_eq!(public.strings["offers"], "Penawaran");
        assert_eq!(
            s.public_in(Locale::Tr).strings["offers"],
            "Offers and new arrivals",
            "a locale without a label falls back to the site's default"
        );
        assert_eq!(
            s.public_in(Locale::Id).strings["delivery"],
            "Notifikasi pengiriman dan status delivery",
            "built-ins keep our labels"
        );
        let back: SiteConfig = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s, "GET gives what PUT takes");
    }

    #[test]
    fn the_merchants_categories_are_checked() {
        let mut s = with_offers();
        s.categories[0].labels.remove(&Locale::En);
        assert_eq!(
            s.check().unwrap_err().0,
            "categories",
            "no default-locale label"
        );
        let mut s = with_offers();
        s.categories[0].labels.insert(Locale::Da, "x".repeat(81));
        assert_eq!(s.check().unwrap_err().0, "categories", "label too long");
        let mut s = with_offers();
        s.categories.push(s.categories[0].clone());
        assert_eq!(s.check().unwrap_err().0, "categories", "duplicate id");
        for bad in [
            r#""Offers""#,
            r#"{"id":"offers","kind":"promo"}"#,
            r#"{"id":"a","extra":1}"#,
        ] {
            assert!(serde_json::from_str::<SiteCategory>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn site_ids_are_url_safe() {
        assert!(is_valid_site_id("demo-2"));
        assert!(!is_valid_site_id(""));
        assert!(!is_valid_site_id("Demo"));
        assert!(!is_valid_site_id("../etc"));
    }
}
