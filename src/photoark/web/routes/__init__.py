"""Thin HTTP routes: read the request, call a service, shape the answer. Errors are mapped
to answers once, in :mod:`photoark.web.app`."""
