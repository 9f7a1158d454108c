//! Locales the widget speaks, how one is chosen, and every string it shows.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};

/// A supported language. Regional variants fall back to the one we have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// Shown when no answer came back (the connection); what was typed is kept.
    pub network_error: &'static str,
    /// Shown when the Worker says too many tries (429): wait, then try again.
    pub error_rate_limited: &'static str,
    /// Shown when the site takes no sign-up from this page's origin or this number's country.
    pub error_not_allowed: &'static str,
    /// Shown for any other refusal (4xx): nothing was recorded.
    pub error_refused: &'static str,
    /// Shown when the Worker failed (5xx): try again later.
    pub error_server: &'static str,
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

/// What the business says in the WhatsApp thread, in one language: the bodies
/// of the templates to create in WhatsApp Manager (`{{1}}` is the business
/// name), their button labels, and in-thread replies (`{business}` as in
/// [`Strings::notice`]). Kept apart from [`Strings`] so the widget links none of it.
#[derive(Debug)]
pub struct WhatsAppStrings {
    /// Body of the confirmation template (`optin_confirmation`); one quick-reply button, [`Self::button_stop`].
    pub template_confirmation: &'static str,
    /// Body of the double opt-in request (`optin_double_confirmation`); quick replies
    /// [`Self::button_confirm`] (index 0) and [`Self::button_stop`] (index 1).
    pub template_double_opt_in: &'static str,
    /// Label of the Confirm quick-reply button.
    pub button_confirm: &'static str,
    /// Label of the opt-out quick-reply button.
    pub button_stop: &'static str,
    /// Reply once a pending subscription is confirmed.
    pub reply_confirmed: &'static str,
    /// Reply to a Confirm for a request that is unknown, expired or someone else's.
    pub reply_not_pending: &'static str,
    /// Reply to the site's click-to-opt-in phrase.
    pub reply_subscribed: &'static str,
}

/// The preference centre page (`/p/{token}`), in one language. `{business}` is
/// replaced by the business name, `{date}` by a date.
#[derive(Debug)]
pub struct PrefStrings {
    /// Page heading.
    pub heading: &'static str,
    /// One line under the heading.
    pub intro: &'static str,
    /// Legend over the frequency choices.
    pub frequency_legend: &'static str,
    /// Frequency: every message as it is sent.
    pub freq_as_sent: &'static str,
    /// Frequency: one weekly digest.
    pub freq_weekly: &'static str,
    /// Frequency: only critical messages.
    pub freq_critical: &'static str,
    /// Label of the pause date input.
    pub pause_label: &'static str,
    /// Hint under the pause date input.
    pub pause_hint: &'static str,
    /// Legend over the per-category channel choices.
    pub channel_legend: &'static str,
    /// What choosing email or SMS does (`{business}`).
    pub channel_hint: &'static str,
    /// Channel: WhatsApp.
    pub channel_whatsapp: &'static str,
    /// Channel: email.
    pub channel_email: &'static str,
    /// Channel: SMS.
    pub channel_sms: &'static str,
    /// Save button.
    pub save: &'static str,
    /// Shown after saving.
    pub saved: &'static str,
    /// Shown while paused.
    pub paused: &'static str,
    /// Heading of the opt-out section.
    pub opt_out_heading: &'static str,
    /// What opting out does.
    pub opt_out_text: &'static str,
    /// The opt-out button.
    pub opt_out_button: &'static str,
    /// Shown after opting out.
    pub opted_out: &'static str,
    /// Error for a pause date in the past or too far ahead.
    pub bad_date: &'static str,
    /// Error for an unknown frequency or category (a tampered form).
    pub bad_form: &'static str,
    /// Page for a forged or malformed link.
    pub invalid_link: &'static str,
    /// Page for an expired link.
    pub expired_link: &'static str,
    /// Page when the person's data was erased.
    pub no_subscriber: &'static str,
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

