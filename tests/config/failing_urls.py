"""The project's URLs plus one REST view that fails the way a bug would, for the server-error test."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class FailingApi(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("the test view fails")


urlpatterns = [path("api/v1/test-server-error/", FailingApi.as_view()), *project_urlpatterns]
