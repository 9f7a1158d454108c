//! Locales the widget speaks, how one is chosen, and every string it shows.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

/// A supported language. Regional variants fall back to the one we have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    /// English.
    #[serde(rename = "en")]
    En,
    /// Indonesian.
    #[serde(rename = "id")]
    Id,
    /// Brazilian Portuguese.
    #[serde(rename = "pt-BR")]
    PtBr,
    /// Turkish.
    #[serde(rename = "tr")]
    Tr,
    /// Danish.
    #[serde(rename = "da")]
    Da,
    /// Spanish.
    #[serde(rename = "es")]
    Es,
    /// German.
    #[serde(rename = "de")]
    De,
}

/// Every string a surface shows, in one language.
#[derive(Debug)]
pub struct Strings {
    /// The opt-in statement; `{business}` is replaced by the business name.
    pub notice: &'static str,
    /// Dialog heading.
    pub title: &'static str,
    /// Legend over the category checkboxes.
    pub categories_legend: &'static str,
    /// Category labels in [`crate::Category::ALL`] order.
    pub categories: [&'static str; 5],
    /// Label of the phone input.
    pub phone_label: &'static str,
    /// Submit button.
    pub submit: &'static str,
    /// Close button's accessible name.
    pub close: &'static str,
    /// Privacy-policy link text.
    pub privacy: &'static str,
    /// Shown while the consent is being sent.
    pub sending: &'static str,
    /// Shown once the consent is recorded.
    pub success: &'static str,
    /// Inline error for an impossible phone number.
    pub invalid_phone: &'static str,
    /// Inline error when no category is ticked.
    pub no_category: &'static str,
    /// Shown when the network or server failed; what was typed is kept.
    pub network_error: &'static str,
    /// WhatsApp reply to an opt-out; says how to come back. `{business}` as in `notice`.
    pub reply_opted_out: &'static str,
    /// WhatsApp reply to a re-subscribe keyword.
    pub reply_opted_in: &'static str,
    /// WhatsApp reply to HELP / INFO.
    pub reply_help: &'static str,
    /// Chat widget: the floating button.
    pub chat_open: &'static str,
    /// Chat widget: the default greeting bubble.
    pub chat_greeting: &'static str,
    /// Chat widget: heading of the optional opt-in step.
    pub chat_optin: &'static str,
    /// Chat widget: the link that hands over to WhatsApp.
    pub chat_continue: &'static str,
    /// Chat widget, outside opening hours: the business replies later.
    pub chat_later: &'static str,
    /// Chat widget: the default message prefilled in WhatsApp.
    pub chat_prefilled: &'static str,
}

impl Locale {
    /// Every supported locale.
    pub const ALL: [Locale; 7] = [
        Locale::En,
        Locale::Id,
        Locale::PtBr,
        Locale::Tr,
        Locale::Da,
        Locale::Es,
        Locale::De,
    ];

    /// BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Id => "id",
            Locale::PtBr => "pt-BR",
            Locale::Tr => "tr",
            Locale::Da => "da",
            Locale::Es => "es",
            Locale::De => "de",
        }
    }

    /// The WhatsApp template language code for this locale.
    pub fn whatsapp_code(self) -> &'static str {
        match self {
            Locale::PtBr => "pt_BR",
            other => other.tag(),
        }
    }

    /// The locale whose tag is exactly `tag` (as the widget sends it back).
    pub fn from_tag(tag: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// Parses a BCP 47 tag by its primary language (`pt-PT` → pt-BR, `en-GB` → en).
    pub fn parse(tag: &str) -> Option<Locale> {
        let primary = tag.split(['-', '_']).next()?.trim();
        Locale::ALL.into_iter().find(|l| {
            primary.len() == 2
                && l.tag()
                    .as_bytes()
                    .get(..2)
                    .is_some_and(|p| p.eq_ignore_ascii_case(primary.as_bytes()))
        })
    }

    /// The first supported locale among `candidates` (page `lang`, then
    /// `navigator.languages`), else `default`.
    pub fn negotiate<'a>(candidates: impl IntoIterator<Item = &'a str>, default: Locale) -> Locale {
        candidates
            .into_iter()
            .find_map(Locale::parse)
            .unwrap_or(default)
    }

    /// The strings for this locale.
    pub fn strings(self) -> &'static Strings {
        match self {
            Locale::En => &EN,
            Locale::Id => &ID,
            Locale::PtBr => &PT_BR,
            Locale::Tr => &TR,
            Locale::Da => &DA,
            Locale::Es => &ES,
            Locale::De => &DE,
        }
    }
}