    /// The locale most people with this number speak, by calling code, if we have it.
    pub fn for_phone(e164: &str) -> Option<Locale> {
        let digits = e164.strip_prefix('+').unwrap_or(e164);
        const BY_PREFIX: &[(&str, Locale)] = &[
            ("62", Locale::Id),
            ("55", Locale::PtBr),
            ("351", Locale::PtBr),
            ("90", Locale::Tr),
            ("45", Locale::Da),
            ("49", Locale::De),
            ("43", Locale::De),
            ("41", Locale::De),
            ("34", Locale::Es),
            ("52", Locale::Es),
            ("54", Locale::Es),
            ("56", Locale::Es),
            ("57", Locale::Es),
            ("51", Locale::Es),
            ("58", Locale::Es),
            ("593", Locale::Es),
            ("1", Locale::En),
            ("44", Locale::En),
            ("61", Locale::En),
            ("64", Locale::En),
            ("353", Locale::En),
        ];
        BY_PREFIX
            .iter()
            .filter(|(p, _)| digits.starts_with(p))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, l)| *l)
    }

    /// What the business says in the WhatsApp thread in this locale.
    pub fn whatsapp(self) -> &'static WhatsAppStrings {
        match self {
            Locale::En => &WA_EN,
            Locale::Id => &WA_ID,
            Locale::PtBr => &WA_PT_BR,
            Locale::Tr => &WA_TR,
            Locale::Da => &WA_DA,
            Locale::Es => &WA_ES,
            Locale::De => &WA_DE,
        }
    }

    /// The preference centre's strings (kept apart from [`Strings`] so the widget never links them).
    pub fn pref_strings(self) -> &'static PrefStrings {
        match self {
            Locale::En => &PREF_EN,
            Locale::Id => &PREF_ID,
            Locale::PtBr => &PREF_PT_BR,
            Locale::Tr => &PREF_TR,
            Locale::Da => &PREF_DA,
            Locale::Es => &PREF_ES,
            Locale::De => &PREF_DE,
        }
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

/// Reads one string of a locale's [`Strings`].
pub type Field = fn(&Strings) -> &'static str;

/// The strings the widget shows, by the key the config response serves them
/// under and a merchant overrides them with (`strings` in the site config).
/// The widget bundles none of them: it reads each by key from the config.
///
/// To add a widget string: add a field to [`Strings`], fill it in every locale
/// below, and list it here; the widget then reads it as `text.get("<key>")`.
/// Category labels are served under the category's wire name (`delivery`, …).
pub const WIDGET_KEYS: &[(&str, Field)] = &[
    ("notice", |s| s.notice),
    ("title", |s| s.title),
    ("categories_legend", |s| s.categories_legend),
    ("phone_label", |s| s.phone_label),
    ("submit", |s| s.submit),
    ("close", |s| s.close),
    ("privacy", |s| s.privacy),
    ("sending", |s| s.sending),
    ("success", |s| s.success),
    ("invalid_phone", |s| s.invalid_phone),
    ("no_category", |s| s.no_category),
    ("network_error", |s| s.network_error),
    ("error_rate_limited", |s| s.error_rate_limited),
    ("error_not_allowed", |s| s.error_not_allowed),
    ("error_refused", |s| s.error_refused),
    ("error_server", |s| s.error_server),
    ("chat_open", |s| s.chat_open),
    ("chat_greeting", |s| s.chat_greeting),
    ("chat_optin", |s| s.chat_optin),
    ("chat_continue", |s| s.chat_continue),
    ("chat_later", |s| s.chat_later),
    ("chat_prefilled", |s| s.chat_prefilled),
];

impl Strings {
    /// The widget string under `key` ([`WIDGET_KEYS`] or a category's wire name).
    pub fn get(&self, key: &str) -> Option<&'static str> {
        if let Some(i) = crate::Category::parse(key).and_then(|c| c.built_in()) {
            return Some(self.categories[i]);
        }
        WIDGET_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, field)| field(self))
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
    error_rate_limited: "Too many tries. Wait a few minutes and try again.",
    error_not_allowed: "Sign-up is not allowed on this site.",
    error_refused: "Your sign-up could not be recorded.",
    error_server: "Something went wrong. Please try again later.",
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
    error_rate_limited: "Terlalu banyak percobaan. Tunggu beberapa menit lalu coba lagi.",
    error_not_allowed: "Pendaftaran tidak diizinkan di situs ini.",
    error_refused: "Pendaftaran kamu tidak dapat dicatat.",
    error_server: "Terjadi kesalahan. Silakan coba lagi nanti.",
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
    error_rate_limited: "Muitas tentativas. Aguarde alguns minutos e tente novamente.",
    error_not_allowed: "A inscrição não é permitida neste site.",
    error_refused: "Não foi possível registrar sua inscrição.",
    error_server: "Algo deu errado. Tente novamente mais tarde.",
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
    error_rate_limited: "Çok fazla deneme. Birkaç dakika bekleyip tekrar deneyin.",
    error_not_allowed: "Bu sitede kayıt olmaya izin verilmiyor.",
    error_refused: "Kaydınız alınamadı.",
    error_server: "Bir sorun oluştu. Lütfen daha sonra tekrar deneyin.",
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
    error_rate_limited: "For mange forsøg. Vent et par minutter, og prøv igen.",
    error_not_allowed: "Tilmelding er ikke tilladt på dette website.",
    error_refused: "Din tilmelding kunne ikke registreres.",
    error_server: "Noget gik galt. Prøv igen senere.",
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
    error_rate_limited: "Demasiados intentos. Espera unos minutos e inténtalo de nuevo.",
    error_not_allowed: "No se permite suscribirse en este sitio.",
    error_refused: "No se pudo registrar tu suscripción.",
    error_server: "Algo salió mal. Inténtalo de nuevo más tarde.",
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
    error_rate_limited: "Zu viele Versuche. Bitte in einigen Minuten erneut versuchen.",
    error_not_allowed: "Die Anmeldung ist auf dieser Website nicht erlaubt.",
    error_refused: "Ihre Anmeldung konnte nicht gespeichert werden.",
    error_server: "Etwas ist schiefgelaufen. Bitte später erneut versuchen.",
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

