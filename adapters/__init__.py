"""Adapters: everything that touches a vendor SDK, plus the fakes."""
