//! The per-site ledger: the only Durable Object. SQLite storage holds the
//! hash-chained consent events, the derived subscription state and the outbox.
//! `fetch` decodes one [`LedgerCommand`] and dispatches it; the alarm sends.

mod analytics;
mod audit;
mod breaker;
#[cfg(test)]
mod capture_tests;
mod changes;
mod clock;
mod double_optin;
mod grant;
mod halt;
mod hooks;
#[cfg(test)]
mod hooks_tests;
mod inbound;
mod limits;
mod outbox;
mod queue;
mod retention;
mod schema;
mod seed;
mod sending;
#[cfg(test)]
mod sending_tests;
mod settings;
mod store;
pub(crate) use store::PageText;
// The edge's dev-only routes exist where the ledger would honour them.
pub(crate) use clock::allowed as dev_clock_allowed;
pub(crate) use seed::allowed as dev_seed_allowed;
mod subscriber;
mod templates;
#[cfg(test)]
mod tests;
mod throughput;
mod tx;

use serde::Serialize;
use worker::{durable_object, DurableObject, Env, Headers, Request, Response, Result, State};

use crate::protocol::{LedgerCommand, LedgerError, Range, Resumed};
use tx::{Keys, NextExpiry, Tx};

/// One site's ledger (or one shard of it).
#[durable_object]
pub struct SiteLedger {
    state: State,
    env: Env,
    /// Why the schema could not be migrated; such a ledger serves nothing.
    broken: Option<String>,
    /// The ledger's keys, read from the secrets once: a secret changes only
    /// with a deployment, which starts a new object.
    keys: std::cell::OnceCell<Keys>,
    /// When a double opt-in next expires here (every command and alarm asks).
    next_expiry: NextExpiry,
    /// This object's webhook endpoints as last read (every sync drops them).
    endpoints: hooks::EndpointsNote,
}

impl DurableObject for SiteLedger {
    fn new(state: State, env: Env) -> Self {
        let now = worker::Date::now().as_millis() as i64;
        let broken = schema::migrate(&state.storage().sql(), now)
            .err()
            .map(|e| e.to_string());
        if let Some(e) = &broken {
            worker::console_error!("ALERT ledger migration failed; serving nothing: {e}");
        }
        Self {
            state,
            env,
            broken,
            keys: std::cell::OnceCell::new(),
            next_expiry: NextExpiry::new(),
            endpoints: hooks::EndpointsNote::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let answer = match self.decode(&mut req).await {
            Ok(cmd) => self.dispatch(cmd).await,
            Err(e) => Err(e),
        };
        if hooks::take_queued() {
            // Webhooks were queued in the command's write: deliver them now.
            self.wake().await?;
        }
        match answer {
            Ok(Answer::Json(json)) => reply(200, json),
            Ok(Answer::Lines(page)) => lines_reply(page),
            Err(e) => reply(e.status(), serde_json::to_string(&e).unwrap_or_default()),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if let Some(e) = &self.broken {
            worker::console_error!("ALERT ledger alarm skipped, schema broken: {e}");
            return Response::ok("broken");
        }
        let keys = self.keys()?;
        let sql = self.state.storage().sql();
        double_optin::expire_due(&self.tx(&sql, keys)?)?;
        let erased = retention::sweep(&self.tx(&sql, keys)?)?;
        if erased > 0 {
            worker::console_log!("retention: erased {erased} people's data");
        }
        outbox::deliver_due(&self.state, &self.env, keys).await?;
        // After the outbox, which sets the alarm for its own next row: come
        // back sooner if a webhook delivery is due first.
        if let Some(at) = hooks::deliver_due(&self.state, &self.env, &self.endpoints).await? {
            self.arm_no_later_than(at).await?;
        }
        Response::ok("delivered")
    }
}

impl SiteLedger {
    async fn decode(&self, req: &mut Request) -> std::result::Result<LedgerCommand, LedgerError> {
        if let Some(detail) = &self.broken {
            return Err(LedgerError::Unavailable {
                detail: detail.clone(),
            });
        }
        let text = req.text().await?;
        serde_json::from_str(&text).map_err(|e| LedgerError::BadCommand {
            detail: e.to_string(),
        })
    }

    fn keys(&self) -> Result<&Keys> {
        if let Some(keys) = self.keys.get() {
            return Ok(keys);
        }
        let keys = Keys {
            subject: self.env.secret("SUBJECT_HASH_KEY")?.to_string(),
            prefs_token: self.env.secret("PREFS_TOKEN_KEY")?.to_string(),
        };
        Ok(self.keys.get_or_init(|| keys))
    }

    fn tx<'a>(&'a self, db: &'a worker::SqlStorage, keys: &'a Keys) -> Result<Tx<'a>> {
        Ok(Tx {
            db,
            keys,
            now: clock::now(&self.env, db)?,
            hour_ms: double_optin::hour_ms(&self.env),
            next_expiry: Some(&self.next_expiry),
            endpoints: Some(&self.endpoints),
        })
    }

