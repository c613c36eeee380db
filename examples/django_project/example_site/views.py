"""A view calling the process-wide llmport client; the middleware turns llmport errors into JSON."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from llmport.entrypoints.django import get_client


@csrf_exempt  # a JSON API called by other services, not by a browser form
@require_POST
def chat(request: HttpRequest) -> JsonResponse:
    # "prompt" is a string or OpenAI-style messages; bad input becomes a 400 from the middleware
    reply = get_client().chat(json.loads(request.body)["prompt"])
    return JsonResponse({"text": reply.text, "request_id": reply.request_id})
