// The service desk: a staff member shows the site's notice, ticks what the
// customer chooses, types their number; the customer confirms on their phone
// and the page shows it arrive. Signs in with a `capture` key (never the admin
// token), kept in sessionStorage. Data goes in as textContent, never HTML.

const T = {
  en: { title: "WhatsApp opt-in desk", language: "Language", signout: "Sign out", signin: "Sign in",
    signinHelp: "Enter the site and a capture key from the dashboard (API keys, scope capture). It is kept only in this tab.",
    site: "Site", key: "Capture key", open: "Open desk", newOptin: "New opt-in", staff: "Your name or desk",
    location: "Location", surface: "How it is given", inPerson: "In person", paper: "Signed paper form",
    formRef: "Form reference", showNotice: "Show the customer this notice", choose: "What the customer chooses",
    phone: "Customer's WhatsApp number", record: "Record opt-in", progress: "Confirmation", next: "Next customer",
    doiRequired: "The customer receives a WhatsApp message and must confirm it on their phone.",
    doiOff: "This opt-in counts at once; no confirmation is asked.",
    pending: "Waiting for the customer to confirm on their phone…", confirmed: "Confirmed on the customer's phone.",
    granted: "Recorded. The opt-in counts.", expired: "Not confirmed in time. Nothing was granted.",
    withdrawn: "The customer declined on their phone.", pickOne: "Tick at least one choice.",
    staffNeeded: "Enter your name or desk.", keyRefused: "This key cannot capture opt-ins for this site." },
  id: { title: "Meja opt-in WhatsApp", language: "Bahasa", signout: "Keluar", signin: "Masuk",
    signinHelp: "Masukkan situs dan kunci capture dari dasbor (kunci API, cakupan capture). Kunci hanya disimpan di tab ini.",
    site: "Situs", key: "Kunci capture", open: "Buka meja", newOptin: "Opt-in baru", staff: "Nama Anda atau meja",
    location: "Lokasi", surface: "Cara diberikan", inPerson: "Langsung", paper: "Formulir kertas bertanda tangan",
    formRef: "Nomor formulir", showNotice: "Tunjukkan pemberitahuan ini kepada pelanggan", choose: "Pilihan pelanggan",
    phone: "Nomor WhatsApp pelanggan", record: "Catat opt-in", progress: "Konfirmasi", next: "Pelanggan berikutnya",
    doiRequired: "Pelanggan menerima pesan WhatsApp dan harus mengonfirmasinya di ponselnya.",
    doiOff: "Opt-in ini langsung berlaku; tidak ada konfirmasi yang diminta.",
    pending: "Menunggu pelanggan mengonfirmasi di ponselnya…", confirmed: "Dikonfirmasi di ponsel pelanggan.",
    granted: "Tercatat. Opt-in berlaku.", expired: "Tidak dikonfirmasi tepat waktu. Tidak ada yang diberikan.",
    withdrawn: "Pelanggan menolak di ponselnya.", pickOne: "Centang setidaknya satu pilihan.",
    staffNeeded: "Masukkan nama Anda atau meja.", keyRefused: "Kunci ini tidak dapat mencatat opt-in untuk situs ini." },
  "pt-BR": { title: "Balcão de opt-in do WhatsApp", language: "Idioma", signout: "Sair", signin: "Entrar",
    signinHelp: "Informe o site e uma chave capture do painel (chaves de API, escopo capture). Ela fica só nesta aba.",
    site: "Site", key: "Chave capture", open: "Abrir balcão", newOptin: "Novo opt-in", staff: "Seu nome ou balcão",
    location: "Local", surface: "Como é dado", inPerson: "Pessoalmente", paper: "Formulário em papel assinado",
    formRef: "Referência do formulário", showNotice: "Mostre este aviso ao cliente", choose: "O que o cliente escolhe",
    phone: "WhatsApp do cliente", record: "Registrar opt-in", progress: "Confirmação", next: "Próximo cliente",
    doiRequired: "O cliente recebe uma mensagem no WhatsApp e precisa confirmá-la no celular.",
    doiOff: "Este opt-in vale na hora; nenhuma confirmação é pedida.",
    pending: "Aguardando o cliente confirmar no celular…", confirmed: "Confirmado no celular do cliente.",
    granted: "Registrado. O opt-in vale.", expired: "Não confirmado a tempo. Nada foi concedido.",
    withdrawn: "O cliente recusou no celular.", pickOne: "Marque pelo menos uma opção.",
    staffNeeded: "Informe seu nome ou balcão.", keyRefused: "Esta chave não pode registrar opt-ins para este site." },
  tr: { title: "WhatsApp izin masası", language: "Dil", signout: "Çıkış", signin: "Giriş",
    signinHelp: "Siteyi ve panodan bir capture anahtarını girin (API anahtarları, capture kapsamı). Yalnızca bu sekmede tutulur.",
    site: "Site", key: "Capture anahtarı", open: "Masayı aç", newOptin: "Yeni izin", staff: "Adınız veya masa",
    location: "Konum", surface: "Nasıl verildi", inPerson: "Yüz yüze", paper: "İmzalı kâğıt form",
    formRef: "Form numarası", showNotice: "Müşteriye bu bildirimi gösterin", choose: "Müşterinin seçtikleri",
    phone: "Müşterinin WhatsApp numarası", record: "İzni kaydet", progress: "Onay", next: "Sonraki müşteri",
    doiRequired: "Müşteri bir WhatsApp mesajı alır ve telefonunda onaylaması gerekir.",
    doiOff: "Bu izin hemen geçerlidir; onay istenmez.",
    pending: "Müşterinin telefonunda onaylaması bekleniyor…", confirmed: "Müşterinin telefonunda onaylandı.",
    granted: "Kaydedildi. İzin geçerli.", expired: "Zamanında onaylanmadı. Hiçbir izin verilmedi.",
    withdrawn: "Müşteri telefonunda reddetti.", pickOne: "En az bir seçeneği işaretleyin.",
    staffNeeded: "Adınızı veya masayı girin.", keyRefused: "Bu anahtar bu site için izin kaydedemez." },
  da: { title: "WhatsApp-tilmeldingsskranke", language: "Sprog", signout: "Log ud", signin: "Log ind",
    signinHelp: "Angiv sitet og en capture-nøgle fra dashboardet (API-nøgler, scope capture). Den gemmes kun i denne fane.",
    site: "Site", key: "Capture-nøgle", open: "Åbn skranken", newOptin: "Ny tilmelding", staff: "Dit navn eller skranke",
    location: "Sted", surface: "Hvordan den gives", inPerson: "Personligt", paper: "Underskrevet papirformular",
    formRef: "Formularreference", showNotice: "Vis kunden denne tekst", choose: "Hvad kunden vælger",
    phone: "Kundens WhatsApp-nummer", record: "Registrér tilmelding", progress: "Bekræftelse", next: "Næste kunde",
    doiRequired: "Kunden får en WhatsApp-besked og skal bekræfte den på sin telefon.",
    doiOff: "Denne tilmelding gælder med det samme; der bedes ikke om bekræftelse.",
    pending: "Venter på at kunden bekræfter på sin telefon…", confirmed: "Bekræftet på kundens telefon.",
    granted: "Registreret. Tilmeldingen gælder.", expired: "Ikke bekræftet i tide. Intet blev givet.",
    withdrawn: "Kunden afviste på sin telefon.", pickOne: "Sæt mindst ét flueben.",
    staffNeeded: "Angiv dit navn eller skranke.", keyRefused: "Denne nøgle kan ikke registrere tilmeldinger for dette site." },
  es: { title: "Mostrador de opt-in de WhatsApp", language: "Idioma", signout: "Salir", signin: "Entrar",
    signinHelp: "Indica el sitio y una clave capture del panel (claves de API, ámbito capture). Solo se guarda en esta pestaña.",
    site: "Sitio", key: "Clave capture", open: "Abrir mostrador", newOptin: "Nuevo opt-in", staff: "Tu nombre o mostrador",
    location: "Ubicación", surface: "Cómo se da", inPerson: "En persona", paper: "Formulario en papel firmado",
    formRef: "Referencia del formulario", showNotice: "Muestra este aviso al cliente", choose: "Lo que elige el cliente",
    phone: "WhatsApp del cliente", record: "Registrar opt-in", progress: "Confirmación", next: "Siguiente cliente",
    doiRequired: "El cliente recibe un mensaje de WhatsApp y debe confirmarlo en su teléfono.",
    doiOff: "Este opt-in vale al instante; no se pide confirmación.",
    pending: "Esperando a que el cliente confirme en su teléfono…", confirmed: "Confirmado en el teléfono del cliente.",
    granted: "Registrado. El opt-in vale.", expired: "No se confirmó a tiempo. No se concedió nada.",
    withdrawn: "El cliente lo rechazó en su teléfono.", pickOne: "Marca al menos una opción.",
    staffNeeded: "Indica tu nombre o mostrador.", keyRefused: "Esta clave no puede registrar opt-ins para este sitio." },
  de: { title: "WhatsApp-Anmeldeschalter", language: "Sprache", signout: "Abmelden", signin: "Anmelden",
    signinHelp: "Gib die Site und einen capture-Schlüssel aus dem Dashboard ein (API-Schlüssel, Scope capture). Er bleibt nur in diesem Tab.",
    site: "Site", key: "Capture-Schlüssel", open: "Schalter öffnen", newOptin: "Neue Einwilligung", staff: "Dein Name oder Schalter",
    location: "Ort", surface: "Wie sie gegeben wird", inPerson: "Persönlich", paper: "Unterschriebenes Papierformular",
    formRef: "Formularnummer", showNotice: "Zeig der Kundin oder dem Kunden diesen Hinweis", choose: "Was gewählt wird",
    phone: "WhatsApp-Nummer der Kundschaft", record: "Einwilligung erfassen", progress: "Bestätigung", next: "Nächste Kundschaft",
    doiRequired: "Die Kundschaft erhält eine WhatsApp-Nachricht und muss sie auf dem Telefon bestätigen.",
    doiOff: "Diese Einwilligung gilt sofort; es wird keine Bestätigung verlangt.",
    pending: "Warte auf die Bestätigung auf dem Telefon…", confirmed: "Auf dem Telefon bestätigt.",
    granted: "Erfasst. Die Einwilligung gilt.", expired: "Nicht rechtzeitig bestätigt. Nichts wurde erteilt.",
    withdrawn: "Auf dem Telefon abgelehnt.", pickOne: "Wähle mindestens eine Option.",
    staffNeeded: "Gib deinen Namen oder Schalter ein.", keyRefused: "Dieser Schlüssel kann für diese Site keine Einwilligungen erfassen." },
};