static EN: Strings = Strings {
    notice: "I agree to receive the messages I select below from {business} on WhatsApp. I can stop at any time by replying STOP.",
    title: "Get updates on WhatsApp",
    categories_legend: "Choose what you want to receive",
    categories: [
        "Order confirmations",
        "Shipping and delivery notifications",
        "Appointment reminders",
        "Payment alerts",
        "Account status updates",
    ],
    phone_label: "WhatsApp number",
    submit: "Subscribe on WhatsApp",
    close: "Close",
    privacy: "Privacy policy",
    sending: "Sending…",
    success: "Thank you! We sent a confirmation to your WhatsApp.",
    invalid_phone: "Enter a valid WhatsApp number, including the country code.",
    no_category: "Choose at least one kind of message.",
    network_error: "Could not send. Check your connection and try again.",
    reply_opted_out: "You are unsubscribed: {business} will send you no more WhatsApp messages. To subscribe again, reply START.",
    reply_opted_in: "Welcome back! {business} will send you WhatsApp messages again. Reply STOP to unsubscribe.",
    reply_help: "{business} sends you the WhatsApp updates you chose. Reply STOP to unsubscribe or START to subscribe again.",
    chat_open: "Chat on WhatsApp",
    chat_greeting: "Hi! Questions? Chat with us on WhatsApp.",
    chat_optin: "Optional: also get these updates on WhatsApp",
    chat_continue: "Continue to WhatsApp",
    chat_later: "We're away right now. Leave us a message on WhatsApp and we'll reply when we're back.",
    chat_prefilled: "Hello! I have a question.",
};

static ID: Strings = Strings {
    notice: "Saya setuju menerima pesan yang saya pilih di bawah dari {business} melalui WhatsApp. Saya dapat berhenti kapan saja dengan membalas BERHENTI.",
    title: "Dapatkan info lewat WhatsApp",
    categories_legend: "Pilih pesan yang ingin kamu terima",
    categories: [
        "Konfirmasi pesanan",
        "Notifikasi pengiriman dan status delivery",
        "Pengingat janji temu",
        "Peringatan pembayaran",
        "Pembaruan status akun",
    ],
    phone_label: "Nomor WhatsApp",
    submit: "Berlangganan di WhatsApp",
    close: "Tutup",
    privacy: "Kebijakan privasi",
    sending: "Mengirim…",
    success: "Terima kasih! Kami sudah mengirim konfirmasi ke WhatsApp kamu.",
    invalid_phone: "Masukkan nomor WhatsApp yang valid, termasuk kode negara.",
    no_category: "Pilih setidaknya satu jenis pesan.",
    network_error: "Gagal mengirim. Periksa koneksi kamu lalu coba lagi.",
    reply_opted_out: "Kamu sudah berhenti berlangganan: {business} tidak akan mengirim pesan WhatsApp lagi. Untuk berlangganan kembali, balas MULAI.",
    reply_opted_in: "Selamat datang kembali! {business} akan mengirim pesan WhatsApp lagi. Balas BERHENTI untuk berhenti berlangganan.",
    reply_help: "{business} mengirim info WhatsApp yang kamu pilih. Balas BERHENTI untuk berhenti atau MULAI untuk berlangganan kembali.",
    chat_open: "Chat di WhatsApp",
    chat_greeting: "Halo! Ada pertanyaan? Chat dengan kami di WhatsApp.",
    chat_optin: "Opsional: dapatkan juga info ini lewat WhatsApp",
    chat_continue: "Lanjut ke WhatsApp",
    chat_later: "Kami sedang tidak online. Tinggalkan pesan di WhatsApp, kami akan membalas saat kembali.",
    chat_prefilled: "Halo! Saya punya pertanyaan.",
};

