//! Meta's OpenAPI 3.1 description of the WhatsApp Business Messaging API
//! (v23.0, MIT, `meta/` beside this crate) as JSON Schema validators: what the
//! app sends, what the simulator answers and every webhook it posts are held to it.
//!
//! The file as published has known defects. [`correct`] fixes each one
//! structurally and [`CORRECTIONS`] lists them (docs/meta-contract.md repeats
//! the list); no correction loosens a constraint the file states, except the two
//! marked "addition", which describe fields Meta documents but the file omits.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

/// Meta's description, as published.
pub const SPEC_YAML: &str = include_str!("../meta/business-messaging-api_v23.0.yaml");

/// Every change made to the file before validating, one line each.
pub const CORRECTIONS: &[&str] = &[
    "allOf members with `additionalProperties: false` (TextMessage, ContactsMessage, …) forbid the other member's fields: the member's keyword is removed and `unevaluatedProperties: false` is put on the schema holding the allOf",
    "webhook messages (IncomingMessage's members, SystemMessage) reference the send-side BaseMessageProperties (requires `to`, `recipient_type`): they reference its webhook copy BaseMessageProperties_1 (`from`, `id`, `timestamp`)",
    "IncomingMessage's oneOf and discriminator name the send schemas TextMessage, ReactionMessage, AudioMessage, DocumentMessage, ImageMessage, StickerMessage, VideoMessage, LocationMessage: they name the webhook copies (TextMessage_2, ReactionMessage_1, …)",
    "UnsupportedMessage.errors references the Graph ErrorObject (message/type/code): it references the webhook error object ErrorObject_2 (code/title/message/error_data), as its own example shows",
    "button `index` pattern `^[2-6, 11-14]$` is a character class, not 0-based indexes: `^[0-9]$`, as its description says (0-9)",
    "`discriminator` mappings are applied: the property must be one of the mapping's keys and the mapped schema must hold (if/then per key) instead of an unguided oneOf",
    "addition: `biz_opaque_callback_data` (string, ≤ 512) on BaseMessageProperties: Meta's messages reference documents it for every message type and echoes it in status webhooks; the file has it only for calls",
    "addition: webhook field `user_preferences` (Change.field enum, and its value UserPreferencesValue: metadata, contacts, user_preferences[wa_id, detail, category, value, timestamp]) from Meta's webhook reference; the file does not describe it",
    "not corrected, not used: the group webhook examples disagree with their schemas; examples are not validated and the simulator emits no group webhooks",
];

/// What a body is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    /// `POST /{Phone-Number-ID}/messages` request: `Message`.
    MessageRequest,
    /// Its 200 answer: `MessageResponsePayload`.
    MessageResponse,
    /// Any Graph error answer: `GraphAPIError`.
    GraphError,
    /// A webhook the simulator posts: `WebhookPayload`.
    Webhook,
    /// `POST /{WABA-ID}/message_templates` request (the operation's inline schema).
    TemplateCreate,
    /// Its 200 answer.
    TemplateCreated,
    /// `GET /{WABA-ID}/message_templates` 200 answer.
    TemplateList,
    /// `POST /{Phone-Number-ID}/message_qrdls` create request: `CreateQrCodeRequest`.
    QrCreate,
    /// Its 200 answer: `QrCodeResponse`.
    QrCreated,
    /// `GET /{Phone-Number-ID}/message_qrdls` 200 answer: `QrCodeList`.
    QrList,
}

/// The template endpoint's path in Meta's file; its schemas are inline.
const TEMPLATES_PATH: &str = "/{Version}/{WABA-ID}/message_templates";

impl Schema {
    /// Every schema.
    pub const ALL: [Schema; 10] = [
        Schema::MessageRequest,
        Schema::MessageResponse,
        Schema::GraphError,
        Schema::Webhook,
        Schema::TemplateCreate,
        Schema::TemplateCreated,
        Schema::TemplateList,
        Schema::QrCreate,
        Schema::QrCreated,
        Schema::QrList,
    ];

