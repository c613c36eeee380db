"""Telemetry: OpenTelemetry GenAI spans and metrics, which never fail a call."""
