"""Operations: settings, Prometheus metrics and the garbage collector."""
