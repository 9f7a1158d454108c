// Types for the WhatsApp opt-in widget loaded by
//   <script src="https://<worker>/widget.js" data-site="<site>" async></script>
// Script tag attributes: data-site (required), data-api (Worker origin, default: the
// script's origin), data-auto-open="false" (never pop the modal up by itself; on a page
// with a checkout placeholder it does not anyway unless the site's targeting.include
// names the page),
// data-chat (show the chat widget when the site has one), data-fallback-href /
// data-fallback-text (a plain link shown if the wasm cannot run,
// e.g. a CSP without 'wasm-unsafe-eval').
// Copy this file into your project, or reference it with /// <reference path="widget.d.ts" />.

export {};

declare global {
  /** Where a consent was given (as recorded in the ledger's evidence). */
  type WhatsAppOptInSurface = "modal" | "checkout" | "chat";

  interface WhatsAppOptInMountOptions {
    /** The surface to mount; only "checkout" today. */
    surface?: "checkout";
    /** CSS selector of the merchant's own phone input; without it the opt-in shows its own. */
    phoneField?: string;
    /** Comma-separated category wire names to offer (default: every category of the site). */
    categories?: string;
  }

  interface WhatsAppOptInConsentOptions {
    /** The element a checkout opt-in was mounted into; default: every mounted one. */
    element?: Element;
  }

  interface WhatsAppOptInApi {
    /** Opens the modal (queued until the widget has loaded). */
    open(): void;
    /** Closes the modal and returns focus where it was. */
    close(): void;
    /** Mounts a checkout opt-in into `el` (a no-op if one is already there). */
    mount(el: Element, opts?: WhatsAppOptInMountOptions): Promise<void>;
    /**
     * Records the consent of a checkout opt-in now (for checkouts that never submit a form).
     * Resolves to the consent id, or null when no box is ticked; rejects with a message
     * (invalid phone, refused, network) that is also sent as `whatsapp-optin:error`.
     */
    consent(opts?: WhatsAppOptInConsentOptions): Promise<string | null>;
    /** Widget version, recorded with every consent. */
    readonly version: string;
  }

  interface WhatsAppOptInEventDetail {
    site: string;
    /** "loader" when the widget itself could not start (e.g. CSP blocked the wasm). */
    surface: WhatsAppOptInSurface | "loader";
    /** The locale the surface speaks (BCP 47, e.g. "pt-BR"); absent before the config has loaded. */
    locale?: string;
    /** The A/B variant of the surface's wording this visitor sees; absent when the site has none. */
    variant?: string;
    /** On `consent`: the recorded consent id. */
    id?: string;
    /** On `error`: what went wrong, in the visitor's language where it is shown to them. */
    message?: string;
    /**
     * On `error` from a request (a consent, or the site config on surface "loader"): the
     * Worker's problem type, e.g. "/problems/invalid-phone", "/problems/rate-limited",
     * "/problems/origin-not-allowed", "/problems/unknown-category", "/problems/internal";
     * absent when the answer was no problem (no answer at all, a proxy's error page).
     */
    type?: string;
    /** On `error` from a request: the HTTP status; 0 when no answer came (network, CORS, CSP). */
    status?: number;
  }

  interface WhatsAppOptInEventMap {
    "whatsapp-optin:impression": CustomEvent<WhatsAppOptInEventDetail>;
    "whatsapp-optin:open": CustomEvent<WhatsAppOptInEventDetail>;
    "whatsapp-optin:close": CustomEvent<WhatsAppOptInEventDetail>;
    "whatsapp-optin:submit": CustomEvent<WhatsAppOptInEventDetail>;
    "whatsapp-optin:consent": CustomEvent<WhatsAppOptInEventDetail>;
    "whatsapp-optin:error": CustomEvent<WhatsAppOptInEventDetail>;
  }

  interface DocumentEventMap extends WhatsAppOptInEventMap {}

  interface Window {
    WhatsAppOptIn?: WhatsAppOptInApi;
  }
}
