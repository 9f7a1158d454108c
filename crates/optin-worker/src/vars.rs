//! The Worker's vars and secrets as text, read from [`Env`] once per isolate.
//!
//! A binding changes only with a deployment, which starts new isolates, so
//! what one read gave stays true. Each read through `Env` is a trip into JS
//! with a type check (the binding's constructor name as a string), and one
//! consent took a dozen of them (the ledger's clock and settings on every
//! command and alarm, the status webhooks' app secret, the Graph base).

use std::{cell::RefCell, collections::BTreeMap, rc::Rc};

use worker::Env;

/// How many names one isolate keeps before it starts again.
const MAX_NAMES: usize = 256;

thread_local! {
    static READ: RefCell<BTreeMap<String, Option<Rc<str>>>> = const { RefCell::new(BTreeMap::new()) };
}

/// The var or secret `name` as text; `None` when the Worker has neither.
pub fn text(env: &Env, name: &str) -> Option<Rc<str>> {
    if let Some(known) = READ.with(|r| r.borrow().get(name).cloned()) {
        return known;
    }
    // A secret and a plain var are the same kind of binding: a string.
    let value: Option<Rc<str>> = env.var(name).ok().map(|v| v.to_string().into());
    READ.with(|r| {
        let mut read = r.borrow_mut();
        // Names come from code and site configs; a bound all the same.
        if read.len() >= MAX_NAMES {
            read.clear();
        }
        read.insert(name.to_owned(), value.clone())
    });
    value
}

/// Whether the var `name` is set to exactly `value`.
pub fn is(env: &Env, name: &str, value: &str) -> bool {
    text(env, name).as_deref() == Some(value)
}
