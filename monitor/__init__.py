"""monitor: a sanctions and military-cooperation event monitor."""

__version__ = "0.1.0"
