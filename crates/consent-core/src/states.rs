//! The states the Worker stores and shows, as types: event kinds, subscription,
//! outbox, delivery and double opt-in statuses, preference-centre frequencies,
//! evidence methods and sources, inbound actions, the template buttons'
//! `CONFIRM:` / `OPTOUT:` payloads, a person's one-word summary and how an
//! opt-out is counted.
//!
//! Every enum has one `as_str` (the exact string the ledger stores and the API
//! shows) and one `parse` (that string, exactly: case matters, as with
//! [`Category`](crate::Category)); serde uses the same strings, so JSON is
//! unchanged. Nothing here is used by the widget.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

use crate::locale::Locale;

/// Declares a wire enum: each variant's string is written once and is its
/// `as_str`, its `parse` and its serde name.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; wire_enum!(@count $($variant)+)] = [$($name::$variant),+];

            /// The stable wire string, as stored in the ledger and shown by the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// Parses a wire string exactly (case-sensitive); anything else is `None`.
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }
    };
    (@count) => { 0usize };
    (@count $head:ident $($tail:ident)*) => { 1usize + wire_enum!(@count $($tail)*) };
}

wire_enum! {
    /// `events.kind`: what a chained ledger event records.
    pub enum EventKind {
        /// Consent given: from the widget, START in the thread, or the click-to-opt-in phrase.
        Grant = "grant",
        /// A preference-centre change that keeps something granted (or only changes frequency / pause).
        Update = "update",
        /// Everything withdrawn: keyword, button, preference centre, number change.
        Withdraw = "withdraw",
        /// A double opt-in confirmed in WhatsApp (pending categories become granted).
        Confirm = "confirm",
        /// A double opt-in not confirmed in time (pending categories become expired).
        Expire = "expire",
        /// Personal data erased; the event itself keeps no phone.
        Erase = "erase",
        /// WhatsApp's marketing stop / resume (`user_preferences`, or send error 131050).
        MarketingPreference = "marketing_preference",
    }
}

impl EventKind {
    /// Whether the event row keeps the phone number (an erasure stores none).
    pub fn stores_phone(self) -> bool {
        self != EventKind::Erase
    }
}

wire_enum! {
    /// `subscriptions.status`: one phone × category now.
    pub enum SubscriptionStatus {
        /// Consent holds; templates may be sent.
        Granted = "granted",
        /// Waiting for the person's double opt-in confirmation.
        Pending = "pending",
        /// A double opt-in that was not confirmed in time.
        Expired = "expired",
        /// The person withdrew.
        Withdrawn = "withdrawn",
    }
}

impl SubscriptionStatus {
    /// Granted or pending: what an opt-out or a number change withdraws.
    pub fn is_held(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Granted | SubscriptionStatus::Pending
        )
    }
}

wire_enum! {
    /// A person's state over all categories in one word (`SubscriberView.status`).
    pub enum SubscriberSummary {
        /// At least one category granted.
        Active = "active",
        /// None granted; at least one waiting for confirmation.
        Pending = "pending",
        /// None granted or pending; at least one expired unconfirmed.
        Expired = "expired",
        /// Only withdrawn categories.
        Withdrawn = "withdrawn",
        /// No category state at all.
        NoCategories = "none",
    }
}

impl SubscriberSummary {
    /// The summary of a person's category states, most engaged first:
    /// `active` if any is granted, else `pending`, `expired`, `withdrawn`, else `none`.
    pub fn of(statuses: &[SubscriptionStatus]) -> SubscriberSummary {
        [
            (SubscriptionStatus::Granted, SubscriberSummary::Active),
            (SubscriptionStatus::Pending, SubscriberSummary::Pending),
            (SubscriptionStatus::Expired, SubscriberSummary::Expired),
            (SubscriptionStatus::Withdrawn, SubscriberSummary::Withdrawn),
        ]
        .into_iter()
        .find(|(s, _)| statuses.contains(s))
        .map_or(SubscriberSummary::NoCategories, |(_, summary)| summary)
    }
}

