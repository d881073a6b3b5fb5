"""OpenAPI description of our JWT authentication, so Swagger UI offers "Authorize" with a Bearer token."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class ScopedJWTScheme(SimpleJWTScheme):
    target_class = "users.authentication.ScopedJWTAuthentication"
    name = "jwtAuth"
