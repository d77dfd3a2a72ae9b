"""OpenAPI 3 with drf-spectacular, served at ``schema/`` and committed as ``openapi.yaml``.

Needs ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"``.
``tests/test_api_schema.py`` fails when the committed file drifts from the code
(``LEADFOLLOW_UPDATE_SCHEMA=1`` rewrites it).
"""

from __future__ import annotations

from django.templatetags.static import static
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from leadfollow import __version__
from leadfollow.api.authentication import KEY_HEADER, KEY_ID_HEADER, SIGNATURE_HEADER
from leadfollow.api.authentication import TIMESTAMP_HEADER as TS_HEADER


class SourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "leadfollow.api.authentication.SourceKeyAuthentication"
    name = ["ApiKey", "SignatureKeyId", "SignatureTimestamp", "Signature"]

    def get_security_definition(self, auto_schema):
        def header(name: str, description: str) -> dict:
            return {"type": "apiKey", "in": "header", "name": name, "description": description}

        return [
            header(
                KEY_HEADER,
                "A source's API key (or send `Authorization: Api-Key <key>`).",
            ),
            header(KEY_ID_HEADER, "The key id (the part between `lf_` and the dot)."),
            header(TS_HEADER, "Unix time in seconds; at most 5 minutes off (configurable)."),
            header(
                SIGNATURE_HEADER,
                '`sha256=` + hex HMAC-SHA256 of `<timestamp> + "." + <raw body>`, keyed '
                "with the source's signing secret. Each signature is accepted once.",
            ),
        ]

    def get_security_requirement(self, auto_schema):
        return [
            {"ApiKey": []},
            {"SignatureKeyId": [], "SignatureTimestamp": [], "Signature": []},
        ]


ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Messages per field; `non_field_errors` for the request as a whole.",
    "additionalProperties": {},
}
ERROR_RESPONSES = {
    "400": ("Invalid input.", "FieldErrors"),
    "401": ("Not authenticated.", "Error"),
    "403": ("Not allowed.", "Error"),
    "404": ("Not found (or not visible to you).", "Error"),
}


def only_leadfollow(endpoints):
    """The host's own DRF views are not part of leadfollow's schema."""
    return [
        e
        for e in endpoints
        if _module(e[3]).startswith("leadfollow.")
        and getattr(e[3], "cls", None) not in (SchemaView, DocsView)
    ]


def _module(callback) -> str:
    return getattr(getattr(callback, "cls", None), "__module__", "")


def add_error_responses(result, generator, request, public):
    """Document DRF's error answers on every operation, so clients (and schemathesis)
    know their shapes: 400 field errors, 401/403/404 ``{"detail": …}``."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, (description, schema) in ERROR_RESPONSES.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{schema}"}
                            }
                        },
                    },
                )
    return result


SETTINGS = {
    "TITLE": "leadfollow API",
    "DESCRIPTION": (
        "Lead intake for web forms and ad platforms (`POST /leads/` with a source's API key "
        "or HMAC signature), and reads and writes for integrations (session or token auth)."
    ),
    "VERSION": __version__,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["leadfollow.api.schema.only_leadfollow"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "leadfollow.api.schema.add_error_responses",
    ],
}


class SchemaView(SpectacularAPIView):
    custom_settings = SETTINGS


class DocsView(SpectacularSwaggerView):
    """Swagger UI for leadfollow's schema at ``docs/``, from ``drf-spectacular-sidecar``'s
    static files (``"drf_spectacular_sidecar"`` in ``INSTALLED_APPS``, system check
    ``leadfollow.W091``): nothing loads from a CDN, whatever ``SPECTACULAR_SETTINGS`` say."""

    url_name = "leadfollow_api:schema"
    template_name = "leadfollow/api/docs.html"
    title = SETTINGS["TITLE"]

    @staticmethod
    def _swagger_ui_resource(filename):
        return static(f"drf_spectacular_sidecar/swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon():
        return static("leadfollow/favicon.svg")
