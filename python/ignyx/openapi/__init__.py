"""OpenAPI 3.1 generation and the documentation pages."""
