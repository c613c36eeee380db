"""The example's one route."""

from __future__ import annotations

from django.urls import path

from example_site.views import chat

urlpatterns = [path("chat", chat)]