wire_enum! {
    /// `outbox.status`: where a queued message (template or reply) stands.
    pub enum OutboxStatus {
        /// Queued, waiting for its attempt time.
        Pending = "pending",
        /// Claimed by a send; Meta may have accepted it.
        Sending = "sending",
        /// Accepted by WhatsApp.
        Sent = "sent",
        /// Reached the phone.
        Delivered = "delivered",
        /// Read.
        Read = "read",
        /// Failed for good.
        Failed = "failed",
        /// Never sent: the person withdrew, the double opt-in expired, the number changed hands.
        Suppressed = "suppressed",
        /// Never sent: the person was erased while it was queued.
        Erased = "erased",
        /// Held by the burst breaker: never sent until an admin releases it (to `pending`).
        Held = "held",
        /// Never sent: an admin dropped it while the burst breaker held it.
        Dropped = "dropped",
    }
}

impl OutboxStatus {
    /// How far a row is along, as the status update's SQL ranks it: a status
    /// webhook only moves a row to a higher rank. `failed` (4) takes no later
    /// status; every state before `sent` is 0.
    pub fn rank(self) -> u8 {
        match self {
            OutboxStatus::Sent => 1,
            OutboxStatus::Delivered => 2,
            OutboxStatus::Read => 3,
            OutboxStatus::Failed => 4,
            _ => 0,
        }
    }
}

impl From<DeliveryStatus> for OutboxStatus {
    fn from(s: DeliveryStatus) -> OutboxStatus {
        match s {
            DeliveryStatus::Sent => OutboxStatus::Sent,
            DeliveryStatus::Delivered => OutboxStatus::Delivered,
            DeliveryStatus::Read => OutboxStatus::Read,
            DeliveryStatus::Failed => OutboxStatus::Failed,
        }
    }
}

wire_enum! {
    /// What an outbox row sends: its request's `type`.
    pub enum OutboxKind {
        /// A template (confirmation, double opt-in request): needs a standing opt-in.
        Template = "template",
        /// A text reply to the person's own message.
        Text = "text",
    }
}

wire_enum! {
    /// `message_statuses.status`: a WhatsApp status webhook a message received.
    /// Other statuses Meta sends are ignored (`parse` gives `None`).
    pub enum DeliveryStatus {
        /// Accepted by WhatsApp.
        Sent = "sent",
        /// Reached the phone.
        Delivered = "delivered",
        /// Read.
        Read = "read",
        /// Not delivered.
        Failed = "failed",
    }
}

impl DeliveryStatus {
    /// The rank of the webhook itself: `failed` counts as 2, so it cannot undo
    /// `delivered` / `read` (compare [`OutboxStatus::rank`] of the row).
    pub fn rank(self) -> u8 {
        match self {
            DeliveryStatus::Sent => 1,
            DeliveryStatus::Delivered | DeliveryStatus::Failed => 2,
            DeliveryStatus::Read => 3,
        }
    }
}

wire_enum! {
    /// `pending_confirmations.status` (and a grant's `double_opt_in.status` evidence).
    pub enum DoubleOptInStatus {
        /// Waiting for the person.
        Pending = "pending",
        /// Confirmed in WhatsApp (or overtaken by their own opt-in message).
        Confirmed = "confirmed",
        /// Not confirmed in time.
        Expired = "expired",
        /// The person opted out (or was erased) before confirming.
        Withdrawn = "withdrawn",
    }
}

wire_enum! {
    /// How often a person wants the business's messages (preference centre,
    /// and the `frequency` of a change's evidence).
    #[derive(Default)]
    pub enum Frequency {
        /// Every message as it is sent.
        #[default]
        AsSent = "as_sent",
        /// One weekly digest.
        WeeklyDigest = "weekly_digest",
        /// Only critical messages.
        CriticalOnly = "critical_only",
    }
}

