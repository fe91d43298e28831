// The API docs page (/api/docs): Swagger UI from static/vendor, started here rather than in an inline
// script, which the Content-Security-Policy refuses. The page's #swagger-ui element names the schema.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // no deep links: Swagger UI puts each one, a link, inside the button that opens the operation, and a
    // control inside a control is one the keyboard and screen readers cannot use (axe: nested-interactive)
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // no badge asking validator.swagger.io about the schema
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
