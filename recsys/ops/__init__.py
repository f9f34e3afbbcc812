"""Running under faults: Redis's circuit, the resilient cache backend, database outages, metrics."""