static WA_EN: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "You are subscribed to WhatsApp messages from {{1}}: the updates you chose. Reply STOP or tap Stop to unsubscribe at any time.",
    template_double_opt_in: "Please confirm that you want to receive WhatsApp messages from {{1}}: tap Confirm or reply YES. If you did not ask for this, ignore this message or tap Stop.",
    button_confirm: "Confirm",
    button_stop: "Stop",
    reply_confirmed: "Thank you, confirmed! {business} will send you the WhatsApp updates you chose. Reply STOP to unsubscribe.",
    reply_not_pending: "There is nothing to confirm: this request has expired or is not yours. To subscribe to {business}, sign up again on their website.",
    reply_subscribed: "Welcome! You are subscribed to WhatsApp messages from {business}. Reply STOP to unsubscribe.",
};

static WA_ID: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "Kamu berlangganan pesan WhatsApp dari {{1}}: info yang kamu pilih. Balas BERHENTI atau ketuk Berhenti untuk berhenti kapan saja.",
    template_double_opt_in: "Mohon konfirmasi bahwa kamu ingin menerima pesan WhatsApp dari {{1}}: ketuk Konfirmasi atau balas YA. Jika kamu tidak memintanya, abaikan pesan ini atau ketuk Berhenti.",
    button_confirm: "Konfirmasi",
    button_stop: "Berhenti",
    reply_confirmed: "Terima kasih, sudah dikonfirmasi! {business} akan mengirim info WhatsApp yang kamu pilih. Balas BERHENTI untuk berhenti berlangganan.",
    reply_not_pending: "Tidak ada yang perlu dikonfirmasi: permintaan ini sudah kedaluwarsa atau bukan milikmu. Untuk berlangganan {business}, daftar lagi di situs mereka.",
    reply_subscribed: "Selamat datang! Kamu berlangganan pesan WhatsApp dari {business}. Balas BERHENTI untuk berhenti berlangganan.",
};

static WA_PT_BR: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "Você está inscrito para receber mensagens de {{1}} no WhatsApp: as atualizações que escolheu. Responda PARAR ou toque em Parar para cancelar a qualquer momento.",
    template_double_opt_in: "Confirme que deseja receber mensagens de {{1}} no WhatsApp: toque em Confirmar ou responda SIM. Se você não pediu isso, ignore esta mensagem ou toque em Parar.",
    button_confirm: "Confirmar",
    button_stop: "Parar",
    reply_confirmed: "Obrigado, confirmado! {business} enviará as mensagens do WhatsApp que você escolheu. Responda PARAR para cancelar.",
    reply_not_pending: "Não há nada para confirmar: este pedido expirou ou não é seu. Para se inscrever em {business}, cadastre-se novamente no site.",
    reply_subscribed: "Boas-vindas! Você está inscrito para receber mensagens de {business} no WhatsApp. Responda PARAR para cancelar.",
};

