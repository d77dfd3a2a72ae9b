/* leadfollow's API docs page: Swagger UI over /api/schema/, same-origin only. */
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") { return; }
  var csrfHeader = root.getAttribute("data-csrf-header");
  var csrfToken = root.getAttribute("data-csrf-token");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // Swagger UI would otherwise ask validator.swagger.io about the schema.
    validatorUrl: null,
    requestInterceptor: function (request) {
      if (request.method && request.method !== "GET" && csrfToken) {
        request.headers[csrfHeader] = csrfToken;
      }
      return request;
    }
  });
})();