    /// Runs one command; its reply.
    async fn dispatch(&self, cmd: LedgerCommand) -> std::result::Result<Answer, LedgerError> {
        let keys = self.keys()?;
        let sql = self.state.storage().sql();
        let tx = self.tx(&sql, keys)?;
        let not_found = || LedgerError::NoSubscriber;
        let json = match cmd {
            LedgerCommand::RecordConsent(cmd) => {
                let reply = grant::record(&tx, &cmd)?;
                if !reply.replayed {
                    // Wake the sender now; the outbox row is already durable.
                    self.wake().await?;
                }
                to_json(&reply)?
            }
            LedgerCommand::Preferences { consent_id } => {
                to_json(&changes::preferences(&tx, &consent_id)?.ok_or_else(not_found)?)?
            }
            LedgerCommand::Change(change) => {
                to_json(&changes::change(&tx, &change)?.ok_or_else(not_found)?)?
            }
            LedgerCommand::CountEvents(cmd) => to_json(&analytics::record(&tx, &cmd)?)?,
            LedgerCommand::ApplyWebhook(batch) => {
                let applied = inbound::apply(&tx, &batch)?;
                if applied.replies > 0 {
                    self.wake().await?;
                }
                to_json(&applied)?
            }
            LedgerCommand::ResumeSending => {
                let was = halt::resume(tx.db)?;
                self.wake().await?;
                to_json(&Resumed { was })?
            }
            LedgerCommand::Breaker {
                threshold_per_10_min,
            } => to_json(&breaker::view(tx.db, threshold_per_10_min, tx.now)?)?,
            LedgerCommand::ReleaseHeld { actor } => {
                let spacing = settings::env_ms(
                    &self.env,
                    "BREAKER_RELEASE_SPACING_MS",
                    0..=60_000,
                    breaker::RELEASE_SPACING_MS,
                );
                let released = breaker::release(tx.db, &actor, tx.now, spacing)?;
                self.wake().await?;
                to_json(&released)?
            }
            LedgerCommand::DropHeld { actor } => {
                to_json(&breaker::drop_held(tx.db, &actor, tx.now)?)?
            }
            LedgerCommand::Subscriber { phone } => {
                to_json(&subscriber::view(&tx, &phone)?.ok_or_else(not_found)?)?
            }
            LedgerCommand::Erase { phone } => {
                to_json(&audit::erase(&tx, &phone)?.ok_or_else(not_found)?)?
            }
            LedgerCommand::Verify => to_json(&audit::verify(&tx)?)?,
            LedgerCommand::Stats { from, to } => {
                let range = Range::from_query(Some(&from), Some(&to), tx.now)
                    .or_else(|_| Range::from_query(None, None, tx.now))
                    .map_err(|e| LedgerError::BadCommand {
                        detail: e.to_string(),
                    })?;
                to_json(&audit::stats(&tx, &range)?)?
            }
            LedgerCommand::SetDevClock { offset_ms } => {
                if !clock::allowed(&self.env) {
                    return Err(LedgerError::BadCommand {
                        detail: "this Worker does not allow a dev clock".into(),
                    });
                }
                clock::set(tx.db, offset_ms)?;
                to_json(&serde_json::json!({ "offset_ms": offset_ms }))?
            }
            LedgerCommand::SeedHistory {
                from,
                events,
                categories,
                evidence,
            } => {
                if !seed::allowed(&self.env) {
                    return Err(LedgerError::BadCommand {
                        detail: "this Worker does not allow seeding history".into(),
                    });
                }
                let written = seed::history(&tx, from, events, &categories, &evidence)?;
                to_json(&serde_json::json!({ "written": written }))?
            }
            LedgerCommand::ExportCsv { after, since } => {
                return Ok(Answer::Lines(audit::export_csv(&tx, after, since)?));
            }
            LedgerCommand::ExportNdjson { after, since } => {
                return Ok(Answer::Lines(audit::export_ndjson(&tx, after, since)?));
            }
            LedgerCommand::RecordTemplateStatuses { statuses } => {
                to_json(&templates::record(tx.db, &statuses, tx.now)?)?
            }
            LedgerCommand::SendMessage(cmd) => {
                let reply = sending::send(&tx, &cmd)?;
                if reply.decision == crate::protocol::Decision::Queued && !reply.replayed {
                    self.wake().await?;
                }
                to_json(&reply)?
            }
            LedgerCommand::CheckPermissions(cmd) => to_json(&sending::check(&tx, &cmd)?)?,
            LedgerCommand::ExportMessages { after, since } => {
                return Ok(Answer::Lines(sending::export_ndjson(tx.db, after, since)?));
            }
            LedgerCommand::SetRetention(r) => {
                retention::set(tx.db, &r)?;
                self.wake().await?;
                to_json(&r)?
            }
            LedgerCommand::ConsentState { id } => {
                to_json(&double_optin::state(&tx, &id)?.ok_or_else(not_found)?)?
            }
            LedgerCommand::Message { id } => {
                to_json(&sending::view(tx.db, &id)?.ok_or_else(not_found)?)?
            }
            LedgerCommand::SyncHookEndpoints { site, endpoints } => {
                // Dropped first: whatever the sync leaves, the next event reads it.
                self.endpoints.forget();
                hooks::sync(tx.db, &site, &endpoints, tx.now)?;
                self.wake().await?;
                to_json(&hooks::states(tx.db)?)?
            }
            LedgerCommand::HookEndpointStates => to_json(&hooks::states(tx.db)?)?,
            LedgerCommand::HookDeliveries { endpoint_id, limit } => {
                to_json(&hooks::log(tx.db, &endpoint_id, limit)?)?
            }
            LedgerCommand::ReplayHooks {
                endpoint_id,
                from,
                to,
            } => to_json(&hooks::replay(tx.db, &endpoint_id, from, to, tx.now)?)?,
        };
        Ok(Answer::Json(json))
    }

