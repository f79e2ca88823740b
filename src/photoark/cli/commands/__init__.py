"""One module per command; each is a thin shell over the library."""