static PT_BR: Strings = Strings {
    notice: "Concordo em receber de {business} no WhatsApp as mensagens que seleciono abaixo. Posso cancelar a qualquer momento respondendo PARAR.",
    title: "Receba atualizações no WhatsApp",
    categories_legend: "Escolha o que deseja receber",
    categories: [
        "Confirmações de pedidos",
        "Notificações de envio e entrega",
        "Lembretes de consultas",
        "Alertas de pagamento",
        "Atualizações de status da conta",
    ],
    phone_label: "Número do WhatsApp",
    submit: "Inscrever-se no WhatsApp",
    close: "Fechar",
    privacy: "Política de privacidade",
    sending: "Enviando…",
    success: "Obrigado! Enviamos uma confirmação para o seu WhatsApp.",
    invalid_phone: "Digite um número de WhatsApp válido, com o código do país.",
    no_category: "Escolha pelo menos um tipo de mensagem.",
    network_error: "Não foi possível enviar. Verifique sua conexão e tente novamente.",
    reply_opted_out: "Inscrição cancelada: {business} não enviará mais mensagens no WhatsApp. Para voltar a receber, responda VOLTAR.",
    reply_opted_in: "Que bom ter você de volta! {business} voltará a enviar mensagens no WhatsApp. Responda PARAR para cancelar.",
    reply_help: "{business} envia as mensagens do WhatsApp que você escolheu. Responda PARAR para cancelar ou VOLTAR para voltar a receber.",
    chat_open: "Conversar no WhatsApp",
    chat_greeting: "Olá! Dúvidas? Fale com a gente no WhatsApp.",
    chat_optin: "Opcional: receba também estas atualizações no WhatsApp",
    chat_continue: "Continuar no WhatsApp",
    chat_later: "Estamos fora do horário de atendimento. Deixe sua mensagem no WhatsApp e responderemos quando voltarmos.",
    chat_prefilled: "Olá! Tenho uma dúvida.",
};

static TR: Strings = Strings {
    notice: "{business} tarafından WhatsApp üzerinden aşağıda seçtiğim mesajları almayı kabul ediyorum. İstediğim zaman DUR yazarak ayrılabilirim.",
    title: "WhatsApp'tan bildirim alın",
    categories_legend: "Almak istediklerinizi seçin",
    categories: [
        "Sipariş onayları",
        "Kargo ve teslimat bildirimleri",
        "Randevu hatırlatıcıları",
        "Ödeme uyarıları",
        "Hesap durumu güncellemeleri",
    ],
    phone_label: "WhatsApp numarası",
    submit: "WhatsApp'ta abone ol",
    close: "Kapat",
    privacy: "Gizlilik politikası",
    sending: "Gönderiliyor…",
    success: "Teşekkürler! WhatsApp'ınıza bir onay mesajı gönderdik.",
    invalid_phone: "Ülke kodu dahil geçerli bir WhatsApp numarası girin.",
    no_category: "En az bir mesaj türü seçin.",
    network_error: "Gönderilemedi. Bağlantınızı kontrol edip tekrar deneyin.",
    reply_opted_out: "Aboneliğiniz iptal edildi: {business} size artık WhatsApp mesajı göndermeyecek. Yeniden abone olmak için BAŞLA yazın.",
    reply_opted_in: "Tekrar hoş geldiniz! {business} size yeniden WhatsApp mesajları gönderecek. Ayrılmak için DUR yazın.",
    reply_help: "{business} size seçtiğiniz WhatsApp bildirimlerini gönderir. Ayrılmak için DUR, yeniden abone olmak için BAŞLA yazın.",
    chat_open: "WhatsApp'tan yazın",
    chat_greeting: "Merhaba! Sorunuz mu var? Bize WhatsApp'tan yazın.",
    chat_optin: "İsteğe bağlı: bu bildirimleri WhatsApp'tan da alın",
    chat_continue: "WhatsApp'a devam et",
    chat_later: "Şu anda çevrim dışıyız. WhatsApp'tan mesajınızı bırakın, döndüğümüzde yanıtlayacağız.",
    chat_prefilled: "Merhaba! Bir sorum var.",
};

