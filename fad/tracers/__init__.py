"""fad's built-in tracers: one module each."""
