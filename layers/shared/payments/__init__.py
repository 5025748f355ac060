"""The shared payments package: domain, services, store and HTTP glue for every function."""
