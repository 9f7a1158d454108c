//! The WhatsApp opt-in Worker: public consent API, admin API, and the per-site
//! ledger Durable Object that records consents and sends confirmations.
//!
//! Data flows edge → ledger → outbox → Graph API, and webhooks enter the ledger
//! as a command like everything else. In code, `edge` and `ledger` know each
//! other only through `protocol` (its commands, replies and errors); `error`
//! and `http` are leaves.

mod credentials;
mod edge;
mod error;
mod http;
mod kept;
mod ledger;
mod protocol;
mod vars;

use edge::{
    admin, beacon, capture, graph_token, hooks, keys, messages, prefcentre, preferences, public,
    qrdls, templates, webhooks,
};
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
            Method::Get | Method::Head => public::config(&req, env, site).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "sites", site, "widget.js"] => match method {
            Method::Get | Method::Head => public::widget_script(&req, env, site).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "sites", site, "consents"] => match method {
            Method::Post => public::post_consent(req, env, site).await,
            Method::Options => public::preflight(&req, env, site).await,
            _ => Err(AppError::MethodNotAllowed {
                allow: "POST, OPTIONS",
            }),
        },
        ["v1", "sites", site, "consents", id] => match method {
            Method::Get => capture::state(&req, env, site, id).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "sites", site, "capture"] => match method {
            Method::Get => capture::notice(&req, env, site).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "sites", site, "events"] => match method {
            Method::Post => beacon::post_events(req, env, site).await,
            Method::Options => beacon::preflight(&req, env, site).await,
            _ => Err(AppError::MethodNotAllowed {
                allow: "POST, OPTIONS",
            }),
        },
        ["v1", "sites", site, "messages"] => match method {
            Method::Post => messages::send(req, env, site).await,
            _ => Err(AppError::MethodNotAllowed { allow: "POST" }),
        },
        ["v1", "sites", site, "messages", id] => match method {
            Method::Get => messages::get(&req, env, site, id).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "sites", site, "permissions", phone] => match method {
            Method::Get => messages::permissions(&req, env, site, phone).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET" }),
        },
        ["v1", "preferences", token] => match method {
            Method::Get => preferences::get(env, token).await,
            Method::Put => preferences::put(req, env, token).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET, PUT" }),
        },
        ["v1", "preferences", token, "opt-out"] => match method {
            Method::Post => preferences::opt_out(&req, env, token).await,
            _ => Err(AppError::MethodNotAllowed { allow: "POST" }),
        },
        ["p", token] => match method {
            Method::Get | Method::Head => prefcentre::page(&req, env, token).await,
            Method::Post => prefcentre::submit(req, env, token).await,
            _ => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
        },
        ["admin", "sites", site, rest @ ..] => {
            let actor = admin::authorize(&req, env, site)?;
            match (rest, method) {
                ([], Method::Get) => admin::get_site(env, site).await,
                ([], Method::Put) => admin::put_site(req, env, site).await,
                ([], _) => Err(AppError::MethodNotAllowed { allow: "GET, PUT" }),
                (["subscribers", phone], Method::Get) => admin::subscriber(env, site, phone).await,
                (["subscribers", phone], Method::Delete) => admin::erase(env, site, phone).await,
                (["subscribers", _], _) => Err(AppError::MethodNotAllowed {
                    allow: "GET, DELETE",
                }),
                (["verify"], Method::Get) => admin::verify(env, site).await,
                (["keys"], Method::Get) => keys::list(env, site).await,
                (["keys"], Method::Post) => keys::create(req, env, site).await,
                (["keys"], _) => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
                (["keys", id], Method::Delete) => keys::revoke(env, site, id).await,
                (["keys", _], _) => Err(AppError::MethodNotAllowed { allow: "DELETE" }),
                (["keys", id, "rotate"], Method::Post) => keys::rotate(req, env, site, id).await,
                (["keys", _, "rotate"], _) => Err(AppError::MethodNotAllowed { allow: "POST" }),
                (["graph-token"], Method::Get) => graph_token::get(env, site).await,
                (["graph-token"], Method::Put) => graph_token::put(req, env, site).await,
                (["graph-token"], Method::Delete) => graph_token::delete(env, site).await,
                (["graph-token"], _) => Err(AppError::MethodNotAllowed {
                    allow: "GET, PUT, DELETE",
                }),
                (["templates"], Method::Get) => templates::read(env, site).await,
                (["templates"], Method::Post) => templates::create(env, site).await,
                (["templates"], _) => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
                (["qr-links"], Method::Get) => qrdls::list(env, site).await,
                (["qr-links"], Method::Post) => qrdls::create(req, env, site).await,
                (["qr-links"], _) => Err(AppError::MethodNotAllowed { allow: "GET, POST" }),
                (["stats"], Method::Get) => admin::stats(&req, env, site).await,
                (["export"], Method::Get) => admin::export(&req, env, site).await,
                (["resume-sending"], Method::Post) => admin::resume_sending(env, site).await,
                (["dev-clock"], Method::Post) => admin::dev_clock(req, env, site).await,
                (["dev-seed"], Method::Post) => admin::dev_seed(req, env, site).await,
                (["resume-sending"], _) => Err(AppError::MethodNotAllowed { allow: "POST" }),
                (["breaker"], Method::Get) => admin::breaker(env, site).await,
                (["breaker", "release"], Method::Post) => {
                    admin::decide(env, site, admin::Held::Release, &actor).await
                }
                (["breaker", "drop"], Method::Post) => {
                    admin::decide(env, site, admin::Held::Drop, &actor).await
                }
                (["breaker", "release" | "drop"], _) => {
                    Err(AppError::MethodNotAllowed { allow: "POST" })
                }
                (["webhook-endpoints"], Method::Get) => hooks::list(env, site).await,
                (["webhook-endpoints"], Method::Post) => hooks::create(req, env, site).await,
                (["webhook-endpoints"], _) => {
                    Err(AppError::MethodNotAllowed { allow: "GET, POST" })
                }
                (["webhook-endpoints", id], Method::Delete) => {
                    hooks::change(env, site, id, hooks::Change::Delete).await
                }
                (["webhook-endpoints", _], _) => {
                    Err(AppError::MethodNotAllowed { allow: "DELETE" })
                }
                (["webhook-endpoints", id, "pause"], Method::Post) => {
                    hooks::change(env, site, id, hooks::Change::Pause).await
                }
                (["webhook-endpoints", id, "resume"], Method::Post) => {
                    hooks::change(env, site, id, hooks::Change::Resume).await
                }
                (["webhook-endpoints", id, "rotate"], Method::Post) => {
                    hooks::rotate(req, env, site, id).await
                }
                (["webhook-endpoints", id, "replay"], Method::Post) => {
                    hooks::replay(req, env, site, id).await
                }
                (["webhook-endpoints", _, "pause" | "resume" | "rotate" | "replay"], _) => {
                    Err(AppError::MethodNotAllowed { allow: "POST" })
                }
                (["webhook-endpoints", id, "deliveries"], Method::Get) => {
                    hooks::deliveries(&req, env, site, id).await
                }
                (["webhook-endpoints", _, "deliveries"], _) => {
                    Err(AppError::MethodNotAllowed { allow: "GET" })
                }
                (["verify" | "stats" | "export" | "breaker"], _) => {
                    Err(AppError::MethodNotAllowed { allow: "GET" })
                }
                _ => Err(AppError::NotFound(path.chars().take(200).collect())),
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
