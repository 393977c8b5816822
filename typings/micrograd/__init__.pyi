# Stubs for micrograd 0.1.0 (untyped), the part fad's benchmarks use.