static DA: Strings = Strings {
    notice: "Jeg accepterer at modtage de beskeder, jeg vælger nedenfor, fra {business} på WhatsApp. Jeg kan til enhver tid framelde mig ved at svare AFMELD.",
    title: "Få opdateringer på WhatsApp",
    categories_legend: "Vælg, hvad du vil modtage",
    categories: [
        "Ordrebekræftelser",
        "Forsendelses- og leveringsbeskeder",
        "Påmindelser om aftaler",
        "Betalingsadvarsler",
        "Opdateringer om kontostatus",
    ],
    phone_label: "WhatsApp-nummer",
    submit: "Tilmeld på WhatsApp",
    close: "Luk",
    privacy: "Privatlivspolitik",
    sending: "Sender…",
    success: "Tak! Vi har sendt en bekræftelse til din WhatsApp.",
    invalid_phone: "Indtast et gyldigt WhatsApp-nummer med landekode.",
    no_category: "Vælg mindst én type besked.",
    network_error: "Kunne ikke sende. Tjek din forbindelse, og prøv igen.",
    reply_opted_out: "Du er afmeldt: {business} sender dig ikke flere beskeder på WhatsApp. Svar TILMELD for at tilmelde dig igen.",
    reply_opted_in: "Velkommen tilbage! {business} sender dig igen beskeder på WhatsApp. Svar AFMELD for at framelde dig.",
    reply_help: "{business} sender dig de WhatsApp-beskeder, du har valgt. Svar AFMELD for at framelde dig eller TILMELD for at tilmelde dig igen.",
    chat_open: "Skriv på WhatsApp",
    chat_greeting: "Hej! Spørgsmål? Skriv til os på WhatsApp.",
    chat_optin: "Valgfrit: få også disse beskeder på WhatsApp",
    chat_continue: "Fortsæt til WhatsApp",
    chat_later: "Vi er ikke til stede lige nu. Skriv til os på WhatsApp, så svarer vi, når vi er tilbage.",
    chat_prefilled: "Hej! Jeg har et spørgsmål.",
};

static ES: Strings = Strings {
    notice: "Acepto recibir de {business} por WhatsApp los mensajes que selecciono abajo. Puedo darme de baja en cualquier momento respondiendo BAJA.",
    title: "Recibe avisos por WhatsApp",
    categories_legend: "Elige qué quieres recibir",
    categories: [
        "Confirmaciones de pedidos",
        "Avisos de envío y entrega",
        "Recordatorios de citas",
        "Alertas de pago",
        "Novedades sobre el estado de la cuenta",
    ],
    phone_label: "Número de WhatsApp",
    submit: "Suscribirme en WhatsApp",
    close: "Cerrar",
    privacy: "Política de privacidad",
    sending: "Enviando…",
    success: "¡Gracias! Te enviamos una confirmación a tu WhatsApp.",
    invalid_phone: "Introduce un número de WhatsApp válido, con el prefijo del país.",
    no_category: "Elige al menos un tipo de mensaje.",
    network_error: "No se pudo enviar. Revisa tu conexión e inténtalo de nuevo.",
    reply_opted_out: "Te has dado de baja: {business} no te enviará más mensajes por WhatsApp. Para volver a suscribirte, responde ALTA.",
    reply_opted_in: "¡Bienvenido de nuevo! {business} volverá a enviarte mensajes por WhatsApp. Responde BAJA para darte de baja.",
    reply_help: "{business} te envía los avisos de WhatsApp que elegiste. Responde BAJA para darte de baja o ALTA para volver a suscribirte.",
    chat_open: "Chatear por WhatsApp",
    chat_greeting: "¡Hola! ¿Tienes preguntas? Escríbenos por WhatsApp.",
    chat_optin: "Opcional: recibe también estos avisos por WhatsApp",
    chat_continue: "Continuar a WhatsApp",
    chat_later: "Ahora no estamos disponibles. Déjanos tu mensaje por WhatsApp y te responderemos cuando volvamos.",
    chat_prefilled: "¡Hola! Tengo una pregunta.",
};

