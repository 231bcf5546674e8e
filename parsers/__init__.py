"""Pure parsing and normalising functions: HTML in, plain records out. No I/O except reading
the bundled lookup files in ``parsers/data``."""
