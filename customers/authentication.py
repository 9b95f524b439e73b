from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from customers.selectors import customer_token_find


class CustomerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` with a token from POST /api/v1/auth/login."""

    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        token = customer_token_find(token=parts[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("The token is invalid or expired. Log in again.")
        return token.customer, token

    def authenticate_header(self, request) -> str:
        return self.keyword  # makes DRF answer 401, not 403, when the header is missing


class CustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = CustomerTokenAuthentication
    name = "customerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Token from POST /api/v1/auth/login"}
