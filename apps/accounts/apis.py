from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.auth import BearerTokenAuthentication
from apps.accounts.services import token_create
from apps.accounts.throttles import LOGIN_THROTTLES
from apps.common.errors import ApiError, error_schema_response
from apps.common.serializers import FlatInputSerializer, StrictCharField


class TokenApi(APIView):
    """Log in with a username and password; the answer holds a new bearer token (shown once)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = list(LOGIN_THROTTLES)

    @extend_schema_serializer(component_name="TokenRequest")
    class InputSerializer(FlatInputSerializer):
        username = StrictCharField(min_length=1, max_length=150, trim_whitespace=False)
        password = StrictCharField(
            min_length=1, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
        )

    @extend_schema_serializer(component_name="Token")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send it as `Authorization: Bearer <token>`")
        expiry = serializers.DateTimeField(help_text="When the token stops working; a new login gives a new one")

    @extend_schema(
        operation_id="auth_token",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: error_schema_response("Invalid request body"),
            401: error_schema_response("BAD_CREDENTIALS: wrong username or password, or an inactive user"),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if user is None:
            error = ApiError(status_code=401, code="BAD_CREDENTIALS", message="Wrong username or password.")
            error.auth_header = BearerTokenAuthentication().authenticate_header(request)
            raise error
        token, expiry = token_create(user=user)
        # As a session login does: Django records last_login, and any receiver sees the login.
        user_logged_in.send(sender=type(user), request=request, user=user)
        return Response(self.OutputSerializer({"token": token, "expiry": expiry}).data)


class LogoutApi(APIView):
    """Delete the token this request carries; other tokens of the same user keep working."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_logout", request=None, responses={204: OpenApiResponse(description="Logged out")})
    def post(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
