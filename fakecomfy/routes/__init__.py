"""The wire: each module parses requests, calls the model, serialises. ``register`` wires it."""
