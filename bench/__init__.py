"""Benchmarks of the payments backbone: cold starts, warm handler overhead, package sizes and
devstack throughput (`make bench`; see bench/README.md)."""
