"""The test suite (a package, so tests can share helper servers with relative imports)."""
