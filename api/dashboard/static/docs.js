// /docs: Swagger UI over the service's own /openapi.json (api/browser.py). A static file rather than an
// inline script, so the page runs under the Content-Security-Policy (script-src 'self').
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // no badge fetched from validator.swagger.io: nothing leaves the machine
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