    /// The component's name in Meta's file.
    pub fn component(self) -> &'static str {
        match self {
            Schema::MessageRequest => "Message",
            Schema::MessageResponse => "MessageResponsePayload",
            Schema::GraphError => "GraphAPIError",
            Schema::Webhook => "WebhookPayload",
            Schema::TemplateCreate => "message_templates.post.request",
            Schema::TemplateCreated => "message_templates.post.200",
            Schema::TemplateList => "message_templates.get.200",
            Schema::QrCreate => "CreateQrCodeRequest",
            Schema::QrCreated => "QrCodeResponse",
            Schema::QrList => "QrCodeList",
        }
    }

    /// For an operation's inline schema: its JSON pointer below the path item.
    fn inline(self) -> Option<&'static str> {
        match self {
            Schema::TemplateCreate => Some("/post/requestBody/content/application~1json/schema"),
            Schema::TemplateCreated => Some("/post/responses/200/content/application~1json/schema"),
            Schema::TemplateList => Some("/get/responses/200/content/application~1json/schema"),
            _ => None,
        }
    }
}

/// One way a body breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The component checked against.
    pub schema: &'static str,
    /// JSON path in the body, e.g. `$.template.components[1].index`.
    pub path: String,
    /// The keyword's location in the (corrected) schema.
    pub schema_path: String,
    /// What is wrong.
    pub message: String,
}

/// Compiled validators for [`Schema::ALL`].
pub struct Contract {
    validators: BTreeMap<Schema, jsonschema::Validator>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract").finish_non_exhaustive()
    }
}

impl Contract {
    /// Parses and corrects Meta's file, then compiles one validator per [`Schema`].
    pub fn load() -> Result<Contract, String> {
        let mut doc: Value =
            serde_yaml::from_str(SPEC_YAML).map_err(|e| format!("Meta's YAML: {e}"))?;
        correct(&mut doc)?;
        let mut schemas = doc["components"]["schemas"].take();
        // Inline operation schemas join the components under their own name, unchanged.
        for schema in Schema::ALL {
            if let Some(pointer) = schema.inline() {
                let found = doc["paths"][TEMPLATES_PATH]
                    .pointer(pointer)
                    .cloned()
                    .ok_or_else(|| format!("{} not in Meta's file", schema.component()))?;
                schemas[schema.component()] = found;
            }
        }
        let mut validators = BTreeMap::new();
        for schema in Schema::ALL {
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/components/schemas/{}", schema.component()),
                "components": {"schemas": schemas},
            });
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .map_err(|e| format!("{}: {e}", schema.component()))?;
            validators.insert(schema, validator);
        }
        Ok(Contract { validators })
    }

    /// Every violation of `schema` by `body`; empty when it conforms.
    pub fn check(&self, schema: Schema, body: &Value) -> Vec<Violation> {
        let Some(validator) = self.validators.get(&schema) else {
            return Vec::new();
        };
        validator
            .iter_errors(body)
            .map(|e| Violation {
                schema: schema.component(),
                path: json_path(&e.instance_path().to_string()),
                schema_path: e.schema_path().to_string(),
                message: e.to_string().chars().take(300).collect(),
            })
            .collect()
    }
}

/// `/template/components/1/index` → `$.template.components[1].index`.
fn json_path(pointer: &str) -> String {
    let mut out = String::from("$");
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            out.push('.');
            out.push_str(&token);
        }
    }
    out
}

/// Send-side message schemas IncomingMessage names, and their webhook copies.
const WEBHOOK_COPIES: &[(&str, &str)] = &[
    ("TextMessage", "TextMessage_2"),
    ("ReactionMessage", "ReactionMessage_1"),
    ("AudioMessage", "AudioMessage_1"),
    ("DocumentMessage", "DocumentMessage_1"),
    ("ImageMessage", "ImageMessage_1"),
    ("StickerMessage", "StickerMessage_1"),
    ("VideoMessage", "VideoMessage_1"),
    ("LocationMessage", "LocationMessage_1"),
];

const REF: &str = "#/components/schemas/";

/// Applies [`CORRECTIONS`] to the parsed file, in place.
pub fn correct(doc: &mut Value) -> Result<(), String> {
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .ok_or("the file has no components.schemas")?;
    webhook_copies(schemas)?;
    add_callback_data(schemas)?;
    add_user_preferences(schemas)?;
    for schema in schemas.values_mut() {
        walk(schema, &mut |s| {
            all_of_closed(s);
            button_index(s);
            discriminator(s);
        });
    }
    Ok(())
}

