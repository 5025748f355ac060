// Swagger UI for the payments API; the page is /v1/docs and the document /v1/openapi.json.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
  });
});