wire_enum! {
    /// Where a person wants one category's messages (preference centre, and the
    /// `channels` of a change's evidence). Anything but WhatsApp stops our sends.
    #[derive(Default)]
    pub enum Channel {
        /// WhatsApp, as they opted in.
        #[default]
        Whatsapp = "whatsapp",
        /// By email instead: the business's own systems send it.
        Email = "email",
        /// By SMS instead: the business's own systems send it.
        Sms = "sms",
    }
}

impl Channel {
    /// The preference centre's label, in the person's language.
    pub fn label(self, locale: Locale) -> &'static str {
        let s = locale.pref_strings();
        match self {
            Channel::Whatsapp => s.channel_whatsapp,
            Channel::Email => s.channel_email,
            Channel::Sms => s.channel_sms,
        }
    }
}

impl Frequency {
    /// The preference centre's label, in the person's language.
    pub fn label(self, locale: Locale) -> &'static str {
        let s = locale.pref_strings();
        match self {
            Frequency::AsSent => s.freq_as_sent,
            Frequency::WeeklyDigest => s.freq_weekly,
            Frequency::CriticalOnly => s.freq_critical,
        }
    }
}

wire_enum! {
    /// An event evidence's `method`: how the change was made.
    pub enum EvidenceMethod {
        /// A word typed in the thread (STOP, START, YES, the opt-in phrase).
        Keyword = "keyword",
        /// A button tapped in the thread (`OPTOUT:` / `CONFIRM:` or a stop-phrase button).
        QuickReply = "quick_reply",
        /// The preference centre's save (API `PUT` or the page's form).
        PreferenceCentre = "preference_centre",
        /// The preference centre's "opt out of everything".
        PreferenceCentreOptOut = "preference_centre_opt_out",
        /// WhatsApp said the number changed hands (`user_changed_number`).
        NumberChanged = "number_changed",
        /// An erasure through the admin API.
        AdminApi = "admin_api",
        /// The double opt-in's time ran out.
        DoubleOptInExpiry = "double_opt_in_expiry",
    }
}

wire_enum! {
    /// An event evidence's `source`, where one is recorded (widget grants have a `surface` instead).
    pub enum EvidenceSource {
        /// The person's own message in the WhatsApp thread.
        InThread = "in_thread",
        /// The site's click-to-opt-in phrase in the thread.
        InThreadKeyword = "in_thread_keyword",
        /// A WhatsApp system message (`user_changed_number`).
        WhatsappSystem = "whatsapp_system",
        /// A `user_preferences` webhook (marketing stop / resume).
        WhatsappUserPreferences = "whatsapp_user_preferences",
        /// Send error 131050: the person stopped marketing messages.
        SendError = "send_error",
    }
}

wire_enum! {
    /// A person's marketing choice in WhatsApp (`user_preferences` `value`).
    pub enum MarketingChoice {
        /// Stop marketing messages.
        Stop = "stop",
        /// Resume them.
        Resume = "resume",
    }
}

impl MarketingChoice {
    /// Meta's value read on the safe side: anything but `resume` is a stop.
    pub fn of_meta_value(value: &str) -> MarketingChoice {
        if value == MarketingChoice::Resume.as_str() {
            MarketingChoice::Resume
        } else {
            MarketingChoice::Stop
        }
    }

    /// The subscription state the choice sets.
    pub fn status(self) -> SubscriptionStatus {
        match self {
            MarketingChoice::Stop => SubscriptionStatus::Withdrawn,
            MarketingChoice::Resume => SubscriptionStatus::Granted,
        }
    }
}

