"""The HTTP edge: parse, authorise, translate errors into the contract's shape."""
