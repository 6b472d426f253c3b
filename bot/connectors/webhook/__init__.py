"""The webhook connector: partners' signed alerts over HTTP (`POST /v1/alerts`), and the
OpenAPI document that describes them."""
