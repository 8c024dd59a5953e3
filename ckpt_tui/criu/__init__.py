"""criu layer."""
