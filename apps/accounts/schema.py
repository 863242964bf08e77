"""The OpenAPI security scheme of the API's tokens: ``Authorization: Bearer <token>``.

drf-spectacular's bundled knox extension matches knox's own class only and names the scheme after
knox; this one matches its subclasses too (``BearerTokenAuthentication``), takes precedence
(priority 1), names the scheme ``bearerAuth`` and says where a token comes from.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class KnoxBearerScheme(OpenApiAuthenticationExtension):
    target_class = "knox.auth.TokenAuthentication"
    name = "bearerAuth"
    match_subclasses = True
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /auth/token (or one an operator issued you), valid until its "
            "expiry or POST /auth/logout.",
        }