static WA_TR: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "Artık {{1}} tarafından gönderilen WhatsApp mesajlarına abonesiniz: seçtiğiniz bildirimler. İstediğiniz zaman ayrılmak için DUR yazın veya Dur düğmesine dokunun.",
    template_double_opt_in: "Lütfen {{1}} tarafından WhatsApp mesajları almak istediğinizi onaylayın: Onayla düğmesine dokunun veya EVET yazın. Bunu siz istemediyseniz bu mesajı yok sayın veya Dur düğmesine dokunun.",
    button_confirm: "Onayla",
    button_stop: "Dur",
    reply_confirmed: "Teşekkürler, onaylandı! {business} size seçtiğiniz WhatsApp bildirimlerini gönderecek. Ayrılmak için DUR yazın.",
    reply_not_pending: "Onaylanacak bir şey yok: bu isteğin süresi dolmuş ya da size ait değil. {business} abonesi olmak için web sitesinden yeniden kaydolun.",
    reply_subscribed: "Hoş geldiniz! {business} tarafından gönderilen WhatsApp mesajlarına abone oldunuz. Ayrılmak için DUR yazın.",
};

static WA_DA: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "Du er tilmeldt WhatsApp-beskeder fra {{1}}: de opdateringer, du har valgt. Svar AFMELD eller tryk på Afmeld for at framelde dig når som helst.",
    template_double_opt_in: "Bekræft venligst, at du vil modtage WhatsApp-beskeder fra {{1}}: tryk på Bekræft eller svar JA. Hvis du ikke har bedt om det, kan du ignorere denne besked eller trykke på Afmeld.",
    button_confirm: "Bekræft",
    button_stop: "Afmeld",
    reply_confirmed: "Tak, bekræftet! {business} sender dig de WhatsApp-beskeder, du har valgt. Svar AFMELD for at framelde dig.",
    reply_not_pending: "Der er intet at bekræfte: anmodningen er udløbet eller ikke din. Tilmeld dig igen på hjemmesiden for at få beskeder fra {business}.",
    reply_subscribed: "Velkommen! Du er tilmeldt WhatsApp-beskeder fra {business}. Svar AFMELD for at framelde dig.",
};

static WA_ES: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "Estás suscrito a los mensajes de WhatsApp de {{1}}: los avisos que elegiste. Responde BAJA o toca Baja para darte de baja cuando quieras.",
    template_double_opt_in: "Confirma que quieres recibir mensajes de WhatsApp de {{1}}: toca Confirmar o responde SÍ. Si no lo pediste, ignora este mensaje o toca Baja.",
    button_confirm: "Confirmar",
    button_stop: "Baja",
    reply_confirmed: "¡Gracias, confirmado! {business} te enviará los avisos de WhatsApp que elegiste. Responde BAJA para darte de baja.",
    reply_not_pending: "No hay nada que confirmar: esta solicitud caducó o no es tuya. Para suscribirte a {business}, regístrate de nuevo en su sitio web.",
    reply_subscribed: "¡Bienvenido! Estás suscrito a los mensajes de WhatsApp de {business}. Responde BAJA para darte de baja.",
};

static WA_DE: WhatsAppStrings = WhatsAppStrings {
    template_confirmation: "Sie haben WhatsApp-Nachrichten von {{1}} abonniert: die Updates, die Sie gewählt haben. Antworten Sie STOPP oder tippen Sie auf Stopp, um sich jederzeit abzumelden.",
    template_double_opt_in: "Bitte bestätigen Sie, dass Sie WhatsApp-Nachrichten von {{1}} erhalten möchten: Tippen Sie auf Bestätigen oder antworten Sie JA. Wenn Sie das nicht angefordert haben, ignorieren Sie diese Nachricht oder tippen Sie auf Stopp.",
    button_confirm: "Bestätigen",
    button_stop: "Stopp",
    reply_confirmed: "Danke, bestätigt! {business} sendet Ihnen die WhatsApp-Nachrichten, die Sie gewählt haben. Antworten Sie STOPP, um sich abzumelden.",
    reply_not_pending: "Es gibt nichts zu bestätigen: Diese Anfrage ist abgelaufen oder nicht Ihre. Um Nachrichten von {business} zu erhalten, melden Sie sich erneut auf der Website an.",
    reply_subscribed: "Willkommen! Sie haben WhatsApp-Nachrichten von {business} abonniert. Antworten Sie STOPP, um sich abzumelden.",
};

