"""The wire contract between client and server: models and error codes. Imports nothing else."""

from photoark.protocol.errors import HTTP_STATUS, ErrorCode

__all__ = ["HTTP_STATUS", "ErrorCode"]
