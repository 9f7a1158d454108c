//! The SQL a ledger runs, behind one small trait: the Durable Object's SQLite
//! in production, rusqlite in native tests, so every write path can be tested
//! without workerd.

use serde::de::DeserializeOwned;
use worker::Result;

/// A value bound to a `?` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Integer(n.into())
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Integer(n.into())
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Real(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Integer(b.into())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Runs SQL. Rows come back as JSON objects keyed by column name.
pub trait Db {
    /// Runs one statement with its parameters and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<serde_json::Value>>;
    /// Runs several `;`-separated statements without parameters (migrations).
    fn batch(&self, sql: &str) -> Result<()>;
    /// The one row of an export page's `sql` (columns `n`, `last`, `body`), its
    /// `body` left as the database made it: on workerd a JS string, which goes
    /// into the ledger's answer without a copy into wasm and out again.
    fn page(&self, sql: &str, params: &[Value]) -> Result<PageRow> {
        #[derive(serde::Deserialize)]
        struct Row {
            n: i64,
            last: Option<i64>,
            body: Option<String>,
        }
        let row = self.query(sql, params)?.into_iter().next();
        let row: Row = row
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| storage_error(sql, e))?
            .ok_or_else(|| worker::Error::RustError(format!("no row from {}", head(sql))))?;
        Ok(PageRow {
            n: row.n,
            last: row.last,
            body: PageText::from(row.body.unwrap_or_default()),
        })
    }
}

/// An export page's text where the database made it: a JS string on workerd,
/// a `String` in native tests.
#[cfg(target_arch = "wasm32")]
pub type PageText = worker::wasm_bindgen::JsValue;
/// An export page's text where the database made it: a JS string on workerd,
/// a `String` in native tests.
#[cfg(not(target_arch = "wasm32"))]
pub type PageText = String;

/// What an export page's query answers: its row count, last key and lines.
pub struct PageRow {
    /// Rows on the page.
    pub n: i64,
    /// The last row's key (`seq`, `rowid`); `None` on an empty page.
    pub last: Option<i64>,
    /// The lines (empty on an empty page).
    pub body: PageText,
}

impl dyn Db + '_ {
    /// The rows of `sql`, decoded.
    pub fn rows<T: DeserializeOwned>(&self, sql: &str, params: &[Value]) -> Result<Vec<T>> {
        self.query(sql, params)?
            .into_iter()
            .map(|row| serde_json::from_value(row).map_err(|e| storage_error(sql, e)))
            .collect()
    }

    /// The first row of `sql`, which must have one.
    pub fn one<T: DeserializeOwned>(&self, sql: &str, params: &[Value]) -> Result<T> {
        self.rows(sql, params)?
            .into_iter()
            .next()
            .ok_or_else(|| worker::Error::RustError(format!("no row from {}", head(sql))))
    }

    /// Runs `sql` for its effect.
    pub fn run(&self, sql: &str, params: &[Value]) -> Result<()> {
        self.query(sql, params).map(drop)
    }
}

fn head(sql: &str) -> String {
    sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

fn storage_error(sql: &str, e: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(format!("{}: {e}", head(sql)))
}

fn bindings(params: &[Value]) -> Vec<worker::SqlStorageValue> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => worker::SqlStorageValue::Null,
            Value::Integer(n) => (*n).into(),
            Value::Real(n) => (*n).into(),
            Value::Text(s) => s.as_str().into(),
        })
        .collect()
}

impl Db for worker::SqlStorage {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<serde_json::Value>> {
        self.exec(sql, bindings(params))?.to_array()
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.exec(sql, None).map(drop)
    }

    #[cfg(target_arch = "wasm32")]
    fn page(&self, sql: &str, params: &[Value]) -> Result<PageRow> {
        use worker::wasm_bindgen::JsValue;
        #[derive(serde::Deserialize)]
        struct Row {
            n: i64,
            last: Option<i64>,
            #[serde(with = "serde_wasm_bindgen::preserve")]
            body: JsValue,
        }
        let row: Row = self.exec(sql, bindings(params))?.one()?;
        Ok(PageRow {
            n: row.n,
            last: row.last,
            body: if row.body.is_string() {
                row.body
            } else {
                JsValue::from_str("")
            },
        })
    }
}

#[cfg(test)]
impl Db for rusqlite::Connection {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<serde_json::Value>> {
        use rusqlite::types::{Value as V, ValueRef};
        let mut stmt = self.prepare(sql).map_err(|e| storage_error(sql, e))?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let bound: Vec<V> = params
            .iter()
            .map(|v| match v {
                Value::Null => V::Null,
                Value::Integer(n) => V::Integer(*n),
                Value::Real(n) => V::Real(*n),
                Value::Text(s) => V::Text(s.clone()),
            })
            .collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound))
            .map_err(|e| storage_error(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| storage_error(sql, e))? {
            let mut obj = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i).map_err(|e| storage_error(sql, e))? {
                    ValueRef::Null => serde_json::Value::Null,
                    ValueRef::Integer(n) => n.into(),
                    ValueRef::Real(n) => n.into(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                    ValueRef::Blob(_) => serde_json::Value::Null,
                };
                obj.insert(name.clone(), v);
            }
            out.push(serde_json::Value::Object(obj));
        }
        Ok(out)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.execute_batch(sql).map_err(|e| storage_error(sql, e))
    }
}