static PREF_EN: PrefStrings = PrefStrings {
    heading: "Your WhatsApp messages from {business}",
    intro: "Choose what {business} sends you on WhatsApp, how often, or pause it for a while.",
    frequency_legend: "How often",
    freq_as_sent: "As they happen",
    freq_weekly: "Weekly digest",
    freq_critical: "Only critical messages",
    pause_label: "Pause all messages until",
    pause_hint: "Leave empty to keep receiving messages.",
    channel_legend: "Where you get each kind of message",
    channel_hint: "Choose email or SMS to stop getting that kind on WhatsApp; {business} uses the contact details it already has for you.",
    channel_whatsapp: "WhatsApp",
    channel_email: "Email",
    channel_sms: "SMS",
    save: "Save my choices",
    saved: "Your choices are saved.",
    paused: "Messages are paused until {date}.",
    opt_out_heading: "Stop everything",
    opt_out_text: "You will get no more WhatsApp messages from {business}.",
    opt_out_button: "Opt out of everything",
    opted_out: "You are unsubscribed: {business} will send you no more WhatsApp messages.",
    bad_date: "Choose a date after today and within one year.",
    bad_form: "Something in the form was not valid. Please try again.",
    invalid_link: "This link is not valid. Open the most recent link you received on WhatsApp.",
    expired_link: "This link has expired. Open the most recent link you received on WhatsApp.",
    no_subscriber: "There are no WhatsApp messages to manage for this link.",
};

static PREF_ID: PrefStrings = PrefStrings {
    heading: "Pesan WhatsApp kamu dari {business}",
    intro:
        "Pilih pesan yang dikirim {business} lewat WhatsApp, seberapa sering, atau jeda sementara.",
    frequency_legend: "Seberapa sering",
    freq_as_sent: "Setiap ada pesan",
    freq_weekly: "Ringkasan mingguan",
    freq_critical: "Hanya pesan penting",
    pause_label: "Jeda semua pesan sampai",
    pause_hint: "Kosongkan untuk tetap menerima pesan.",
    channel_legend: "Pilihan kanal untuk tiap jenis pesan",
    channel_hint: "Pilih email atau SMS agar jenis pesan itu tidak lagi dikirim lewat WhatsApp; {business} memakai kontak kamu yang sudah tercatat.",
    channel_whatsapp: "WhatsApp",
    channel_email: "Email",
    channel_sms: "SMS",
    save: "Simpan pilihan saya",
    saved: "Pilihan kamu sudah disimpan.",
    paused: "Pesan dijeda sampai {date}.",
    opt_out_heading: "Berhenti semuanya",
    opt_out_text: "Kamu tidak akan menerima pesan WhatsApp lagi dari {business}.",
    opt_out_button: "Berhenti dari semua pesan",
    opted_out:
        "Kamu sudah berhenti berlangganan: {business} tidak akan mengirim pesan WhatsApp lagi.",
    bad_date: "Pilih tanggal setelah hari ini dan dalam satu tahun.",
    bad_form: "Ada isian yang tidak valid. Silakan coba lagi.",
    invalid_link: "Tautan ini tidak valid. Buka tautan terbaru yang kamu terima di WhatsApp.",
    expired_link: "Tautan ini sudah kedaluwarsa. Buka tautan terbaru yang kamu terima di WhatsApp.",
    no_subscriber: "Tidak ada pesan WhatsApp yang bisa diatur dengan tautan ini.",
};

static PREF_PT_BR: PrefStrings = PrefStrings {
    heading: "Suas mensagens de {business} no WhatsApp",
    intro: "Escolha o que {business} envia para você no WhatsApp, com que frequência, ou pause por um tempo.",
    frequency_legend: "Com que frequência",
    freq_as_sent: "Assim que acontecem",
    freq_weekly: "Resumo semanal",
    freq_critical: "Somente mensagens críticas",
    pause_label: "Pausar todas as mensagens até",
    pause_hint: "Deixe em branco para continuar recebendo mensagens.",
    channel_legend: "Canal de cada tipo de mensagem",
    channel_hint: "Escolha e-mail ou SMS para deixar de receber esse tipo no WhatsApp; {business} usa os contatos que já tem de você.",
    channel_whatsapp: "WhatsApp",
    channel_email: "E-mail",
    channel_sms: "SMS",
    save: "Salvar minhas escolhas",
    saved: "Suas escolhas foram salvas.",
    paused: "Mensagens pausadas até {date}.",
    opt_out_heading: "Parar tudo",
    opt_out_text: "Você não receberá mais mensagens de {business} no WhatsApp.",
    opt_out_button: "Cancelar todas as mensagens",
    opted_out: "Inscrição cancelada: {business} não enviará mais mensagens no WhatsApp.",
    bad_date: "Escolha uma data depois de hoje e dentro de um ano.",
    bad_form: "Algo no formulário não era válido. Tente novamente.",
    invalid_link: "Este link não é válido. Abra o link mais recente que você recebeu no WhatsApp.",
    expired_link: "Este link expirou. Abra o link mais recente que você recebeu no WhatsApp.",
    no_subscriber: "Não há mensagens do WhatsApp para gerenciar com este link.",
};

