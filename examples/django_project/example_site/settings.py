"""Minimal settings for the llmport Django example: the app, its error middleware, LLMPORT."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
ROOT_URLCONF = "example_site.urls"
USE_TZ = True

INSTALLED_APPS = ["llmport.entrypoints.django"]
MIDDLEWARE = ["llmport.entrypoints.django.middleware.LLMPortErrorMiddleware"]
LLMPORT = {"provider": "fake"}  # remove it to configure llmport from the environment
