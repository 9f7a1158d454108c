//! The preference centre page, `/p/{token}`: server-rendered HTML in the
//! person's language with plain forms that post back to the same URL, so it
//! works without JavaScript and with the keyboard alone. The token in the path
//! is the capability; cross-site posts are refused. Every change goes through
//! the same code as the JSON API (`preferences`), one ledger event each.

use consent_core::{locale::PrefStrings, Locale, SiteConfig};
use worker::{Env, Headers, Request, Response, Url};

use crate::{
    edge::preferences::{self, Opened, Wanted},
    error::AppError,
    http::read_bytes,
    protocol::{day_string, Channel, Frequency, Preferences},
};

/// What the page says above the form.
#[derive(Clone, Copy, PartialEq)]
enum Notice {
    None,
    Saved,
    OptedOut,
}

/// An error shown next to the form.
#[derive(Clone, Copy, PartialEq)]
enum FormError {
    None,
    BadDate,
    BadForm,
}

/// `GET /p/{token}`.
pub async fn page(req: &Request, env: &Env, raw: &str) -> Result<Response, AppError> {
    let opened = match preferences::claims(env, raw).await {
        Ok(o) => o,
        Err(e) => return refusal_page(req, e),
    };
    let prefs = match preferences::current(env, &opened).await {
        Ok(p) => p,
        Err(e) => return refusal_page(req, e),
    };
    let notice = match query(req, "done").as_deref() {
        Some("saved") => Notice::Saved,
        Some("opted_out") => Notice::OptedOut,
        _ => Notice::None,
    };
    let body = render(&opened, raw, &prefs, notice, FormError::None);
    html(body, 200)
}

/// `POST /p/{token}`: `action=save` with the form's choices, or `action=opt_out`.
pub async fn submit(mut req: Request, env: &Env, raw: &str) -> Result<Response, AppError> {
    same_origin(&req)?;
    let media = req.headers().get("Content-Type")?.unwrap_or_default();
    if !media
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(AppError::InvalidBody {
            field: None,
            detail: "send the form as application/x-www-form-urlencoded".into(),
        });
    }
    let form = parse_form(&read_bytes(&mut req, 4096).await?)?;
    let opened = match preferences::claims(env, raw).await {
        Ok(o) => o,
        Err(e) => return refusal_page(&req, e),
    };
    let done = match form.value("action") {
        Some("opt_out") => {
            preferences::withdraw_all(env, &opened, "preference_centre_opt_out").await?;
            "opted_out"
        }
        Some("save") => match save(env, &opened, &form).await {
            Ok(()) => "saved",
            Err(shown) => {
                let prefs = preferences::current(env, &opened).await?;
                return html(render(&opened, raw, &prefs, Notice::None, shown), 422);
            }
        },
        _ => {
            let prefs = preferences::current(env, &opened).await?;
            let page = render(&opened, raw, &prefs, Notice::None, FormError::BadForm);
            return html(page, 422);
        }
    };
    // Post/redirect/get: a reload does not post again.
    let headers = Headers::new();
    headers.set("Location", &format!("/p/{raw}?done={done}"))?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::empty()?.with_status(303).with_headers(headers))
}

/// Validates and records the save form; the error to show next to it otherwise.
async fn save(env: &Env, opened: &Opened, form: &Form) -> Result<(), FormError> {
    let frequency = match form.value("frequency") {
        None => None,
        Some(f) => Some(Frequency::parse(f).ok_or(FormError::BadForm)?),
    };
    let wanted = Wanted {
        categories: form.values("category"),
        frequency,
        paused_until: Some(form.value("paused_until").map(str::to_owned)),
        channels: Some(form.channels()),
    };
    let change = match preferences::validate(&opened.site, wanted) {
        Ok(c) => c,
        Err(AppError::InvalidBody { field: Some(f), .. }) if f == "paused_until" => {
            return Err(FormError::BadDate)
        }
        Err(_) => return Err(FormError::BadForm),
    };
    preferences::apply(env, opened, change, "preference_centre")
        .await
        .map(drop)
        .map_err(|_| FormError::BadForm)
}

/// Refuses a post made by another site's page (CSRF): browsers send
/// `Sec-Fetch-Site` and `Origin` on form posts; either naming a foreign site is enough.
fn same_origin(req: &Request) -> Result<(), AppError> {
    let own = req.url()?.origin().ascii_serialization();
    let headers = req.headers();
    if let Some(site) = headers.get("Sec-Fetch-Site")? {
        if site != "same-origin" && site != "none" {
            return Err(AppError::OriginNotAllowed(format!(
                "Sec-Fetch-Site: {site}"
            )));
        }
    }
    match headers.get("Origin")? {
        Some(origin) if origin != own => Err(AppError::OriginNotAllowed(
            origin.chars().take(200).collect(),
        )),
        _ => Ok(()),
    }
}

