"""Record and replay at llmport's HTTP transport: cassette files, matching, scrubbing, the hook."""
