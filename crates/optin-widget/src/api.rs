//! The Worker's public API: consent out, and its answer back.
//!
//! The consent is written as a string in Rust ([`crate::json`]); the request
//! itself goes out through the loader ([`Poster`]).

use alloc::{boxed::Box, string::String, vec::Vec};
use core::cell::RefCell;

use wasm_bindgen::{prelude::wasm_bindgen, JsValue};

use crate::{
    dom,
    js::{get_str, Global},
    text::Shown,
};

/// Version recorded with every consent as `widget_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The consent as `shown` on its surface, as the JSON the Worker decodes:
/// the exact notice, this page, now.
pub fn consent_json(
    phone: &str,
    categories: &[String],
    shown: &Shown,
    notice_version: u32,
) -> String {
    let page_url = dom::href();
    crate::json::Consent {
        phone,
        categories,
        locale: &shown.locale,
        notice_version,
        notice_text: &shown.get("notice"),
        surface: shown.surface,
        variant: shown.variant.as_deref(),
        page_url: page_url.as_deref(),
        client_ts: js_sys::Date::now() as u64,
        widget_version: VERSION,
    }
    .to_json()
}

/// Why a consent was not recorded, as the Worker (or its absence) said it.
pub struct PostError {
    /// HTTP status; 0 when nothing came back (network, CORS, CSP).
    pub status: u16,
    /// The problem's `type` (`/problems/rate-limited`), when the answer was a problem.
    pub problem: Option<String>,
}

/// What the visitor is told went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The Worker found the number impossible.
    InvalidPhone,
    /// Too many tries: wait, then try again.
    RateLimited,
    /// This page's origin may not record consents for the site.
    NotAllowed,
    /// Any other refusal: the same request will not be recorded.
    Refused,
    /// The Worker failed (5xx, or an answer it never gives): try again later.
    Server,
    /// No answer at all: the visitor's connection (or the page's CSP/CORS).
    Network,
}

impl PostError {
    /// What went wrong, from the status and the problem type.
    pub fn failure(&self) -> Failure {
        match (self.status, self.problem.as_deref()) {
            (0, _) => Failure::Network,
            (429, _) | (_, Some("/problems/rate-limited")) => Failure::RateLimited,
            (400..=499, Some("/problems/invalid-phone")) => Failure::InvalidPhone,
            // This page, or this number's country: the site takes no sign-up from it
            // (one string for both keeps the bytes before the prompt).
            (400..=499, Some("/problems/origin-not-allowed" | "/problems/country-not-allowed")) => {
                Failure::NotAllowed
            }
            (400..=499, _) => Failure::Refused,
            _ => Failure::Server,
        }
    }
}

impl Failure {
    /// The widget string that says it (a key of consent-core's `WIDGET_KEYS`).
    pub fn text_key(self) -> &'static str {
        match self {
            Failure::InvalidPhone => "invalid_phone",
            Failure::RateLimited => "error_rate_limited",
            Failure::NotAllowed => "error_not_allowed",
            Failure::Refused => "error_refused",
            Failure::Server => "error_server",
            Failure::Network => "network_error",
        }
    }

    /// Whether the same request may yet be recorded: it is sent again with
    /// the same `Idempotency-Key`, so it is recorded once.
    pub fn transient(self) -> bool {
        matches!(self, Failure::Server | Failure::Network)
    }
}

/// What a `POST …/consents` came to: the recorded consent id, or why not.
pub type Posted = Result<String, PostError>;

#[wasm_bindgen]
extern "C" {
    /// The loader's `post(ticket, url, body, key, keepalive)`: it sends the
    /// request with `fetch` and answers through [`posted`]. The network lives in
    /// JS so the wasm carries no futures executor and no `Request` bindings.
    #[derive(Clone)]
    pub type Poster;
    #[wasm_bindgen(method, js_name = call)]
    fn send(
        this: &Poster,
        this_arg: &JsValue,
        ticket: u32,
        url: &str,
        body: &str,
        key: &str,
        keepalive: bool,
    );
}

/// The Worker the widget talks to: its base URL and the loader's sender.
#[derive(Clone)]
pub struct Endpoint {
    /// Base URL of the Worker (`data-api`, else the script's origin).
    pub base: String,
    post: Poster,
}

impl Endpoint {
    /// The Worker at `base`, reached through the loader's `post`.
    pub fn new(base: String, post: Poster) -> Endpoint {
        Endpoint { base, post }
    }

    /// `POST {base}/v1/sites/{site}/consents` with an `Idempotency-Key`, so a
    /// retry records once; `keepalive` lets the request outlive the page
    /// (checkout submit). `done` gets the outcome: with no sender (no
    /// function), that nothing came back.
    pub fn post_consent(
        &self,
        site: &str,
        body: &str,
        idempotency_key: &str,
        keepalive: bool,
        done: impl FnOnce(Posted) + 'static,
    ) {
        if !self.post.is_function() {
            return done(outcome(0, &JsValue::NULL));
        }
        let url = dom::cat(&[&self.base, "/v1/sites/", site, "/consents"]);
        let ticket = {
            let mut waiting = WAITING.0.borrow_mut();
            waiting.0 = waiting.0.wrapping_add(1);
            let ticket = waiting.0;
            waiting.1.push((ticket, Box::new(done)));
            ticket
        };
        self.post.send(
            &JsValue::UNDEFINED,
            ticket,
            &url,
            body,
            idempotency_key,
            keepalive,
        );
    }
}

