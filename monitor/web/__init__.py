"""The read-only web view: events, coverage, sources and rules, with plots (docs/web.md)."""

from monitor.web.app import CSP, WebContext, create_app
from monitor.web.server import WebServer, check_exposure, is_loopback

__all__ = ["CSP", "WebContext", "WebServer", "check_exposure", "create_app", "is_loopback"]