static PREF_TR: PrefStrings = PrefStrings {
    heading: "{business} WhatsApp mesajlarınız",
    intro: "{business} tarafından WhatsApp'tan ne gönderileceğini, ne sıklıkla gönderileceğini seçin veya bir süre duraklatın.",
    frequency_legend: "Ne sıklıkla",
    freq_as_sent: "Gerçekleştikçe",
    freq_weekly: "Haftalık özet",
    freq_critical: "Yalnızca kritik mesajlar",
    pause_label: "Tüm mesajları şu tarihe kadar duraklat",
    pause_hint: "Mesaj almaya devam etmek için boş bırakın.",
    channel_legend: "Her mesaj türü için kanal seçimi",
    channel_hint: "Bu türü artık WhatsApp'tan almamak için e-posta veya SMS seçin; {business} elindeki iletişim bilgilerinizi kullanır.",
    channel_whatsapp: "WhatsApp",
    channel_email: "E-posta",
    channel_sms: "SMS",
    save: "Seçimlerimi kaydet",
    saved: "Seçimleriniz kaydedildi.",
    paused: "Mesajlar {date} tarihine kadar duraklatıldı.",
    opt_out_heading: "Her şeyi durdur",
    opt_out_text: "{business} size artık WhatsApp mesajı göndermeyecek.",
    opt_out_button: "Tüm mesajlardan ayrıl",
    opted_out: "Aboneliğiniz iptal edildi: {business} size artık WhatsApp mesajı göndermeyecek.",
    bad_date: "Bugünden sonra ve bir yıl içinde bir tarih seçin.",
    bad_form: "Formdaki bir bilgi geçerli değildi. Lütfen tekrar deneyin.",
    invalid_link: "Bu bağlantı geçerli değil. WhatsApp'ta aldığınız en son bağlantıyı açın.",
    expired_link: "Bu bağlantının süresi doldu. WhatsApp'ta aldığınız en son bağlantıyı açın.",
    no_subscriber: "Bu bağlantıyla yönetilecek WhatsApp mesajı yok.",
};

static PREF_DA: PrefStrings = PrefStrings {
    heading: "Dine WhatsApp-beskeder fra {business}",
    intro: "Vælg, hvad {business} sender dig på WhatsApp, hvor ofte, eller sæt det på pause.",
    frequency_legend: "Hvor ofte",
    freq_as_sent: "Når de sker",
    freq_weekly: "Ugentligt sammendrag",
    freq_critical: "Kun vigtige beskeder",
    pause_label: "Sæt alle beskeder på pause indtil",
    pause_hint: "Lad feltet stå tomt for at blive ved med at modtage beskeder.",
    channel_legend: "Kanal for hver type besked",
    channel_hint: "Vælg e-mail eller sms for ikke længere at få den type på WhatsApp; {business} bruger de kontaktoplysninger, de allerede har om dig.",
    channel_whatsapp: "WhatsApp",
    channel_email: "E-mail",
    channel_sms: "Sms",
    save: "Gem mine valg",
    saved: "Dine valg er gemt.",
    paused: "Beskeder er sat på pause indtil {date}.",
    opt_out_heading: "Stop alt",
    opt_out_text: "Du får ikke flere WhatsApp-beskeder fra {business}.",
    opt_out_button: "Frameld alle beskeder",
    opted_out: "Du er afmeldt: {business} sender dig ikke flere beskeder på WhatsApp.",
    bad_date: "Vælg en dato efter i dag og inden for et år.",
    bad_form: "Noget i formularen var ikke gyldigt. Prøv igen.",
    invalid_link: "Dette link er ikke gyldigt. Åbn det seneste link, du har fået på WhatsApp.",
    expired_link: "Dette link er udløbet. Åbn det seneste link, du har fået på WhatsApp.",
    no_subscriber: "Der er ingen WhatsApp-beskeder at administrere med dette link.",
};

