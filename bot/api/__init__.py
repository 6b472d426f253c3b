"""Tocsin's HTTP API for partners: signed alert intake and its OpenAPI document."""
