"""bsm-relay: an SMTP smarthost that keeps sellers' mail to Amazon buyers compliant."""

__version__ = "0.1.0"