    /// Sets the alarm for ledger time `at` unless it is already set sooner.
    async fn arm_no_later_than(&self, at: i64) -> Result<()> {
        let sql = self.state.storage().sql();
        let wait = (at - clock::now(&self.env, &sql)?).max(0);
        let wall = worker::Date::now().as_millis() as i64;
        let set = self.state.storage().get_alarm().await?;
        if set.is_none_or(|s| s > wall + wait) {
            self.state.storage().set_alarm(wait).await?;
        }
        Ok(())
    }

    /// Runs the alarm as soon as possible.
    async fn wake(&self) -> Result<()> {
        self.state.storage().set_alarm(0).await
    }
}

fn to_json<T: Serialize>(v: &T) -> std::result::Result<String, LedgerError> {
    Ok(serde_json::to_string(v)?)
}

/// A command's answer: JSON, or an export page's NDJSON lines as they are.
enum Answer {
    Json(String),
    Lines(crate::protocol::NdjsonPage),
}

/// An export page: its lines as the body, where the next starts in a header.
fn lines_reply(page: crate::protocol::NdjsonPage) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/x-ndjson")?;
    if let Some(next) = page.next {
        headers.set(crate::protocol::NEXT_HEADER, &next.to_string())?;
    }
    Ok(page_response(page.body)?.with_headers(headers))
}

/// `new Response(text)` with the JS string SQLite answered: the text is not
/// copied into wasm and out again.
#[cfg(target_arch = "wasm32")]
fn page_response(text: PageText) -> Result<Response> {
    use worker::{js_sys, wasm_bindgen::JsCast};
    let ctor: js_sys::Function =
        js_sys::Reflect::get(&js_sys::global(), &"Response".into())?.unchecked_into();
    let made = js_sys::Reflect::construct(&ctor, &js_sys::Array::of1(&text))?;
    Ok(Response::from(
        made.unchecked_into::<worker::web_sys::Response>(),
    ))
}

#[cfg(not(target_arch = "wasm32"))]
fn page_response(text: PageText) -> Result<Response> {
    Response::from_bytes(text.into_bytes())
}

fn reply(status: u16, body: String) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}
