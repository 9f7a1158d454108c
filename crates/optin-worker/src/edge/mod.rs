//! The edge: HTTP handlers in front of the ledgers. Nothing here touches SQL;
//! everything a ledger records goes through [`crate::protocol::LedgerClient`].

pub mod admin;
pub mod beacon;
pub mod capture;
pub mod graph_token;
pub mod hooks;
pub mod keys;
pub mod messages;
pub mod prefcentre;
pub mod preferences;
pub mod public;
pub mod qrdls;
pub mod sites;
pub mod templates;
pub mod turnstile;
pub mod webhooks;
