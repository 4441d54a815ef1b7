"""Exporters: cnndsl networks as other libraries' models."""
