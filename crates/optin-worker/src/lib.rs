//! The WhatsApp opt-in Worker: public consent API, admin API, and the per-site
//! ledger Durable Object that records consents and sends confirmations.

mod admin;
mod error;
mod http;
mod inbound;
mod ledger;
mod outbox;
mod public;
mod sites;
mod webhooks;

use worker::{event, Context, Env, Headers, Method, Request, Response, Result};

pub use error::AppError;
pub use ledger::SiteLedger;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match route(req, &env).await {
        Ok(resp) => Ok(resp),
        Err(e) => e.into_response(Headers::new()),
    }
}

async fn route(req: Request, env: &Env) -> std::result::Result<Response, AppError> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    match segments.as_slice() {
        ["v1", "sites", site, "config"] => match method {
            Method::Get | Method::Head => public::config(env, site).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "sites", site, "consents"] => match method {
            Method::Post => public::post_consent(req, env, site).await,
            Method::Options => public::preflight(&req, env, site).await,
            _ => Err(AppError::MethodNotAllowed {
                allow: "POST, OPTIONS",
            }),
        },
        ["admin", "sites", site, "subscribers", phone] => {
            admin::authorize(&req, env)?;
            match method {
                Method::Get => admin::subscriber(env, site, phone).await,
                _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
            }
        }
        ["webhooks", "whatsapp"] => match method {
            Method::Get => webhooks::verify(&req, env),
            Method::Post => webhooks::receive(req, env).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
        },
        _ => Err(AppError::NotFound(path.chars().take(200).collect())),
    }
}