/// Requests in flight: the last ticket given out, and who waits on which.
#[allow(clippy::type_complexity)]
static WAITING: Global<(u32, Vec<(u32, Box<dyn FnOnce(Posted)>)>)> =
    Global(RefCell::new((0, Vec::new())));

/// Called by the loader when request `ticket` is answered: the HTTP status
/// (0: no answer) and the response's JSON (`null` when it had none).
#[wasm_bindgen]
pub fn posted(ticket: u32, status: u16, json: JsValue) {
    let done = {
        let mut waiting = WAITING.0.borrow_mut();
        let at = waiting.1.iter().position(|(t, _)| *t == ticket);
        at.map(|i| waiting.1.swap_remove(i).1)
    };
    if let Some(done) = done {
        done(outcome(status, &json));
    }
}

fn outcome(status: u16, json: &JsValue) -> Posted {
    match (status, get_str(json, "id")) {
        (200 | 201, Some(id)) => Ok(id),
        _ => Err(PostError {
            status,
            problem: get_str(json, "type"),
        }),
    }
}

/// [`Endpoint::post_consent`] as a future, for the full build's async API
/// (`consent()` resolves once the Worker has answered).
#[cfg(feature = "surfaces")]
pub async fn post_consent_async(
    endpoint: &Endpoint,
    site: &str,
    body: &str,
    idempotency_key: &str,
    keepalive: bool,
) -> Posted {
    use alloc::rc::Rc;
    use core::{future::poll_fn, task::Poll, task::Waker};
    let slot: Rc<RefCell<(Option<Posted>, Option<Waker>)>> = Rc::default();
    let answer = slot.clone();
    endpoint.post_consent(site, body, idempotency_key, keepalive, move |p| {
        let mut a = answer.borrow_mut();
        a.0 = Some(p);
        if let Some(w) = a.1.take() {
            w.wake();
        }
    });
    poll_fn(|cx| {
        let mut s = slot.borrow_mut();
        match s.0.take() {
            Some(p) => Poll::Ready(p),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn failure(status: u16, problem: Option<&str>) -> Failure {
        let problem = problem.map(|p| p.to_string());
        PostError { status, problem }.failure()
    }

    #[test]
    fn each_refusal_says_what_happened() {
        let p = |slug: &str| alloc::format!("/problems/{slug}");
        assert_eq!(
            failure(422, Some(&p("invalid-phone"))),
            Failure::InvalidPhone
        );
        assert_eq!(
            failure(422, Some(&p("country-not-allowed"))),
            Failure::NotAllowed
        );
        assert_eq!(failure(429, Some(&p("rate-limited"))), Failure::RateLimited);
        assert_eq!(
            failure(403, Some(&p("origin-not-allowed"))),
            Failure::NotAllowed
        );
        for slug in [
            "unknown-category",
            "no-category",
            "stale-notice",
            "notice-mismatch",
            "unknown-variant",
            "field-too-long",
            "unsupported-locale",
            "unknown-site",
            "turnstile-failed",
            "malformed-json",
            "invalid-body",
            "idempotency-key-reused",
            "payload-too-large",
        ] {
            assert_eq!(failure(422, Some(&p(slug))), Failure::Refused, "{slug}");
        }
        assert_eq!(
            failure(404, None),
            Failure::Refused,
            "a 4xx that is no problem"
        );
    }

    #[test]
    fn a_429_without_a_problem_is_still_too_many_tries() {
        assert_eq!(failure(429, None), Failure::RateLimited);
    }

    #[test]
    fn server_trouble_and_no_answer_are_told_apart() {
        assert_eq!(failure(500, Some("/problems/internal")), Failure::Server);
        assert_eq!(
            failure(503, Some("/problems/turnstile-unavailable")),
            Failure::Server
        );
        assert_eq!(failure(502, None), Failure::Server);
        assert_eq!(
            failure(201, None),
            Failure::Server,
            "a success without an id"
        );
        assert_eq!(failure(0, None), Failure::Network);
    }

    #[test]
    fn only_server_trouble_and_no_answer_keep_the_idempotency_key() {
        use Failure::*;
        let kept: Vec<_> = [
            InvalidPhone,
            RateLimited,
            NotAllowed,
            Refused,
            Server,
            Network,
        ]
        .into_iter()
        .filter(|f| f.transient())
        .collect();
        assert_eq!(kept, [Server, Network]);
    }

    #[test]
    fn every_failure_is_a_widget_string_in_every_locale() {
        use Failure::*;
        for f in [
            InvalidPhone,
            RateLimited,
            NotAllowed,
            Refused,
            Server,
            Network,
        ] {
            for l in consent_core::locale::Locale::ALL {
                assert!(l.strings().get(f.text_key()).is_some(), "{f:?} {l:?}");
            }
        }
    }
}

/// In a browser: `scripts/dev test-widget`.
#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests {
    use super::*;
    use alloc::rc::Rc;
    use core::cell::Cell;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn without_a_sender_a_consent_fails_as_unanswered_and_nothing_throws() {
        let endpoint = Endpoint::new("".into(), JsValue::UNDEFINED.unchecked_into());
        let told = Rc::new(Cell::new(None));
        let answer = told.clone();
        endpoint.post_consent("demo", "{}", "k", false, move |p| {
            answer.set(Some(p.map_err(|e| (e.status, e.failure()))));
        });
        assert_eq!(told.take(), Some(Err((0, Failure::Network))));
    }
}