static PREF_ES: PrefStrings = PrefStrings {
    heading: "Tus mensajes de WhatsApp de {business}",
    intro: "Elige qué te envía {business} por WhatsApp, con qué frecuencia, o pausa los mensajes un tiempo.",
    frequency_legend: "Con qué frecuencia",
    freq_as_sent: "En cuanto ocurren",
    freq_weekly: "Resumen semanal",
    freq_critical: "Solo mensajes importantes",
    pause_label: "Pausar todos los mensajes hasta",
    pause_hint: "Déjalo vacío para seguir recibiendo mensajes.",
    channel_legend: "Canal para cada tipo de mensaje",
    channel_hint: "Elige correo electrónico o SMS para dejar de recibir ese tipo por WhatsApp; {business} usa los datos de contacto que ya tiene de ti.",
    channel_whatsapp: "WhatsApp",
    channel_email: "Correo electrónico",
    channel_sms: "SMS",
    save: "Guardar mis preferencias",
    saved: "Tus preferencias se han guardado.",
    paused: "Mensajes en pausa hasta el {date}.",
    opt_out_heading: "Detener todo",
    opt_out_text: "No recibirás más mensajes de {business} por WhatsApp.",
    opt_out_button: "Darme de baja de todo",
    opted_out: "Te has dado de baja: {business} no te enviará más mensajes por WhatsApp.",
    bad_date: "Elige una fecha posterior a hoy y dentro de un año.",
    bad_form: "Algo del formulario no era válido. Inténtalo de nuevo.",
    invalid_link: "Este enlace no es válido. Abre el enlace más reciente que recibiste por WhatsApp.",
    expired_link: "Este enlace ha caducado. Abre el enlace más reciente que recibiste por WhatsApp.",
    no_subscriber: "No hay mensajes de WhatsApp que gestionar con este enlace.",
};