/// The decoded `application/x-www-form-urlencoded` pairs.
struct Form(Vec<(String, String)>);

impl Form {
    fn value(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `channel.{category}` radios, as `(category, channel)`.
    fn channels(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("channel.")?.to_owned(), v.clone())))
            .collect()
    }

    fn values(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn parse_form(bytes: &[u8]) -> Result<Form, AppError> {
    let text = std::str::from_utf8(bytes).map_err(|_| AppError::InvalidBody {
        field: None,
        detail: "the form is not UTF-8".into(),
    })?;
    // The url crate's query parser is the form decoder browsers' encoding pairs with.
    let url = Url::parse(&format!("http://form.invalid/?{text}"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Form(url.query_pairs().into_owned().collect()))
}

fn query(req: &Request, key: &str) -> Option<String> {
    let url = req.url().ok()?;
    let value = url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned());
    value
}

/// A clear page for a link that cannot be used; other errors stay problem+json.
fn refusal_page(req: &Request, e: AppError) -> Result<Response, AppError> {
    use consent_core::token::TokenError;
    let accept = req
        .headers()
        .get("Accept-Language")
        .ok()
        .flatten()
        .unwrap_or_default();
    let tags = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim());
    let locale = Locale::negotiate(tags, Locale::En);
    let s = locale.pref_strings();
    let (status, message) = match e {
        AppError::Token(TokenError::Expired) => (410, s.expired_link),
        AppError::Token(_) | AppError::UnknownSite(_) => (403, s.invalid_link),
        AppError::NoSubscriber => (404, s.no_subscriber),
        other => return Err(other),
    };
    let mut out = head(locale, message);
    out.push_str("<main><h1>");
    out.push_str(&esc(message));
    out.push_str("</h1></main></body></html>");
    html(out, status)
}

fn head(locale: Locale, title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/prefcentre.css\"></head><body>",
        locale.tag(),
        esc(title)
    )
}

fn render(
    opened: &Opened,
    token: &str,
    prefs: &Preferences,
    notice: Notice,
    error: FormError,
) -> String {
    let site = &opened.site;
    let locale = Locale::from_tag(&prefs.locale).unwrap_or(site.default_locale);
    let s = locale.pref_strings();
    let business = |t: &str| t.replace("{business}", &site.business_name);
    let heading = business(s.heading);
    let mut out = head(locale, &heading);
    out.push_str("<main><h1>");
    out.push_str(&esc(&heading));
    out.push_str("</h1><p>");
    out.push_str(&esc(&business(s.intro)));
    out.push_str("</p>");
    let status = match notice {
        Notice::OptedOut if prefs.granted.is_empty() => Some(business(s.opted_out)),
        Notice::Saved => Some(s.saved.to_owned()),
        _ => None,
    };
    if let Some(text) = status {
        out.push_str(&format!(
            "<p class=\"status\" role=\"status\">{}</p>",
            esc(&text)
        ));
    }
    if let Some(day) = &prefs.paused_until {
        out.push_str(&format!(
            "<p class=\"paused\">{}</p>",
            esc(&s.paused.replace("{date}", day))
        ));
    }
    if error == FormError::BadForm {
        out.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(s.bad_form)
        ));
    }
    let action = format!("/p/{}", esc(token));
    out.push_str(&format!(
        "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"action\" value=\"save\">"
    ));
    out.push_str(&categories(site, prefs, locale));
    out.push_str(&channels(site, prefs, locale));
    out.push_str(&frequencies(s, prefs.frequency));
    out.push_str(&pause(s, prefs, error == FormError::BadDate));
    out.push_str(&format!(
        "<button type=\"submit\">{}</button></form>",
        esc(s.save)
    ));
    out.push_str(&format!(
        "<section aria-labelledby=\"stop\"><h2 id=\"stop\">{}</h2><p>{}</p>\
         <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"action\" value=\"opt_out\">\
         <button type=\"submit\" class=\"danger\">{}</button></form></section>",
        esc(s.opt_out_heading),
        esc(&business(s.opt_out_text)),
        esc(s.opt_out_button)
    ));
    out.push_str(&format!(
        "<footer><a href=\"{}\" rel=\"noreferrer\">{}</a></footer></main></body></html>",
        esc(&site.privacy_policy_url),
        esc(&widget_text(site, locale, "privacy"))
    ));
    out
}

/// A widget string as this site words it (the merchant's override, if any):
/// the page names the categories as the opt-in did.
fn widget_text(site: &SiteConfig, locale: Locale, key: &str) -> String {
    site.text(locale, None, key).unwrap_or_default()
}

