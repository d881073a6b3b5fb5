"""Why a data move stops. Every error names what is wrong (a mapping entry, a table, a key range)
and is raised before anything is written when it comes from bad input.

Callers catch ``MoveError``; ``code`` tells the cases apart.
"""

from __future__ import annotations

from config.errors import DomainError


class MoveError(DomainError):
    code = "move_error"
    message_template = "{reason}"


class MappingInvalid(MoveError):
    code = "mapping_invalid"
    message_template = "mapping {path}, {where}: {problem}"


class SourceUnreachable(MoveError):
    code = "source_unreachable"
    message_template = "cannot connect to the source database {url}: {reason}"


class SourceMismatch(MoveError):
    """The mapping names a table or column the source does not have (or an expression it rejects)."""

    code = "source_mismatch"
    message_template = "mapping {path}, {where}: {problem}"


class TargetNotMigrated(MoveError):
    code = "target_not_migrated"
    message_template = (
        "the target database has unapplied migrations ({pending}); run `manage.py migrate` on it first"
    )


class TargetNotEmpty(MoveError):
    code = "target_not_empty"
    message_template = (
        "the target database already holds data ({tables}) and no copy from this source is recorded on it; "
        "a copy needs an empty, migrated target"
    )


class WrongSource(MoveError):
    code = "wrong_source"
    message_template = "{reason}"


class NotCopied(MoveError):
    code = "not_copied"
    message_template = "{reason}"


class CopyFailed(MoveError):
    """The server refused rows of a batch (a value too long, a constraint); nothing of the batch was kept."""

    code = "copy_failed"
    message_template = "{entry}: {stage} failed ({detail}); {hint}"


class VerifyFailed(MoveError):
    code = "verify_failed"
    message_template = "verification found {count} difference(s): {summary}"
