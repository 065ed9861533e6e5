"""paneboard: a cockpit for running many AI coding agents in parallel."""

__version__ = "0.1.0"
