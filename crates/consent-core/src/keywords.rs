//! Keywords a person can send in the WhatsApp thread: opt out, opt back in, help.
//!
//! A message is a keyword only when it is a single word (surrounding spaces and
//! punctuation aside); case and accents do not matter (`Parar`, `párar`, `İPTAL`).

#[allow(unused_imports)]
use crate::prelude::*;

/// What an inbound single-word message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop every message (STOP, BERHENTI, PARAR, DUR, AFMELD, BAJA, STOPP, …).
    OptOut,
    /// Subscribe again to what was withdrawn (START, YES, UNSTOP, MULAI, …).
    OptIn,
    /// Explain how it works (HELP, INFO, BANTUAN, …).
    Help,
}

/// Opt-out phrases per language, folded (lowercase, no accents, single spaces,
/// no punctuation). A message opts out when it is one of these as a whole, so
/// "stop" inside a sentence ("don't stop my order") does not. Meta's own
/// "Stop promotions" quick-reply label is here in each language, as are the
/// labels merchants put on their own buttons.
pub const OPT_OUT_PHRASES: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "stop",
            "stop all",
            "stopall",
            "unsubscribe",
            "unsubscribe me",
            "end",
            "quit",
            "revoke",
            "optout",
            "opt out",
            "opt me out",
            "cancel",
            "cancel subscription",
            "stop promotions",
            "stop messages",
            "stop sending",
            "stop sending messages",
            "please stop",
            "stop please",
            "remove me",
            "no more messages",
        ],
    ),
    (
        "id",
        &[
            "berhenti",
            "stop",
            "berhenti langganan",
            "batal langganan",
            "batalkan langganan",
            "berhenti berlangganan",
            "hentikan",
            "hentikan promosi",
            "stop promosi",
            "berhenti promosi",
            "jangan kirim lagi",
        ],
    ),
    (
        "pt",
        &[
            "parar",
            "pare",
            "sair",
            "cancelar",
            "cancelar inscricao",
            "descadastrar",
            "parar promocoes",
            "nao quero mais",
            "parar mensagens",
        ],
    ),
    (
        "tr",
        &[
            "dur",
            "durdur",
            "iptal",
            "abonelikten cik",
            "aboneligi iptal et",
            "promosyonlari durdur",
            "mesajlari durdur",
        ],
    ),
    (
        "da",
        &[
            "afmeld",
            "afmeld mig",
            "stop",
            "frameld",
            "frameld mig",
            "stop kampagner",
            "stop beskeder",
        ],
    ),
    (
        "es",
        &[
            "baja",
            "parar",
            "darme de baja",
            "dar de baja",
            "detener",
            "cancelar",
            "cancelar suscripcion",
            "detener promociones",
            "no mas mensajes",
        ],
    ),
    (
        "de",
        &[
            "stopp",
            "stop",
            "abmelden",
            "abbestellen",
            "abmelden bitte",
            "werbung stoppen",
            "keine nachrichten mehr",
            "abo beenden",
        ],
    ),
];

/// Longest message (in characters) still compared with the phrase tables.
const MAX_KEYWORD_CHARS: usize = 60;

/// Re-subscribe words, folded.
const OPT_IN: &[&str] = &[
    // en
    "start",
    "yes",
    "unstop",
    "subscribe", // id
    "mulai",
    "ya", // pt
    "voltar",
    "iniciar",
    "sim", // tr
    "basla",
    "evet", // da
    "tilmeld",
    "ja", // es
    "alta",
    "si", // de
    "anmelden",
];

/// Help words, folded.
const HELP: &[&str] = &[
    "help", "info", "bantuan", "ajuda", "yardim", "hjaelp", "ayuda", "hilfe",
];

/// Words that confirm a pending (double opt-in) subscription, folded: YES and
/// CONFIRM in every locale. YES-like words are also opt-in words: with nothing
/// pending they re-subscribe as before.
const CONFIRM: &[&str] = &[
    // en
    "yes",
    "confirm",
    // id
    "ya",
    "konfirmasi",
    // pt
    "sim",
    "confirmar",
    "confirmo",
    // tr
    "evet",
    "onay",
    "onayla",
    // da
    "ja",
    "bekraeft",
    // es
    "si",
    // de
    "bestatigen",
];

/// The single word of `text`, trimmed of spaces and punctuation, if it is one.
fn single_word(text: &str) -> Option<&str> {
    let word = text.trim().trim_matches(|c: char| !c.is_alphanumeric());
    let ok =
        !word.is_empty() && !word.chars().any(char::is_whitespace) && word.chars().count() <= 20;
    ok.then_some(word)
}

