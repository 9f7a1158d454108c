// Adds <script src="/widget.js" data-site="…"> for the site in ?site=; used by the
// security tests to render any site's configuration in a real browser.
(function () {
  "use strict";
  var site = new URLSearchParams(location.search).get("site");
  if (!site || !/^[a-z0-9-]{1,64}$/.test(site)) return;
  var s = document.createElement("script");
  s.src = "%WORKER%/widget.js";
  s.async = true;
  s.setAttribute("data-site", site);
  document.head.appendChild(s);
})();
