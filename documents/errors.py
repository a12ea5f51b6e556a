"""Draft errors, each with a stable ``code`` (sentences live in the catalogue)."""

from __future__ import annotations

from typing import Any


class DocumentsError(Exception):
    code = "documents_error"

    def __init__(self, detail: str = "", **data: Any) -> None:
        super().__init__(detail or self.code)
        self.data = data


class DraftNotFound(DocumentsError):
    code = "draft_not_found"


class DraftLocked(DocumentsError):
    code = "draft_locked"


class VersionNotFound(DocumentsError):
    code = "version_not_found"


class UpdateTooLarge(DocumentsError):
    code = "update_too_large"


class InvalidUpdate(DocumentsError):
    code = "invalid_update"


class InvalidDraftInput(DocumentsError):
    code = "invalid_draft_input"
