"""One exception root, shaped by how callers react to each failure."""

from __future__ import annotations


class MonitorError(Exception):
    """Everything this package raises on purpose derives from this."""


class ConfigError(MonitorError):
    """The configuration cannot be used. Each problem names its key: `sources[3].interval: …`."""

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "invalid configuration\n  " + "\n  ".join(problems))


class RuleError(MonitorError):
    """A rule or lexicon file that cannot be loaded, located to file, line and column (1-based)."""

    def __init__(self, message: str, file: str, line: int = 0, column: int = 0) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class RuleErrors(MonitorError):
    """Every load error of a rule set at once, so an author can fix them in one pass."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class FetchError(MonitorError):
    """A source could not be fetched. `retryable`: another attempt later may succeed."""

    retryable = True

    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        self.url = url
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"{url}: {reason}")


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, reason: str, retry_after: float | None = None) -> None:
        self.status = status
        self.retryable = status in (408, 425, 429) or status >= 500
        super().__init__(url, reason, retry_after)


class ResponseTooLarge(FetchError):
    retryable = False


class TooManyRedirects(FetchError):
    retryable = False


class NetworkError(FetchError):
    """No usable connection: DNS lookup, refused or reset connection, connect timeout. Often passes."""


class FetchTimeout(FetchError):
    """The server answered too slowly: a read timed out or the fetch ran past its deadline."""


class TLSError(FetchError):
    """The TLS handshake failed (untrusted certificate, protocol mismatch): not fixed by retrying soon."""

    retryable = False


class InvalidURL(FetchError):
    """The URL cannot be fetched at all (no http(s) scheme, no host): fix the configuration."""

    retryable = False


class DeliveryError(MonitorError):
    """A notifier could not deliver. `retryable`: the same alert may go through later."""

    def __init__(self, reason: str, retryable: bool, retry_after: float | None = None) -> None:
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(reason)