fn get_mut<'a>(schemas: &'a mut Map<String, Value>, name: &str) -> Result<&'a mut Value, String> {
    schemas
        .get_mut(name)
        .ok_or_else(|| format!("the file has no schema {name}"))
}

fn webhook_copies(schemas: &mut Map<String, Value>) -> Result<(), String> {
    let incoming = get_mut(schemas, "IncomingMessage")?;
    let rename = |v: &mut Value| {
        if let Some(r) = v.as_str().and_then(|r| r.strip_prefix(REF)) {
            if let Some((_, copy)) = WEBHOOK_COPIES.iter().find(|(send, _)| *send == r) {
                *v = Value::String(format!("{REF}{copy}"));
            }
        }
    };
    for member in incoming["oneOf"].as_array_mut().into_iter().flatten() {
        rename(&mut member["$ref"]);
    }
    for target in incoming["discriminator"]["mapping"]
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        rename(target);
    }
    let members: Vec<String> = incoming["discriminator"]["mapping"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|v| v.as_str()?.strip_prefix(REF).map(String::from))
        .chain(std::iter::once("SystemMessage".to_owned()))
        .collect();
    for name in members {
        let schema = get_mut(schemas, &name)?;
        for part in schema["allOf"].as_array_mut().into_iter().flatten() {
            if part["$ref"] == format!("{REF}BaseMessageProperties") {
                part["$ref"] = Value::String(format!("{REF}BaseMessageProperties_1"));
            }
        }
    }
    let unsupported = get_mut(schemas, "UnsupportedMessage")?;
    for part in unsupported["allOf"].as_array_mut().into_iter().flatten() {
        if part["properties"]["errors"]["items"]["$ref"] == format!("{REF}ErrorObject") {
            part["properties"]["errors"]["items"]["$ref"] =
                Value::String(format!("{REF}ErrorObject_2"));
        }
    }
    Ok(())
}

fn add_callback_data(schemas: &mut Map<String, Value>) -> Result<(), String> {
    let base = get_mut(schemas, "BaseMessageProperties")?;
    base["properties"]["biz_opaque_callback_data"] = json!({"type": "string", "maxLength": 512});
    Ok(())
}

fn add_user_preferences(schemas: &mut Map<String, Value>) -> Result<(), String> {
    let change = get_mut(schemas, "Change")?;
    change["properties"]["field"]["enum"]
        .as_array_mut()
        .ok_or("Change.field has no enum")?
        .push(json!("user_preferences"));
    change["properties"]["value"]["oneOf"]
        .as_array_mut()
        .ok_or("Change.value has no oneOf")?
        .push(json!({"$ref": format!("{REF}UserPreferencesValue")}));
    schemas.insert(
        "UserPreferencesValue".into(),
        json!({
            "type": "object",
            "required": ["messaging_product", "metadata", "user_preferences"],
            "properties": {
                "messaging_product": {"type": "string"},
                "metadata": {"$ref": format!("{REF}Metadata")},
                "contacts": {"type": "array", "items": {"$ref": format!("{REF}ContactProfile")}},
                "user_preferences": {"type": "array", "minItems": 1, "items": {
                    "type": "object",
                    "required": ["wa_id", "category", "value", "timestamp"],
                    "properties": {
                        "wa_id": {"type": "string"},
                        "detail": {"type": "string"},
                        "category": {"enum": ["marketing_messages"]},
                        "value": {"enum": ["stop", "resume"]},
                        "timestamp": {"type": "integer"}
                    }
                }}
            }
        }),
    );
    Ok(())
}

/// Calls `f` on every schema object below `v` (and `v` itself), depth first.
fn walk(v: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                walk(child, f);
            }
            f(map);
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, f)),
        _ => {}
    }
}

