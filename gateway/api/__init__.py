"""HTTP handlers: thin functions that parse, call one service and serialise."""
