"""Domain errors. Each carries a message meant for the user, naming the fix where there is one."""

from __future__ import annotations


class SearchError(Exception):
    """Base of every error the engine reports to users."""


class InvalidQuery(SearchError):
    """The query or one of its parameters is not acceptable (empty, too long, bad filter)."""


class SeedsNotFound(SearchError):
    """The seeds folder does not exist or is not a folder."""


class UnreadableFile(SearchError):
    """A seed file cannot be turned into articles; the message says why."""


class IndexMissing(SearchError):
    """No index has been built in the given folder yet."""


class IndexCorrupt(SearchError):
    """The index on disk is damaged; rebuilding it is the fix."""


class IndexIncompatible(SearchError):
    """The index was built with another model or format than the one asked for."""


class IndexUnwritable(SearchError):
    """The index folder cannot be written (disk full, read-only file system, permission); the
    live generation is unchanged."""


class IndexBusy(SearchError):
    """Another process is already writing this index."""


class ModelUnavailable(SearchError):
    """The embedding model cannot be loaded (unknown name, missing files, no network)."""


class EmbeddingFailed(SearchError):
    """Texts could not be embedded where asked: Ray is not installed or not reachable, or one
    of its workers failed. Nothing was published."""


class ArticleNotFound(SearchError):
    """No article with that id is in the index."""


class ParagraphNotFound(SearchError):
    """No paragraph with that id is in the index."""


class BackendUnavailable(SearchError):
    """The storage backend cannot be reached or refuses access (server down, wrong key)."""


class RemovalRefused(SearchError):
    """A run would remove all, or too large a share, of the index's articles (an empty or
    mistyped seeds folder, a mount that has not come up); nothing was changed."""


class BadSetting(SearchError):
    """A setting cannot work as given (a reindex token no request can carry)."""


class InvalidAlert(SearchError):
    """An alert's definition is not acceptable (no text, a name taken, a bad address)."""


class AlertNotFound(SearchError):
    """No alert with that name (or feed) is stored with the index."""
