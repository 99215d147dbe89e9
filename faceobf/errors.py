"""The base of every error a user can cause and fix, so the command line can tell them from bugs.

The CLI prints a `FaceobfError`'s message on one line and exits 2; any other exception is a bug in
faceobf and keeps its traceback. Each error also subclasses the builtin it refines (a missing model is
a `FileNotFoundError`), so code written against the builtins keeps working.
"""

from __future__ import annotations


class FaceobfError(Exception):
    """An error the user can fix (bad input, a missing model or file, an option faceobf cannot use); the message says how."""


class UsageError(FaceobfError, ValueError):
    """An option, argument or combination of them that faceobf cannot use; the message names it and what works."""


class StaleCacheError(FaceobfError, ValueError):
    """A cache on disk was made for other data than asked for; the message names the folder to delete."""


class OutputExistsError(FaceobfError, FileExistsError):
    """Something faceobf would write is already there, and nothing asked to replace it; the message names it."""
