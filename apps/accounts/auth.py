"""Bearer token authentication: knox's, behind a check of the token's shape."""

import re

from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions


class BearerTokenAuthentication(TokenAuthentication):
    """``Authorization: Bearer <token>`` with a knox token.

    Anything but the hex string knox issues is refused before the database is asked; knox
    itself would answer a token that is not UTF-8 with a 500.
    """

    token_pattern = re.compile(
        re.escape(knox_settings.TOKEN_PREFIX.encode()) + rb"[0-9a-f]{%d}" % knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
    )

    def authenticate_credentials(self, token: bytes):
        if not self.token_pattern.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)
