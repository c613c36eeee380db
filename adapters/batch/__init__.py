"""The Batch API's driven side: the provider's Files and Batches APIs, and where a job's state is kept."""
