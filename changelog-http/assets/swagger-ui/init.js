// Starts Swagger UI on the server's own OpenAPI document. A file, not an inline script, so the
// page's Content Security Policy allows scripts from 'self' only. Paths are relative to the
// page (`/docs`), so the page also works when the router is mounted under a prefix.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No request to the public validator: the page works offline.
    validatorUrl: null,
  });
});