static PREF_DE: PrefStrings = PrefStrings {
    heading: "Ihre WhatsApp-Nachrichten von {business}",
    intro: "Wählen Sie, was {business} Ihnen per WhatsApp sendet, wie oft, oder pausieren Sie eine Weile.",
    frequency_legend: "Wie oft",
    freq_as_sent: "Sofort",
    freq_weekly: "Wöchentliche Zusammenfassung",
    freq_critical: "Nur wichtige Nachrichten",
    pause_label: "Alle Nachrichten pausieren bis",
    pause_hint: "Leer lassen, um weiter Nachrichten zu erhalten.",
    channel_legend: "Kanal für jede Art von Nachricht",
    channel_hint: "Wählen Sie E-Mail oder SMS, um diese Art nicht mehr per WhatsApp zu erhalten; {business} nutzt die Kontaktdaten, die es bereits von Ihnen hat.",
    channel_whatsapp: "WhatsApp",
    channel_email: "E-Mail",
    channel_sms: "SMS",
    save: "Auswahl speichern",
    saved: "Ihre Auswahl ist gespeichert.",
    paused: "Nachrichten sind bis {date} pausiert.",
    opt_out_heading: "Alles beenden",
    opt_out_text: "Sie erhalten keine WhatsApp-Nachrichten mehr von {business}.",
    opt_out_button: "Von allem abmelden",
    opted_out: "Sie sind abgemeldet: {business} sendet Ihnen keine WhatsApp-Nachrichten mehr.",
    bad_date: "Wählen Sie ein Datum nach heute und innerhalb eines Jahres.",
    bad_form: "Etwas im Formular war ungültig. Bitte versuchen Sie es erneut.",
    invalid_link: "Dieser Link ist ungültig. Öffnen Sie den neuesten Link, den Sie per WhatsApp erhalten haben.",
    expired_link: "Dieser Link ist abgelaufen. Öffnen Sie den neuesten Link, den Sie per WhatsApp erhalten haben.",
    no_subscriber: "Für diesen Link gibt es keine WhatsApp-Nachrichten zu verwalten.",
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
    fn the_widget_loader_asks_for_exactly_these_locales() {
        // The loader picks the visitor's locale before any wasm has loaded, from
        // its own list of primary subtags: it must not drift from ours.
        let loader = include_str!("../../optin-widget/js/loader.js");
        let list = loader
            .split("/^(")
            .nth(1)
            .and_then(|rest| rest.split(")$/").next())
            .expect("loader.js picks the locale with /^(en|id|…)$/");
        let theirs: Vec<&str> = list.split('|').collect();
        let ours: Vec<&str> = Locale::ALL.iter().map(|l| &l.tag()[..2]).collect();
        assert_eq!(theirs, ours);
        assert!(
            loader.contains(r#"primary === "pt" ? "pt-BR""#),
            "pt is sent as pt-BR"
        );
    }

    #[test]
    fn templates_are_what_whatsapp_manager_accepts_and_the_readme_lists() {
        let readme = include_str!("../../../docs/operations.md");
        for l in Locale::ALL {
            let w = l.whatsapp();
            for body in [w.template_confirmation, w.template_double_opt_in] {
                // Meta refuses a body that starts or ends with a variable.
                assert!(
                    !body.starts_with("{{") && !body.ends_with("}}"),
                    "{l:?}: {body}"
                );
                assert_eq!(
                    body.matches("{{").count(),
                    1,
                    "{l:?}: one variable, the business name"
                );
                assert!(
                    readme.contains(body),
                    "docs/operations.md lacks the {l:?} template text: {body}"
                );
            }
            for label in [w.button_confirm, w.button_stop] {
                assert!(
                    label.chars().count() <= 25,
                    "quick-reply labels are at most 25 characters"
                );
            }
            let row = format!(
                "| `{}` | {} | {} |",
                l.whatsapp_code(),
                w.button_stop,
                w.button_confirm
            );
            assert!(
                readme.contains(&row),
                "docs/operations.md lacks the button row {row}"
            );
        }
    }

    #[test]
    fn every_widget_key_resolves_in_every_locale() {
        for l in Locale::ALL {
            let s = l.strings();
            for (key, _) in WIDGET_KEYS {
                assert!(!s.get(key).unwrap().is_empty(), "{l:?} {key}");
            }
            assert_eq!(s.get("delivery"), Some(s.categories[1]));
            assert_eq!(
                s.get("reply_help"),
                None,
                "WhatsApp replies are not widget strings"
            );
        }
    }

    #[test]
    fn every_error_says_something_of_its_own_in_every_locale() {
        let keys = [
            "network_error",
            "error_rate_limited",
            "error_not_allowed",
            "error_refused",
            "error_server",
            "invalid_phone",
        ];
        for l in Locale::ALL {
            let s = l.strings();
            let texts: Vec<_> = keys.iter().map(|k| s.get(k).unwrap()).collect();
            for (i, t) in texts.iter().enumerate() {
                assert!(t.len() <= 200, "{l:?} {}", keys[i]);
                assert!(!texts[..i].contains(t), "{l:?} {} repeats another", keys[i]);
                if l != Locale::En {
                    assert_ne!(
                        *t,
                        EN.get(keys[i]).unwrap(),
                        "{l:?} {} is translated",
                        keys[i]
                    );
                }
            }
        }
    }

    #[test]
    fn every_preference_page_names_the_business_and_differs_from_english() {
        for l in Locale::ALL {
            let p = l.pref_strings();
            assert!(p.heading.contains("{business}"), "{l:?}");
            assert!(p.opted_out.contains("{business}"), "{l:?}");
            assert!(p.paused.contains("{date}"), "{l:?}");
            assert!(p.channel_hint.contains("{business}"), "{l:?}");
            if l != Locale::En {
                assert_ne!(p.save, PREF_EN.save, "{l:?} is translated");
                assert_ne!(
                    p.channel_legend, PREF_EN.channel_legend,
                    "{l:?} is translated"
                );
            }
        }
    }

    #[test]
    fn a_number_suggests_its_language() {
        assert_eq!(Locale::for_phone("+6281234567890"), Some(Locale::Id));
        assert_eq!(Locale::for_phone("+5511987654321"), Some(Locale::PtBr));
        assert_eq!(Locale::for_phone("+4520123456"), Some(Locale::Da));
        assert_eq!(Locale::for_phone("+905321234567"), Some(Locale::Tr));
        assert_eq!(Locale::for_phone("+593991234567"), Some(Locale::Es));
        assert_eq!(Locale::for_phone("+4915112345678"), Some(Locale::De));
        assert_eq!(Locale::for_phone("+33612345678"), None);
    }

    #[test]
    fn whatsapp_codes_use_underscores() {
        assert_eq!(Locale::PtBr.whatsapp_code(), "pt_BR");
        assert_eq!(Locale::Tr.whatsapp_code(), "tr");
    }
}