/// Whether `text` confirms a pending double opt-in (YES, CONFIRM, YA, SIM, EVET,
/// JA, BEKRÆFT, SÍ, BESTÄTIGEN, …; case and accents ignored).
pub fn is_confirmation(text: &str) -> bool {
    single_word(text).is_some_and(|w| CONFIRM.contains(&fold(w).as_str()))
}

/// A site's click-to-opt-in phrase (or an inbound text) reduced to what is
/// compared: folded, punctuation around it dropped, inner spaces collapsed.
pub fn normalize_phrase(text: &str) -> String {
    let trimmed = text.trim().trim_matches(|c: char| !c.is_alphanumeric());
    let mut out = String::with_capacity(trimmed.len());
    for word in fold(trimmed).split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether an inbound text is exactly the site's opt-in phrase (as a wa.me link
/// or QR code prefills it), ignoring case, accents, spacing and end punctuation.
pub fn matches_phrase(text: &str, phrase: &str) -> bool {
    text.chars().count() <= 200 && {
        let want = normalize_phrase(phrase);
        !want.is_empty() && normalize_phrase(text) == want
    }
}

/// Checks a site's opt-in phrase: 2–40 letters, digits, spaces or `-`, with a
/// letter, and not a keyword that already means something (STOP, START, YES, HELP…).
pub fn check_phrase(phrase: &str) -> Result<(), &'static str> {
    let p = phrase.trim();
    let len = p.chars().count();
    if !(2..=40).contains(&len) {
        return Err("must be 2 to 40 characters");
    }
    if !p
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
        || !p.chars().any(char::is_alphabetic)
    {
        return Err("must be letters, digits, spaces or '-', with at least one letter");
    }
    if classify(p).is_some() || is_confirmation(p) {
        return Err("must not be an opt-out, opt-in, confirm or help keyword");
    }
    Ok(())
}

/// Classifies an inbound text; `None` when it is not a keyword. Opt-out
/// phrases may be several words; START / HELP are single words.
pub fn classify(text: &str) -> Option<Keyword> {
    if text.chars().count() > MAX_KEYWORD_CHARS * 4 {
        return None;
    }
    let phrase = keyword_form(text);
    if phrase.is_empty() || phrase.chars().count() > MAX_KEYWORD_CHARS {
        return None;
    }
    if is_opt_out_phrase(&phrase) {
        return Some(Keyword::OptOut);
    }
    if phrase.contains(' ') {
        return None;
    }
    let is = |list: &[&str]| list.contains(&phrase.as_str());
    if is(OPT_IN) {
        Some(Keyword::OptIn)
    } else if is(HELP) {
        Some(Keyword::Help)
    } else {
        None
    }
}

fn is_opt_out_phrase(phrase: &str) -> bool {
    OPT_OUT_PHRASES
        .iter()
        .any(|(_, list)| list.contains(&phrase))
}

