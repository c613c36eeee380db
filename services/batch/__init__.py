"""Batch jobs on the provider's Batch API: split, submitted, polled, matched back, resumable."""