wire_enum! {
    /// `inbound_messages.action`: what a person's message asked for.
    pub enum InboundAction {
        /// Withdraw everything (stop keyword or button).
        OptOut = "opt_out",
        /// Re-grant what was withdrawn (START).
        OptIn = "opt_in",
        /// Explain.
        Help = "help",
        /// Confirm a double opt-in (button or YES).
        Confirm = "confirm",
        /// The site's click-to-opt-in phrase.
        JoinPhrase = "join_phrase",
        /// `user_changed_number`.
        NumberChanged = "number_changed",
    }
}

wire_enum! {
    /// `suppressions.reason`: why a subject hash is kept from messages.
    pub enum SuppressionReason {
        /// The person was erased; a fresh opt-in lifts it.
        Erased = "erased",
    }
}

wire_enum! {
    /// How someone left, as the opt-out statistics count it (`optouts_by_source`).
    pub enum OptOutSource {
        /// A stop keyword typed in the thread.
        Keyword = "keyword",
        /// A stop button tapped in the thread.
        Button = "button",
        /// The preference centre.
        PreferenceCentre = "preference_centre",
        /// WhatsApp said the number changed hands.
        NumberChanged = "number_changed",
        /// Support: an erasure through the admin API.
        Support = "support",
        /// A withdrawal whose method is none of the above.
        Other = "other",
        /// A withdrawal whose evidence was erased.
        Unknown = "unknown",
    }
}

impl OptOutSource {
    /// The dashboard's label.
    pub fn label(self) -> &'static str {
        match self {
            OptOutSource::Keyword => "Keyword (STOP…)",
            OptOutSource::Button => "Opt-out button",
            OptOutSource::PreferenceCentre => "Preference centre",
            OptOutSource::NumberChanged => "Number changed hands",
            OptOutSource::Support => "Support",
            OptOutSource::Other => "Other",
            OptOutSource::Unknown => "Unknown (evidence erased)",
        }
    }

    /// Where a withdrawal made by `method` is counted.
    pub fn of_method(method: EvidenceMethod) -> OptOutSource {
        match method {
            EvidenceMethod::Keyword => OptOutSource::Keyword,
            EvidenceMethod::QuickReply => OptOutSource::Button,
            EvidenceMethod::PreferenceCentre | EvidenceMethod::PreferenceCentreOptOut => {
                OptOutSource::PreferenceCentre
            }
            EvidenceMethod::NumberChanged => OptOutSource::NumberChanged,
            EvidenceMethod::AdminApi => OptOutSource::Support,
            EvidenceMethod::DoubleOptInExpiry => OptOutSource::Other,
        }
    }

    /// Whether an event counts as an opt-out, and how: every `withdraw` (by its
    /// evidence's `method`; `unknown` once the evidence is erased), and an
    /// `erase` (`support`) unless the subject's event just before it was a
    /// withdrawal (erasing someone who already left is not a second opt-out).
    ///
    /// `evidence` is the stored evidence JSON (`None` once erased);
    /// `previous` the kind of the same subject's previous event, if any.
    pub fn classify(
        kind: EventKind,
        evidence: Option<&str>,
        previous: Option<EventKind>,
    ) -> Option<OptOutSource> {
        match kind {
            EventKind::Erase => {
                (previous != Some(EventKind::Withdraw)).then_some(OptOutSource::Support)
            }
            EventKind::Withdraw => Some(match evidence {
                None => OptOutSource::Unknown,
                Some(json) => method_of(json)
                    .as_deref()
                    .and_then(EvidenceMethod::parse)
                    .map_or(OptOutSource::Other, OptOutSource::of_method),
            }),
            _ => None,
        }
    }

    /// The same rule for an event row in SQL, given the expressions of its
    /// `kind` and `evidence` columns: a `CASE` yielding the source string.
    /// The `erase`-after-`withdraw` filter stays with the caller's `WHERE`.
    pub fn sql_case(kind: &str, evidence: &str) -> String {
        let mut sql = format!(
            "CASE WHEN {kind} = '{erase}' THEN '{support}' WHEN {evidence} IS NULL THEN '{unknown}'",
            erase = EventKind::Erase.as_str(),
            support = OptOutSource::Support.as_str(),
            unknown = OptOutSource::Unknown.as_str(),
        );
        for m in EvidenceMethod::ALL {
            sql.push_str(&format!(
                " WHEN json_extract({evidence}, '$.method') = '{}' THEN '{}'",
                m.as_str(),
                OptOutSource::of_method(m).as_str()
            ));
        }
        sql.push_str(&format!(" ELSE '{}' END", OptOutSource::Other.as_str()));
        sql
    }
}