fn all_of_closed(s: &mut Map<String, Value>) {
    let Some(Value::Array(members)) = s.get_mut("allOf") else {
        return;
    };
    let mut closed = false;
    for member in members.iter_mut().filter_map(Value::as_object_mut) {
        if member.get("additionalProperties") == Some(&Value::Bool(false)) {
            member.remove("additionalProperties");
            closed = true;
        }
    }
    if closed {
        s.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
}

fn button_index(s: &mut Map<String, Value>) {
    if s.get("pattern").and_then(Value::as_str) == Some("^[2-6, 11-14]$") {
        s.insert("pattern".into(), Value::String("^[0-9]$".into()));
    }
}

fn discriminator(s: &mut Map<String, Value>) {
    let Some(d) = s.get("discriminator").cloned() else {
        return;
    };
    let (Some(property), Some(mapping)) = (d["propertyName"].as_str(), d["mapping"].as_object())
    else {
        return;
    };
    let keys: Vec<&String> = mapping.keys().collect();
    let mut guards =
        vec![json!({"required": [property], "properties": {property: {"enum": keys}}})];
    for (key, target) in mapping {
        guards.push(json!({
            "if": {"required": [property], "properties": {property: {"const": key}}},
            "then": {"$ref": target}
        }));
    }
    s.remove("oneOf");
    match s.get_mut("allOf") {
        Some(Value::Array(all)) => all.extend(guards),
        _ => {
            s.insert("allOf".into(), Value::Array(guards));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn contract() -> &'static Contract {
        static C: OnceLock<Contract> = OnceLock::new();
        C.get_or_init(|| Contract::load().expect("Meta's file loads"))
    }

    #[test]
    fn our_confirmation_conforms_and_a_broken_one_names_the_path() {
        let ok = json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"+6281234567890",
            "biz_opaque_callback_data":"c1","type":"template","template":{"name":"optin_confirmation",
            "language":{"policy":"deterministic","code":"id"},"components":[{"type":"body","parameters":[{"type":"text","text":"Toko"}]},
            {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"OPTOUT:c1"}]}]}});
        assert_eq!(contract().check(Schema::MessageRequest, &ok), vec![]);
        let mut bad = ok.clone();
        bad["template"]["components"][1]["index"] = json!("first");
        let v = contract().check(Schema::MessageRequest, &bad);
        assert!(
            v.iter().any(|v| v.path == "$.template.components[1].index"),
            "{v:?}"
        );
        let text = json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"6281",
            "type":"text","text":{"body":"hi","preview_url":false},"context":{"message_id":"wamid.x"}});
        assert_eq!(contract().check(Schema::MessageRequest, &text), vec![]);
        let mut extra = text.clone();
        extra["surprise"] = json!(1);
        assert!(
            !contract().check(Schema::MessageRequest, &extra).is_empty(),
            "closed as Meta meant"
        );
        let mut unknown = text;
        unknown["type"] = json!("hologram");
        let v = contract().check(Schema::MessageRequest, &unknown);
        assert!(v.iter().any(|v| v.path == "$.type"), "{v:?}");
    }

    #[test]
    fn webhooks_are_checked_as_meta_sends_them() {
        let meta = json!({"display_phone_number":"15550000000","phone_number_id":"100"});
        let inbound = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
            "value":{"messaging_product":"whatsapp","metadata":meta,
            "contacts":[{"profile":{"name":"Sari"},"wa_id":"6281"}],
            "messages":[{"from":"6281","id":"wamid.a","timestamp":"1","type":"text","text":{"body":"STOP"}}]}}]}]});
        assert_eq!(contract().check(Schema::Webhook, &inbound), vec![]);
        let mut no_contacts = inbound.clone();
        no_contacts["entry"][0]["changes"][0]["value"]
            .as_object_mut()
            .unwrap()
            .remove("contacts");
        assert!(!contract().check(Schema::Webhook, &no_contacts).is_empty());
        let mut mixed = inbound.clone();
        mixed["entry"][0]["changes"][0]["value"]["statuses"] =
            json!([{"id":"w","status":"read","timestamp":"1","recipient_id":"6281"}]);
        assert!(
            !contract().check(Schema::Webhook, &mixed).is_empty(),
            "statuses and messages come in separate payloads"
        );
        let prefs = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"user_preferences",
            "value":{"messaging_product":"whatsapp","metadata":meta,"contacts":[{"profile":{"name":"Sari"},"wa_id":"6281"}],
            "user_preferences":[{"wa_id":"6281","detail":"d","category":"marketing_messages","value":"stop","timestamp":1}]}}]}]});
        assert_eq!(contract().check(Schema::Webhook, &prefs), vec![]);
    }

    #[test]
    fn json_pointers_become_json_paths() {
        assert_eq!(json_path(""), "$");
        assert_eq!(
            json_path("/entry/0/changes/1/value"),
            "$.entry[0].changes[1].value"
        );
    }
}
