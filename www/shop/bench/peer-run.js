// vanilla-cookieconsent with a one-category modal, shown at once like ours.
window.CookieConsent.run({
  hideFromBots: false, // headless Chromium counts as a bot
  categories: { necessary: { enabled: true, readOnly: true } },
  onModalShow: () => window.__shown(), // measure.js
  language: {
    default: "en",
    translations: {
      en: {
        consentModal: { title: "We use cookies", description: "Necessary cookies only.", acceptAllBtn: "Accept", acceptNecessaryBtn: "Reject" },
        preferencesModal: { title: "Preferences", sections: [] },
      },
    },
  },
});