/// The `method` of an evidence JSON object, if it has a string one.
fn method_of(evidence: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Method {
        method: Option<serde_json::Value>,
    }
    serde_json::from_str::<Method>(evidence)
        .ok()?
        .method?
        .as_str()
        .map(str::to_owned)
}

/// The payload of a template's quick-reply button, naming the consent it is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ButtonPayload {
    /// `CONFIRM:<consent id>`: confirms that consent's double opt-in.
    Confirm(String),
    /// `OPTOUT:<consent id>`: withdraws everything.
    OptOut(String),
}

impl ButtonPayload {
    /// Prefix of the Confirm button's payload.
    pub const CONFIRM_PREFIX: &'static str = "CONFIRM:";
    /// Prefix of the opt-out button's payload.
    pub const OPT_OUT_PREFIX: &'static str = "OPTOUT:";
    /// Longest consent id read from a payload, in characters (the rest is dropped).
    pub const MAX_ID_CHARS: usize = 64;

    /// The consent id the button names.
    pub fn consent_id(&self) -> &str {
        match self {
            ButtonPayload::Confirm(id) | ButtonPayload::OptOut(id) => id,
        }
    }

    /// The payload to put on the button: `CONFIRM:<id>` or `OPTOUT:<id>`.
    pub fn payload(&self) -> String {
        let prefix = match self {
            ButtonPayload::Confirm(_) => ButtonPayload::CONFIRM_PREFIX,
            ButtonPayload::OptOut(_) => ButtonPayload::OPT_OUT_PREFIX,
        };
        format!("{prefix}{}", self.consent_id())
    }