/// A message reduced to what keyword tables hold: folded, every run of
/// punctuation, symbols and emoji a single space, trimmed. `"¡Darme de BAJA! 🙏"`
/// becomes `"darme de baja"`.
pub fn keyword_form(text: &str) -> String {
    let folded = fold(text);
    let mut out = String::with_capacity(folded.len());
    for word in folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Lowercases and strips accents from the Latin letters our locales use.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ı' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ğ' => out.push('g'),
            'ş' => out.push('s'),
            'æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            // Combining marks (decomposed input, and the dot `İ` lowercases to).
            '\u{300}'..='\u{36f}' => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Locale;

    #[test]
    fn every_opt_out_word_of_the_brief_is_recognised() {
        for w in [
            "STOP",
            "UNSUBSCRIBE",
            "END",
            "QUIT",
            "STOPALL",
            "REVOKE",
            "OPTOUT",
            "CANCEL",
            "BERHENTI",
            "PARAR",
            "SAIR",
            "CANCELAR",
            "DUR",
            "IPTAL",
            "AFMELD",
            "BAJA",
            "STOPP",
            "ABMELDEN",
        ] {
            assert_eq!(classify(w), Some(Keyword::OptOut), "{w}");
        }
    }

    #[test]
    fn case_accents_spaces_and_punctuation_do_not_matter() {
        for w in [
            "stop",
            " Stop ",
            "STOP!",
            "Parar",
            "párar",
            "İPTAL",
            "ıptal",
            "Berhenti.",
            "pa\u{301}rar",
        ] {
            assert_eq!(classify(w), Some(Keyword::OptOut), "{w}");
        }
        assert_eq!(classify("Başla"), Some(Keyword::OptIn));
        assert_eq!(classify("Sí"), Some(Keyword::OptIn));
        assert_eq!(classify("hjælp"), Some(Keyword::Help));
        assert_eq!(classify("YARDIM"), Some(Keyword::Help));
    }

    #[test]
    fn sentences_and_other_words_are_not_keywords() {
        for w in [
            "stopped",
            "",
            "   ",
            "!!!",
            "thanks",
            "stop by the shop tomorrow?",
        ] {
            assert_eq!(classify(w), None, "{w:?}");
        }
    }

    /// One table per language: what people type to leave (any case, accents,
    /// punctuation and emoji), and sentences that merely contain a stop word.
    const PER_LANGUAGE: &[(&str, &[&str], &[&str])] = &[
        (
            "en",
            &[
                "STOP",
                "Stop promotions",
                "Unsubscribe me",
                "unsubscribe!",
                "STOP 🛑",
                "opt-out",
                "Please stop.",
                "stop sending messages",
                "Cancel",
                "QUIT",
            ],
            &[
                "don't stop my order",
                "when will my order stop moving?",
                "stop the delivery at gate 2",
                "I want to cancel my order",
                "unsubscribe from what?",
                "end of the month sale?",
            ],
        ),
        (
            "id",
            &[
                "BERHENTI",
                "berhenti langganan",
                "Berhenti berlangganan",
                "Batal langganan!",
                "STOP",
                "hentikan promosi 🙏",
                "Stop promosi",
            ],
            &[
                "kapan pesanan berhenti di gudang?",
                "jangan berhenti kirim promo",
                "berhenti di mana kurirnya?",
            ],
        ),
        (
            "pt",
            &[
                "PARE",
                "Parar",
                "cancelar inscrição",
                "Cancelar Inscricao",
                "SAIR",
                "descadastrar",
                "Parar promoções",
                "não quero mais!",
            ],
            &[
                "não pare o envio do meu pedido",
                "quero sair para buscar o pedido",
                "cancelar o pedido 123",
            ],
        ),
        (
            "tr",
            &[
                "DUR",
                "İPTAL",
                "abonelikten çık",
                "ABONELİKTEN ÇIK",
                "Aboneliği iptal et",
                "durdur",
                "Promosyonları durdur",
            ],
            &[
                "kargo nerede durdu?",
                "siparişimi iptal etmeyin",
                "dur biraz bakayım mı",
            ],
        ),
        (
            "da",
            &[
                "AFMELD",
                "afmeld mig",
                "Afmeld mig!",
                "frameld",
                "STOP",
                "Stop beskeder",
            ],
            &[
                "hvornår stopper leveringen?",
                "jeg vil ikke afmelde ordren",
                "stop ikke min pakke",
            ],
        ),
        (
            "es",
            &[
                "BAJA",
                "darme de baja",
                "¡Darme de BAJA!",
                "dar de baja",
                "Parar",
                "cancelar suscripción",
                "Detener promociones",
            ],
            &[
                "no quiero darme de baja",
                "la baja del precio es buena",
                "¿cuándo paran los envíos?",
            ],
        ),
        (
            "de",
            &[
                "STOPP",
                "Abbestellen",
                "abmelden",
                "Abmelden bitte",
                "Werbung stoppen",
                "keine Nachrichten mehr!",
            ],
            &[
                "Bitte nicht abbestellen, nur die Adresse ändern",
                "wann stoppt der Versand?",
                "stopp mal kurz, wo ist mein Paket?",
            ],
        ),
    ];

    #[test]
    fn every_language_opts_out_with_what_people_type() {
        for (lang, stops, sentences) in PER_LANGUAGE {
            for text in *stops {
                assert_eq!(classify(text), Some(Keyword::OptOut), "{lang}: {text:?}");
            }
            for text in *sentences {
                assert_eq!(classify(text), None, "{lang}: {text:?}");
            }
        }
        // Every language of the widget has a table.
        for l in Locale::ALL {
            let lang = l.tag().split('-').next().unwrap_or_default();
            assert!(
                OPT_OUT_PHRASES.iter().any(|(code, _)| *code == lang),
                "{lang}"
            );
        }
    }

    #[test]
    fn the_tables_are_in_keyword_form() {
        for (lang, list) in OPT_OUT_PHRASES {
            for p in *list {
                assert_eq!(keyword_form(p), *p, "{lang}");
            }
        }
    }

    #[test]
    fn start_yes_unstop_and_help_info() {
        for w in [
            "START", "yes", "Unstop", "MULAI", "voltar", "TILMELD", "alta",
        ] {
            assert_eq!(classify(w), Some(Keyword::OptIn), "{w}");
        }
        for w in ["HELP", "info", "Bantuan", "AJUDA", "ayuda", "Hilfe"] {
            assert_eq!(classify(w), Some(Keyword::Help), "{w}");
        }
    }

    #[test]
    fn yes_and_confirm_confirm_in_every_locale() {
        for w in [
            "YES",
            "Confirm",
            "ya",
            "KONFIRMASI",
            "Sim",
            "confirmar",
            "EVET",
            "Onayla",
            "ja",
            "Bekræft",
            "BEKRÆFT",
            "Sí",
            "si!",
            "Bestätigen",
            "bestatigen",
        ] {
            assert!(is_confirmation(w), "{w}");
        }
        for w in ["STOP", "yes please", "", "start", "confirmed?", "ok"] {
            assert!(!is_confirmation(w), "{w:?}");
        }
        // YES still re-subscribes when nothing is pending.
        assert_eq!(classify("yes"), Some(Keyword::OptIn));
    }

    #[test]
    fn the_opt_in_phrase_matches_whatever_the_case_accents_and_spacing() {
        for text in [
            "JOIN ACME",
            "join acme",
            "  Join   Acme! ",
            "jóin acmé",
            "JOIN\tACME.",
        ] {
            assert!(matches_phrase(text, "Join Acme"), "{text:?}");
        }
        for text in ["JOIN", "join acme please", "joinacme", "", "STOP"] {
            assert!(!matches_phrase(text, "Join Acme"), "{text:?}");
        }
        assert!(!matches_phrase("", ""));
    }

    #[test]
    fn opt_in_phrases_are_checked() {
        assert_eq!(check_phrase("JOIN ACME"), Ok(()));
        assert_eq!(check_phrase("Toko-Acme 2"), Ok(()));
        for bad in [
            "",
            "x",
            "STOP",
            "start",
            "Yes",
            "Bekræft",
            "HELP",
            "join <acme>",
            "12345",
            &"a".repeat(41),
        ] {
            assert!(check_phrase(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_whatsapp_text_names_keywords_that_work() {
        for l in Locale::ALL {
            let w = l.whatsapp();
            assert!(
                w.template_double_opt_in
                    .split_whitespace()
                    .any(|t| t.chars().count() > 1
                        && t.chars()
                            .filter(|c| c.is_alphabetic())
                            .all(char::is_uppercase)
                        && is_confirmation(t)),
                "{l:?}: the request names a confirm word"
            );
            for text in [
                w.reply_confirmed,
                w.reply_subscribed,
                w.template_confirmation,
            ] {
                assert!(
                    text.split_whitespace().any(|t| t.chars().count() > 1
                        && t.chars()
                            .filter(|c| c.is_alphabetic())
                            .all(char::is_uppercase)
                        && classify(t) == Some(Keyword::OptOut)),
                    "{l:?}: {text}"
                );
            }
            for text in [w.reply_confirmed, w.reply_subscribed, w.reply_not_pending] {
                assert!(text.contains("{business}"), "{l:?}: {text}");
            }
            for text in [w.template_confirmation, w.template_double_opt_in] {
                assert!(
                    text.contains("{{1}}") && text.contains("WhatsApp"),
                    "{l:?}: {text}"
                );
            }
            assert!(w.template_double_opt_in.contains(w.button_confirm), "{l:?}");
            assert!(w.template_double_opt_in.contains(w.button_stop), "{l:?}");
        }
    }

    #[test]
    fn every_reply_names_keywords_that_work() {
        let keywords_in = |text: &str| -> Vec<Keyword> {
            text.split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                .filter(|w| w.chars().count() > 1 && w.chars().all(|c| c.is_uppercase()))
                .filter_map(classify)
                .collect()
        };
        for l in Locale::ALL {
            let s = l.strings();
            assert!(
                keywords_in(s.reply_opted_out).contains(&Keyword::OptIn),
                "{l:?}"
            );
            assert!(
                keywords_in(s.reply_opted_in).contains(&Keyword::OptOut),
                "{l:?}"
            );
            let help = keywords_in(s.reply_help);
            assert!(
                help.contains(&Keyword::OptOut) && help.contains(&Keyword::OptIn),
                "{l:?}"
            );
            for text in [s.reply_opted_out, s.reply_opted_in, s.reply_help] {
                assert!(text.contains("{business}"), "{l:?}: {text}");
            }
        }
    }
}