const $ = (id) => document.getElementById(id);
const session = { site: "", key: "", info: null, polling: 0 };
let lang = pickLang();

function pickLang() {
  const asked = sessionStorage.getItem("desk.lang") ?? navigator.language ?? "en";
  if (T[asked]) return asked;
  const base = asked.split("-")[0];
  return Object.keys(T).find((l) => l.split("-")[0] === base) ?? "en";
}
const t = (k) => T[lang][k] ?? T.en[k];

function translate() {
  document.documentElement.lang = lang;
  $("lang").value = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  document.title = t("title");
}

/** The API with the capture key; a problem+json refusal becomes an Error with its detail. */
async function api(path, init = {}) {
  const res = await fetch(`/v1/sites/${encodeURIComponent(session.site)}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${session.key}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.detail ?? body.title ?? `HTTP ${res.status}`);
    err.status = res.status;
    err.field = body.field;
    throw err;
  }
  return body;
}

async function load() {
  const surface = $("surface").value;
  session.info = await api(`/capture?surface=${surface}&locale=${encodeURIComponent(lang)}`);
  render(session.info);
}

function render(info) {
  $("business").textContent = info.business_name;
  $("notice").textContent = info.notice_text;
  $("notice").lang = info.locale;
  $("form-ref-field").hidden = !info.form_ref_required;
  $("form-ref").required = info.form_ref_required;
  $("doi-note").textContent = info.double_opt_in === "required" ? t("doiRequired") : t("doiOff");
  const ticked = new Set([...document.querySelectorAll("#categories input:checked")].map((i) => i.value));
  const list = $("categories");
  list.replaceChildren();
  for (const c of info.categories) {
    const row = document.createElement("div");
    row.className = "choice";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = `cat-${c.id}`;
    box.value = c.id;
    box.checked = ticked.has(c.id);
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = c.label;
    row.append(box, label);
    list.append(row);
  }
}

async function signIn(e) {
  e.preventDefault();
  session.site = $("site").value.trim();
  session.key = $("key").value.trim();
  $("login-error").textContent = "";
  try {
    await load();
  } catch (err) {
    $("login-error").textContent = err.status === 401 || err.status === 403 ? `${t("keyRefused")} (${err.message})` : err.message;
    return;
  }
  sessionStorage.setItem("desk.session", JSON.stringify({ site: session.site, key: session.key }));
  showDesk();
}

function showDesk() {
  $("login").hidden = true;
  $("desk").hidden = false;
  $("signout").hidden = false;
  $("staff").value = sessionStorage.getItem("desk.staff") ?? "";
  $("location").value = sessionStorage.getItem("desk.location") ?? "";
  ($("staff").value ? $("phone") : $("staff")).focus();
}

async function record(e) {
  e.preventDefault();
  const error = $("capture-error");
  error.textContent = "";
  const categories = [...document.querySelectorAll("#categories input:checked")].map((i) => i.value);
  const collected_by = $("staff").value.trim();
  if (!collected_by) { error.textContent = t("staffNeeded"); $("staff").focus(); return; }
  if (!categories.length) { error.textContent = t("pickOne"); document.querySelector("#categories input")?.focus(); return; }
  sessionStorage.setItem("desk.staff", collected_by);
  sessionStorage.setItem("desk.location", $("location").value.trim());
  const info = session.info;
  const body = {
    phone: $("phone").value, categories, locale: info.locale, notice_version: info.notice_version,
    notice_text: info.notice_text, surface: info.surface, collected_by,
    location: $("location").value.trim() || undefined,
    form_ref: info.form_ref_required ? $("form-ref").value.trim() : undefined,
  };
  $("record").disabled = true;
  try {
    const recorded = await api("/consents", {
      method: "POST", body: JSON.stringify(body), headers: { "idempotency-key": crypto.randomUUID() },
    });
    wait(recorded);
  } catch (err) {
    error.textContent = err.message;
    const field = { phone: "phone", collected_by: "staff", location: "location", form_ref: "form-ref" }[err.field];
    if (field) $(field).focus();
  } finally {
    $("record").disabled = false;
  }
}

function show(status) {
  const p = $("progress");
  p.textContent = t(status);
  p.className = `progress ${status === "confirmed" || status === "granted" ? "good" : status === "pending" ? "" : "bad"}`;
  p.dataset.status = status;
}

function wait(recorded) {
  $("desk").hidden = true;
  $("waiting").hidden = false;
  show(recorded.pending_until ? "pending" : "granted");
  $("next").focus();
  if (!recorded.pending_until) return;
  const id = recorded.id;
  const poll = async () => {
    if (session.polling !== timer) return;
    try {
      const state = await api(`/consents/${encodeURIComponent(id)}`);
      show(state.status);
      if (state.status !== "pending") { session.polling = 0; return; }
    } catch { /* a missed poll is retried */ }
    setTimeout(poll, 1500);
  };
  const timer = setTimeout(poll, 1000);
  session.polling = timer;
}

function next() {
  session.polling = 0;
  $("waiting").hidden = true;
  $("desk").hidden = false;
  $("phone").value = "";
  $("form-ref").value = "";
  for (const box of document.querySelectorAll("#categories input")) box.checked = false;
  $("capture-error").textContent = "";
  $("phone").focus();
}

function signOut() {
  sessionStorage.removeItem("desk.session");
  location.reload();
}

$("lang").addEventListener("change", async () => {
  lang = $("lang").value;
  sessionStorage.setItem("desk.lang", lang);
  translate();
  if (session.info) await load().catch((err) => { $("capture-error").textContent = err.message; });
});
$("surface").addEventListener("change", () => load().catch((err) => { $("capture-error").textContent = err.message; }));
$("login-form").addEventListener("submit", signIn);
$("capture-form").addEventListener("submit", record);
$("next").addEventListener("click", next);
$("signout").addEventListener("click", signOut);

translate();
const saved = JSON.parse(sessionStorage.getItem("desk.session") ?? "null");
if (saved) {
  Object.assign(session, saved);
  load().then(showDesk, () => sessionStorage.removeItem("desk.session"));
}
