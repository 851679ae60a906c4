"""The Camunda 8 compatible REST API (/v2). HTTP knows nothing of processors."""