fn categories(site: &SiteConfig, prefs: &Preferences, locale: Locale) -> String {
    let mut out = format!(
        "<fieldset><legend>{}</legend>",
        esc(&widget_text(site, locale, "categories_legend"))
    );
    for c in &site.category_ids() {
        let checked = if prefs.granted.contains(c) {
            " checked"
        } else {
            ""
        };
        out.push_str(&format!(
            "<label class=\"toggle\"><input type=\"checkbox\" role=\"switch\" name=\"category\" value=\"{}\"{checked}><span>{}</span></label>",
            c.as_str(),
            esc(&widget_text(site, locale, c.as_str()))
        ));
    }
    out.push_str("</fieldset>");
    out
}

/// Per category, WhatsApp / email / SMS: a group of radios under its own legend.
fn channels(site: &SiteConfig, prefs: &Preferences, locale: Locale) -> String {
    let s = locale.pref_strings();
    let hint = s.channel_hint.replace("{business}", &site.business_name);
    let mut out = format!(
        "<fieldset aria-describedby=\"channel-hint\"><legend>{}</legend><p id=\"channel-hint\" class=\"hint\">{}</p>",
        esc(s.channel_legend),
        esc(&hint)
    );
    for c in &site.category_ids() {
        let current = prefs.channels.get(c).copied().unwrap_or_default();
        out.push_str(&format!(
            "<fieldset class=\"channel\"><legend>{}</legend>",
            esc(&widget_text(site, locale, c.as_str()))
        ));
        for ch in Channel::ALL {
            let checked = if ch == current { " checked" } else { "" };
            out.push_str(&format!(
                "<label class=\"choice\"><input type=\"radio\" name=\"channel.{}\" value=\"{}\"{checked}><span>{}</span></label>",
                c.as_str(),
                ch.as_str(),
                esc(ch.label(locale))
            ));
        }
        out.push_str("</fieldset>");
    }
    out.push_str("</fieldset>");
    out
}

fn frequencies(s: &PrefStrings, current: Frequency) -> String {
    let mut out = format!("<fieldset><legend>{}</legend>", esc(s.frequency_legend));
    for f in Frequency::ALL {
        let label = match f {
            Frequency::AsSent => s.freq_as_sent,
            Frequency::WeeklyDigest => s.freq_weekly,
            Frequency::CriticalOnly => s.freq_critical,
        };
        let checked = if f == current { " checked" } else { "" };
        out.push_str(&format!(
            "<label class=\"choice\"><input type=\"radio\" name=\"frequency\" value=\"{}\"{checked}><span>{}</span></label>",
            f.as_str(),
            esc(label)
        ));
    }
    out.push_str("</fieldset>");
    out
}

fn pause(s: &PrefStrings, prefs: &Preferences, bad: bool) -> String {
    let today = worker::Date::now().as_millis() as i64 / 86_400_000;
    let value = prefs.paused_until.as_deref().unwrap_or("");
    let (described, invalid, error) = if bad {
        (
            "pause-hint pause-error",
            " aria-invalid=\"true\"",
            format!(
                "<p id=\"pause-error\" class=\"error\">{}</p>",
                esc(s.bad_date)
            ),
        )
    } else {
        ("pause-hint", "", String::new())
    };
    format!(
        "<div class=\"field\"><label for=\"pause\">{}</label>\
         <input type=\"date\" id=\"pause\" name=\"paused_until\" value=\"{}\" min=\"{}\" max=\"{}\" aria-describedby=\"{described}\"{invalid}>\
         <p id=\"pause-hint\" class=\"hint\">{}</p>{error}</div>",
        esc(s.pause_label),
        esc(value),
        day_string(today + 1),
        day_string(today + 366),
        esc(s.pause_hint)
    )
}

/// HTML-escapes text for element content and quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML response no other page may frame, cache or read the token from.
fn html(body: String, status: u16) -> Result<Response, AppError> {
    let headers = Headers::new();
    headers.set("Content-Type", "text/html; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    // Same-origin only: the token never leaves in a Referer, and form posts keep a real Origin
    // (with `no-referrer` Chromium sends `Origin: null`).
    headers.set("Referrer-Policy", "same-origin")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_stays_text() {
        assert_eq!(
            esc("<img src=x onerror=\"a\">&'"),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn forms_decode_repeated_and_escaped_fields() {
        let f = parse_form(
            b"action=save&category=delivery&category=payment_alerts&paused_until=&x=a%2Bb+c&channel.delivery=email",
        )
        .unwrap();
        assert_eq!(f.value("action"), Some("save"));
        assert_eq!(f.values("category"), ["delivery", "payment_alerts"]);
        assert_eq!(f.value("paused_until"), Some(""));
        assert_eq!(f.value("x"), Some("a+b c"));
        assert_eq!(f.value("missing"), None);
        assert_eq!(f.channels(), [("delivery".to_owned(), "email".to_owned())]);
    }
}