    /// Reads a tapped button's payload as sent: prefixes are case-sensitive
    /// and nothing is trimmed; the id keeps its first [`Self::MAX_ID_CHARS`]
    /// characters. An empty id or any other payload is `None`.
    pub fn parse(payload: &str) -> Option<ButtonPayload> {
        let id = |rest: &str| -> Option<String> {
            (!rest.is_empty()).then(|| rest.chars().take(ButtonPayload::MAX_ID_CHARS).collect())
        };
        if let Some(rest) = payload.strip_prefix(ButtonPayload::CONFIRM_PREFIX) {
            id(rest).map(ButtonPayload::Confirm)
        } else if let Some(rest) = payload.strip_prefix(ButtonPayload::OPT_OUT_PREFIX) {
            id(rest).map(ButtonPayload::OptOut)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant round-trips through `as_str`/`parse` and serde, strings are
    /// exactly `expected`, and unknown, wrong-case or padded input is refused.
    macro_rules! check_wire {
        ($ty:ident, [$($s:literal),+ $(,)?]) => {{
            let expected: &[&str] = &[$($s),+];
            let got: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
            assert_eq!(got, expected, "{} strings", stringify!($ty));
            for v in $ty::ALL {
                let s = v.as_str();
                assert_eq!($ty::parse(s), Some(v), "{s}");
                let json = serde_json::to_string(&v).unwrap();
                assert_eq!(json, format!("\"{s}\""));
                assert_eq!(serde_json::from_str::<$ty>(&json).unwrap(), v);
                let upper = s.to_ascii_uppercase();
                assert_eq!($ty::parse(&upper), None, "{upper}");
                assert!(serde_json::from_str::<$ty>(&format!("\"{upper}\"")).is_err());
                let mut capital = s.to_owned();
                capital[..1].make_ascii_uppercase();
                assert_eq!($ty::parse(&capital), None, "{capital}");
                assert_eq!($ty::parse(&format!(" {s}")), None);
                assert_eq!($ty::parse(&format!("{s} ")), None);
            }
            for bad in ["", "nope", "unknown_state"] {
                assert_eq!($ty::parse(bad), None, "{bad}");
            }
            assert!(serde_json::from_str::<$ty>("\"nope\"").is_err());
        }};
    }

    #[test]
    fn wire_strings_are_exactly_the_ledgers() {
        check_wire!(
            EventKind,
            [
                "grant",
                "update",
                "withdraw",
                "confirm",
                "expire",
                "erase",
                "marketing_preference"
            ]
        );
        check_wire!(
            SubscriptionStatus,
            ["granted", "pending", "expired", "withdrawn"]
        );
        check_wire!(
            SubscriberSummary,
            ["active", "pending", "expired", "withdrawn", "none"]
        );
        check_wire!(
            OutboxStatus,
            [
                "pending",
                "sending",
                "sent",
                "delivered",
                "read",
                "failed",
                "suppressed",
                "erased",
                "held",
                "dropped"
            ]
        );
        check_wire!(OutboxKind, ["template", "text"]);
        check_wire!(DeliveryStatus, ["sent", "delivered", "read", "failed"]);
        check_wire!(
            DoubleOptInStatus,
            ["pending", "confirmed", "expired", "withdrawn"]
        );
        check_wire!(Frequency, ["as_sent", "weekly_digest", "critical_only"]);
        check_wire!(Channel, ["whatsapp", "email", "sms"]);
        check_wire!(
            EvidenceMethod,
            [
                "keyword",
                "quick_reply",
                "preference_centre",
                "preference_centre_opt_out",
                "number_changed",
                "admin_api",
                "double_opt_in_expiry",
            ]
        );
        check_wire!(
            EvidenceSource,
            [
                "in_thread",
                "in_thread_keyword",
                "whatsapp_system",
                "whatsapp_user_preferences",
                "send_error",
            ]
        );
        check_wire!(MarketingChoice, ["stop", "resume"]);
        check_wire!(
            InboundAction,
            [
                "opt_out",
                "opt_in",
                "help",
                "confirm",
                "join_phrase",
                "number_changed"
            ]
        );
        check_wire!(SuppressionReason, ["erased"]);
        check_wire!(
            OptOutSource,
            [
                "keyword",
                "button",
                "preference_centre",
                "number_changed",
                "support",
                "other",
                "unknown",
            ]
        );
    }

    #[test]
    fn structs_serialize_states_as_their_strings() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Row {
            kind: EventKind,
            status: SubscriptionStatus,
            frequency: Frequency,
        }
        let row = Row {
            kind: EventKind::MarketingPreference,
            status: SubscriptionStatus::Withdrawn,
            frequency: Frequency::default(),
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"marketing_preference","status":"withdrawn","frequency":"as_sent"}"#
        );
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), row);
    }

    #[test]
    fn the_summary_is_the_most_engaged_state() {
        use SubscriptionStatus::*;
        let of = SubscriberSummary::of;
        assert_eq!(of(&[]), SubscriberSummary::NoCategories);
        assert_eq!(
            of(&[Withdrawn, Granted, Expired]),
            SubscriberSummary::Active
        );
        assert_eq!(
            of(&[Withdrawn, Pending, Expired]),
            SubscriberSummary::Pending
        );
        assert_eq!(of(&[Withdrawn, Expired]), SubscriberSummary::Expired);
        assert_eq!(of(&[Withdrawn, Withdrawn]), SubscriberSummary::Withdrawn);
        assert_eq!(of(&[Granted]).as_str(), "active");
        assert_eq!(of(&[]).as_str(), "none");
    }

    #[test]
    fn ranks_match_the_status_update() {
        let rows: Vec<u8> = OutboxStatus::ALL.iter().map(|s| s.rank()).collect();
        assert_eq!(rows, [0, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
        let hooks: Vec<u8> = DeliveryStatus::ALL.iter().map(|s| s.rank()).collect();
        assert_eq!(hooks, [1, 2, 3, 2]);
        for d in DeliveryStatus::ALL {
            assert_eq!(OutboxStatus::from(d).as_str(), d.as_str());
        }
        assert_eq!(DeliveryStatus::parse("deleted"), None, "ignored, as today");
    }

    #[test]
    fn small_rules() {
        assert!(!EventKind::Erase.stores_phone());
        assert!(EventKind::Withdraw.stores_phone());
        let held: Vec<_> = SubscriptionStatus::ALL
            .into_iter()
            .filter(|s| s.is_held())
            .collect();
        assert_eq!(
            held,
            [SubscriptionStatus::Granted, SubscriptionStatus::Pending]
        );
        assert_eq!(
            MarketingChoice::of_meta_value("resume"),
            MarketingChoice::Resume
        );
        for v in ["stop", "STOP", "Resume", ""] {
            assert_eq!(
                MarketingChoice::of_meta_value(v),
                MarketingChoice::Stop,
                "{v}"
            );
        }
        assert_eq!(
            MarketingChoice::Stop.status(),
            SubscriptionStatus::Withdrawn
        );
        assert_eq!(
            MarketingChoice::Resume.status(),
            SubscriptionStatus::Granted
        );
        assert_eq!(Frequency::default(), Frequency::AsSent);
        assert_eq!(
            Frequency::WeeklyDigest.label(Locale::En),
            Locale::En.pref_strings().freq_weekly
        );
        for f in Frequency::ALL {
            assert!(!f.label(Locale::PtBr).is_empty());
        }
    }

    #[test]
    fn button_payloads_round_trip() {
        let id = "01901234-5678-7fff-bfff-ffffffffffff";
        let confirm = ButtonPayload::Confirm(id.into());
        let opt_out = ButtonPayload::OptOut(id.into());
        assert_eq!(confirm.payload(), format!("CONFIRM:{id}"));
        assert_eq!(opt_out.payload(), format!("OPTOUT:{id}"));
        for b in [&confirm, &opt_out] {
            assert_eq!(ButtonPayload::parse(&b.payload()).as_ref(), Some(b));
            assert_eq!(b.consent_id(), id);
        }
        assert_eq!(
            ButtonPayload::parse("CONFIRM:0190abc"),
            Some(ButtonPayload::Confirm("0190abc".into()))
        );
        assert_eq!(
            ButtonPayload::parse("OPTOUT:0190"),
            Some(ButtonPayload::OptOut("0190".into()))
        );
    }

    #[test]
    fn button_payloads_refuse_what_is_not_ours() {
        for bad in [
            "CONFIRM:",
            "OPTOUT:",
            "",
            "CONFIRM",
            "OPTOUT",
            "confirm:0190",
            "optout:0190",
            "Confirm:0190",
            " CONFIRM:0190",
            "CONFIRM 0190",
            "OPT_OUT:0190",
            "STOP",
            "SOMETHING_ELSE",
        ] {
            assert_eq!(ButtonPayload::parse(bad), None, "{bad:?}");
        }
        // Nothing is trimmed after the prefix (the Worker never did).
        assert_eq!(
            ButtonPayload::parse("CONFIRM: x "),
            Some(ButtonPayload::Confirm(" x ".into()))
        );
        // The id is cut at 64 characters, as the Worker reads it.
        let long = "a".repeat(80);
        assert_eq!(
            ButtonPayload::parse(&format!("CONFIRM:{long}")),
            Some(ButtonPayload::Confirm("a".repeat(64)))
        );
        let wide = "é".repeat(70);
        assert_eq!(
            ButtonPayload::parse(&format!("OPTOUT:{wide}")).map(|b| b.consent_id().chars().count()),
            Some(64)
        );
        // A bare `OPTOUT:` is still a stop phrase, so the thread still opts out.
        assert_eq!(
            crate::keywords::classify("OPTOUT:"),
            Some(crate::Keyword::OptOut)
        );
    }

    #[test]
    fn opt_outs_are_counted_by_how_people_left() {
        use EventKind::*;
        let c = OptOutSource::classify;
        let ev = |m: &str| format!(r#"{{"source":"in_thread","method":"{m}"}}"#);
        assert_eq!(
            c(Withdraw, Some(&ev("keyword")), None),
            Some(OptOutSource::Keyword)
        );
        assert_eq!(
            c(Withdraw, Some(&ev("quick_reply")), Some(Grant)),
            Some(OptOutSource::Button)
        );
        for m in ["preference_centre", "preference_centre_opt_out"] {
            assert_eq!(
                c(Withdraw, Some(&ev(m)), None),
                Some(OptOutSource::PreferenceCentre)
            );
        }
        assert_eq!(
            c(Withdraw, Some(&ev("number_changed")), None),
            Some(OptOutSource::NumberChanged)
        );
        assert_eq!(
            c(Withdraw, Some(&ev("carrier_pigeon")), None),
            Some(OptOutSource::Other)
        );
        assert_eq!(
            c(Withdraw, Some(&ev("KEYWORD")), None),
            Some(OptOutSource::Other)
        );
        assert_eq!(c(Withdraw, Some("{}"), None), Some(OptOutSource::Other));
        assert_eq!(
            c(Withdraw, Some(r#"{"method":7}"#), None),
            Some(OptOutSource::Other)
        );
        assert_eq!(
            c(Withdraw, Some("not json"), None),
            Some(OptOutSource::Other)
        );
        assert_eq!(c(Withdraw, None, None), Some(OptOutSource::Unknown));
        let erase = Some(r#"{"method":"admin_api"}"#);
        assert_eq!(c(Erase, erase, Some(Grant)), Some(OptOutSource::Support));
        assert_eq!(c(Erase, erase, None), Some(OptOutSource::Support));
        assert_eq!(c(Erase, erase, Some(Withdraw)), None, "already left");
        for k in [Grant, Update, Confirm, Expire, MarketingPreference] {
            assert_eq!(c(k, Some(&ev("keyword")), None), None, "{}", k.as_str());
        }
        assert_eq!(
            OptOutSource::of_method(EvidenceMethod::AdminApi),
            OptOutSource::Support
        );
        assert_eq!(OptOutSource::Keyword.label(), "Keyword (STOP…)");
        for s in OptOutSource::ALL {
            assert!(!s.label().is_empty());
        }
    }

    #[test]
    fn the_sql_case_spells_the_same_rule() {
        let sql = OptOutSource::sql_case("e.kind", "e.evidence");
        assert!(sql.starts_with(
            "CASE WHEN e.kind = 'erase' THEN 'support' WHEN e.evidence IS NULL THEN 'unknown' \
             WHEN json_extract(e.evidence, '$.method') = 'keyword' THEN 'keyword' \
             WHEN json_extract(e.evidence, '$.method') = 'quick_reply' THEN 'button' \
             WHEN json_extract(e.evidence, '$.method') = 'preference_centre' THEN 'preference_centre' \
             WHEN json_extract(e.evidence, '$.method') = 'preference_centre_opt_out' THEN 'preference_centre' \
             WHEN json_extract(e.evidence, '$.method') = 'number_changed' THEN 'number_changed' "
        ), "{sql}");
        assert!(sql.ends_with(" ELSE 'other' END"), "{sql}");
        for m in EvidenceMethod::ALL {
            assert!(sql.contains(&format!(
                "= '{}' THEN '{}'",
                m.as_str(),
                OptOutSource::of_method(m).as_str()
            )));
        }
    }
}