static DE: Strings = Strings {
    notice: "Ich willige ein, die unten ausgewählten Nachrichten von {business} über WhatsApp zu erhalten. Ich kann mich jederzeit abmelden, indem ich STOPP antworte.",
    title: "Updates per WhatsApp erhalten",
    categories_legend: "Wählen Sie, was Sie erhalten möchten",
    categories: [
        "Bestellbestätigungen",
        "Versand- und Lieferbenachrichtigungen",
        "Terminerinnerungen",
        "Zahlungshinweise",
        "Updates zum Kontostatus",
    ],
    phone_label: "WhatsApp-Nummer",
    submit: "Per WhatsApp abonnieren",
    close: "Schließen",
    privacy: "Datenschutzerklärung",
    sending: "Wird gesendet…",
    success: "Danke! Wir haben Ihnen eine Bestätigung per WhatsApp geschickt.",
    invalid_phone: "Geben Sie eine gültige WhatsApp-Nummer mit Ländervorwahl ein.",
    no_category: "Wählen Sie mindestens eine Nachrichtenart.",
    network_error: "Senden fehlgeschlagen. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
    reply_opted_out: "Sie sind abgemeldet: {business} sendet Ihnen keine WhatsApp-Nachrichten mehr. Antworten Sie START, um sich wieder anzumelden.",
    reply_opted_in: "Willkommen zurück! {business} sendet Ihnen wieder WhatsApp-Nachrichten. Antworten Sie STOPP, um sich abzumelden.",
    reply_help: "{business} sendet Ihnen die WhatsApp-Nachrichten, die Sie gewählt haben. Antworten Sie STOPP zum Abmelden oder START zum erneuten Anmelden.",
    chat_open: "Per WhatsApp chatten",
    chat_greeting: "Hallo! Fragen? Schreib uns auf WhatsApp.",
    chat_optin: "Optional: diese Updates auch per WhatsApp erhalten",
    chat_continue: "Weiter zu WhatsApp",
    chat_later: "Wir sind gerade nicht erreichbar. Schreib uns auf WhatsApp – wir antworten, sobald wir zurück sind.",
    chat_prefilled: "Hallo! Ich habe eine Frage.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_lang_wins_then_browser_languages_then_default() {
        assert_eq!(Locale::negotiate(["pt-BR", "en"], Locale::En), Locale::PtBr);
        assert_eq!(Locale::negotiate(["xx", "de-AT"], Locale::En), Locale::De);
        assert_eq!(Locale::negotiate(["fr", "ja"], Locale::Id), Locale::Id);
        assert_eq!(Locale::negotiate([], Locale::Da), Locale::Da);
    }

    #[test]
    fn parse_needs_a_real_primary_subtag() {
        assert_eq!(Locale::parse("EN-gb"), Some(Locale::En));
        assert_eq!(Locale::parse("pt_PT"), Some(Locale::PtBr));
        assert_eq!(Locale::parse("e"), None);
        assert_eq!(Locale::parse(""), None);
        assert_eq!(Locale::parse("ptx"), None);
    }

    #[test]
    fn every_notice_names_the_business_and_whatsapp() {
        for l in Locale::ALL {
            let s = l.strings();
            assert!(s.notice.contains("{business}"), "{l:?}");
            assert!(s.notice.contains("WhatsApp"), "{l:?}");
            assert!(s.title.contains("WhatsApp"), "{l:?}");
        }
    }

    #[test]
    fn whatsapp_codes_use_underscores() {
        assert_eq!(Locale::PtBr.whatsapp_code(), "pt_BR");
        assert_eq!(Locale::Tr.whatsapp_code(), "tr");
    }
}
