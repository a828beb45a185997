"""Test-support code shared by tests and benchmarks (not part of the songset package): tiny random models."""
