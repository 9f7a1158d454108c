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

/// Opt-out words, folded (lowercase, no accents), every locale.
const OPT_OUT: &[&str] = &[
    // en
    "stop",
    "unsubscribe",
    "end",
    "quit",
    "stopall",
    "revoke",
    "optout",
    "cancel",
    // id
    "berhenti",
    // pt
    "parar",
    "sair",
    "cancelar",
    // tr
    "dur",
    "iptal",
    // da
    "afmeld",
    // es
    "baja",
    // de
    "stopp",
    "abmelden",
];

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

/// Classifies an inbound text; `None` when it is not a single keyword.
pub fn classify(text: &str) -> Option<Keyword> {
    let word = text.trim().trim_matches(|c: char| !c.is_alphanumeric());
    if word.is_empty() || word.chars().any(char::is_whitespace) || word.chars().count() > 20 {
        return None;
    }
    let folded = fold(word);
    let is = |list: &[&str]| list.contains(&folded.as_str());
    if is(OPT_OUT) {
        Some(Keyword::OptOut)
    } else if is(OPT_IN) {
        Some(Keyword::OptIn)
    } else if is(HELP) {
        Some(Keyword::Help)
    } else {
        None
    }
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
            "please stop",
            "stop sending",
            "stopped",
            "",
            "   ",
            "!!!",
            "thanks",
        ] {
            assert_eq!(classify(w), None, "{w:?}");
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
