"""Receipts: the file goes to the default storage (apart from the database), its metadata to
:class:`Receipt` with a SHA-256 checksum. Size and type are limited; the declared type must
match the file's first bytes."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from controlplane.core.actors import Actor, acting
from controlplane.core.errors import Conflict, FieldProblem, ValidationFailed
from controlplane.expenses.models import Receipt
from controlplane.expenses.states import TERMINAL
from controlplane.expenses.workflow import check_writer, get_expense

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Declared type → a check on the file's first bytes.
ALLOWED_TYPES = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/heic": lambda head: head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"),
    "image/heif": lambda head: head[4:8] == b"ftyp" and head[8:12] in (b"heif", b"mif1", b"msf1", b"heic"),
    "image/webp": lambda head: head.startswith(b"RIFF") and head[8:12] == b"WEBP",
}


def receipt_max_bytes() -> int:
    return int(getattr(settings, "RECEIPT_MAX_BYTES", DEFAULT_MAX_BYTES))


def receipt_attach(*, actor: Actor, expense_id, content: bytes, filename: str, content_type: str,
                   line_position: int | None = None) -> Receipt:
    """Store a receipt for the expense (optionally for one line). The same file twice on one
    expense returns the first receipt. Refused: empty, too large, unknown or mismatched type,
    unknown line, closed expense, a writer other than the source system."""
    expense = get_expense(expense_id)
    check_writer(actor, expense, writer=actor.system if actor.system is not None else expense.source_system)
    problems = []
    content_type = (content_type or "").split(";")[0].strip().lower()
    if not content:
        problems.append(FieldProblem("file", "empty", "The file is empty."))
    elif len(content) > receipt_max_bytes():
        problems.append(FieldProblem("file", "too_large", f"At most {receipt_max_bytes()} bytes."))
    check = ALLOWED_TYPES.get(content_type)
    if check is None:
        problems.append(FieldProblem("content_type", "unsupported", f"One of {', '.join(sorted(ALLOWED_TYPES))}."))
    elif content and not check(content[:16]):
        problems.append(FieldProblem("file", "type_mismatch", f"The file is not a {content_type}."))
    if problems:
        raise ValidationFailed("The receipt was refused.", problems)
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic(), acting(actor, actor.reason or f"receipt {filename} attached"):
        expense = get_expense(expense_id, lock=True)
        if expense.approval_state in TERMINAL:
            raise Conflict(f"Expense {expense.public_id} is {expense.approval_state}.", code="expense_closed")
        existing = expense.receipts.filter(sha256=digest).first()
        if existing is not None:
            return existing
        line = None
        if line_position is not None:
            line = expense.lines.filter(position=line_position).first()
            if line is None:
                raise ValidationFailed("The receipt was refused.", [
                    FieldProblem("line", "unknown", f"The expense has no line {line_position}.")])
        receipt = Receipt(expense=expense, line=line, original_name=(filename or "")[:255],
                          content_type=content_type, size=len(content), sha256=digest)
        # The storage write is not transactional: a rolled-back attempt leaves an orphan file
        # (named by its checksum, referenced by nothing), never a row without its file.
        receipt.file.save(digest, ContentFile(content), save=False)
        receipt.save()
    return receipt
